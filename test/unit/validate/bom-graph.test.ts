import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { factoryModel } from '../../../src/model/factory.js';
import { Staging } from '../../../src/run/staging.js';
import { checkBomCycles } from '../../../src/validate/bom-graph.js';
import { tempDir } from '../../helpers.js';

const bom = factoryModel().entities.get('bom_lines')!;

function stage(edges: [string, string][]): Staging {
  const s = new Staging(path.join(tempDir('forklift-bom-'), 'staging.sqlite'));
  s.createEntity(bom);
  edges.forEach(([p, c], i) => s.insertRow('bom_lines', i + 2, [p, i + 1, c, '1.000000', null, null, null, null]));
  s.flushRows('bom_lines');
  return s;
}

const rejected = (s: Staging): { line: number; reason: string }[] =>
  s.db.prepare("SELECT line, reason FROM rejects WHERE entity = 'bom_lines' ORDER BY line").all() as { line: number; reason: string }[];

describe('BOM cycles', () => {
  it('rejects every line on a cycle of any depth and names the path', () => {
    const s = stage([
      ['A', 'B'],
      ['B', 'C'],
      ['C', 'D'],
      ['D', 'E'],
      ['E', 'A'],
      ['A', 'X'], // not on the cycle
      ['X', 'Y'],
    ]);
    expect(checkBomCycles(s, bom, 'parent_item', 'component_item')).toBe(5);
    const r = rejected(s);
    expect(r.map((x) => x.line)).toEqual([2, 3, 4, 5, 6]);
    expect(r[0]!.reason).toBe('this line is part of a BOM cycle: A → B → C → D → E → A');
    expect(r[4]!.reason).toBe('this line is part of a BOM cycle: E → A → B → C → D → E');
    s.close();
  });

  it('finds two cycles that share an item, and leaves a diamond alone', () => {
    const s = stage([
      ['P', 'Q'],
      ['Q', 'P'],
      ['Q', 'R'],
      ['R', 'Q'],
      ['T', 'U'],
      ['T', 'V'],
      ['U', 'W'],
      ['V', 'W'],
    ]);
    expect(checkBomCycles(s, bom, 'parent_item', 'component_item')).toBe(4);
    expect(rejected(s).map((x) => x.line)).toEqual([2, 3, 4, 5]);
    s.close();
  });

  it('handles a 20,000-level chain without running out of stack', () => {
    const edges: [string, string][] = [];
    for (let i = 0; i < 20000; i++) edges.push([`I${i}`, `I${i + 1}`]);
    const s = stage(edges);
    expect(checkBomCycles(s, bom, 'parent_item', 'component_item')).toBe(0);
    s.db.exec("INSERT INTO s_bom_lines (_line, parent_item, line_no, component_item, qty_per) VALUES (99999, 'I20000', 1, 'I0', '1')");
    expect(checkBomCycles(s, bom, 'parent_item', 'component_item')).toBe(20001);
    s.close();
  });
});
