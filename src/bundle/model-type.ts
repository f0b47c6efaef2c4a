import type { Column, ColumnType } from '../model/types.js';

// A column's exact model type as a bundle writes it (`forklift:type`: `decimal(18,4)`,
// `string(64)`) and back. A module of its own: the Arrow writer and reader need it, and load
// nothing of the Data Package's schema (zod) for it.

export function modelTypeText(c: Column): string {
  if (c.type === 'decimal') return `decimal(${c.precision ?? 18},${c.scale ?? 0})`;
  if (c.type === 'string' && c.length !== undefined) return `string(${c.length})`;
  return c.type;
}

export function parseModelType(t: string): Pick<Column, 'type' | 'precision' | 'scale' | 'length'> | null {
  let m = /^decimal\((\d+),(\d+)\)$/.exec(t);
  if (m) return { type: 'decimal', precision: Number(m[1]), scale: Number(m[2]) };
  m = /^string\((\d+)\)$/.exec(t);
  if (m) return { type: 'string', length: Number(m[1]) };
  if (['string', 'text', 'enum', 'integer', 'boolean', 'date', 'timestamp'].includes(t)) return { type: t as ColumnType };
  return null;
}
