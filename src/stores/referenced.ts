import type { Entity } from '../model/types.js';
import type { EntityLoad, LoadRequest } from './types.js';

/**
 * The entities a load touches and every entity they reference, referenced ones first: the tables
 * a load must make sure of, in an order their foreign keys can be created in.
 */
export function referencedClosure(req: { model: LoadRequest['model']; entities: readonly Pick<EntityLoad, 'entity'>[] }): Entity[] {
  const names = new Set<string>();
  const visit = (n: string): void => {
    if (names.has(n)) return;
    const e = req.model.entities.get(n);
    if (!e) return;
    for (const c of e.columns) if (c.references && c.references.entity !== n) visit(c.references.entity);
    names.add(n);
  };
  for (const l of req.entities) visit(l.entity.name);
  return [...names].map((n) => req.model.entities.get(n)!);
}
