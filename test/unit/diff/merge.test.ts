import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { diffOpened } from '../../../src/diff/diff.js';
import type { Snapshot } from '../../../src/diff/snapshot.js';
import type { DiffRecord } from '../../../src/diff/types.js';
import type { Entity } from '../../../src/model/types.js';
import { tempDir } from '../../helpers.js';

/** The merge's refusals and its restart: a key that repeats, a side out of order part way. */

const scratch = tempDir('forklift-diff-merge-');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const entity: Entity = {
  name: 't',
  columns: [
    { name: 'k', type: 'string', required: true },
    { name: 'v', type: 'decimal', precision: 10, scale: 2, required: false },
  ],
  primaryKey: ['k'],
  rules: [],
};

function snap(side: 'LEFT' | 'RIGHT', rows: unknown[][], e: Entity = entity): Snapshot {
  return {
    description: { kind: 'store', store: 'sqlite', url: `memory:${side}` },
    label: `${side} memory`,
    entities: [e],
    async *rows() {
      for (const r of rows) yield [[...r]];
    },
    close: async () => {},
  };
}

async function records(run: Awaited<ReturnType<typeof diffOpened>>): Promise<DiffRecord[]> {
  const out: DiffRecord[] = [];
  for await (const r of run.records()) out.push(r);
  return out;
}

describe('the streaming merge', () => {
  it('a key that repeats on a side is trouble (exit 2) naming the side, the table and the key', async () => {
    const err = await diffOpened(snap('LEFT', [['a', '1.00'], ['a', '2.00']]), snap('RIGHT', [['a', '1.00']]), { scratchDir: scratch }).catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: 2, code: 'diff.duplicate-key', message: 'LEFT memory: t: the key k = ("a") is on more than one row' });
  });

  it('a side found out of order part way is sorted on disk, and the records found before are taken back', async () => {
    const left = snap('LEFT', [['a', '1.00'], ['b', '2.00'], ['d', '4.00'], ['c', '3.00'], ['e', null]]);
    const right = snap('RIGHT', [['a', '1.0'], ['b', '2.5'], ['c', '3'], ['e', '0']], { ...entity, columns: [entity.columns[0]!, { ...entity.columns[1]!, scale: 1 }] });
    const run = await diffOpened(left, right, { details: true, scratchDir: scratch });
    try {
      expect(run.result.tables[0]).toMatchObject({ added: 0, removed: 1, changed: 2, unchanged: 2, order: { left: 'sorted', right: 'streamed' } });
      expect(await records(run)).toEqual([
        { kind: 'changed', table: 't', key: ['b'], column: 'v', left: '2.00', right: '2.5' },
        { kind: 'removed', table: 't', key: ['d'], values: ['4.00'] },
        { kind: 'changed', table: 't', key: ['e'], column: 'v', left: null, right: '0' },
      ]);
    } finally {
      run.dispose();
    }
  });
});
