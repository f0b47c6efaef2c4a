import type { HashedFile } from '../util/hash.js';

/** The target's shape: entities, columns, keys. Stores, validation and bundles all read this. */

export type ColumnType = 'string' | 'text' | 'integer' | 'decimal' | 'boolean' | 'date' | 'timestamp' | 'enum';

export interface Column {
  name: string;
  type: ColumnType;
  /** string: max length in characters. */
  length?: number;
  /** decimal: total digits and digits after the point. */
  precision?: number;
  scale?: number;
  values?: string[];
  required: boolean;
  unique?: boolean;
  /** Inclusive bounds unless exclusiveMin is set (qty_per > 0). Decimal strings, compared exactly. */
  min?: string;
  exclusiveMin?: boolean;
  max?: string;
  pattern?: string;
  references?: { entity: string; column: string };
  description?: string;
}

export interface Entity {
  name: string;
  description?: string;
  columns: Column[];
  primaryKey: string[];
  /** Rules beyond single columns that the validation stage knows by name. */
  rules: EntityRule[];
}

export type EntityRule =
  | { kind: 'bom-graph'; parent: string; component: string }
  | { kind: 'date-order'; from: string; to: string }
  | { kind: 'non-negative-unless-allowed'; column: string }
  | { kind: 'strictly-increasing'; partition: string; column: string };

export interface Model {
  name: string;
  entities: Map<string, Entity>;
  /** The model file it was read from; absent for the built-in model and one rebuilt from a bundle or store. */
  file?: HashedFile;
}

export function columnOf(entity: Entity, name: string): Column | undefined {
  return entity.columns.find((c) => c.name === name);
}

/** Entities in an order where every referenced entity comes before the ones referencing it. */
export function dependencyOrder(model: Model, names: string[]): string[] {
  return referencedFirst(names, (n) => (model.entities.get(n)?.columns ?? []).flatMap((c) => (c.references ? [c.references.entity] : [])));
}

/** Names in an order where every one `refsOf` gives comes before the one giving it (self references and names not asked for aside; in a cycle, the order asked in). */
export function referencedFirst(names: readonly string[], refsOf: (name: string) => Iterable<string>): string[] {
  const wanted = new Set(names);
  const out: string[] = [];
  const seen = new Set<string>();
  const visit = (n: string): void => {
    if (seen.has(n)) return;
    seen.add(n);
    for (const ref of refsOf(n)) if (ref !== n && wanted.has(ref)) visit(ref);
    out.push(n);
  };
  for (const n of names) visit(n);
  return out;
}
