import { appendFileSync, existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { demoCopy, runCli } from '../helpers.js';

/**
 * forklift purge through the built CLI when a purged table has a DELETE trigger (SPEC sections 8
 * and 11): refused by name with exit 2, as text and as --json, the dry run too, nothing archived or
 * deleted; with --allow-trigger it runs and the output says so.
 */

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

const RULES = `retention:
  - entity: machine_events
    keep: 24 days
    by: ts
`;

describe('purge and a DELETE trigger through the CLI', () => {
  it('refuses with exit 2 (text and --json, dry run too), then runs it with --allow-trigger', () => {
    const { dir, plan } = demoCopy();
    made.push(dir);
    appendFileSync(plan, RULES);
    const url = `sqlite:${path.join(dir, 'purge.db')}`;
    const run = (args: string[]): ReturnType<typeof runCli> => runCli(['purge', plan, '--target', url, '--as-of', '2025-11-28', ...args], { cwd: dir });
    expect(runCli(['migrate', plan, '--target', url, '--json'], { cwd: dir }).code).toBe(0);
    const db = new Database(path.join(dir, 'purge.db'));
    const count = (sql: string): number => Number(db.prepare(sql).pluck().get());
    try {
      db.exec('CREATE TABLE event_audit (ts TEXT); CREATE TRIGGER audit_events AFTER DELETE ON machine_events BEGIN INSERT INTO event_audit VALUES (old.ts); END');
      const events = count('SELECT count(*) FROM machine_events');
      const archive = path.join(dir, 'archive');

      for (const extra of [['--dry-run'], ['--archive', archive]]) {
        const text = run(extra);
        expect(text.code, text.stderr).toBe(2);
        expect(text.stdout).toBe('');
        expect(text.stderr).toContain('machine_events: trigger audit_events (AFTER DELETE) of ');
        expect(text.stderr).toContain('nothing was archived or deleted');
        expect(text.stderr).toContain('--allow-trigger audit_events');
        expect(text.stderr).not.toMatch(/\n\s+at /);
        const json = run([...extra, '--json']);
        expect(json.code).toBe(2);
        expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { code: 'purge.trigger', exit_code: 2 } });
      }
      expect(existsSync(archive)).toBe(false);
      expect(count('SELECT count(*) FROM machine_events')).toBe(events);

      const dry = run(['--dry-run', '--allow-trigger', 'audit_events']);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).toContain('DELETE triggers that would run (--allow-trigger): machine_events.audit_events (AFTER DELETE trigger)');
      const done = run(['--archive', archive, '--allow-trigger', 'machine_events.audit_events', '--json']);
      expect(done.code, done.stderr).toBe(0);
      const result = JSON.parse(done.stdout) as { deleted_total: number; triggers_allowed: string[] };
      expect(result.deleted_total).toBeGreaterThan(0);
      expect(result.triggers_allowed).toEqual(['machine_events.audit_events (AFTER DELETE trigger)']);
      expect(count('SELECT count(*) FROM event_audit')).toBe(result.deleted_total);
    } finally {
      db.close();
    }
  });
});
