import { EventEmitter } from 'node:events';
import sql from 'mssql';
import tds from 'tedious';
import { describe, expect, it } from 'vitest';
import { compareText, keyComparer } from '../../../src/bundle/order.js';
import { factoryModel } from '../../../src/model/factory.js';
import type { Entity } from '../../../src/model/types.js';
import { READ_ROWS_BATCH, bySchema, tableDefinition } from '../../../src/stores/read-common.js';
import {
  MSSQL_DESCRIBE_SQL,
  MSSQL_FOREIGN_KEYS_SQL,
  MSSQL_TABLES_DDL,
  MSSQL_TABLES_ELSEWHERE_SQL,
  MSSQL_TABLES_MERGE,
  MssqlReadProblem,
  type MssqlColumnRow,
  type MssqlReadSession,
  mssqlColumnsSql,
  mssqlDescribeInSession,
  mssqlForeignKeysInSession,
  mssqlReadInSession,
  mssqlReadPlan,
  mssqlTableRecordParams,
  mssqlTables,
  readSessionOf,
} from '../../../src/stores/read-mssql.js';
import { tediousInstantText } from '../../../src/stores/mssql-text.js';
import { refuseCascadingReplace } from '../../../src/stores/replace-guard.js';
import type { EntityLoad, TargetStore } from '../../../src/stores/types.js';
import { StoreError } from '../../../src/core/errors.js';

/**
 * The SQL Server read side without a server: every statement describeTables and readRows send,
 * and how the values mssql/tedious hands back become the staging form.
 */

const model = factoryModel();
const entity = (name: string): Entity => model.entities.get(name)!;

/** The catalog rows of a table as forklift's DDL makes it (mssql.ts mssqlColumnType). */
function col(t: string, c: string, ty: string, opts: { len?: number; p?: number; s?: number; nl?: boolean; d?: string } = {}): MssqlColumnRow {
  return { t, c, ty, len: opts.len ?? 8, p: opts.p ?? 0, s: opts.s ?? 0, nl: opts.nl ?? true, d: opts.d ?? null };
}

const ITEMS_COLUMNS: MssqlColumnRow[] = [
  col('items', 'item_code', 'nvarchar', { len: 128, nl: false }),
  col('items', 'description', 'nvarchar', { len: 510, nl: false }),
  col('items', 'item_type', 'nvarchar', { len: 20 }),
  col('items', 'uom', 'nvarchar', { len: 32, nl: false }),
  col('items', 'category', 'nvarchar', { len: 128 }),
  col('items', 'standard_cost', 'decimal', { p: 18, s: 4 }),
  col('items', 'lead_time_days', 'bigint'),
  col('items', 'active', 'bit', { nl: false }),
];

const EVENTS_COLUMNS: MssqlColumnRow[] = [
  col('machine_events', 'machine_id', 'nvarchar', { len: 64, nl: false }),
  col('machine_events', 'ts', 'datetimeoffset', { nl: false }),
  col('machine_events', 'state', 'nvarchar', { len: 10 }),
  col('machine_events', 'good_count', 'bigint'),
  col('machine_events', 'reject_count', 'bigint'),
  col('machine_events', 'downtime_reason', 'nvarchar', { len: 128 }),
  col('machine_events', 'temperature_c', 'decimal', { p: 8, s: 3 }),
  col('machine_events', 'vibration_mm_s', 'decimal', { p: 8, s: 3 }),
  col('machine_events', 'power_kw', 'decimal', { p: 10, s: 3 }),
];

/** A hand-made table: odd types, no primary key, one foreign key of one column and one of two. */
const HAND_COLUMNS: MssqlColumnRow[] = [
  col('hand', 'label', 'varchar', { len: 10, d: 'what it is' }),
  col('hand', 'code', 'nchar', { len: 8 }),
  col('hand', 'note', 'nvarchar', { len: -1 }),
  col('hand', 'old', 'ntext', { len: 16 }),
  col('hand', 'price', 'money', { p: 19, s: 4 }),
  col('hand', 'small', 'smallmoney', { p: 10, s: 4 }),
  col('hand', 'amount', 'numeric', { p: 10, s: 3 }),
  col('hand', 'ratio', 'float', { p: 53 }),
  col('hand', 'flag', 'bit'),
  col('hand', 'day', 'date'),
  col('hand', 'at', 'datetime2', { s: 7 }),
  col('hand', 'legacy', 'datetime'),
  col('hand', 'n', 'int', { nl: false }),
  col('hand', 'tiny', 'tinyint'),
  col('hand', 'id', 'uniqueidentifier'),
  col('hand', 'bytes', 'varbinary', { len: 16 }),
  col('hand', 'pa', 'int'),
  col('hand', 'pb', 'int'),
];

interface Call {
  kind: 'query' | 'stream';
  text: string;
  params?: { name: string; value: unknown }[];
}

/** A session that records every call and answers from the given result sets and rows. */
function fakeSession(answers: { query?: (text: string) => Record<string, unknown>[][]; rows?: unknown[][] }): { session: MssqlReadSession; calls: Call[]; cancelled: () => number } {
  const calls: Call[] = [];
  let cancels = 0;
  const session: MssqlReadSession = {
    query: async (text, params) => {
      calls.push({ kind: 'query', text, params: params.map((p) => ({ name: p.name, value: p.value })) });
      return answers.query?.(text) ?? [];
    },
    stream: (text) => {
      calls.push({ kind: 'stream', text });
      const rows = answers.rows ?? [];
      return {
        rows: (async function* () {
          for (const r of rows) yield [...r];
        })(),
        cancel: () => {
          cancels++;
        },
      };
    },
  };
  return { session, calls, cancelled: () => cancels };
}

describe('SQL Server describeTables', () => {
  const catalog = (recorded: { name: string; definition: string }[]) => (text: string): Record<string, unknown>[][] => {
    expect(text).toBe(MSSQL_DESCRIBE_SQL);
    return [
      [
        { t: 'forklift_runs', d: null },
        { t: 'forklift_tables', d: null },
        { t: 'hand', d: 'made by hand' },
        { t: 'items', d: null },
        { t: 'parent', d: null },
      ],
      [
        ...ITEMS_COLUMNS,
        ...HAND_COLUMNS,
        col('forklift_runs', 'id', 'nvarchar', { len: 256, nl: false }),
        col('forklift_runs', 'started', 'datetimeoffset', { nl: false }),
        col('forklift_tables', 'name', 'nvarchar', { len: 256, nl: false }),
        col('forklift_tables', 'definition', 'nvarchar', { len: -1, nl: false }),
        col('parent', 'a', 'int', { nl: false }),
        col('parent', 'b', 'int', { nl: false }),
        col('parent', 'x', 'int', { nl: false }),
      ] as unknown as Record<string, unknown>[],
      [
        { t: 'forklift_runs', k: 'pk_forklift_runs', pk: true, c: 'id' },
        { t: 'items', k: 'pk_items', pk: true, c: 'item_code' },
        { t: 'parent', k: 'pk_parent', pk: true, c: 'a' },
        { t: 'parent', k: 'pk_parent', pk: true, c: 'b' },
        { t: 'parent', k: 'uq_parent_x', pk: false, c: 'x' },
        { t: 'hand', k: 'uq_hand_id', pk: false, c: 'id' },
      ],
      [
        { t: 'hand', k: 'fk_hand_pair', c: 'pa', rt: 'parent', rc: 'a' },
        { t: 'hand', k: 'fk_hand_pair', c: 'pb', rt: 'parent', rc: 'b' },
        { t: 'hand', k: 'fk_hand_tiny', c: 'tiny', rt: 'parent', rc: 'x' },
      ],
      recorded,
    ];
  };

  it('sends one batch (tables, columns, unique indexes, foreign keys, recorded definitions) of the dbo schema', async () => {
    const { session, calls } = fakeSession({ query: catalog([]) });
    await mssqlDescribeInSession(session);
    expect(calls).toEqual([{ kind: 'query', text: MSSQL_DESCRIBE_SQL, params: [] }]);
    expect(MSSQL_DESCRIBE_SQL.match(/SCHEMA_ID\(N'dbo'\)/g)).toHaveLength(4);
    expect(MSSQL_DESCRIBE_SQL).toContain("IF OBJECT_ID(N'[dbo].[forklift_tables]', N'U') IS NOT NULL SELECT [name], [definition] FROM [dbo].[forklift_tables]");
  });

  it('gives the recorded definition where the table still has its columns; the catalog elsewhere; sorted, forklift_tables left out', async () => {
    const items = entity('items');
    const { session } = fakeSession({ query: catalog([{ name: 'items', definition: tableDefinition(items) }]) });
    const tables = await mssqlDescribeInSession(session);
    expect(tables.map((t) => t.name)).toEqual(['forklift_runs', 'hand', 'items', 'parent']);
    expect(tables.find((t) => t.name === 'items')).toEqual({ ...items, rules: [] });
    expect(tables.find((t) => t.name === 'forklift_runs')).toEqual({
      name: 'forklift_runs',
      columns: [
        { name: 'id', type: 'string', length: 128, required: true },
        { name: 'started', type: 'timestamp', required: true },
      ],
      primaryKey: ['id'],
      rules: [],
    });
    expect(tables.find((t) => t.name === 'parent')).toEqual({
      name: 'parent',
      columns: [
        { name: 'a', type: 'integer', required: true },
        { name: 'b', type: 'integer', required: true },
        { name: 'x', type: 'integer', required: true, unique: true },
      ],
      primaryKey: ['a', 'b'],
      rules: [],
    });
  });

  it('maps native types to model types: money as decimal(19,4), nvarchar(max) as text, floats and GUIDs as text; a composite foreign key is left out', async () => {
    const { session } = fakeSession({ query: catalog([]) });
    const hand = (await mssqlDescribeInSession(session)).find((t) => t.name === 'hand')!;
    expect(hand).toEqual({
      name: 'hand',
      description: 'made by hand',
      columns: [
        { name: 'label', type: 'string', length: 10, required: false, description: 'what it is' },
        { name: 'code', type: 'string', length: 4, required: false },
        { name: 'note', type: 'text', required: false },
        { name: 'old', type: 'text', required: false },
        { name: 'price', type: 'decimal', precision: 19, scale: 4, required: false },
        { name: 'small', type: 'decimal', precision: 10, scale: 4, required: false },
        { name: 'amount', type: 'decimal', precision: 10, scale: 3, required: false },
        { name: 'ratio', type: 'text', required: false },
        { name: 'flag', type: 'boolean', required: false },
        { name: 'day', type: 'date', required: false },
        { name: 'at', type: 'timestamp', required: false },
        { name: 'legacy', type: 'timestamp', required: false },
        { name: 'n', type: 'integer', required: true },
        { name: 'tiny', type: 'integer', required: false, references: { entity: 'parent', column: 'x' } },
        { name: 'id', type: 'text', required: false, unique: true },
        { name: 'bytes', type: 'text', required: false },
        { name: 'pa', type: 'integer', required: false },
        { name: 'pb', type: 'integer', required: false },
      ],
      primaryKey: [],
      rules: [],
    });
  });

  it('falls back to the catalog for a recorded decimal that no longer has its scale, and for it alone', async () => {
    const items = entity('items');
    const cols = ITEMS_COLUMNS.map((c) => (c.c === 'standard_cost' ? { ...c, s: 6 } : c));
    const native = mssqlTables([{ t: 'items', d: null }], cols, [{ t: 'items', k: 'pk', pk: true, c: 'item_code' }], []);
    const { session } = fakeSession({
      query: () => [[{ t: 'items', d: null }], cols as unknown as Record<string, unknown>[], [{ t: 'items', k: 'pk', pk: true, c: 'item_code' }], [], [{ name: 'items', definition: tableDefinition(items) }]],
    });
    const d = (await mssqlDescribeInSession(session))[0]!;
    expect(native[0]!.columns.find((c) => c.name === 'standard_cost')!.scale).toBe(6);
    expect(d.description).toBe(items.description);
    expect(d.columns.find((c) => c.name === 'standard_cost')).toEqual({ name: 'standard_cost', type: 'decimal', precision: 18, scale: 6, required: false });
    // The other columns keep their recorded types (a boolean stays a boolean, an enum an enum).
    expect(d.columns.filter((c) => c.name !== 'standard_cost')).toEqual(items.columns.filter((c) => c.name !== 'standard_cost'));
  });
});

describe('SQL Server readRows', () => {
  const columnsOf = (cols: MssqlColumnRow[]) => (text: string): Record<string, unknown>[][] => {
    expect(text).toBe(mssqlColumnsSql(true));
    return [cols as unknown as Record<string, unknown>[]];
  };

  it('asks for the table\'s columns, then one SELECT in canonical order: text by BIN2 code units with a NUL end, decimals as text', async () => {
    const { session, calls } = fakeSession({ query: columnsOf(EVENTS_COLUMNS) });
    for await (const b of mssqlReadInSession(session, entity('machine_events'))) void b;
    expect(calls).toEqual([
      { kind: 'query', text: mssqlColumnsSql(true), params: [{ name: 't', value: 'machine_events' }] },
      {
        kind: 'stream',
        text:
          'SELECT [machine_id], [ts], [state], [good_count], [reject_count], [downtime_reason], CONVERT(nvarchar(50), [temperature_c]), CONVERT(nvarchar(50), [vibration_mm_s]), CONVERT(nvarchar(50), [power_kw]) ' +
          'FROM [dbo].[machine_events] ORDER BY ([machine_id] + NCHAR(0)) COLLATE Latin1_General_100_BIN2, [ts]',
      },
    ]);
    expect(mssqlColumnsSql(true)).toContain("t.schema_id = SCHEMA_ID(N'dbo')");
    expect(mssqlColumnsSql(true)).toContain('AND t.name = @t');
  });

  it('orders a table without a primary key by every column, each by its own comparison', () => {
    const hand = mssqlTables([{ t: 'hand', d: null }], HAND_COLUMNS, [], [])[0]!;
    const e: Entity = { name: 'hand', columns: hand.columns.map((c) => c.column), primaryKey: [], rules: [] };
    const { sql: text } = mssqlReadPlan(e, hand.columns);
    const [select, order] = text.split(' FROM [dbo].[hand] ORDER BY ');
    expect(select).toBe(
      'SELECT [label], RTRIM([code]), [note], CAST([old] AS nvarchar(max)), CONVERT(nvarchar(50), CAST([price] AS decimal(19, 4))), CONVERT(nvarchar(50), CAST([small] AS decimal(19, 4))), ' +
        "CONVERT(nvarchar(50), [amount]), CONVERT(nvarchar(50), [ratio], 3), [flag], [day], [at], [legacy], [n], [tiny], CONVERT(nvarchar(max), [id]), N'\\x' + LOWER(CONVERT(nvarchar(max), CAST([bytes] AS varbinary(max)), 2)), [pa], [pb]",
    );
    const bin2 = (e: string): string => `(${e} + NCHAR(0)) COLLATE Latin1_General_100_BIN2`;
    expect(order).toBe(
      [
        bin2('[label]'),
        bin2('RTRIM([code])'),
        bin2('[note]'),
        bin2('CAST([old] AS nvarchar(max))'),
        '[price]',
        '[small]',
        '[amount]',
        // A float described as text sorts by the very text read, not by its value.
        bin2('CONVERT(nvarchar(50), [ratio], 3)'),
        '[flag]',
        '[day]',
        '[at]',
        '[legacy]',
        '[n]',
        '[tiny]',
        bin2('CONVERT(nvarchar(max), [id])'),
        bin2("N'\\x' + LOWER(CONVERT(nvarchar(max), CAST([bytes] AS varbinary(max)), 2))"),
        '[pa]',
        '[pb]',
      ].join(', '),
    );
  });

  it('reads a sql_variant by its base type, each in a lossless form, and a rowversion as its bytes, not by CONVERT\'s default style', async () => {
    const cols = [col('ITEMMAST', 'ITEMNO', 'nvarchar', { len: 40, nl: false }), col('ITEMMAST', 'ATTR_VALUE', 'sql_variant', { len: 8016 }), col('ITEMMAST', 'ROWVER', 'timestamp', { nl: false })];
    const table = mssqlTables([{ t: 'ITEMMAST', d: null }], cols, [{ t: 'ITEMMAST', k: 'pk', pk: true, c: 'ITEMNO' }], [])[0]!;
    const e: Entity = { name: 'ITEMMAST', columns: table.columns.map((c) => c.column), primaryKey: ['ITEMNO'], rules: [] };
    expect(e.columns.map((c) => c.type)).toEqual(['string', 'text', 'text']);
    const { session, calls } = fakeSession({ query: columnsOf(cols), rows: [['P-1', '1.0000000000000001E-1', '\\x00000000000007d1']] });
    const out: unknown[][] = [];
    for await (const b of mssqlReadInSession(session, e)) out.push(...b);
    expect(out).toEqual([['P-1', '1.0000000000000001E-1', '\\x00000000000007d1']]);
    const v = '[ATTR_VALUE]';
    const as = (type: string, style = ''): string => `CONVERT(nvarchar(50), CAST(${v} AS ${type})${style})`;
    const hex = (c: string): string => `N'\\x' + LOWER(CONVERT(nvarchar(max), CAST(${c} AS varbinary(max)), 2))`;
    expect(calls[1]!.text).toBe(
      `SELECT [ITEMNO], CASE CAST(SQL_VARIANT_PROPERTY(${v}, 'BaseType') AS nvarchar(128)) ` +
        `WHEN 'float' THEN ${as('float', ', 3')} WHEN 'real' THEN ${as('real', ', 3')} ` +
        `WHEN 'money' THEN ${as('decimal(19, 4)')} WHEN 'smallmoney' THEN ${as('decimal(19, 4)')} ` +
        `WHEN 'datetime' THEN ${as('datetime', ', 121')} WHEN 'smalldatetime' THEN ${as('smalldatetime', ', 120')} ` +
        `WHEN 'datetime2' THEN ${as('datetime2(7)', ', 121')} WHEN 'datetimeoffset' THEN ${as('datetimeoffset(7)', ', 121')} ` +
        `WHEN 'time' THEN ${as('time(7)', ', 121')} WHEN 'date' THEN ${as('date', ', 23')} ` +
        `WHEN 'binary' THEN ${hex(v)} WHEN 'varbinary' THEN ${hex(v)} ELSE CONVERT(nvarchar(max), ${v}) END, ` +
        `${hex('[ROWVER]')} FROM [dbo].[ITEMMAST] ORDER BY ([ITEMNO] + NCHAR(0)) COLLATE Latin1_General_100_BIN2`,
    );
  });

  it('describes and reads geometry, geography and hierarchyid columns (system_type_id 240, named by their own id), and a type the login cannot see', async () => {
    expect(mssqlColumnsSql(false)).toContain('COALESCE(TYPE_NAME(c.system_type_id), TYPE_NAME(c.user_type_id)) AS ty');
    const cols = [
      col('sites', 'id', 'int', { nl: false }),
      col('sites', 'shape', 'geometry', { len: -1 }),
      col('sites', 'place', 'geography', { len: -1 }),
      col('sites', 'node', 'hierarchyid', { len: 892 }),
      { ...col('sites', 'hidden', 'x'), ty: null },
    ];
    const table = mssqlTables([{ t: 'sites', d: null }], cols, [{ t: 'sites', k: 'pk', pk: true, c: 'id' }], [])[0]!;
    const e: Entity = { name: 'sites', columns: table.columns.map((c) => c.column), primaryKey: ['id'], rules: [] };
    expect(e.columns.map((c) => c.type)).toEqual(['integer', 'text', 'text', 'text', 'text']);
    const { session, calls } = fakeSession({ query: columnsOf(cols), rows: [[1, '\\xe6100000010c', '\\xe6100000010c', '/1/3/', 'x']] });
    const out: unknown[][] = [];
    for await (const b of mssqlReadInSession(session, e)) out.push(...b);
    expect(out).toEqual([[1, '\\xe6100000010c', '\\xe6100000010c', '/1/3/', 'x']]);
    const hex = (c: string): string => `N'\\x' + LOWER(CONVERT(nvarchar(max), CAST(${c} AS varbinary(max)), 2))`;
    expect(calls[1]!.text).toBe(`SELECT [id], ${hex('[shape]')}, ${hex('[place]')}, [node].ToString(), CONVERT(nvarchar(max), [hidden]) FROM [dbo].[sites] ORDER BY [id]`);
  });

  it('turns what tedious gives into the staging form: bigint text to numbers, bit to 1/0, instants and dates to ISO, decimal text as it is', async () => {
    const rows = [
      ['M-1', new Date('2025-11-03T05:00:47.000Z'), 'RUN', '42', '9223372036854775807', null, '47.727', '-0.500', '0.000'],
      ['M-1', new Date('1969-12-31T23:59:59.999Z'), null, '0', '-1', '', '1.000', '2.000', '3.000'],
    ];
    const { session } = fakeSession({ query: columnsOf(EVENTS_COLUMNS), rows });
    const out: unknown[][] = [];
    for await (const b of mssqlReadInSession(session, entity('machine_events'))) out.push(...b);
    expect(out).toEqual([
      ['M-1', '2025-11-03T05:00:47.000Z', 'RUN', 42, '9223372036854775807', null, '47.727', '-0.500', '0.000'],
      ['M-1', '1969-12-31T23:59:59.999Z', null, 0, -1, '', '1.000', '2.000', '3.000'],
    ]);

    const items = entity('items');
    const { session: s2 } = fakeSession({ query: columnsOf(ITEMS_COLUMNS), rows: [['A', 'x', 'raw', 'EA', null, '1.5000', '7', true], ['B', 'y', null, 'EA', null, null, null, false]] });
    const got: unknown[][] = [];
    for await (const b of mssqlReadInSession(s2, items)) got.push(...b);
    expect(got).toEqual([
      ['A', 'x', 'raw', 'EA', null, '1.5000', 7, 1],
      ['B', 'y', null, 'EA', null, null, null, 0],
    ]);
  });

  it('reads the foreign keys into dbo tables from every schema with their ON DELETE action, for the replace guard', async () => {
    const { session, calls } = fakeSession({
      query: () => [
        [
          { k: 'fk_bom_parent', s: null, t: 'bom_lines', c: 'parent_item', rt: 'items', rc: 'item_code', del: 0 },
          { k: 'fk_lines_pair', s: null, t: 'lines', c: 'pa', rt: 'parent', rc: 'a', del: 2 },
          { k: 'fk_lines_pair', s: null, t: 'lines', c: 'pb', rt: 'parent', rc: 'b', del: 2 },
          { k: 'fk_orders_item', s: 'sales', t: 'orders', c: 'item', rt: 'items', rc: 'item_code', del: 1 },
        ],
      ],
    });
    const fks = await mssqlForeignKeysInSession(session);
    expect(calls).toEqual([{ kind: 'query', text: MSSQL_FOREIGN_KEYS_SQL, params: [] }]);
    expect(MSSQL_FOREIGN_KEYS_SQL).toContain("WHERE r.schema_id = SCHEMA_ID(N'dbo')");
    expect(MSSQL_FOREIGN_KEYS_SQL).toContain('fk.delete_referential_action AS del');
    expect(fks).toEqual([
      { name: 'fk_bom_parent', schema: null, table: 'bom_lines', columns: ['parent_item'], refTable: 'items', refColumns: ['item_code'], onDelete: 'no action' },
      { name: 'fk_lines_pair', schema: null, table: 'lines', columns: ['pa', 'pb'], refTable: 'parent', refColumns: ['a', 'b'], onDelete: 'set null' },
      { name: 'fk_orders_item', schema: 'sales', table: 'orders', columns: ['item'], refTable: 'items', refColumns: ['item_code'], onDelete: 'cascade' },
    ]);
    // A replace of items (which SQL Server empties with DELETE) would cascade into sales.orders: refused before anything is sent.
    const store = { display: 'mssql://sa@db/erp', foreignKeys: () => mssqlForeignKeysInSession(session) } as unknown as TargetStore;
    const load = (name: string, mode: EntityLoad['mode']): EntityLoad => ({ entity: { name }, mode }) as unknown as EntityLoad;
    const e = await refuseCascadingReplace(store, [load('items', 'replace')]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StoreError);
    expect((e as Error).message).toMatch(/a replace of items would change sales\.orders too: .*fk_orders_item .*ON DELETE CASCADE/);
    // SET NULL from a table the run does not replace is refused too; replaced with it, it is the run's own.
    await expect(refuseCascadingReplace(store, [load('parent', 'replace')])).rejects.toThrow(/fk_lines_pair of lines \(ON DELETE SET NULL\)/);
    await expect(refuseCascadingReplace(store, [load('parent', 'replace'), load('lines', 'replace')])).resolves.toBeUndefined();
  });

  it('lists the user tables of every schema but dbo, by schema, for export to name what it leaves out', () => {
    expect(MSSQL_TABLES_ELSEWHERE_SQL).toContain("WHERE t.schema_id <> SCHEMA_ID(N'dbo') AND t.is_ms_shipped = 0");
    expect(bySchema([{ s: 'archive', t: 'a' }, { s: 'archive', t: 'b' }, { s: 'sales', t: 'orders' }])).toEqual([
      { schema: 'archive', tables: ['a', 'b'] },
      { schema: 'sales', tables: ['orders'] },
    ]);
  });

  it('a datetime2(7) value with digits below the millisecond stops the read (store.sub-millisecond) instead of being cut by the Date', async () => {
    const at = (iso: string, delta: number): Date => Object.defineProperty(new Date(iso), 'nanosecondsDelta', { value: delta });
    expect(tediousInstantText(at('2025-11-03T05:00:47.123Z', 0))).toBe('2025-11-03T05:00:47.123Z');
    expect(tediousInstantText(at('2025-11-03T05:00:47.123Z', 0.0000004))).toBe('2025-11-03T05:00:47.1230004Z');
    expect(tediousInstantText(at('2025-11-03T05:00:47.123Z', 0.00045))).toBe('2025-11-03T05:00:47.12345Z');
    const rows = [['M-1', at('2025-11-03T05:00:47.123Z', 0.0000004), 'RUN', '42', '1', null, '1.000', '2.000', '3.000']];
    const { session } = fakeSession({ query: columnsOf(EVENTS_COLUMNS), rows });
    const read = async (): Promise<void> => {
      for await (const b of mssqlReadInSession(session, entity('machine_events'))) void b;
    };
    await expect(read()).rejects.toMatchObject({ code: 'store.sub-millisecond', message: expect.stringMatching(/machine_events, column ts: the value 2025-11-03T05:00:47\.1230004Z has digits below the millisecond/) });
  });

  it('reads a column with the model\'s type where it differs: an instant as text for RUNS_ENTITY, a decimal in the scale asked for', async () => {
    const runs: Entity = { name: 'forklift_runs', columns: [{ name: 'id', type: 'string', length: 64, required: true }, { name: 'started', type: 'string', length: 32, required: true }], primaryKey: ['id'], rules: [] };
    const { session, calls } = fakeSession({
      query: columnsOf([col('forklift_runs', 'id', 'nvarchar', { len: 256, nl: false }), col('forklift_runs', 'started', 'datetimeoffset', { nl: false })]),
      rows: [['r1', new Date('2026-01-02T03:04:05.006Z')]],
    });
    const out: unknown[][] = [];
    for await (const b of mssqlReadInSession(session, runs)) out.push(...b);
    expect(out).toEqual([['r1', '2026-01-02T03:04:05.006Z']]);
    expect(calls[1]!.text).toBe('SELECT [id], [started] FROM [dbo].[forklift_runs] ORDER BY ([id] + NCHAR(0)) COLLATE Latin1_General_100_BIN2');

    const items = entity('items');
    const wider: Entity = { ...items, columns: items.columns.map((c) => (c.name === 'standard_cost' ? { ...c, scale: 6 } : c)) };
    const { session: s2 } = fakeSession({ query: columnsOf(ITEMS_COLUMNS), rows: [['A', 'x', 'raw', 'EA', null, '1.5000', '7', true]] });
    const got: unknown[][] = [];
    for await (const b of mssqlReadInSession(s2, wider)) got.push(...b);
    expect(got[0]![5]).toBe('1.500000');
  });

  it('yields batches of READ_ROWS_BATCH rows; a consumer that stops early or an abort cancels the request', async () => {
    const B = READ_ROWS_BATCH;
    const n = 2 * B + 1;
    const rows = Array.from({ length: n }, (_, i) => [`K${String(i).padStart(6, '0')}`, `item ${i}`, null, 'EA', null, null, String(i), i % 2 === 0]);
    const { session } = fakeSession({ query: columnsOf(ITEMS_COLUMNS), rows });
    const sizes: number[] = [];
    const all: unknown[][] = [];
    for await (const b of mssqlReadInSession(session, entity('items'))) {
      sizes.push(b.length);
      all.push(...b);
    }
    expect(sizes).toEqual([B, B, 1]);
    const e = entity('items');
    const cmp = keyComparer(e.columns, [0]);
    for (let i = 1; i < all.length; i++) expect(cmp(all[i - 1]!, all[i]!)).toBeLessThan(0);

    const early = fakeSession({ query: columnsOf(ITEMS_COLUMNS), rows });
    for await (const b of mssqlReadInSession(early.session, entity('items'))) {
      expect(b).toHaveLength(B);
      break;
    }
    expect(early.cancelled()).toBe(1);

    const aborted = fakeSession({ query: columnsOf(ITEMS_COLUMNS), rows });
    const ac = new AbortController();
    await expect(
      (async () => {
        for await (const b of mssqlReadInSession(aborted.session, entity('items'), ac.signal)) {
          void b;
          ac.abort();
        }
      })(),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(aborted.cancelled()).toBe(1);
  });

  it('says which table or column is missing, without sending the SELECT', async () => {
    const none = fakeSession({ query: () => [[]] });
    await expect(mssqlReadInSession(none.session, entity('items')).next()).rejects.toThrow(new MssqlReadProblem('there is no table items in the dbo schema', 'table'));
    expect(none.calls.map((c) => c.kind)).toEqual(['query']);
    const short = fakeSession({ query: columnsOf(ITEMS_COLUMNS.filter((c) => c.c !== 'active')) });
    await expect(mssqlReadInSession(short.session, entity('items')).next()).rejects.toThrow('table items has no column active');
    expect(short.calls.map((c) => c.kind)).toEqual(['query']);
  });
});

describe('SQL Server forklift_tables', () => {
  it('creates the table where it is missing and upserts each definition with MERGE … HOLDLOCK', () => {
    expect(MSSQL_TABLES_DDL).toBe(
      "IF OBJECT_ID(N'[dbo].[forklift_tables]', N'U') IS NULL\nCREATE TABLE [dbo].[forklift_tables] (\n  [name] nvarchar(128) NOT NULL CONSTRAINT [pk_forklift_tables] PRIMARY KEY,\n  [definition] nvarchar(max) NOT NULL\n)",
    );
    expect(MSSQL_TABLES_MERGE).toMatch(/^MERGE INTO \[dbo\]\.\[forklift_tables\] WITH \(HOLDLOCK\) AS t\n/);
    const params = mssqlTableRecordParams(entity('bom_lines'));
    expect(params.map((p) => [p.name, p.value])).toEqual([
      ['name', 'bom_lines'],
      ['definition', tableDefinition(entity('bom_lines'))],
    ]);
    expect(params.map((p) => (p.type as unknown as { type: unknown }).type)).toEqual([sql.NVarChar, sql.NVarChar]);
    expect(JSON.parse(params[1]!.value as string)).not.toHaveProperty('rules');
  });

  it('the documented gap: BIN2 sorts a character above U+FFFF (a surrogate pair) before U+E000-U+FFFF', () => {
    // What SQL Server's BIN2 does on nvarchar (UTF-16 code units) is JavaScript's default order.
    const keys = ['x\uFB01', 'x\u{1F600}'];
    expect([...keys].sort()).toEqual(['x\u{1F600}', 'x\uFB01']);
    expect([...keys].sort(compareText)).toEqual(['x\uFB01', 'x\u{1F600}']);
  });
});

describe('SQL Server read session on a transaction (a snapshot\'s): mssql Request, tedious Request, no socket', () => {
  /**
   * A parent that lends its one connection to one request at a time, as an mssql Transaction does
   * (a second request while one runs: EREQINPROG), and a connection that streams `n` rows of a
   * query a row per turn of the event loop and answers a cancel by ending the request.
   */
  function transactionLike(n: number) {
    const log: string[] = [];
    let active: unknown = null;
    class Conn extends EventEmitter {
      private cancelled = false;
      execSql(req: EventEmitter & { sqlTextOrProcedure: string; callback: (err: Error | null, n?: number) => void }): void {
        log.push(`start ${req.sqlTextOrProcedure}`);
        const meta = { colName: 'a', type: tds.TYPES.Int, dataLength: 4, flags: 0 };
        req.emit('columnMetadata', [meta]);
        let i = 0;
        const tick = (): void => {
          if (this.cancelled) {
            this.cancelled = false;
            // The server's answer to the attention comes a round trip later.
            return void setTimeout(() => {
              log.push(`cancelled ${req.sqlTextOrProcedure}`);
              req.callback(Object.assign(new Error('Canceled.'), { code: 'ECANCEL' }));
            }, 30);
          }
          if (i < n) {
            req.emit('row', [{ value: i++, metadata: meta }]);
            return void setImmediate(tick);
          }
          req.emit('done', n, false, []);
          log.push(`end ${req.sqlTextOrProcedure}`);
          req.callback(null, n);
        };
        setImmediate(tick);
      }
      cancel(): boolean {
        this.cancelled = true;
        return true;
      }
    }
    const conn = new Conn();
    const parent = {
      connected: true,
      config: {},
      request(): sql.Request {
        return new sql.Request(parent as unknown as sql.Transaction);
      },
      acquire(_req: unknown, cb: (e: Error | null, c?: Conn, config?: object) => void): void {
        if (active) return void setImmediate(cb, Object.assign(new Error("Can't acquire connection for the request. There is another request in progress."), { code: 'EREQINPROG' }));
        active = _req;
        setImmediate(cb, null, conn, {});
      },
      release(): void {
        active = null;
      },
    };
    return { parent: parent as unknown as sql.Transaction, log };
  }

  it('a read stopped early (cancelled) has ended before the next request starts on the same connection', async () => {
    const { parent, log } = transactionLike(50);
    const s = readSessionOf(parent);
    const first = s.stream('SELECT a FROM t1');
    let seen = 0;
    for await (const row of first.rows) {
      expect(row).toEqual([seen]);
      if (++seen === 3) break;
    }
    first.cancel();
    // The next read right away, as a diff starting a table over does.
    const [rows = []] = await s.query('SELECT a FROM t2', []);
    expect(rows).toHaveLength(50);
    const next = s.stream('SELECT a FROM t3');
    let all = 0;
    for await (const row of next.rows) all += row.length;
    expect(all).toBe(50);
    expect(log).toEqual(['start SELECT a FROM t1', 'cancelled SELECT a FROM t1', 'start SELECT a FROM t2', 'end SELECT a FROM t2', 'start SELECT a FROM t3', 'end SELECT a FROM t3']);
  });

  it('settle() stops a read the consumer left unfinished, so the transaction can end', async () => {
    const { parent, log } = transactionLike(1000);
    const s = readSessionOf(parent);
    const it = s.stream('SELECT a FROM t1').rows[Symbol.asyncIterator]();
    await it.next();
    await s.settle();
    expect(log).toEqual(['start SELECT a FROM t1', 'cancelled SELECT a FROM t1']);
  });
});
