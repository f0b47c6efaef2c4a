import { describe, expect, it } from 'vitest';
import type { Entity } from '../../../src/model/types.js';
import { runPlan } from '../../../src/run/pipeline.js';
import { openStore } from '../../../src/stores/index.js';
import { machineLogProject } from '../machine-log.js';
import { PG_DOMAINS_DDL, pgNonIsoDatabase } from '../pg-domains.js';
import { liveServers, withPg } from './live.js';

/**
 * A PostgreSQL target whose tables (made by hand, or altered after forklift made them) have
 * DOMAIN columns, a domain over a domain among them, on a database whose sessions default to
 * DateStyle 'SQL, DMY' and a zone other than UTC. What a run reads back (readColumn: the target's
 * keys; maxPerGroup: a watermark; describeTables and readRows: export and diff) reads each
 * column by its base type, in the staging form, never as the text the session's defaults give
 * the domain (`04/03/2024 01:07:08 EST`). The databases are this file's own (fs_dom_…).
 */

const { pgDown, pgDbs } = await liveServers('test/integration/stores/pg-domains.test.ts', 'fs_dom_');

describe.skipIf(pgDown !== null)('a PostgreSQL target with domain columns, DateStyle SQL, DMY', () => {
  it('readColumn, maxPerGroup, describeTables and readRows read each domain by its base type', async () => {
    const url = await pgNonIsoDatabase(pgDbs);
    await withPg(url, (c) =>
      c.query(`${PG_DOMAINS_DDL};
        CREATE TABLE lots (machine code2 PRIMARY KEY, n qty2, at instant2, local stamp2, day day2, ok yesno2, amt amount2, st state2);
        INSERT INTO lots VALUES
          ('M1', 7, '2024-03-04 06:07:08.123+01', '2024-03-04 06:07:08.5', '2024-03-04', true, 1234.5678, 'RUN'),
          ('M2', -3, '1999-12-31 23:59:59-05', '2024-10-27 02:30:00', '1999-12-31', false, -0.0001, 'IDLE')`),
    );
    const store = await openStore(url);
    try {
      const column = async (name: string): Promise<unknown[]> => {
        const got: unknown[] = [];
        for await (const b of store.readColumn('lots', name)) got.push(...b);
        return got;
      };
      expect(await column('machine')).toEqual(['M1', 'M2']);
      expect(await column('n')).toEqual([-3, 7]);
      expect(await column('at')).toEqual(['2000-01-01T04:59:59.000Z', '2024-03-04T05:07:08.123Z']);
      expect(await column('local')).toEqual(['2024-03-04T06:07:08.500Z', '2024-10-27T02:30:00.000Z']);
      expect(await column('day')).toEqual(['1999-12-31', '2024-03-04']);
      expect(await column('ok')).toEqual([0, 1]);
      expect(await column('amt')).toEqual(['-0.000100', '1234.567800']);
      expect((await store.maxPerGroup('lots', ['machine'], 'at')).sort((a, b) => String(a[0]).localeCompare(String(b[0])))).toEqual([
        ['M1', '2024-03-04T05:07:08.123Z'],
        ['M2', '2000-01-01T04:59:59.000Z'],
      ]);
      expect(await store.maxPerGroup('lots', [], 'day')).toEqual([['2024-03-04']]);

      const lots = (await store.describeTables()).find((t) => t.name === 'lots') as Entity;
      expect(lots.columns.map((c) => [c.name, c.type, c.type === 'string' ? c.length : c.type === 'decimal' ? `${c.precision},${c.scale}` : c.type === 'enum' ? c.values : undefined])).toEqual([
        ['machine', 'string', 8],
        ['n', 'integer', undefined],
        ['at', 'timestamp', undefined],
        ['local', 'timestamp', undefined],
        ['day', 'date', undefined],
        ['ok', 'boolean', undefined],
        ['amt', 'decimal', '18,6'],
        ['st', 'enum', ['RUN', 'IDLE', 'Größe']],
      ]);
      const rows: unknown[][] = [];
      for await (const b of store.readRows(lots)) rows.push(...b);
      expect(rows).toEqual([
        ['M1', 7, '2024-03-04T05:07:08.123Z', '2024-03-04T06:07:08.500Z', '2024-03-04', 1, '1234.567800', 'RUN'],
        ['M2', -3, '2000-01-01T04:59:59.000Z', '2024-10-27T02:30:00.000Z', '1999-12-31', 0, '-0.000100', 'IDLE'],
      ]);
    } finally {
      await store.close();
    }
  });

  it('end to end: an incremental run reads its watermark from a domain column and loads only the newer rows', async () => {
    const url = await pgNonIsoDatabase(pgDbs);
    const p = machineLogProject(url);
    p.log(['CNC-01,2025-11-03 06:00:00,RUN,1', 'CNC-02,2025-11-03 06:30:00,IDLE,0']);
    expect((await runPlan({ plan: p.plan, command: 'migrate' })).entities[0]).toMatchObject({ loaded: 2 });
    // The DBA gives the table domains of the ERP's: the values stay, the column's type is a domain over a domain.
    await withPg(url, (c) => c.query(`${PG_DOMAINS_DDL}; ALTER TABLE machine_events ALTER COLUMN ts TYPE instant2`));
    p.log(['CNC-01,2025-11-03 06:00:00,RUN,1', 'CNC-02,2025-11-03 06:30:00,IDLE,0', 'CNC-02,2025-11-03 07:00:00,RUN,5']);
    const second = await runPlan({ plan: p.plan, command: 'migrate' });
    expect(second.entities[0]).toMatchObject({ read: 3, loaded: 1, filtered: 2 });
    const rows = await withPg(url, async (c) => (await c.query<{ m: string; ts: string }>("SELECT machine_id AS m, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS ts FROM machine_events ORDER BY ts")).rows);
    expect(rows).toEqual([
      { m: 'CNC-01', ts: '2025-11-03 05:00' },
      { m: 'CNC-02', ts: '2025-11-03 05:30' },
      { m: 'CNC-02', ts: '2025-11-03 06:00' },
    ]);
  });
});
