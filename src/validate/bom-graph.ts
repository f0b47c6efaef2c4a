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
  const paths = new Map<number, CyclePaths>();
  let rejected = 0;
  for (const e of rows) {
    const c = comp.get(e.parent);
    if (c === undefined || c !== comp.get(e.component) || e.parent === e.component) continue;
    let p = paths.get(c);
    if (!p) paths.set(c, (p = cyclePaths(adj, e.parent, (n) => comp.get(n) === c)));
    const cycle = p.through(e.parent, e.component);
    if (staging.rejectStaged(entity.name, e.seq, e.line, componentCol, 'bom-cycle', `this line is part of a BOM cycle: ${cycle}`)) rejected++;
  }
  return rejected;
}

interface CyclePaths {
  /** A closed path through the edge parent → component, shown in full or shortened in the middle. */
  through(parent: string, component: string): string;
}

const SHOW = 12;

/**
 * Breadth-first trees out of and back into one root of a component: for any edge u → v inside
 * it, root ⇝ u → v ⇝ root is a closed path through that edge. Built once per component, so a
 * cycle of 20,000 items costs two traversals, not one per line; a long path is shortened in the
 * middle so a reason stays readable.
 */
function cyclePaths(adj: Map<string, Edge[]>, root: string, inside: (n: string) => boolean): CyclePaths {
  const fwd = new Map<string, string | null>([[root, null]]); // node -> previous node on root ⇝ node
  const fDepth = new Map<string, number>([[root, 0]]);
  const queue = [root];
  for (let i = 0; i < queue.length; i++) {
    const n = queue[i]!;
    for (const e of adj.get(n) ?? []) {
      if (!fwd.has(e.component) && inside(e.component)) {
        fwd.set(e.component, n);
        fDepth.set(e.component, fDepth.get(n)! + 1);
        queue.push(e.component);
      }
    }
  }
  const rev = new Map<string, string[]>();
  for (const [p, edges] of adj) {
    if (!inside(p)) continue;
    for (const e of edges) {
      if (!inside(e.component)) continue;
      let l = rev.get(e.component);
      if (!l) rev.set(e.component, (l = []));
      l.push(p);
    }
  }
  const back = new Map<string, string | null>([[root, null]]); // node -> next node on node ⇝ root
  const bDepth = new Map<string, number>([[root, 0]]);
  const q2 = [root];
  for (let i = 0; i < q2.length; i++) {
    const n = q2[i]!;
    for (const p of rev.get(n) ?? []) {
      if (!back.has(p)) {
        back.set(p, n);
        bDepth.set(p, bDepth.get(n)! + 1);
        q2.push(p);
      }
    }
  }
  const onward = (from: string, steps: number): string[] => {
    const out: string[] = [];
    for (let n: string | null | undefined = from; n !== null && n !== undefined && out.length < steps; n = back.get(n)) out.push(n);
    return out;
  };
  const before = (to: string, steps: number): string[] => {
    const out: string[] = [];
    for (let n: string | null | undefined = to; n !== null && n !== undefined && out.length < steps; n = fwd.get(n)) out.unshift(n);
    return out;
  };
  return {
    through(u, v) {
      // u → v ⇝ root ⇝ u, rotated to start at the line's own parent.
      const total = (bDepth.get(v) ?? 0) + (fDepth.get(u) ?? 0) + 1; // edges on the closed path
      if (total <= SHOW) {
        const toRoot = onward(v, total + 1); // v … root
        const fromRoot = before(u, total + 1); // root … u
        return [u, ...toRoot, ...fromRoot.slice(1)].join(' → ');
      }
      const head = [u, ...onward(v, 5)];
      const tail = before(u, 5);
      return `${head.join(' → ')} → … (${total + 1 - head.length - tail.length} more) … → ${tail.join(' → ')}`;
    },
  };
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
