import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';

/**
 * How a CSV source picks its encoding, through the built CLI: CJK legacy files under
 * encoding: auto, which loaded as mojibake without a word.
 */

/** `text` in `encoding` as the iconv program writes it. */
function iconvBytes(text: string, encoding: string): Buffer {
  return execFileSync('iconv', ['-f', 'utf-8', '-t', encoding], { input: text });
}

/** A one-mapping project: items from parts.csv (`bytes`), the source line as given. */
function project(bytes: Buffer, source: string): string {
  const dir = tempDir('forklift-enc-');
  writeFileSync(path.join(dir, 'parts.csv'), bytes);
  writeFileSync(
    path.join(dir, 'items.yaml'),
    `entity: items\nsource: { format: csv, path: parts.csv${source} }\nfields:\n  item_code: { from: CODE }\n  description: { from: NAME }\n  uom: { const: EA }\n  active: { const: true }\n`,
  );
  writeFileSync(path.join(dir, 'forklift.yaml'), `name: enc\ntarget: sqlite:./t.db\nmappings: [items.yaml]\nreject_limit: 100%\n`);
  return dir;
}

function descriptions(dir: string): Record<string, string> {
  const db = new Database(path.join(dir, 't.db'), { readonly: true });
  try {
    const rows = db.prepare('SELECT item_code, description FROM items ORDER BY item_code').all() as { item_code: string; description: string }[];
    return Object.fromEntries(rows.map((r) => [r.item_code, r.description]));
  } finally {
    db.close();
  }
}

function expectRefused(r: ReturnType<typeof runCli>, pattern: RegExp): void {
  expect(r.stderr, r.stdout).toMatch(pattern);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
}

describe('encoding: auto on a CJK legacy file', () => {
  it('refuses a short GB18030 or Shift_JIS file it cannot tell apart (exit 2), showing the line each way and asking for encoding:', () => {
    const gb = project(iconvBytes('物料编号,名称\nA-1,齿轮\n', 'gb18030'), '');
    const r = runCli(['preview', 'items.yaml'], { cwd: gb });
    expectRefused(r, /parts\.csv: encoding: auto cannot tell which encoding the file is in: line 1 is no Western text, and it reads as windows-1252: "ÎïÁÏ±àºÅ,Ãû³Æ"; gb18030: "物料编号,名称"/);
    expect(r.stderr).toMatch(/Hint: set encoding: in the mapping to the encoding the file was written in, e\.g\. gb18030/);
    const sjis = project(iconvBytes('CODE,NAME\nA-1,歯車\nA-2,軸受\n', 'shift_jis'), '');
    expectRefused(runCli(['migrate', 'forklift.yaml'], { cwd: sjis }), /parts\.csv: encoding: auto cannot tell .* line 2 is no Western text, .*shift_jis: "A-1,歯車"/);

    // Named in the mapping, the same files load right.
    const named = project(iconvBytes('CODE,NAME\nA-1,齿轮\n', 'gb18030'), ', encoding: gb18030');
    expect(runCli(['migrate', 'forklift.yaml'], { cwd: named }).code).toBe(0);
    expect(descriptions(named)).toEqual({ 'A-1': '齿轮' });
  });

  it('recognises a GB18030 and a Shift_JIS file of a few hundred rows', () => {
    const zh = ['齿轮', '轴承', '螺栓', '螺母', '垫圈', '电机', '减速器', '联轴器', '法兰', '密封圈'];
    const ja = ['歯車', '軸受', 'ボルト', 'ナット', 'ワッシャー', 'モーター', '減速機', 'カップリング', 'フランジ', 'ばね'];
    for (const [words, encoding] of [[zh, 'gb18030'], [ja, 'shift_jis']] as const) {
      const text = ['CODE,NAME', ...Array.from({ length: 300 }, (_, i) => `A-${String(i).padStart(3, '0')},${words[i % words.length]}`)].join('\n') + '\n';
      const dir = project(iconvBytes(text, encoding), '');
      const r = runCli(['migrate', 'forklift.yaml'], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      expect(descriptions(dir)['A-001']).toBe(words[1]);
    }
  });
});
