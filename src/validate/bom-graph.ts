import type { Entity } from '../model/types.js';
import { ROW_OK, q, stagingTable, type Staging } from '../run/staging.js';

interface Edge {
  seq: number;
  line: number;
  parent: string;
  component: string;
}

/**
 * Cycles in the bill of materials at any depth. Every line on a cycle is rejected and the reason
 * names the path (A → B → C → A). Strongly connected components (Tarjan, iterative so a deep BOM
 * cannot overflow the stack) find them in one pass. The graph holds only the accepted lines'
 * item codes: BOMs are orders of magnitude smaller than machine logs.
 */
export function checkBomCycles(staging: Staging, entity: Entity, parentCol: string, componentCol: string): number {
  const rows = staging.db
    .prepare(`SELECT _seq AS seq, _line AS line, ${q(parentCol)} AS parent, ${q(componentCol)} AS component FROM ${stagingTable(entity.name)} WHERE _st = ${ROW_OK} ORDER BY _seq`)
    .all() as Edge[];
  const adj = new Map<string, Edge[]>();
  for (const e of rows) {
    let list = adj.get(e.parent);
    if (!list) adj.set(e.parent, (list = []));
    list.push(e);
  }
  const comp = stronglyConnected(adj);
  let rejected = 0;
  for (const e of rows) {
    const c = comp.get(e.parent);
    if (c === undefined || c !== comp.get(e.component) || e.parent === e.component) continue;
    const back = shortestPath(adj, e.component, e.parent, (n) => comp.get(n) === c);
    const cycle = [e.parent, ...back].join(' → ');
    if (staging.rejectStaged(entity.name, e.seq, e.line, componentCol, 'bom-cycle', `this line is part of a BOM cycle: ${cycle}`)) rejected++;
  }
  return rejected;
}

function stronglyConnected(adj: Map<string, Edge[]>): Map<string, number> {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const comp = new Map<string, number>();
  let next = 0;
  let compId = 0;
  for (const start of adj.keys()) {
    if (index.has(start)) continue;
    const work: { node: string; i: number }[] = [{ node: start, i: 0 }];
    index.set(start, next);
    low.set(start, next++);
    stack.push(start);
    onStack.add(start);
    while (work.length) {
      const top = work[work.length - 1]!;
      const edges = adj.get(top.node) ?? [];
      if (top.i < edges.length) {
        const w = edges[top.i++]!.component;
        if (!index.has(w)) {
          index.set(w, next);
          low.set(w, next++);
          stack.push(w);
          onStack.add(w);
          work.push({ node: w, i: 0 });
        } else if (onStack.has(w)) low.set(top.node, Math.min(low.get(top.node)!, index.get(w)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(top.node)!));
      if (low.get(top.node) === index.get(top.node)) {
        let w: string;
        const members: string[] = [];
        do {
          w = stack.pop()!;
          onStack.delete(w);
          members.push(w);
        } while (w !== top.node);
        if (members.length > 1) {
          for (const m of members) comp.set(m, compId);
          compId++;
        }
      }
    }
  }
  return comp;
}

/** The nodes from `from` to `to` (both included), breadth first inside one component. */
function shortestPath(adj: Map<string, Edge[]>, from: string, to: string, inside: (n: string) => boolean): string[] {
  const prev = new Map<string, string | null>([[from, null]]);
  const queue = [from];
  for (let i = 0; i < queue.length; i++) {
    const n = queue[i]!;
    if (n === to) break;
    for (const e of adj.get(n) ?? []) {
      if (!prev.has(e.component) && inside(e.component)) {
        prev.set(e.component, n);
        queue.push(e.component);
      }
    }
  }
  const path: string[] = [];
  for (let n: string | null | undefined = to; n !== null && n !== undefined; n = prev.get(n)) path.unshift(n);
  return path;
}
