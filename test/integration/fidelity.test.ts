import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { stringify } from 'csv-stringify/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runPlan } from '../../src/run/pipeline.js';
import { tempDir } from '../helpers.js';

/**
 * Property: whatever decimals, instants and Unicode text a source holds, what lands in the store
 * is exactly that value in canonical form (decimals with the column's scale, UTC timestamps,
 * NFC strings). Runs the real pipeline into a real SQLite file.
 */

const decimal = (intDigits: number, scale: number) =>
  fc.tuple(fc.boolean(), fc.bigInt({ min: 0n, max: 10n ** BigInt(intDigits) - 1n }), fc.bigInt({ min: 0n, max: 10n ** BigInt(scale) - 1n })).map(([neg, i, f]) => {
    const frac = f.toString().padStart(scale, '0');
    return { text: `${neg ? '-' : ''}${i}.${frac}`, neg: neg && (i !== 0n || f !== 0n), i, frac };
  });

const text = fc.string({ unit: fc.constantFrom('a', 'Z', 'ä', 'ß', 'é', 'e\u0301', '漢', '😀', 'Ø', ' ', '"', ',', ';', '\n'), minLength: 1, maxLength: 20 });

const instant = fc.record({
  ms: fc.integer({ min: Date.UTC(1971, 0, 1), max: Date.UTC(2090, 0, 1) }),
  offsetMin: fc.integer({ min: -12 * 4, max: 14 * 4 }).map((q) => q * 15),
});

function isoWithOffset(ms: number, offsetMin: number): string {
  const local = new Date(ms + offsetMin * 60000).toISOString().slice(0, 23);
  const sign = offsetMin < 0 ? '-' : '+';
  const a = Math.abs(offsetMin);
  return `${local}${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

describe('values survive the pipeline exactly (property)', () => {
  it('decimals, timestamps with offsets and Unicode strings', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.record({ machine: text, at: instant, temp: decimal(5, 3), power: decimal(7, 3), cost: decimal(14, 4), reason: text }), {
          minLength: 1,
          maxLength: 30,
          selector: (r) => `${r.machine.trim().normalize('NFC')}|${r.at.ms}`,
        }),
        async (rows) => {
          const dir = tempDir('forklift-prop-');
          writeFileSync(
            path.join(dir, 'log.csv'),
            stringify([['M', 'TS', 'T', 'P', 'R'], ...rows.map((r) => [r.machine, isoWithOffset(r.at.ms, r.at.offsetMin), r.temp.text, r.power.text, r.reason])]),
          );
          writeFileSync(
            path.join(dir, 'log.yaml'),
            `entity: machine_events\nsource: { format: csv, path: log.csv, encoding: utf-8, delimiter: "," }\non_duplicate: reject\nfields:\n  machine_id: { from: M, clean: [trim] }\n  ts: { from: TS }\n  temperature_c: { from: T }\n  power_kw: { from: P }\n  downtime_reason: { from: R }\n`,
          );
          writeFileSync(path.join(dir, 'forklift.yaml'), `name: prop\ntarget: sqlite:./p.db\nmappings: [log.yaml]\nreject_limit: 100%\n`);
          const res = await runPlan({ plan: path.join(dir, 'forklift.yaml'), command: 'migrate' });
          const l = res.entities[0]!;
          const expectLoad = rows.filter((r) => [...r.machine.trim().normalize('NFC')].length <= 32 && r.machine.trim() !== '' && [...r.reason.normalize('NFC')].length <= 64);
          expect(l.read).toBe(rows.length);
          expect(l.loaded).toBe(expectLoad.length);
          const db = new Database(path.join(dir, 'p.db'), { readonly: true });
          try {
            for (const r of expectLoad) {
              const got = db.prepare('SELECT ts, temperature_c, power_kw, downtime_reason FROM machine_events WHERE machine_id = ? AND ts = ?').get(r.machine.trim().normalize('NFC'), new Date(r.at.ms).toISOString()) as
                | { ts: string; temperature_c: string; power_kw: string; downtime_reason: string | null }
                | undefined;
              expect(got).toBeDefined();
              const canon = (d: { neg: boolean; i: bigint; frac: string }): string => `${d.neg ? '-' : ''}${d.i}.${d.frac}`;
              expect(got!.temperature_c).toBe(canon(r.temp));
              expect(got!.power_kw).toBe(canon(r.power));
              expect(got!.downtime_reason).toBe(r.reason === '' ? null : r.reason.normalize('NFC'));
            }
          } finally {
            db.close();
          }
        },
      ),
      { numRuns: 15 },
    );
  });
});

describe('dates and 18-digit decimals survive exactly (property, custom model)', () => {
  it('decimal(18,6) at full precision, dates in two formats, text with combining marks', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            amount: decimal(12, 6),
            day: fc.integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(2199, 11, 31) }).map((ms) => new Date(ms).toISOString().slice(0, 10)),
            note: text,
          }),
          { minLength: 1, maxLength: 25 },
        ),
        async (rows) => {
          const dir = tempDir('forklift-prop2-');
          writeFileSync(
            path.join(dir, 'in.csv'),
            stringify([['ID', 'AMOUNT', 'DAY', 'NOTE'], ...rows.map((r, i) => [String(i + 1), r.amount.text, `${r.day.slice(8, 10)}.${r.day.slice(5, 7)}.${r.day.slice(0, 4)}`, r.note])]),
          );
          writeFileSync(
            path.join(dir, 'model.yaml'),
            `entities:\n  samples:\n    primary_key: [id]\n    columns:\n      id: { type: integer }\n      amount: { type: decimal, precision: 18, scale: 6 }\n      day: { type: date }\n      note: { type: text }\n`,
          );
          writeFileSync(
            path.join(dir, 'm.yaml'),
            `entity: samples\nsource: { format: csv, path: in.csv, encoding: utf-8, delimiter: "," }\nfields:\n  id: { from: ID }\n  amount: { from: AMOUNT }\n  day: { from: DAY, date: dd.MM.yyyy }\n  note: { from: NOTE }\n`,
          );
          writeFileSync(path.join(dir, 'forklift.yaml'), `name: prop2\ntarget: sqlite:./p.db\nmodel: ./model.yaml\nmappings: [m.yaml]\n`);
          const res = await runPlan({ plan: path.join(dir, 'forklift.yaml'), command: 'migrate' });
          expect(res.entities[0]).toMatchObject({ read: rows.length, loaded: rows.length });
          const db = new Database(path.join(dir, 'p.db'), { readonly: true });
          try {
            const got = db.prepare('SELECT amount, day, note FROM samples ORDER BY id').raw().all();
            expect(got).toEqual(rows.map((r) => [`${r.amount.neg ? '-' : ''}${r.amount.i}.${r.amount.frac}`, r.day, r.note.normalize('NFC')]));
          } finally {
            db.close();
          }
        },
      ),
      { numRuns: 15 },
    );
  });
});
