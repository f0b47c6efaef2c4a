import type { Entity } from '../model/types.js';
import { stagingTable, type Staging } from '../run/staging.js';
import { ROW_OK } from '../run/row-state.js';
import { q } from '../util/sql-name.js';

interface Edge {
  seq: number;
  line: number;
  parent: string;
  component: string;
}

/**
 * The target's own lines of the entity (append, upsert, incremental: rows that stay beside the
 * run's), copied into a staging table `table` with the key columns and the two item columns.
 * With `replacedByKey` (upsert) a target line whose key the run loads again is replaced by the
 * run's line, so it does not count.
 */
export interface TargetBomLines {
  table: string;
  replacedByKey: boolean;
}

/**
 * Cycles in the bill of materials at any depth. Every line of the run on a cycle is rejected and
 * the reason names the path (A → B → C → A). Strongly connected components (Tarjan, iterative so a
 * deep BOM cannot overflow the stack) find them in one pass. The graph holds the accepted lines'
 * item codes: BOMs are orders of magnitude smaller than machine logs.
 *
 * With `target`, the lines already in the target count too (a cycle closed by one new line
 * through any number of old ones is a cycle). Of those, only the ones that can lie on a cycle
 * through a line of the run are brought into memory: lines between items reachable from a run
 * line's component and reaching a run line's parent, found by two recursive queries over the
 * staging file, so a large target BOM costs disk, not memory.
 */
export function checkBomCycles(staging: Staging, entity: Entity, parentCol: string, componentCol: string, target?: TargetBomLines): number {
  const t = stagingTable(entity.name);
  const rows = staging.db
    .prepare(`SELECT _seq AS seq, _line AS line, ${q(parentCol)} AS parent, ${q(componentCol)} AS component FROM ${t} WHERE _st = ${ROW_OK} ORDER BY _seq`)
    .all() as Edge[];
  const old = target ? targetEdges(staging, entity, parentCol, componentCol, target) : [];
  const adj = new Map<string, Edge[]>();
  for (const e of [...rows, ...old]) {
    let list = adj.get(e.parent);
    if (!list) adj.set(e.parent, (list = []));
    list.push(e);
  }
  const comp = stronglyConnected(adj);
  // Lines only the target holds, so a reason can say which of its lines the cycle runs through.
  const runEdges = new Set(rows.map((e) => `${e.parent}\0${e.component}`));
  const oldOnly = new Set(old.map((e) => `${e.parent}\0${e.component}`).filter((k) => !runEdges.has(k)));
  const withOld = new Set(old.map((e) => comp.get(e.parent)).filter((c, i) => c !== undefined && c === comp.get(old[i]!.component)));
  const paths = new Map<number, CyclePaths>();
  let rejected = 0;
  for (const e of rows) {
    const c = comp.get(e.parent);
    if (c === undefined || c !== comp.get(e.component) || e.parent === e.component) continue;
    let p = paths.get(c);
    if (!p) paths.set(c, (p = cyclePaths(adj, e.parent, (n) => comp.get(n) === c)));
    const cycle = p.through(e.parent, e.component);
    const reason = `this line is part of a BOM cycle: ${cycle}${withOld.has(c) ? ` ${throughTarget(cycle, oldOnly)}` : ''}`;
    if (staging.rejectStaged(entity.name, e.seq, e.line, componentCol, 'bom-cycle', reason)) rejected++;
  }
  return rejected;
}

/** `(through lines already in the target: A → B)`, naming those of the shown path. */
function throughTarget(cycle: string, oldOnly: ReadonlySet<string>): string {
  const items = cycle.split(' → ');
  const named: string[] = [];
  for (let i = 0; i + 1 < items.length; i++) {
    if (oldOnly.has(`${items[i]}\0${items[i + 1]}`)) named.push(`${items[i]} → ${items[i + 1]}`);
  }
  return named.length ? `(through lines already in the target: ${named.slice(0, 3).join(', ')}${named.length > 3 ? ', …' : ''})` : '(through lines already in the target)';
}

/**
 * The target's lines that can lie on a cycle through a line of the run (see checkBomCycles), all
 * lines of run and target as one indexed table, walked forward from the run's components and
 * backward from the run's parents.
 */
function targetEdges(staging: Staging, entity: Entity, parentCol: string, componentCol: string, target: TargetBomLines): Edge[] {
  const db = staging.db;
  const t = stagingTable(entity.name);
  const [edges, fwd, bwd] = ['bom_edges', 'bom_fwd', 'bom_bwd'].map((n) => q(`${n}_${entity.name}`)) as [string, string, string];
  const p = q(parentCol);
  const c = q(componentCol);
  const kept = target.replacedByKey && entity.primaryKey.length
    ? ` WHERE NOT EXISTS (SELECT 1 FROM ${t} r WHERE r._st = ${ROW_OK} AND ${entity.primaryKey.map((k) => `r.${q(k)} = o.${q(k)}`).join(' AND ')})`
    : '';
  const oldLines = `SELECT o.${p} AS p, o.${c} AS c FROM ${target.table} o${kept}`;
  db.exec(`DROP TABLE IF EXISTS temp.${edges}; DROP TABLE IF EXISTS temp.${fwd}; DROP TABLE IF EXISTS temp.${bwd}`);
  try {
    db.exec(`CREATE TEMP TABLE ${edges} (p, c)`);
    db.exec(`INSERT INTO temp.${edges} SELECT ${p}, ${c} FROM ${t} WHERE _st = ${ROW_OK} AND ${p} IS NOT NULL AND ${c} IS NOT NULL`);
    db.exec(`INSERT INTO temp.${edges} SELECT p, c FROM (${oldLines}) WHERE p IS NOT NULL AND c IS NOT NULL`);
    db.exec(`CREATE INDEX temp.${q(`bom_ep_${entity.name}`)} ON ${edges} (p); CREATE INDEX temp.${q(`bom_ec_${entity.name}`)} ON ${edges} (c)`);
    db.exec(`CREATE TEMP TABLE ${fwd} (n PRIMARY KEY) WITHOUT ROWID; CREATE TEMP TABLE ${bwd} (n PRIMARY KEY) WITHOUT ROWID`);
    db.exec(`INSERT INTO temp.${fwd} WITH RECURSIVE f(n) AS (SELECT ${c} FROM ${t} WHERE _st = ${ROW_OK} AND ${c} IS NOT NULL UNION SELECT e.c FROM temp.${edges} e JOIN f ON e.p = f.n) SELECT n FROM f`);
    db.exec(`INSERT INTO temp.${bwd} WITH RECURSIVE b(n) AS (SELECT ${p} FROM ${t} WHERE _st = ${ROW_OK} AND ${p} IS NOT NULL UNION SELECT e.p FROM temp.${edges} e JOIN b ON e.c = b.n) SELECT n FROM b`);
    const both = (col: string): string => `${col} IN (SELECT n FROM temp.${fwd}) AND ${col} IN (SELECT n FROM temp.${bwd})`;
    const found = db.prepare(`SELECT p AS parent, c AS component FROM (${oldLines}) WHERE ${both('p')} AND ${both('c')} ORDER BY p, c`).all() as { parent: string; component: string }[];
    return found.map((e) => ({ seq: -1, line: 0, ...e }));
  } finally {
    db.exec(`DROP TABLE IF EXISTS temp.${edges}; DROP TABLE IF EXISTS temp.${fwd}; DROP TABLE IF EXISTS temp.${bwd}`);
  }
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
