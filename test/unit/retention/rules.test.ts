import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/core/errors.js';
import { factoryModel } from '../../../src/model/factory.js';
import { parseYamlText } from '../../../src/plan/yaml.js';
import { asOfDay, checkRetention, cutoffOf, parseKeep, rowTest, type RetentionRule } from '../../../src/retention/rules.js';

const model = factoryModel();
const machine = model.entities.get('machine_events')!;
const balances = model.entities.get('stock_balances')!;

function check(rules: string): ReturnType<typeof checkRetention> {
  const yaml = parseYamlText(`name: x\nmappings: [a.yaml]\nretention:\n${rules}`, 'plan.yaml');
  return checkRetention((yaml.value as { retention: never }).retention, model, yaml);
}

describe('retention rules', () => {
  it('parses keep periods in days, months and years, singular or plural', () => {
    expect(parseKeep('24 months')).toEqual({ amount: 24, unit: 'months', text: '24 months' });
    expect(parseKeep('1 year')).toEqual({ amount: 1, unit: 'years', text: '1 years' });
    expect(parseKeep(' 90 Days ')).toEqual({ amount: 90, unit: 'days', text: '90 days' });
    for (const bad of ['two years', '24', '24 weeks', '-1 days', '1.5 years']) expect(parseKeep(bad), bad).toBeUndefined();
  });

  it('counts calendar months and years back from the as-of day, in UTC', () => {
    const rule = (keep: string): RetentionRule => ({ entity: 'machine_events', keep: parseKeep(keep), by: 'ts' });
    const asOf = DateTime.fromISO('2026-03-31', { zone: 'utc' }) as DateTime<true>;
    expect(cutoffOf(rule('1 month'), asOf, 'timestamp')).toBe('2026-02-28T00:00:00.000Z');
    expect(cutoffOf(rule('24 months'), asOf, 'date')).toBe('2024-03-31');
    expect(cutoffOf(rule('1 year'), DateTime.fromISO('2024-02-29', { zone: 'utc' }), 'date')).toBe('2023-02-28');
    expect(cutoffOf(rule('10 days'), asOf, 'date')).toBe('2026-03-21');
  });

  it('refuses an --as-of in the future or that is not a day (exit 2)', () => {
    const now = DateTime.fromISO('2026-11-29T15:00:00Z', { zone: 'utc' }) as DateTime<true>;
    expect(asOfDay(undefined, now).toISODate()).toBe('2026-11-29');
    expect(asOfDay('2026-11-29', now).toISODate()).toBe('2026-11-29');
    for (const bad of ['2026-11-30', '2026-13-01', 'yesterday']) {
      let err: unknown;
      try {
        asOfDay(bad, now);
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).exitCode).toBe(2);
    }
  });

  it('lets a row go only when the rule clearly allows it', () => {
    const ts = machine.columns.findIndex((c) => c.name === 'ts');
    const row = (t: string | null): unknown[] => machine.columns.map((c, i) => (i === ts ? t : c.type === 'integer' ? 1 : 'x'));
    const test = rowTest({ entity: 'machine_events', keep: parseKeep('1 month'), by: 'ts' }, machine, '2025-11-01T00:00:00.000Z');
    expect(test(row('2025-10-31T23:59:59.999Z'))).toBe(true);
    expect(test(row('2025-11-01T00:00:00.000Z'))).toBe(false);
    expect(test(row(null)), 'an empty by column is kept').toBe(false);

    const { rules, problems } = check(`  - entity: stock_balances\n    where: 'as_of < "2020-01-01" and qty * 2 > 1'\n`);
    expect(problems).toEqual([]);
    const where = rowTest(rules[0]!, balances, null);
    const b = (asOf: string, qty: string): unknown[] => balances.columns.map((c) => (c.name === 'as_of' ? asOf : c.name === 'qty' ? qty : 'x'));
    expect(where(b('2019-12-31', '5.000000'))).toBe(true);
    expect(where(b('2020-01-01', '5.000000'))).toBe(false);
    expect(where(b('2019-12-31', 'lots')), 'an expression that fails on the row keeps it').toBeUndefined();
  });

  it('takes a boolean column alone as a condition, and keeps the rows where it is missing', () => {
    const items = model.entities.get('items')!;
    const row = (active: unknown, type = 'raw'): unknown[] => items.columns.map((c) => (c.name === 'active' ? active : c.name === 'item_type' ? type : 'x'));
    const rule = (where: string): ((r: readonly unknown[]) => boolean | undefined) => {
      const { rules, problems } = check(`  - entity: items\n    where: '${where}'\n`);
      expect(problems).toEqual([]);
      return rowTest(rules[0]!, items, null);
    };
    const inactive = rule('not active');
    // SQLite and MariaDB give 1/0, PostgreSQL true/false.
    for (const [v, goes] of [[0, true], [1, false], [false, true], [true, false]] as const) expect(inactive(row(v)), `not active with ${String(v)}`).toBe(goes);
    expect(inactive(row(null)), 'a missing flag is no "inactive"').toBeUndefined();
    expect(rule('active')(row(1))).toBe(true);
    expect(rule('active')(row(0))).toBe(false);
    const either = rule('not active and item_type = "raw"');
    expect(either(row(0))).toBe(true);
    expect(either(row(0, 'finished'))).toBe(false);
    expect(either(row(1))).toBe(false);
    // As before: the flag compared with its text.
    expect(rule('active = "false"')(row(0))).toBe(true);
    expect(rule('active = "false"')(row(1))).toBe(false);
  });

  it('checks rules against the model with file and line', () => {
    const { problems } = check(
      [
        '  - entity: machine_event',
        '    keep: 1 year',
        '    by: ts',
        '  - entity: machine_events',
        '    keep: soon',
        '    by: state',
        '  - entity: bom_lines',
        '    by: valid_from',
        '  - entity: items',
        "    where: 'colour = \"red\"'",
        '  - entity: stock_balances',
        '',
      ].join('\n'),
    );
    expect(problems).toEqual([
      "plan.yaml:4:13 retention[0].entity: unknown entity 'machine_event', did you mean 'machine_events'? (entities: items, bom_lines, stock_balances, machine_events)",
      "plan.yaml:8:11 retention[1].keep: 'soon' is not a period; write N days, N months or N years, such as 24 months",
      'plan.yaml:9:9 retention[1].by: machine_events.state is of type enum, not a date or timestamp',
      'plan.yaml:11:9 retention[2]: by: needs keep:, such as keep: 24 months',
      "plan.yaml:13:12 retention[3].where: items has no column 'colour'",
      'plan.yaml:14:13 retention[4]: a rule needs keep: with by:, or where:',
    ]);
  });
});
