import { EventEmitter } from 'node:events';
import path from 'node:path';
import { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import sql from 'mssql';
import tds from 'tedious';
import { afterEach, describe, expect, it } from 'vitest';
import { nextLink } from '../../../src/audit/chain.js';
import { BugError, ConfigError, StoreError } from '../../../src/core/errors.js';
import { factoryModel } from '../../../src/model/factory.js';
import type { Entity, Model } from '../../../src/model/types.js';
import { Staging, stagingTable } from '../../../src/run/staging.js';
import { MSSQL_DBO_TABLES_SQL, MSSQL_SNAPSHOT_STATE_SQL, mssqlColumnsSql, mssqlLockTablesSql, type MssqlColumnRow } from '../../../src/stores/read-mssql.js';
import {
  BULK_CHUNK,
  beginMssqlSnapshot,
  MSSQL_RUNS_DDL,
  MSSQL_RUNS_CHAIN_DDL,
  MSSQL_RUNS_LOCK,
  MssqlStore,
  type MssqlSession,
  dateValue,
  describeMssqlError,
  fromMssqlValue,
  loadInSession,
  mssqlBulkColumns,
  mssqlBulkTable,
  mssqlColumnType,
  mssqlColumnTypeIn,
  mssqlConfig,
  mssqlCreateTable,
  mssqlCreateTempTable,
  mssqlDeleteAll,
  mssqlDropTempTable,
  mssqlHeldKey,
  mssqlHeldKeysSql,
  mssqlInsertSelect,
  mssqlLoadStatement,
  mssqlMerge,
  mssqlLooseKeyMatch,
  mssqlReadExpression,
  mssqlRowConverter,
  mssqlRunInsert,
  mssqlStoreError,
  rehearseInSession,
  scrubMssqlMessage,
  sessionOf,
  tempTable,
  timestampValue,
} from '../../../src/stores/mssql.js';
import { MSSQL_TABLES_DDL, MSSQL_TABLES_MERGE } from '../../../src/stores/read-mssql.js';
import type { LoadMode, LoadRequest, RunEntry } from '../../../src/stores/types.js';
import { tempDir } from '../../helpers.js';

/**
 * The SQL Server store without a server: every statement, bulk column and row value it sends,
 * asserted exactly. The wire test runs a chunk through the real mssql Request and tedious
 * BulkLoad (only the socket is missing) and compares the row bytes with ones computed by hand.
 */

const model = factoryModel();
const entity = (name: string): Entity => model.entities.get(name)!;

describe('SQL Server DDL', () => {
  it('maps every factory column to its exact type and NOT NULL', () => {
    const types = Object.fromEntries([...model.entities.values()].flatMap((e) => e.columns.map((c) => [`${e.name}.${c.name}`, mssqlColumnType(c)])));
    expect(types).toEqual({
      'items.item_code': 'nvarchar(64)',
      'items.description': 'nvarchar(255)',
      'items.item_type': 'nvarchar(10)',
      'items.uom': 'nvarchar(16)',
      'items.category': 'nvarchar(64)',
      'items.standard_cost': 'decimal(18, 4)',
      'items.lead_time_days': 'bigint',
      'items.active': 'bit',
      'bom_lines.parent_item': 'nvarchar(64)',
      'bom_lines.line_no': 'bigint',
      'bom_lines.component_item': 'nvarchar(64)',
      'bom_lines.qty_per': 'decimal(18, 6)',
      'bom_lines.uom': 'nvarchar(16)',
      'bom_lines.scrap_pct': 'decimal(5, 2)',
      'bom_lines.valid_from': 'date',
      'bom_lines.valid_to': 'date',
      'stock_balances.item_code': 'nvarchar(64)',
      'stock_balances.warehouse': 'nvarchar(32)',
      'stock_balances.lot': 'nvarchar(64)',
      'stock_balances.qty': 'decimal(18, 6)',
      'stock_balances.value': 'decimal(18, 2)',
      'stock_balances.as_of': 'date',
      'machine_events.machine_id': 'nvarchar(32)',
      'machine_events.ts': 'datetimeoffset(3)',
      'machine_events.state': 'nvarchar(5)',
      'machine_events.good_count': 'bigint',
      'machine_events.reject_count': 'bigint',
      'machine_events.downtime_reason': 'nvarchar(64)',
      'machine_events.temperature_c': 'decimal(8, 3)',
      'machine_events.vibration_mm_s': 'decimal(8, 3)',
      'machine_events.power_kw': 'decimal(10, 3)',
    });
    expect(mssqlColumnType({ name: 'note', type: 'text', required: false })).toBe('nvarchar(max)');
    expect(mssqlColumnType({ name: 'long', type: 'string', length: 4001, required: false })).toBe('nvarchar(max)');
    expect(mssqlColumnType({ name: 'wide', type: 'string', length: 4000, required: false })).toBe('nvarchar(4000)');
  });

  it('creates items with its key, NOT NULL and the enum CHECK, only where the table is missing', () => {
    expect(mssqlCreateTable(entity('items'))).toBe(`IF OBJECT_ID(N'[dbo].[items]', N'U') IS NULL
BEGIN
CREATE TABLE [dbo].[items] (
  [item_code] nvarchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
  [description] nvarchar(255) COLLATE Latin1_General_100_BIN2 NOT NULL,
  [item_type] nvarchar(10) COLLATE Latin1_General_100_BIN2 NULL CONSTRAINT [ck_items_item_type] CHECK ([item_type] IN (N'raw', N'semi', N'finished', N'consumable', N'service')),
  [uom] nvarchar(16) COLLATE Latin1_General_100_BIN2 NOT NULL,
  [category] nvarchar(64) COLLATE Latin1_General_100_BIN2 NULL,
  [standard_cost] decimal(18, 4) NULL,
  [lead_time_days] bigint NULL,
  [active] bit NOT NULL,
  CONSTRAINT [pk_items] PRIMARY KEY ([item_code])
);
END`);
  });

  it('creates bom_lines with a composite key and both foreign keys to items', () => {
    expect(mssqlCreateTable(entity('bom_lines'))).toBe(`IF OBJECT_ID(N'[dbo].[bom_lines]', N'U') IS NULL
BEGIN
CREATE TABLE [dbo].[bom_lines] (
  [parent_item] nvarchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
  [line_no] bigint NOT NULL,
  [component_item] nvarchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
  [qty_per] decimal(18, 6) NOT NULL,
  [uom] nvarchar(16) COLLATE Latin1_General_100_BIN2 NULL,
  [scrap_pct] decimal(5, 2) NULL,
  [valid_from] date NULL,
  [valid_to] date NULL,
  CONSTRAINT [pk_bom_lines] PRIMARY KEY ([parent_item], [line_no]),
  CONSTRAINT [fk_bom_lines_parent_item] FOREIGN KEY ([parent_item]) REFERENCES [dbo].[items] ([item_code]),
  CONSTRAINT [fk_bom_lines_component_item] FOREIGN KEY ([component_item]) REFERENCES [dbo].[items] ([item_code])
);
END`);
  });

  it('creates machine_events with datetimeoffset(3) in its key', () => {
    const ddl = mssqlCreateTable(entity('machine_events'));
    expect(ddl).toContain('[ts] datetimeoffset(3) NOT NULL,');
    expect(ddl).toContain("[state] nvarchar(5) COLLATE Latin1_General_100_BIN2 NULL CONSTRAINT [ck_machine_events_state] CHECK ([state] IN (N'RUN', N'IDLE', N'DOWN', N'SETUP', N'OFF')),");
    expect(ddl).toContain('CONSTRAINT [pk_machine_events] PRIMARY KEY ([machine_id], [ts])');
    expect(ddl).not.toContain('FOREIGN KEY');
  });

  it('quotes names with brackets and literals with N\'\', and keeps a self reference out', () => {
    const odd: Entity = {
      name: 'odd]name',
      primaryKey: ["it's"],
      rules: [],
      columns: [
        { name: "it's", type: 'string', length: 8, required: true },
        { name: 'kind', type: 'enum', values: ["O'Brien", 'x'], required: false },
        { name: 'parent', type: 'string', length: 8, required: false, references: { entity: 'odd]name', column: "it's" } },
        { name: 'code', type: 'string', length: 8, required: true, unique: true },
        { name: 'alt', type: 'string', length: 8, required: false, unique: true },
      ],
    };
    expect(mssqlCreateTable(odd)).toBe(`IF OBJECT_ID(N'[dbo].[odd]]name]', N'U') IS NULL
BEGIN
CREATE TABLE [dbo].[odd]]name] (
  [it's] nvarchar(8) COLLATE Latin1_General_100_BIN2 NOT NULL,
  [kind] nvarchar(7) COLLATE Latin1_General_100_BIN2 NULL CONSTRAINT [ck_odd]]name_kind] CHECK ([kind] IN (N'O''Brien', N'x')),
  [parent] nvarchar(8) COLLATE Latin1_General_100_BIN2 NULL,
  [code] nvarchar(8) COLLATE Latin1_General_100_BIN2 NOT NULL,
  [alt] nvarchar(8) COLLATE Latin1_General_100_BIN2 NULL,
  CONSTRAINT [pk_odd]]name] PRIMARY KEY ([it's]),
  CONSTRAINT [uq_odd]]name_code] UNIQUE ([code])
);
CREATE UNIQUE INDEX [uq_odd]]name_alt] ON [dbo].[odd]]name] ([alt]) WHERE [alt] IS NOT NULL;
END`);
  });

  it('creates text (or long string) columns of a key, a unique column or a foreign key as nvarchar(450), which SQL Server can index', () => {
    // A bundle exported from PostgreSQL: code text PRIMARY KEY, note text UNIQUE.
    const parts: Entity = {
      name: 'parts',
      primaryKey: ['code'],
      rules: [],
      columns: [
        { name: 'code', type: 'text', required: true },
        { name: 'Gewicht [kg]', type: 'decimal', precision: 10, scale: 3, required: false },
        { name: 'note', type: 'text', required: false, unique: true },
        { name: 'alias', type: 'string', length: 1000, required: true, unique: true },
        { name: 'parent', type: 'text', required: false, references: { entity: 'parts', column: 'code' } },
        { name: 'remark', type: 'text', required: false },
      ],
    };
    expect(mssqlCreateTable(parts)).toBe(`IF OBJECT_ID(N'[dbo].[parts]', N'U') IS NULL
BEGIN
CREATE TABLE [dbo].[parts] (
  [code] nvarchar(450) COLLATE Latin1_General_100_BIN2 NOT NULL,
  [Gewicht [kg]]] decimal(10, 3) NULL,
  [note] nvarchar(450) COLLATE Latin1_General_100_BIN2 NULL,
  [alias] nvarchar(450) COLLATE Latin1_General_100_BIN2 NOT NULL,
  [parent] nvarchar(450) COLLATE Latin1_General_100_BIN2 NULL,
  [remark] nvarchar(max) COLLATE Latin1_General_100_BIN2 NULL,
  CONSTRAINT [pk_parts] PRIMARY KEY ([code]),
  CONSTRAINT [uq_parts_alias] UNIQUE ([alias])
);
CREATE UNIQUE INDEX [uq_parts_note] ON [dbo].[parts] ([note]) WHERE [note] IS NOT NULL;
END`);
    // A child table's foreign key to it is of the same type.
    const child: Entity = { name: 'uses', primaryKey: ['id'], rules: [], columns: [{ name: 'id', type: 'integer', required: true }, { name: 'part', type: 'text', required: true, references: { entity: 'parts', column: 'code' } }] };
    expect(mssqlCreateTable(child)).toContain('[part] nvarchar(450) COLLATE Latin1_General_100_BIN2 NOT NULL');
    // A value longer than the index holds is refused, naming the column, never cut.
    const convert = mssqlRowConverter(parts);
    expect(convert(['P'.repeat(450), null, null, 'a', null, 'x'.repeat(5000)])[0]).toBe('P'.repeat(450));
    expect(() => convert(['P'.repeat(451), null, null, 'a', null, null])).toThrow('parts.code: a value of 451 characters takes 451 UTF-16 code units, more than nvarchar(450) holds');
    expect(() => convert(['P', null, null, 'a'.repeat(451), null, null])).toThrow(/^parts\.alias: a value of 451 characters/);
    let err: unknown;
    try {
      convert(['P', null, 'n'.repeat(451), 'a', null, null]);
    } catch (e) {
      err = e;
    }
    expect((err as StoreError).hint).toMatch(/^parts\.note is in an index \(a key, a unique column or a foreign key\), and SQL Server indexes at most 900 bytes, so it is nvarchar\(450\)/);
  });

  it('refuses a row whose composite key adds up to more than the 900 bytes of an index', () => {
    const e: Entity = {
      name: 'lines',
      primaryKey: ['doc', 'line', 'n'],
      rules: [],
      columns: [
        { name: 'doc', type: 'text', required: true },
        { name: 'line', type: 'string', length: 300, required: true },
        { name: 'n', type: 'integer', required: true },
      ],
    };
    expect(mssqlCreateTable(e)).toContain('[doc] nvarchar(450) COLLATE Latin1_General_100_BIN2 NOT NULL,\n  [line] nvarchar(300) COLLATE Latin1_General_100_BIN2 NOT NULL,\n  [n] bigint NOT NULL,');
    const convert = mssqlRowConverter(e);
    expect(convert(['d'.repeat(146), 'l'.repeat(300), 1n])).toEqual(['d'.repeat(146), 'l'.repeat(300), 1n]);
    expect(() => convert(['d'.repeat(147), 'l'.repeat(300), 1n])).toThrow("lines: a key (doc, line, n) takes 902 bytes, more than the 900 bytes SQL Server's primary key index holds");
    // A key that cannot exceed it is not checked row by row.
    expect(mssqlRowConverter(entity('bom_lines'))(['A', 10n, 'B', '1', null, null, null, null])).toHaveLength(8);
  });

  it('creates a table without a key (a custom table from a bundle) with no PRIMARY KEY constraint', () => {
    const e: Entity = { name: 'readings', primaryKey: [], rules: [], columns: [{ name: 'sensor', type: 'text', required: false }, { name: 'val', type: 'integer', required: false }] };
    expect(mssqlCreateTable(e)).toBe(`IF OBJECT_ID(N'[dbo].[readings]', N'U') IS NULL
BEGIN
CREATE TABLE [dbo].[readings] (
  [sensor] nvarchar(max) COLLATE Latin1_General_100_BIN2 NULL,
  [val] bigint NULL
);
END`);
  });

  it('keeps constraint names within 128 characters', () => {
    const long = 'e'.repeat(120);
    const e: Entity = { name: long, primaryKey: ['k'], rules: [], columns: [{ name: 'k', type: 'integer', required: true }] };
    const name = /CONSTRAINT \[([^\]]+)\] PRIMARY KEY/.exec(mssqlCreateTable(e))![1]!;
    expect(name.length).toBeLessThanOrEqual(128);
    expect(name.startsWith('pk_eee')).toBe(true);
  });

  it('creates forklift_runs with typed instants and JSON text', () => {
    expect(MSSQL_RUNS_DDL).toMatch(/^IF OBJECT_ID\(N'\[dbo\]\.\[forklift_runs\]', N'U'\) IS NULL\nCREATE TABLE \[dbo\]\.\[forklift_runs\]/);
    expect(MSSQL_RUNS_DDL).toContain('[id] nvarchar(128) NOT NULL CONSTRAINT [pk_forklift_runs] PRIMARY KEY');
    expect(MSSQL_RUNS_DDL).toContain('[started] datetimeoffset(3) NOT NULL');
    expect(MSSQL_RUNS_DDL).toContain('[counts] nvarchar(max) NULL');
  });

  it('empties a replace table with DELETE', () => {
    expect(mssqlDeleteAll(entity('bom_lines'))).toBe('DELETE FROM [dbo].[bom_lines]');
  });
});

describe('SQL Server statements from #temp into the table', () => {
  it('appends with INSERT … SELECT, casting decimal text exactly', () => {
    expect(mssqlInsertSelect(entity('items'))).toBe(`INSERT INTO [dbo].[items] ([item_code], [description], [item_type], [uom], [category], [standard_cost], [lead_time_days], [active])
SELECT [item_code], [description], [item_type], [uom], [category], CAST([standard_cost] AS decimal(18, 4)), [lead_time_days], [active]
FROM [#fl_items]`);
  });

  it('upserts with MERGE on the primary key', () => {
    expect(mssqlMerge(entity('stock_balances'))).toBe(`MERGE INTO [dbo].[stock_balances] WITH (HOLDLOCK) AS t
USING (SELECT [item_code], [warehouse], [lot], CAST([qty] AS decimal(18, 6)) AS [qty], CAST([value] AS decimal(18, 2)) AS [value], [as_of] FROM [#fl_stock_balances]) AS s
ON t.[item_code] = s.[item_code] AND t.[warehouse] = s.[warehouse] AND t.[lot] = s.[lot]
WHEN MATCHED THEN UPDATE SET t.[qty] = s.[qty], t.[value] = s.[value], t.[as_of] = s.[as_of]
WHEN NOT MATCHED BY TARGET THEN INSERT ([item_code], [warehouse], [lot], [qty], [value], [as_of]) VALUES (s.[item_code], s.[warehouse], s.[lot], s.[qty], s.[value], s.[as_of]);`);
  });

  it('a key-only entity still counts a matched row (no-op update)', () => {
    const e: Entity = { name: 'codes', primaryKey: ['code'], rules: [], columns: [{ name: 'code', type: 'string', length: 8, required: true }] };
    expect(mssqlMerge(e)).toContain('WHEN MATCHED THEN UPDATE SET t.[code] = s.[code]');
  });

  it('an upsert sets, where the key exists, only the columns the load provides; a new row gets every column', () => {
    const e = entity('items');
    expect(mssqlMerge(e, ['item_code', 'description', 'uom', 'active'])).toBe(`MERGE INTO [dbo].[items] WITH (HOLDLOCK) AS t
USING (SELECT [item_code], [description], [item_type], [uom], [category], CAST([standard_cost] AS decimal(18, 4)) AS [standard_cost], [lead_time_days], [active] FROM [#fl_items]) AS s
ON t.[item_code] = s.[item_code]
WHEN MATCHED THEN UPDATE SET t.[description] = s.[description], t.[uom] = s.[uom], t.[active] = s.[active]
WHEN NOT MATCHED BY TARGET THEN INSERT ([item_code], [description], [item_type], [uom], [category], [standard_cost], [lead_time_days], [active]) VALUES (s.[item_code], s.[description], s.[item_type], s.[uom], s.[category], s.[standard_cost], s.[lead_time_days], s.[active]);`);
    // Only the key provided: a no-op update, so the matched row still counts as written.
    expect(mssqlMerge(e, ['item_code'])).toContain('WHEN MATCHED THEN UPDATE SET t.[item_code] = s.[item_code]\n');
  });

  it('before a MERGE, looks for a file key the collation matches to a different key (by bytes)', () => {
    expect(mssqlLooseKeyMatch(entity('items'))).toBe(
      'SELECT TOP 1 s.[item_code] AS [s0], t.[item_code] AS [t0] FROM [#fl_items] AS s JOIN [dbo].[items] AS t ON t.[item_code] = s.[item_code] WHERE NOT (CAST(t.[item_code] AS varbinary(max)) = CAST(s.[item_code] AS varbinary(max)))',
    );
    const e: Entity = { name: 'counts', primaryKey: ['n'], rules: [], columns: [{ name: 'n', type: 'integer', required: true }] };
    expect(mssqlLooseKeyMatch(e)).toBeNull();
  });

  it('a key of text and a decimal: rows matched as MERGE matches them, bytes compared for the text column only', () => {
    const e: Entity = {
      name: 'orders',
      primaryKey: ['plant', 'order_id'],
      rules: [],
      columns: [
        { name: 'plant', type: 'string', length: 8, required: true },
        { name: 'order_id', type: 'decimal', precision: 20, scale: 0, required: true },
        { name: 'qty', type: 'decimal', precision: 18, scale: 3, required: false },
      ],
    };
    // In #temp the decimal is text (nvarchar(50)), in the table decimal(20, 0): their bytes never agree.
    expect(mssqlCreateTempTable(e)).toContain('[order_id] nvarchar(50)');
    expect(mssqlLooseKeyMatch(e)).toBe(
      'SELECT TOP 1 s.[plant] AS [s0], t.[plant] AS [t0], s.[order_id] AS [s1], CONVERT(nvarchar(50), t.[order_id]) AS [t1] FROM [#fl_orders] AS s JOIN [dbo].[orders] AS t ' +
        'ON t.[plant] = s.[plant] AND t.[order_id] = CAST(s.[order_id] AS decimal(20, 0)) WHERE NOT (CAST(t.[plant] AS varbinary(max)) = CAST(s.[plant] AS varbinary(max)))',
    );
    expect(mssqlMerge(e)).toContain('USING (SELECT [plant], CAST([order_id] AS decimal(20, 0)) AS [order_id]');
  });

  it('picks the statement by load mode', () => {
    const e = entity('items');
    const modes: LoadMode[] = ['replace', 'append', 'incremental', 'upsert'];
    expect(modes.map((mode) => mssqlLoadStatement({ entity: e, mode }).split('\n')[1]!.split(' ')[0])).toEqual(['INSERT', 'INSERT', 'INSERT', 'MERGE']);
  });

  it('counts the rows the statement itself wrote (OUTPUT into a table variable), not what triggers on the table report', () => {
    const e: Entity = { name: 'codes', primaryKey: ['code'], rules: [], columns: [{ name: 'code', type: 'string', length: 8, required: true }, { name: 'cost', type: 'decimal', precision: 9, scale: 2, required: false }] };
    expect(mssqlLoadStatement({ entity: e, mode: 'append' })).toBe(`DECLARE @fl_written TABLE ([w] bit NOT NULL);
INSERT INTO [dbo].[codes] ([code], [cost])
OUTPUT 1 INTO @fl_written ([w])
SELECT [code], CAST([cost] AS decimal(9, 2))
FROM [#fl_codes];
SELECT COUNT_BIG(*) AS [n] FROM @fl_written;`);
    expect(mssqlLoadStatement({ entity: e, mode: 'upsert' })).toBe(`DECLARE @fl_written TABLE ([w] bit NOT NULL);
MERGE INTO [dbo].[codes] WITH (HOLDLOCK) AS t
USING (SELECT [code], CAST([cost] AS decimal(9, 2)) AS [cost] FROM [#fl_codes]) AS s
ON t.[code] = s.[code]
WHEN MATCHED THEN UPDATE SET t.[cost] = s.[cost]
WHEN NOT MATCHED BY TARGET THEN INSERT ([code], [cost]) VALUES (s.[code], s.[cost])
OUTPUT 1 INTO @fl_written ([w]);
SELECT COUNT_BIG(*) AS [n] FROM @fl_written;`);
  });
});

describe('SQL Server bulk load', () => {
  it('declares the bulk columns: decimals as text, everything else the exact type', () => {
    const cols = mssqlBulkColumns(entity('machine_events')).map((c) => ({ name: c.name, decl: c.decl, ...c.type }));
    expect(cols).toEqual([
      { name: 'machine_id', decl: 'nvarchar(32)', type: sql.NVarChar, length: 32 },
      { name: 'ts', decl: 'datetimeoffset(3)', type: sql.DateTimeOffset, scale: 3 },
      { name: 'state', decl: 'nvarchar(5)', type: sql.NVarChar, length: 5 },
      { name: 'good_count', decl: 'bigint', type: sql.BigInt },
      { name: 'reject_count', decl: 'bigint', type: sql.BigInt },
      { name: 'downtime_reason', decl: 'nvarchar(64)', type: sql.NVarChar, length: 64 },
      { name: 'temperature_c', decl: 'nvarchar(50)', type: sql.NVarChar, length: 50 },
      { name: 'vibration_mm_s', decl: 'nvarchar(50)', type: sql.NVarChar, length: 50 },
      { name: 'power_kw', decl: 'nvarchar(50)', type: sql.NVarChar, length: 50 },
    ]);
    const items = mssqlBulkColumns(entity('items'));
    expect(items.find((c) => c.name === 'active')).toMatchObject({ decl: 'bit', type: { type: sql.Bit } });
    const note = mssqlBulkColumns({ name: 'n', primaryKey: ['t'], rules: [], columns: [{ name: 't', type: 'text', required: true }] })[0]!;
    expect(note).toMatchObject({ decl: 'nvarchar(max)', type: { type: sql.NVarChar, length: sql.MAX } });
  });

  it('creates the #temp table with the collations of the table\'s text columns (binary for a table forklift makes), all nullable', () => {
    expect(mssqlCreateTempTable(entity('items'))).toBe(`IF OBJECT_ID(N'tempdb..[#fl_items]') IS NOT NULL DROP TABLE [#fl_items];
CREATE TABLE [#fl_items] (
  [item_code] nvarchar(64) COLLATE Latin1_General_100_BIN2 NULL,
  [description] nvarchar(255) COLLATE Latin1_General_100_BIN2 NULL,
  [item_type] nvarchar(10) COLLATE Latin1_General_100_BIN2 NULL,
  [uom] nvarchar(16) COLLATE Latin1_General_100_BIN2 NULL,
  [category] nvarchar(64) COLLATE Latin1_General_100_BIN2 NULL,
  [standard_cost] nvarchar(50) COLLATE DATABASE_DEFAULT NULL,
  [lead_time_days] bigint NULL,
  [active] bit NULL
);`);
    // An existing table's own, as the catalog names them.
    const ci = mssqlCreateTempTable(entity('items'), new Map([['item_code', 'SQL_Latin1_General_CP1_CI_AS']]));
    expect(ci).toContain('[item_code] nvarchar(64) COLLATE SQL_Latin1_General_CP1_CI_AS NULL,\n  [description] nvarchar(255) COLLATE DATABASE_DEFAULT NULL,');
    expect(mssqlDropTempTable(entity('items'))).toBe('DROP TABLE [#fl_items]');
  });

  it('builds an sql.Table bound for the #temp table, not created by mssql', () => {
    const t = mssqlBulkTable(entity('items'), [['A', 'd', null, 'pcs', null, '1.0000', 3n, true]]);
    expect(t.path).toBe('[#fl_items]');
    expect(t.temporary).toBe(true);
    expect(t.create).toBe(false);
    expect(t.columns.map((c) => [c.name, c.nullable])).toEqual(entity('items').columns.map((c) => [c.name, true]));
    expect(t.rows).toEqual([['A', 'd', null, 'pcs', null, '1.0000', 3n, true]]);
  });

  it('converts staged values: decimal text exact, bigint exact, bit, dates and instants, empty string apart from NULL', () => {
    const e: Entity = {
      name: 'x',
      primaryKey: ['s'],
      rules: [],
      columns: [
        { name: 's', type: 'string', length: 8, required: true },
        { name: 'd18', type: 'decimal', precision: 18, scale: 6, required: false },
        { name: 'd38', type: 'decimal', precision: 38, scale: 10, required: false },
        { name: 'n', type: 'integer', required: false },
        { name: 'b', type: 'boolean', required: false },
        { name: 'day', type: 'date', required: false },
        { name: 'ts', type: 'timestamp', required: false },
      ],
    };
    const convert = mssqlRowConverter(e);
    const a = convert(['', '123456789012.123456', '-1234567890123456789012345678.0000000001', 9007199254740993n, 1n, '1969-12-31', '1969-07-20T20:17:40.123Z']);
    expect(a.slice(0, 5)).toEqual(['', '123456789012.123456', '-1234567890123456789012345678.0000000001', 9007199254740993n, true]);
    expect((a[5] as Date).toISOString()).toBe('1969-12-31T00:00:00.000Z');
    expect((a[6] as Date).getTime()).toBe(Date.parse('1969-07-20T20:17:40.123Z'));
    expect((a[6] as Date).getTimezoneOffset()).toBe(0);
    const b = convert(['x', null, null, null, 0n, null, null]);
    expect(b).toEqual(['x', null, null, null, false, null, null]);
    // Numbers from a staging file written without safeIntegers still arrive exact.
    expect(convert(['x', null, null, 42, 1, null, null]).slice(3, 5)).toEqual([42n, true]);
  });

  it('turns dates and timestamps into the very instant, before 1970, after 2038 and in years below 100', () => {
    for (const d of ['0001-01-01', '0099-03-01', '1900-02-28', '2000-02-29', '2038-01-20', '9999-12-31']) expect(dateValue(d).toISOString()).toBe(`${d}T00:00:00.000Z`);
    for (const ts of ['1899-12-31T23:59:59.999Z', '1970-01-01T00:00:00.000Z', '2038-01-19T03:14:08.001Z', '2262-04-11T23:47:16.854Z']) {
      const v = timestampValue(ts);
      expect(v.toISOString()).toBe(ts);
      expect(v.getTimezoneOffset()).toBe(0);
      expect([v.getHours(), v.getMinutes(), v.getMilliseconds()]).toEqual([v.getUTCHours(), v.getUTCMinutes(), v.getUTCMilliseconds()]);
    }
    expect(() => dateValue('2023-02-29')).toThrow(BugError);
    expect(() => timestampValue('not a time')).toThrow(BugError);
  });

  it('stops a date or instant outside the years 0001 to 9999 (a bundle may hold one) by name, not with the server\'s bare "Out of range."', () => {
    const e: Entity = { name: 'events2', primaryKey: ['id'], rules: [], columns: [{ name: 'id', type: 'integer', required: true }, { name: 'd', type: 'date', required: false }, { name: 'at', type: 'timestamp', required: false }] };
    const convert = mssqlRowConverter(e);
    expect(() => convert([1n, '0000-06-15', null])).toThrow(new StoreError('events2.d: a date outside the years 0001 to 9999, which SQL Server does not hold', { code: 'store.value' }).message);
    expect(() => convert([1n, null, '0000-12-31T23:00:00.000Z'])).toThrow('events2.at: a timestamp outside the years 0001 to 9999');
    expect((convert([1n, '0001-01-01', '9999-12-31T23:59:59.999Z'])[1] as Date).toISOString()).toBe('0001-01-01T00:00:00.000Z');
  });

  it('stops a string whose UTF-16 length exceeds nvarchar(n), without showing it', () => {
    const e: Entity = { name: 'x', primaryKey: ['s'], rules: [], columns: [{ name: 's', type: 'string', length: 4, required: true }] };
    const convert = mssqlRowConverter(e);
    expect(convert(['e\u0301\u00e9\u00e9'])).toEqual(['e\u0301\u00e9\u00e9']);
    let err: unknown;
    try {
      convert(['🔧🔧🔧🔧']);
    } catch (x) {
      err = x;
    }
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).message).toBe('x.s: a value of 4 characters takes 8 UTF-16 code units, more than nvarchar(4) holds');
    expect((err as StoreError).message).not.toContain('🔧');
  });

  it('why decimals travel as text: tedious sends sql.Decimal through a JavaScript double', () => {
    // What tedious would put on the wire for sql.Decimal(18, 6), as the scaled integer it sends.
    const sentAs = (text: string): bigint => {
      const param = { value: tds.TYPES.Decimal.validate(text, undefined), precision: 18, scale: 6 };
      return Buffer.concat([...tds.TYPES.Decimal.generateParameterData(param as never, {} as never)]).readBigUInt64LE(1);
    };
    expect(sentAs('999999999999.999999')).toBe(1000000000000000000n); // not 999999999999999999
    expect(sentAs('123456789012.123457')).toBe(123456789012123456n); // not …457
    // As text the digits go as they are (UTF-16), whatever their number.
    const e: Entity = { name: 'x', primaryKey: ['d'], rules: [], columns: [{ name: 'd', type: 'decimal', precision: 18, scale: 6, required: true }] };
    expect(mssqlBulkTable(e, [mssqlRowConverter(e)(['999999999999.999999'])]).rows[0]).toEqual(['999999999999.999999']);
  });

  describe('on the wire (mssql Request and tedious BulkLoad, no socket)', () => {
    const savedTz = process.env.TZ;
    afterEach(() => {
      if (savedTz === undefined) delete process.env.TZ;
      else process.env.TZ = savedTz;
    });

    /** A parent for mssql Requests whose connection builds a real tedious BulkLoad and keeps what it would send. */
    function fakeParent(useUTC: boolean) {
      const sent: { sql: string; bytes: Buffer }[] = [];
      class FakeConnection extends EventEmitter {
        newBulkLoad(table: string, options: object, done: (err: Error | null | undefined, rows?: number) => void): tds.BulkLoad {
          return new tds.BulkLoad(table, undefined, { useUTC, tdsVersion: '7_4' } as never, options, done);
        }
        execBulkLoad(bulk: tds.BulkLoad, rows: unknown[][]): void {
          const chunks: Buffer[] = [];
          const rt = (bulk as unknown as { rowToPacketTransform: NodeJS.ReadWriteStream }).rowToPacketTransform;
          rt.on('data', (b: Buffer) => chunks.push(b));
          rt.on('end', () => {
            sent.push({ sql: bulk.getBulkInsertSql(), bytes: Buffer.concat(chunks) });
            (bulk as unknown as { callback: (err: Error | null, n: number) => void }).callback(null, rows.length);
          });
          Readable.from(rows).pipe(rt as unknown as NodeJS.WritableStream);
        }
      }
      const conn = new FakeConnection();
      const parent = { connected: true, config: {}, acquire: (_r: unknown, cb: (e: null, c: FakeConnection) => void) => cb(null, conn), release: () => {} };
      return { session: sessionOf(parent as unknown as sql.Transaction), sent };
    }

    const u16 = (n: number): Buffer => Buffer.from([n & 0xff, n >> 8]);
    const u24 = (n: number): Buffer => Buffer.from([n & 0xff, (n >> 8) & 0xff, n >> 16]);
    const u32 = (n: number): Buffer => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(n);
      return b;
    };
    const ucs2 = (s: string): Buffer => Buffer.concat([u16(Buffer.byteLength(s, 'ucs2')), Buffer.from(s, 'ucs2')]);
    const daysFrom1 = (day: string): number => (Date.parse(`${day}T00:00:00Z`) - Date.parse('0001-01-01T00:00:00Z')) / 86_400_000;
    const hex = (s: string): Buffer => Buffer.from(s.replace(/ /g, ''), 'hex');

    const e: Entity = {
      name: 'wire',
      primaryKey: ['code'],
      rules: [],
      columns: [
        { name: 'code', type: 'string', length: 8, required: true },
        { name: 'n', type: 'integer', required: false },
        { name: 'amount', type: 'decimal', precision: 18, scale: 6, required: false },
        { name: 'flag', type: 'boolean', required: false },
        { name: 'day', type: 'date', required: false },
        { name: 'ts', type: 'timestamp', required: false },
        { name: 'note', type: 'text', required: false },
      ],
    };

    it('counts a load by its own OUTPUT rows when a trigger on the table reports counts of its own', async () => {
      // What SQL Server answers the counted batch with, where an audit trigger (no SET NOCOUNT ON)
      // inserts a row per row: the trigger's DONEINPROC, the INSERT's DONE, then the count's row.
      const tokens = (req: EventEmitter & { callback: (err: Error | null, n?: number) => void }): void => {
        const meta = { colName: 'n', type: tds.TYPES.BigInt, dataLength: 8, flags: 0 };
        req.emit('doneInProc', 2, true, []);
        req.emit('done', 2, true, []);
        req.emit('columnMetadata', [meta]);
        req.emit('row', [{ value: '2', metadata: meta }]);
        req.emit('done', 1, false, []);
        req.callback(null, 5);
      };
      class TriggerConnection extends EventEmitter {
        execSqlBatch(req: EventEmitter & { callback: (err: Error | null, n?: number) => void }): void {
          setImmediate(() => tokens(req));
        }
      }
      const conn = new TriggerConnection();
      const parent = { connected: true, config: {}, acquire: (_r: unknown, cb: (e: null, c: TriggerConnection) => void) => cb(null, conn), release: () => {} };
      const session = sessionOf(parent as unknown as sql.Transaction);
      const text = mssqlLoadStatement({ entity: entity('items'), mode: 'append' });
      expect(await session.count(text)).toBe(2);
      // Every count the server reported, as the load summed them before.
      expect(await session.batch(text)).toBe(5);
    });

    it('bulk loads columns and tables whose names hold ], . or are long, into the #temp table the DDL made', async () => {
      const col = (name: string): Entity['columns'][number] => ({ name, type: 'string', length: 20, required: false });
      const cases: [Entity, string][] = [
        [{ name: 'parts', primaryKey: ['id'], rules: [], columns: [col('id'), col('Gewicht [kg]')] }, '#fl_parts'],
        [{ name: 'sales.orders', primaryKey: ['id'], rules: [], columns: [col('id')] }, '#fl_sales_orders_'],
        [{ name: 'odd]name', primaryKey: ['id'], rules: [], columns: [col('id')] }, '#fl_odd_name_'],
        [{ name: 'x'.repeat(128), primaryKey: ['id'], rules: [], columns: [col('id')] }, `#fl_${'x'.repeat(80)}_`],
      ];
      for (const [ent, prefix] of cases) {
        const { session, sent } = fakeParent(true);
        const temp = tempTable(ent.name);
        expect(temp.startsWith(prefix), temp).toBe(true);
        expect(temp.length).toBeLessThanOrEqual(116);
        expect(mssqlCreateTempTable(ent)).toContain(`CREATE TABLE [${temp}] (`);
        const row = ent.columns.map(() => 'A');
        expect(await session.bulk(mssqlBulkTable(ent, [mssqlRowConverter(ent)(row)]))).toBe(1);
        const cols = ent.columns.map((c) => `[${c.name.replace(/]/g, ']]')}] nvarchar(20)`).join(', ');
        expect(sent[0]!.sql).toBe(`insert bulk [${temp}](${cols}) WITH (KEEP_NULLS)`);
      }
      // Two names that differ only where the plain form replaces characters stay apart.
      expect(tempTable('a.b')).not.toBe(tempTable('a]b'));
      expect(tempTable('items')).toBe('#fl_items');
    });

    for (const [tz, useUTC] of [
      ['UTC', true],
      ['America/Los_Angeles', false],
      ['Asia/Kolkata', true],
    ] as const) {
      it(`sends the exact values, the same in every time zone (TZ=${tz}, useUTC=${useUTC})`, async () => {
        process.env.TZ = tz;
        // The zone really is in effect (Los Angeles is UTC-8 in February, Kolkata UTC+5:30).
        expect(new Date('2038-02-28T23:59:59.999Z').getTimezoneOffset()).toBe({ UTC: 0, 'America/Los_Angeles': 480, 'Asia/Kolkata': -330 }[tz]);
        const { session, sent } = fakeParent(useUTC);
        const convert = mssqlRowConverter(e);
        const rows = [convert(['A-1', 9007199254740993n, '123456789012.123456', 1n, '1969-12-31', '2038-02-28T23:59:59.999Z', '']), convert(['B', null, null, 0n, null, null, null])];
        expect(await session.bulk(mssqlBulkTable(e, rows))).toBe(2);
        expect(sent).toHaveLength(1);
        expect(sent[0]!.sql).toBe('insert bulk [#fl_wire]([code] nvarchar(8), [n] bigint, [amount] nvarchar(50), [flag] bit, [day] date, [ts] datetimeoffset(3), [note] nvarchar(max)) WITH (KEEP_NULLS)');
        const big = Buffer.alloc(8);
        big.writeBigInt64LE(9007199254740993n);
        const msOfDay = ((23 * 60 + 59) * 60 + 59) * 1000 + 999;
        const row1 = Buffer.concat([
          hex('d1'),
          ucs2('A-1'),
          hex('08'),
          big,
          ucs2('123456789012.123456'),
          hex('01 01'),
          hex('03'),
          u24(daysFrom1('1969-12-31')),
          hex('09'),
          u32(msOfDay),
          u24(daysFrom1('2038-02-28')),
          hex('0000'), // offset +00:00, whatever the process's zone
          hex('feffffffffffffff 00000000'), // nvarchar(max) '': a value of no chunks, not NULL
        ]);
        const row2 = Buffer.concat([
          hex('d1'),
          ucs2('B'),
          hex('00'), // bigint NULL
          hex('ffff'), // nvarchar NULL
          hex('01 00'), // bit false
          hex('00'), // date NULL
          hex('00'), // datetimeoffset NULL
          hex('ffffffffffffffff'), // nvarchar(max) NULL
        ]);
        expect(sent[0]!.bytes.includes(Buffer.concat([row1, row2]))).toBe(true);
      });
    }
  });
});

describe('SQL Server load sequence (recorded session)', () => {
  interface Rec {
    kind: 'batch' | 'count' | 'bulk' | 'query' | 'select';
    text: string;
    rows?: unknown[][];
  }

  /** Stages rows like the pipeline (Staging) and returns a read-only handle and the request. */
  function stage(rows: Record<string, unknown[][]>, modes: Record<string, LoadMode>, m: Model = model): { db: Database.Database; req: LoadRequest } {
    const file = path.join(tempDir('forklift-mssql-'), 'staging.sqlite');
    const st = new Staging(file);
    for (const [name, rs] of Object.entries(rows)) {
      st.createEntity(m.entities.get(name)!);
      rs.forEach((r, i) => st.insertRow(name, i + 2, r as never));
      st.flushRows(name);
    }
    st.close();
    const db = new Database(file, { readonly: true });
    return {
      db,
      req: {
        model: m,
        stagingFile: file,
        entities: Object.keys(rows).map((name) => ({ entity: m.entities.get(name)!, mode: modes[name] ?? 'replace', stagedTable: stagingTable(name), expected: rows[name]!.length })),
        entry: runEntry(),
      },
    };
  }

  function runEntry(): RunEntry {
    return {
      id: '20250101T000000Z-abcd',
      command: 'migrate',
      status: 'succeeded',
      started: '2025-01-01T00:00:00.000Z',
      finished: '2025-01-01T00:00:05.250Z',
      operator: 'op',
      host: 'h',
      tool_version: '0.1.0',
      plan_sha256: 'a'.repeat(64),
      files: { 'items.yaml': 'b'.repeat(64) },
      counts: { items: { read: 2, loaded: 2 } },
      message: null,
    };
  }

  /** A session that records every call; INSERT/MERGE report the rows last bulk loaded for their entity. */
  /** The catalog rows (mssqlColumnsSql) of the table forklift's own DDL makes for an entity. */
  function catalogOf(e: Entity, collation = 'Latin1_General_100_BIN2'): MssqlColumnRow[] {
    return e.columns.map((c) => {
      const [, ty, a, b] = /^(\w+)(?:\((\w+)(?:, (\d+))?\))?$/.exec(mssqlColumnTypeIn(e, c))!;
      const row: MssqlColumnRow = { t: e.name, c: c.name, ty: ty!, len: 8, p: 0, s: 0, nl: !c.required, d: null, co: null };
      if (ty === 'nvarchar') Object.assign(row, { len: a === 'max' ? -1 : 2 * Number(a), co: collation });
      if (ty === 'decimal') Object.assign(row, { p: Number(a), s: Number(b) });
      if (ty === 'datetimeoffset') row.s = Number(a);
      return row;
    });
  }

  function recorder(opts: { short?: number; looseKey?: Record<string, unknown>; tables?: Record<string, MssqlColumnRow[]> } = {}): { session: MssqlSession; log: Rec[] } {
    const log: Rec[] = [];
    const bulked = new Map<string, number>();
    const session: MssqlSession = {
      batch: async (text) => {
        log.push({ kind: 'batch', text });
        return 0;
      },
      count: async (text) => {
        log.push({ kind: 'count', text });
        const m = /FROM \[#fl_(\w+)\]/.exec(text);
        return (bulked.get(m![1]!) ?? 0) - (opts.short ?? 0);
      },
      bulk: async (table) => {
        const rows = [...(table.rows as unknown[][])];
        log.push({ kind: 'bulk', text: table.path!, rows });
        bulked.set(table.name!.slice(4), (bulked.get(table.name!.slice(4)) ?? 0) + rows.length);
        return rows.length;
      },
      query: async (text) => {
        log.push({ kind: 'query', text });
        return 1;
      },
      select: async (text, params) => {
        log.push({ kind: 'select', text });
        if (text === mssqlColumnsSql(true)) return (opts.tables?.[String(params?.[0]?.value)] ?? []) as unknown as Record<string, unknown>[];
        return /^SELECT TOP 1 s\./.test(text) && opts.looseKey ? [opts.looseKey] : [];
      },
    };
    return { session, log };
  }

  const item = (code: string, cost: string | null): unknown[] => [code, `Item ${code}`, 'raw', 'pcs', null, cost, 5, 1];
  const bom = (parent: string, no: number, comp: string): unknown[] => [parent, no, comp, '123456789012.123456', 'pcs', null, '2024-01-01', null];

  it('sends the statements in order: XACT_ABORT, tables, deletes children first, #temp, bulk, INSERT, MERGE, run entry', async () => {
    const { db, req } = stage({ items: [item('A', '1.5000'), item('B', null)], bom_lines: [bom('A', 10, 'B')] }, { items: 'replace', bom_lines: 'upsert' });
    req.entities[1]!.mode = 'upsert';
    const { session, log } = recorder();
    try {
      const loaded = await loadInSession(session, db, req);
      expect([...loaded]).toEqual([
        ['items', 2],
        ['bom_lines', 1],
      ]);
    } finally {
      db.close();
    }
    const items = entity('items');
    const boms = entity('bom_lines');
    expect(log.map((r) => (r.kind === 'bulk' ? `bulk ${r.text} ${r.rows!.length}` : r.text))).toEqual([
      'SET XACT_ABORT ON',
      mssqlColumnsSql(true),
      mssqlColumnsSql(true),
      MSSQL_RUNS_DDL,
      mssqlCreateTable(items),
      mssqlCreateTable(boms),
      MSSQL_TABLES_DDL,
      MSSQL_TABLES_MERGE,
      MSSQL_TABLES_MERGE,
      mssqlDeleteAll(items),
      mssqlCreateTempTable(items),
      'bulk [#fl_items] 2',
      mssqlLoadStatement({ entity: items, mode: 'replace' }),
      mssqlDropTempTable(items),
      mssqlCreateTempTable(boms),
      'bulk [#fl_bom_lines] 1',
      mssqlLooseKeyMatch(boms),
      mssqlLoadStatement({ entity: boms, mode: 'upsert' }),
      mssqlDropTempTable(boms),
      MSSQL_RUNS_DDL,
      MSSQL_RUNS_CHAIN_DDL,
      MSSQL_RUNS_LOCK,
      'SELECT TOP 1 [seq], [entry_hash] FROM [dbo].[forklift_runs] WHERE [seq] IS NOT NULL ORDER BY [seq] DESC',
      mssqlRunInsert(runEntry(), nextLink(runEntry(), undefined)).sql,
    ]);
    const itemRows = log.find((r) => r.text === '[#fl_items]')!.rows!;
    expect(itemRows).toEqual([
      ['A', 'Item A', 'raw', 'pcs', null, '1.5000', 5n, true],
      ['B', 'Item B', 'raw', 'pcs', null, null, 5n, true],
    ]);
    const bomRow = log.find((r) => r.text === '[#fl_bom_lines]')!.rows![0]!;
    expect(bomRow.slice(0, 5)).toEqual(['A', 10n, 'B', '123456789012.123456', 'pcs']);
    expect((bomRow[6] as Date).toISOString()).toBe('2024-01-01T00:00:00.000Z');
  });

  it('a duplicate key fails the load and tells the store which entity met it; upsert and other errors do not', async () => {
    const dup = Object.assign(new Error('Violation of PRIMARY KEY constraint'), { number: 2627 });
    const failing = (e: Error): MssqlSession => ({ ...recorder().session, bulk: async () => Promise.reject(e) });
    for (const [mode, e, named] of [
      ['append', dup, ['items']],
      ['upsert', dup, []],
      ['append', Object.assign(new Error('Conversion failed'), { number: 245 }), []],
    ] as const) {
      const { db, req } = stage({ items: [item('A', '1.5000')] }, { items: mode });
      const clashed: string[] = [];
      try {
        await expect(loadInSession(failing(e), db, req, undefined, (l) => clashed.push(l.entity.name))).rejects.toBe(e);
      } finally {
        db.close();
      }
      expect(clashed).toEqual(named);
    }
  });

  it('looks up the staged keys in the table, a batch and then a row at a time, as nvarchar parameters', async () => {
    const { db, req } = stage({ bom_lines: [bom('A', 10, 'B'), bom('A', 20, 'C'), bom('B', 10, 'C')] }, { bom_lines: 'append' });
    const sent: { text: string; params: unknown[] }[] = [];
    const session: MssqlSession = {
      ...recorder().session,
      // The table holds (A, 20): staged second, on source line 3.
      select: async (text, params = []) => {
        sent.push({ text, params: params.map((p) => p.value) });
        const pairs = [];
        for (let i = 0; i < params.length; i += 2) pairs.push(`${String(params[i]!.value)}/${String(params[i + 1]!.value)}`);
        return pairs.includes('A/20') ? [{ n: 1 }] : [];
      },
    };
    let hit;
    try {
      hit = await mssqlHeldKey(session, db, req.entities[0]!);
    } finally {
      db.close();
    }
    expect(hit).toEqual({ line: 3n, key: ['A', 20] });
    expect(mssqlHeldKeysSql(entity('bom_lines'), 2)).toBe('SELECT TOP 1 1 AS n FROM [dbo].[bom_lines] WHERE ([parent_item] = @k0_0 AND [line_no] = @k0_1) OR ([parent_item] = @k1_0 AND [line_no] = @k1_1)');
    expect(sent).toEqual([
      { text: mssqlHeldKeysSql(entity('bom_lines'), 3), params: ['A', '10', 'A', '20', 'B', '10'] },
      { text: mssqlHeldKeysSql(entity('bom_lines'), 1), params: ['A', '10'] },
      { text: mssqlHeldKeysSql(entity('bom_lines'), 1), params: ['A', '20'] },
    ]);
  });

  it('sends the MERGE of an upsert with the columns its mapping provides', async () => {
    const { db, req } = stage({ items: [item('A', '1.5000')] }, { items: 'upsert' });
    req.entities[0]!.provided = ['item_code', 'description', 'uom', 'lead_time_days', 'active'];
    const { session, log } = recorder();
    try {
      await loadInSession(session, db, req);
    } finally {
      db.close();
    }
    const merge = log.map((r) => r.text).find((t) => t.includes('MERGE INTO [dbo].[items]'));
    expect(merge).toBe(mssqlLoadStatement({ entity: entity('items'), mode: 'upsert', provided: ['item_code', 'description', 'uom', 'lead_time_days', 'active'] }));
    expect(merge).toContain('WHEN MATCHED THEN UPDATE SET t.[description] = s.[description], t.[uom] = s.[uom], t.[lead_time_days] = s.[lead_time_days], t.[active] = s.[active]\n');
  });

  it('loads into existing tables of the types its own DDL makes; refuses a narrower one before any statement that writes', async () => {
    const own = { items: catalogOf(entity('items')), bom_lines: catalogOf(entity('bom_lines')) };
    let st = stage({ items: [item('A', '1.5000')], bom_lines: [bom('A', 10, 'A')] }, {});
    try {
      expect([...(await loadInSession(recorder({ tables: own }).session, st.db, st.req))]).toEqual([
        ['items', 1],
        ['bom_lines', 1],
      ]);
    } finally {
      st.db.close();
    }

    // Made by hand: costs with 2 decimals, descriptions in a code page, the date of a datetime.
    const narrow = own.items.map((r) =>
      r.c === 'standard_cost' ? { ...r, p: 18, s: 2 } : r.c === 'description' ? { ...r, ty: 'varchar', len: 255 } : r.c === 'item_code' ? { ...r, len: 64 } : r,
    );
    st = stage({ items: [item('A', '1.5000')] }, {});
    const { session, log } = recorder({ tables: { items: narrow } });
    let err: unknown;
    try {
      err = await loadInSession(session, st.db, st.req).catch((e: unknown) => e);
    } finally {
      st.db.close();
    }
    expect(log.map((r) => r.kind)).toEqual(['batch', 'select']);
    const shown = mssqlStoreError(err, 'store.load', 'mssql://sa:***@db/erp') as StoreError;
    expect(shown).toBeInstanceOf(StoreError);
    expect(shown.code).toBe('store.table-shape');
    expect(shown.message).toBe(
      'mssql://sa:***@db/erp: the existing table items does not match the model, so its values would not be stored exactly: items.item_code is nvarchar(32), the model has nvarchar(64) (and 2 more columns); nothing was loaded',
    );
    expect(shown.details).toEqual(['items.description is varchar(255), the model has nvarchar(255)', 'items.standard_cost is decimal(18, 2), the model has decimal(18, 4)']);
  });

  it('loads into the table its own DDL made for text and long string keys (nvarchar(450)); names the index limit for a narrower one', async () => {
    const m: Model = {
      name: 'codes',
      entities: new Map([
        ['codes', { name: 'codes', primaryKey: ['code'], rules: [], columns: [{ name: 'code', type: 'text', required: true }, { name: 'alias', type: 'string', length: 1000, required: false, unique: true }] }],
      ]),
    };
    const e = m.entities.get('codes')!;
    const st = stage({ codes: [['A', 'a']] }, {}, m);
    try {
      expect([...(await loadInSession(recorder({ tables: { codes: catalogOf(e) } }).session, st.db, st.req))]).toEqual([['codes', 1]]);
    } finally {
      st.db.close();
    }
    // A text key in an nvarchar(100) made by hand passes as before: a longer value fails, never cut.
    const st1 = stage({ codes: [['A', 'a']] }, {}, m);
    try {
      const hand = catalogOf(e).map((r) => (r.c === 'code' ? { ...r, len: 200 } : r));
      expect([...(await loadInSession(recorder({ tables: { codes: hand } }).session, st1.db, st1.req))]).toEqual([['codes', 1]]);
    } finally {
      st1.db.close();
    }
    const narrow = catalogOf(e).map((r) => (r.c === 'alias' ? { ...r, len: 400 } : r));
    const st2 = stage({ codes: [['A', 'a']] }, {}, m);
    try {
      const err = await loadInSession(recorder({ tables: { codes: narrow } }).session, st2.db, st2.req).catch((x: unknown) => x);
      expect((mssqlStoreError(err, 'store.load', 'mssql://db/erp') as StoreError).message).toMatch(/codes\.alias is nvarchar\(200\), the model has nvarchar\(450\)/);
    } finally {
      st2.db.close();
    }
  });

  it('creates new tables\' text columns binary; a foreign key and an existing table\'s #temp keep the collation the existing table has', async () => {
    // items made by an earlier forklift, in the database's case-insensitive default.
    const { db, req } = stage({ items: [item('A', '1.5000')], bom_lines: [bom('A', 10, 'A')] }, { items: 'upsert' });
    const { session, log } = recorder({ tables: { items: catalogOf(entity('items'), 'SQL_Latin1_General_CP1_CI_AS') } });
    try {
      await loadInSession(session, db, req);
    } finally {
      db.close();
    }
    const texts = log.map((r) => r.text);
    expect(texts.slice(1, 3)).toEqual([mssqlColumnsSql(true), mssqlColumnsSql(true)]);
    const boms = texts.find((t) => t.includes('CREATE TABLE [dbo].[bom_lines]'))!;
    expect(boms).toContain('[parent_item] nvarchar(64) COLLATE SQL_Latin1_General_CP1_CI_AS NOT NULL,');
    expect(boms).toContain('[component_item] nvarchar(64) COLLATE SQL_Latin1_General_CP1_CI_AS NOT NULL,');
    expect(boms).toContain('[uom] nvarchar(16) COLLATE Latin1_General_100_BIN2 NULL,');
    expect(texts.find((t) => t.includes('CREATE TABLE [#fl_items]'))).toContain('[item_code] nvarchar(64) COLLATE SQL_Latin1_General_CP1_CI_AS NULL,');
    expect(texts.find((t) => t.includes('CREATE TABLE [#fl_bom_lines]'))).toContain('[parent_item] nvarchar(64) COLLATE SQL_Latin1_General_CP1_CI_AS NULL,\n  [line_no] bigint NULL,\n  [component_item] nvarchar(64) COLLATE SQL_Latin1_General_CP1_CI_AS NULL,\n  [qty_per] nvarchar(50) COLLATE DATABASE_DEFAULT NULL,\n  [uom] nvarchar(16) COLLATE Latin1_General_100_BIN2 NULL,');
    // Where nothing exists yet, every text column of every table is binary.
    expect(mssqlCreateTable(entity('bom_lines'))).toContain('[parent_item] nvarchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,');
  });

  it('an instant column: datetimeoffset(3) and datetime2(3) or finer hold the model; datetime (1/300 s) and smalldatetime do not', async () => {
    for (const [ty, s2, ok] of [['datetimeoffset', 3, true], ['datetime2', 7, true], ['datetimeoffset', 0, false], ['datetime', 3, false], ['smalldatetime', 0, false]] as const) {
      const events = catalogOf(entity('machine_events')).map((r) => (r.c === 'ts' ? { ...r, ty, s: s2 } : r));
      const st = stage({ machine_events: [['M-1', '2025-01-01T00:00:00.000Z', 'RUN', 1, 0, null, null, null, null]] }, {});
      try {
        const out = await loadInSession(recorder({ tables: { machine_events: events } }).session, st.db, st.req).then(() => 'loaded', (e: unknown) => (e as Error).name);
        expect([ty, s2, out]).toEqual([ty, s2, ok ? 'loaded' : 'TableShapeProblem']);
      } finally {
        st.db.close();
      }
    }
  });

  it("refuses an upsert whose file key the collation matches to a different key, before the MERGE", async () => {
    const { db, req } = stage({ items: [item('A', '1.5000')], bom_lines: [bom('A ', 10, 'B')] }, { items: 'replace', bom_lines: 'upsert' });
    req.entities[1]!.mode = 'upsert';
    const { session, log } = recorder({ looseKey: { s0: 'A ', t0: 'A', s1: 10, t1: 10 } });
    try {
      await expect(loadInSession(session, db, req)).rejects.toThrow(/^bom_lines: the key parent_item "A ", line_no "10" would update the target's row parent_item "A", line_no "10", a different key .*nothing was committed/);
    } finally {
      db.close();
    }
    expect(log.map((r) => r.text)).toContain(mssqlLooseKeyMatch(entity('bom_lines')));
    expect(log.map((r) => r.text)).not.toContain(mssqlLoadStatement({ entity: entity('bom_lines'), mode: 'upsert' }));
  });

  it('empties replace tables children first and creates referenced tables the run does not load', async () => {
    const { db, req } = stage({ bom_lines: [bom('A', 10, 'B')], stock_balances: [['A', 'W1', '', '1.000000', '2.00', '2024-12-31']] }, {});
    const { session, log } = recorder();
    try {
      await loadInSession(session, db, req);
    } finally {
      db.close();
    }
    const texts = log.map((r) => r.text);
    expect(texts.filter((t) => t.startsWith('IF OBJECT_ID(N\'[dbo].[') && !t.includes('forklift_runs') && !t.includes('forklift_tables')).map((t) => /\[dbo\]\.\[(\w+)\]/.exec(t)![1])).toEqual(['items', 'bom_lines', 'stock_balances']);
    expect(texts.filter((t) => t.startsWith('DELETE'))).toEqual(['DELETE FROM [dbo].[stock_balances]', 'DELETE FROM [dbo].[bom_lines]']);
    // '' (no lot) stays '' on its way, apart from NULL.
    expect(log.find((r) => r.text === '[#fl_stock_balances]')!.rows![0]!.slice(0, 5)).toEqual(['A', 'W1', '', '1.000000', '2.00']);
  });

  it('streams rows in chunks of 10,000, only the accepted ones (_st = 0), in staging order', async () => {
    const n = 2 * BULK_CHUNK + 1;
    const base = Date.parse('2024-01-01T00:00:00.000Z');
    const rows = Array.from({ length: n + 3 }, (_, i) => ['M1', new Date(base + i * 1000).toISOString(), 'RUN', i, 0, '', '20.125', null, '1.000']);
    const { db, req } = stage({ machine_events: rows }, { machine_events: 'append' });
    db.close();
    // Three rows leave the ok set, as duplicates and rejects do.
    const w = new Database(req.stagingFile);
    w.exec('UPDATE s_machine_events SET _st = 2 WHERE _seq IN (1, 500, ' + (n + 3) + ')');
    w.close();
    req.entities[0]!.expected = n;
    const { session, log } = recorder();
    const ro = new Database(req.stagingFile, { readonly: true });
    try {
      await loadInSession(session, ro, req);
    } finally {
      ro.close();
    }
    const bulks = log.filter((r) => r.kind === 'bulk');
    expect(bulks.map((b) => b.rows!.length)).toEqual([BULK_CHUNK, BULK_CHUNK, 1]);
    const good = bulks.flatMap((b) => b.rows!.map((r) => r[3]));
    expect(good[0]).toBe(1n);
    expect(good).not.toContain(499n);
    expect(good).toHaveLength(n);
    expect(log.some((r) => r.text.startsWith('DELETE'))).toBe(false);
  });

  it('throws a BugError when the rows written differ from the rows expected', async () => {
    const { db, req } = stage({ items: [item('A', null)] }, {});
    try {
      await expect(loadInSession(recorder({ short: 1 }).session, db, req)).rejects.toThrow(new BugError('items: inserted 0 rows, expected 1'));
      req.entities[0]!.expected = 2;
      await expect(loadInSession(recorder().session, db, req)).rejects.toThrow(new BugError('items: bulk loaded 1 rows, expected 2'));
    } finally {
      db.close();
    }
  });

  it('stops between chunks when the run is aborted, as an interrupted load', async () => {
    const { db, req } = stage({ items: [item('A', null)] }, {});
    const ac = new AbortController();
    ac.abort();
    req.signal = ac.signal;
    const { session, log } = recorder();
    let err: unknown;
    try {
      await loadInSession(session, db, req);
    } catch (e) {
      err = e;
    } finally {
      db.close();
    }
    // The table definitions (forklift_tables) precede the rows; no row was sent.
    expect(log.some((r) => r.kind === 'bulk' || (r.kind === 'query' && !r.text.includes('forklift_tables')))).toBe(false);
    const se = mssqlStoreError(err, 'store.load', 'mssql://sa:***@db/x');
    expect(se).toBeInstanceOf(StoreError);
    expect((se as StoreError).code).toBe('store.interrupted');
  });

  it('a dry run: XACT_ABORT OFF, the same tables and deletes, rows under savepoints narrowed to the refused one, no run entry', async () => {
    const { db, req } = stage({ items: [item('A', null), item('B', null), item('BAD', null), item('C', null)] }, { items: 'replace' });
    const log: string[] = [];
    let inTemp: unknown[] = [];
    const session: MssqlSession = {
      batch: async (text) => {
        log.push(text);
        if (text.startsWith('IF OBJECT_ID(N\'tempdb')) inTemp = [];
        return 0;
      },
      count: async (text) => {
        log.push(text);
        if (inTemp.includes('BAD')) throw Object.assign(new Error("Cannot insert duplicate key row in object 'dbo.items' with unique index 'items_description'."), { number: 2601 });
        return inTemp.length;
      },
      bulk: async (table) => {
        const codes = (table.rows as unknown[][]).map((r) => r[0]);
        inTemp.push(...codes);
        log.push(`bulk ${codes.join(' ')}`);
        return codes.length;
      },
      query: async (text) => {
        log.push(text);
        return 1;
      },
    };
    try {
      const refused = await rehearseInSession(session, db, { model: req.model, stagingFile: req.stagingFile, entities: req.entities, runId: req.entry.id });
      expect(refused).toEqual([{ entity: 'items', seq: 3, message: expect.stringMatching(/unique index 'items_description'/) }]);
    } finally {
      db.close();
    }
    const items = entity('items');
    const shown = log.map((t) => (t === mssqlCreateTempTable(items) ? '#temp' : t === mssqlLoadStatement({ entity: items, mode: 'replace' }) ? 'INSERT' : t === mssqlDropTempTable(items) ? 'DROP #temp' : t));
    expect(shown.slice(0, 8)).toEqual(['SET XACT_ABORT OFF', MSSQL_RUNS_DDL, mssqlCreateTable(items), MSSQL_TABLES_DDL, MSSQL_TABLES_MERGE, mssqlDeleteAll(items), 'SAVE TRANSACTION forklift_sp1', '#temp']);
    // All four in one bulk; refused; halves; the half with BAD halves again down to BAD alone.
    expect(shown.filter((t) => t.startsWith('bulk') || t.startsWith('ROLLBACK') || t.startsWith('SAVE'))).toEqual([
      'SAVE TRANSACTION forklift_sp1',
      'bulk A B BAD C',
      'ROLLBACK TRANSACTION forklift_sp1',
      'SAVE TRANSACTION forklift_sp2',
      'bulk A B',
      'SAVE TRANSACTION forklift_sp3',
      'bulk BAD C',
      'ROLLBACK TRANSACTION forklift_sp3',
      'SAVE TRANSACTION forklift_sp4',
      'bulk BAD',
      'ROLLBACK TRANSACTION forklift_sp4',
      'SAVE TRANSACTION forklift_sp5',
      'bulk C',
    ]);
    expect(log.some((t) => t.includes('INSERT INTO [dbo].[forklift_runs]') || t === MSSQL_RUNS_LOCK)).toBe(false);
  });

  it('writes the run entry with typed parameters', () => {
    const { sql: text, params } = mssqlRunInsert(runEntry());
    expect(text).toBe(
      'INSERT INTO [dbo].[forklift_runs] ([id], [command], [status], [started], [finished], [operator], [host], [tool_version], [plan_sha256], [files], [counts], [message]) VALUES (@id, @command, @status, @started, @finished, @operator, @host, @tool_version, @plan_sha256, @files, @counts, @message)',
    );
    const byName = Object.fromEntries(params.map((p) => [p.name, p]));
    expect(byName.started!.type).toEqual({ type: sql.DateTimeOffset, scale: 3 });
    expect((byName.finished!.value as Date).toISOString()).toBe('2025-01-01T00:00:05.250Z');
    expect(byName.counts!.value).toBe('{"items":{"read":2,"loaded":2}}');
    expect(byName.message!.value).toBeNull();
  });
});

describe('SQL Server snapshot (export, diff, exit)', () => {
  /** A server whose answers are scripted: the snapshot state, the dbo tables each time they are listed, and a lock batch's outcome per try. */
  function server(opts: { state: number; tables: string[][]; locks?: (Error | null)[] }) {
    const log: string[] = [];
    let listed = 0;
    let tries = 0;
    const rows = (text: string): Record<string, unknown>[] => {
      if (text === MSSQL_SNAPSHOT_STATE_SQL) return [{ s: opts.state }];
      if (text === MSSQL_DBO_TABLES_SQL) return opts.tables[Math.min(listed++, opts.tables.length - 1)]!.map((t) => ({ t }));
      throw new Error(`unexpected ${text}`);
    };
    return {
      log,
      server: {
        query: async (text: string) => {
          log.push(`query ${text}`);
          return rows(text);
        },
        begin: async (isolation: 'SNAPSHOT' | 'READ COMMITTED') => {
          log.push(`begin ${isolation}`);
          return {
            batch: async (text: string) => {
              log.push(`batch ${text}`);
              if (text.includes('WITH (TABLOCK, HOLDLOCK, NOWAIT)')) {
                const e = opts.locks?.[tries++];
                if (e) throw e;
                return [];
              }
              return text === MSSQL_DBO_TABLES_SQL ? [rows(text)] : [];
            },
            rollback: async () => void log.push('rollback'),
          };
        },
      },
    };
  }
  const lockError = (): Error => Object.assign(new Error('Lock request time out period exceeded.'), { number: 1222, precedingErrors: [Object.assign(new Error('Lock request time out period exceeded.'), { number: 1222 })] });

  it('reads in a SNAPSHOT transaction where the database allows it (ALLOW_SNAPSHOT_ISOLATION ON)', async () => {
    const { server: srv, log } = server({ state: 1, tables: [['items']] });
    expect((await beginMssqlSnapshot(srv)).isolation).toBe('SNAPSHOT');
    expect(log).toEqual([`query ${MSSQL_SNAPSHOT_STATE_SQL}`, 'begin SNAPSHOT', 'batch SET XACT_ABORT OFF']);
  });

  it('elsewhere holds a shared lock on every dbo table from the start, taken all at once with NOWAIT, released and tried again while another session holds one', async () => {
    const { server: srv, log } = server({ state: 0, tables: [['bom_lines', 'items']], locks: [lockError(), null] });
    expect((await beginMssqlSnapshot(srv)).isolation).toBe('table locks');
    expect(mssqlLockTablesSql(['bom_lines', 'items'])).toBe('SELECT TOP (1) 1 AS [x] FROM [dbo].[bom_lines] WITH (TABLOCK, HOLDLOCK, NOWAIT);\nSELECT TOP (1) 1 AS [x] FROM [dbo].[items] WITH (TABLOCK, HOLDLOCK, NOWAIT);');
    const locks = `batch SET XACT_ABORT OFF;\n${mssqlLockTablesSql(['bom_lines', 'items'])}`;
    expect(log).toEqual([
      `query ${MSSQL_SNAPSHOT_STATE_SQL}`,
      `query ${MSSQL_DBO_TABLES_SQL}`,
      'begin READ COMMITTED',
      locks,
      'rollback',
      `query ${MSSQL_DBO_TABLES_SQL}`,
      'begin READ COMMITTED',
      locks,
      `batch ${MSSQL_DBO_TABLES_SQL}`,
    ]);
  });

  it('tries again where a table was made after the list was taken; any other error ends it, rolled back', async () => {
    const { server: srv, log } = server({ state: 0, tables: [['items'], ['items', 'new_one'], ['items', 'new_one']] });
    await beginMssqlSnapshot(srv);
    expect(log.filter((l) => l.startsWith('batch SET'))).toEqual([`batch SET XACT_ABORT OFF;\n${mssqlLockTablesSql(['items'])}`, `batch SET XACT_ABORT OFF;\n${mssqlLockTablesSql(['items', 'new_one'])}`]);
    const denied = Object.assign(new Error("The SELECT permission was denied on the object 'items'"), { number: 229 });
    const failing = server({ state: 0, tables: [['items']], locks: [denied] });
    await expect(beginMssqlSnapshot(failing.server)).rejects.toBe(denied);
    expect(failing.log.at(-1)).toBe('rollback');
    const ac = new AbortController();
    ac.abort();
    await expect(beginMssqlSnapshot(server({ state: 0, tables: [['items']] }).server, ac.signal)).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('SQL Server URL', () => {
  it('reads user, password, host, port, database and the TLS options', () => {
    const c = mssqlConfig('mssql://forklift:p%40ss%3Aw0rd@db.example.com:14330/Factory%20Data?encrypt=false&trustServerCertificate=true');
    expect(c).toMatchObject({ server: 'db.example.com', port: 14330, database: 'Factory Data', user: 'forklift', password: 'p@ss:w0rd', options: { encrypt: false, trustServerCertificate: true, useUTC: true } });
    expect(mssqlConfig('sqlserver://sa:x@localhost/db')).toMatchObject({ server: 'localhost', database: 'db', options: { encrypt: true, trustServerCertificate: false } });
    expect(mssqlConfig('mssql://sa:x@[::1]:1433/db?encrypt=strict&instanceName=SQLEXPRESS&requestTimeout=0').server).toBe('::1');
    expect(mssqlConfig('mssql://sa:x@h/db?requestTimeout=0').requestTimeout).toBe(0);
  });

  it('takes a Windows login\'s domain (NTLM), as the mssql:// source does', () => {
    const c = mssqlConfig('mssql://etl:p%40ss@db.corp/ERP?domain=CORP&encrypt=strict');
    expect(c).toMatchObject({ user: 'etl', password: 'p@ss', domain: 'CORP', options: { encrypt: 'strict' } });
    // What mssql hands tedious for it: NTLM authentication in that domain.
    const tedious = (new sql.ConnectionPool(c) as unknown as { _config(): { authentication: unknown; options: { encrypt: unknown } } })._config();
    expect(tedious.authentication).toEqual({ type: 'ntlm', options: { userName: 'etl', password: 'p@ss', domain: 'CORP' } });
    expect(tedious.options.encrypt).toBe('strict');
  });

  it('refuses a URL it cannot use, never showing the password', () => {
    for (const url of ['mssql://sa:Secr3t!@h:1433/', 'mssql://sa:Secr3t!@h/db?encrypt=maybe', 'mssql://sa:Secr3t!@h/db?ssl=true', 'mssql://sa:Secr3t!@:1433/db']) {
      let err: unknown;
      try {
        mssqlConfig(url);
      } catch (e) {
        err = e;
      }
      expect(err, url).toBeInstanceOf(ConfigError);
      expect((err as Error).message, url).not.toContain('Secr3t');
      expect((err as Error).message, url).toContain('***');
    }
  });

  it('shows the store without its password', () => {
    expect(new MssqlStore('mssql://sa:Secr3t!@db:1433/factory?trustServerCertificate=true').display).toBe('mssql://sa:***@db:1433/factory?trustServerCertificate=true');
  });
});

describe('SQL Server errors', () => {
  it('scrubs row values and the password out of server messages', () => {
    expect(scrubMssqlMessage("Violation of PRIMARY KEY constraint 'pk_items'. Cannot insert duplicate key in object 'dbo.items'. The duplicate key value is (A-100, it's secret).")).toBe(
      "Violation of PRIMARY KEY constraint 'pk_items'. Cannot insert duplicate key in object 'dbo.items'.",
    );
    expect(scrubMssqlMessage("String or binary data would be truncated in table 'f.dbo.items', column 'description'. Truncated value: 'Pumpe 'X' 12'.")).toBe(
      "String or binary data would be truncated in table 'f.dbo.items', column 'description'.",
    );
    expect(scrubMssqlMessage("Conversion failed when converting the nvarchar value 'Geheim' to data type int.")).toBe('Conversion failed when converting the nvarchar value to data type int.');
    expect(scrubMssqlMessage("Login failed for user 'sa'. pw=Secr3t!", ['Secr3t!'])).toBe("Login failed for user 'sa'. pw=***");
  });

  it('names the real error, not the "statement has been terminated" after it, with a hint', () => {
    const err = Object.assign(new Error('The statement has been terminated.'), {
      code: 'EREQUEST',
      number: 3621,
      precedingErrors: [Object.assign(new Error("Violation of PRIMARY KEY constraint 'pk_items'. Cannot insert duplicate key in object 'dbo.items'. The duplicate key value is (A-1)."), { code: 'EREQUEST', number: 2627 })],
    });
    const d = describeMssqlError(err);
    expect(d.message).toBe("Violation of PRIMARY KEY constraint 'pk_items'. Cannot insert duplicate key in object 'dbo.items'.");
    expect(d.hint).toMatch(/upsert/);
    expect(describeMssqlError(Object.assign(new Error('The INSERT statement conflicted with the FOREIGN KEY constraint "fk_bom_lines_parent_item".'), { number: 547 })).hint).toMatch(/reference/);
    expect(describeMssqlError(Object.assign(new Error("Login failed for user 'sa'."), { code: 'ELOGIN' })).hint).toBe('Check the user and password in the target URL; the password is never shown.');
    // A store given as a source is named so (export --source, exit --source), not as the target.
    expect(describeMssqlError(Object.assign(new Error("Login failed for user 'sa'."), { code: 'ELOGIN' }), [], 'the source URL (--source)').hint).toBe('Check the user and password in the source URL (--source); the password is never shown.');
    expect(describeMssqlError(Object.assign(new Error("Login failed for user 'sa'."), { number: 18456 }), [], 'the LEFT URL').hint).toBe('Check the user and password in the LEFT URL; the password is never shown.');
    expect(describeMssqlError(Object.assign(new Error('Cannot open database "nope" requested by the login. The login failed.'), { code: 'ELOGIN' })).hint).toMatch(/database does not exist/);
    expect(describeMssqlError(Object.assign(new Error('Failed to connect to db:1433 - connect ECONNREFUSED'), { code: 'ESOCKET' })).hint).toMatch(/reachable|accepts TCP/);
  });

  it('an unreachable server is a StoreError with a hint, and the password is never shown', async () => {
    const store = new MssqlStore('mssql://sa:Secr3t!pw@127.0.0.1:1/factory?connectTimeout=3000');
    try {
      const err = await store.hasTable('items').then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).message).toMatch(/^mssql:\/\/sa:\*\*\*@127\.0\.0\.1:1\/factory\?connectTimeout=3000: /);
      expect((err as StoreError).message).not.toContain('Secr3t');
      expect((err as StoreError).hint).toMatch(/accepts TCP connections/);
      expect((err as StoreError).exitCode).toBe(1);
    } finally {
      await store.close();
    }
  });
});

describe('SQL Server values read back', () => {
  it('reads decimals as exact text and other values in their staged form', () => {
    expect(mssqlReadExpression('qty', 'decimal')).toBe('CONVERT(nvarchar(50), [qty])');
    expect(mssqlReadExpression('item_code', 'nvarchar')).toBe('[item_code]');
    expect(fromMssqlValue('bigint', '42')).toBe(42);
    expect(fromMssqlValue('bigint', '9223372036854775807')).toBe('9223372036854775807');
    expect(fromMssqlValue('bit', true)).toBe(1);
    expect(fromMssqlValue('bit', false)).toBe(0);
    expect(fromMssqlValue('date', new Date('1969-12-31T00:00:00Z'))).toBe('1969-12-31');
    expect(fromMssqlValue('datetimeoffset', new Date('2040-01-01T10:00:00.5Z'))).toBe('2040-01-01T10:00:00.500Z');
    expect(fromMssqlValue('nvarchar', '')).toBe('');
    expect(fromMssqlValue('nvarchar', null)).toBeNull();
  });
});
