import type { Column, Entity, Model } from './types.js';

/** The built-in `factory` model of SPEC section 3. */

const col = (name: string, type: Column['type'], extra: Partial<Column> = {}): Column => ({
  name,
  type,
  required: false,
  ...extra,
});

const items: Entity = {
  name: 'items',
  description: 'The item master: every part, assembly and product the factory buys, makes or sells.',
  primaryKey: ['item_code'],
  columns: [
    col('item_code', 'string', { length: 64, required: true, description: 'Item number, unique' }),
    col('description', 'string', { length: 255, required: true }),
    col('item_type', 'enum', { values: ['raw', 'semi', 'finished', 'consumable', 'service'] }),
    col('uom', 'string', { length: 16, required: true, description: 'Stock unit of measure' }),
    col('category', 'string', { length: 64 }),
    col('standard_cost', 'decimal', { precision: 18, scale: 4, min: '0', description: 'Standard cost per stock unit' }),
    col('lead_time_days', 'integer', { min: '0' }),
    col('active', 'boolean', { required: true }),
  ],
  rules: [],
};

const bomLines: Entity = {
  name: 'bom_lines',
  description: 'Bills of materials: which components, and how many, make one unit of a parent item.',
  primaryKey: ['parent_item', 'line_no'],
  columns: [
    col('parent_item', 'string', { length: 64, required: true, references: { entity: 'items', column: 'item_code' } }),
    col('line_no', 'integer', { required: true }),
    col('component_item', 'string', { length: 64, required: true, references: { entity: 'items', column: 'item_code' } }),
    col('qty_per', 'decimal', { precision: 18, scale: 6, min: '0', exclusiveMin: true, required: true }),
    col('uom', 'string', { length: 16 }),
    col('scrap_pct', 'decimal', { precision: 5, scale: 2, min: '0', max: '100' }),
    col('valid_from', 'date'),
    col('valid_to', 'date'),
  ],
  rules: [
    { kind: 'bom-graph', parent: 'parent_item', component: 'component_item' },
    { kind: 'date-order', from: 'valid_from', to: 'valid_to' },
  ],
};

const stockBalances: Entity = {
  name: 'stock_balances',
  description: 'Opening stock: quantity and value of each item per warehouse and lot at go-live.',
  primaryKey: ['item_code', 'warehouse', 'lot'],
  columns: [
    col('item_code', 'string', { length: 64, required: true, references: { entity: 'items', column: 'item_code' } }),
    col('warehouse', 'string', { length: 32, required: true }),
    col('lot', 'string', { length: 64, required: true, description: "Lot or batch; '' where none" }),
    col('qty', 'decimal', { precision: 18, scale: 6 }),
    col('value', 'decimal', { precision: 18, scale: 2 }),
    col('as_of', 'date'),
  ],
  rules: [{ kind: 'non-negative-unless-allowed', column: 'qty' }],
};

const machineEvents: Entity = {
  name: 'machine_events',
  description: 'Machine log: state changes and counters per machine over time.',
  primaryKey: ['machine_id', 'ts'],
  columns: [
    col('machine_id', 'string', { length: 32, required: true }),
    col('ts', 'timestamp', { required: true }),
    col('state', 'enum', { values: ['RUN', 'IDLE', 'DOWN', 'SETUP', 'OFF'] }),
    col('good_count', 'integer', { min: '0' }),
    col('reject_count', 'integer', { min: '0' }),
    col('downtime_reason', 'string', { length: 64 }),
    col('temperature_c', 'decimal', { precision: 8, scale: 3 }),
    col('vibration_mm_s', 'decimal', { precision: 8, scale: 3 }),
    col('power_kw', 'decimal', { precision: 10, scale: 3 }),
  ],
  rules: [{ kind: 'strictly-increasing', partition: 'machine_id', column: 'ts' }],
};

export function factoryModel(): Model {
  const entities = [items, bomLines, stockBalances, machineEvents].map((e) => structuredClone(e));
  return { name: 'factory', entities: new Map(entities.map((e) => [e.name, e])) };
}
