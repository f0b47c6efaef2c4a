import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BIN, ROOT, demoCopy, tempDir } from '../helpers.js';

/**
 * A terminal that reports 0 columns (`stty cols 0`: some serial consoles, containers and CI
 * pseudo-terminals). The spinner once divided by the width and then cleared lines forever, so
 * migrate never ended. util-linux `script` gives the CLI a pseudo-terminal; a hang fails on the
 * timeout, and a runaway spinner on the size of what the terminal received.
 */
const HAS_SCRIPT = spawnSync('script', ['--version']).status === 0;
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** `timeout` ends a hung node itself: killing `script` alone would leave it spinning, orphaned. */
const guarded = (cmd: string): string => `timeout --foreground -s KILL 45 ${cmd}`;

function inTerminal(shell: string, cwd: string): { code: number | null; signal: NodeJS.Signals | null; error: Error | undefined; out: string } {
  const r = spawnSync('script', ['-qfec', shell, '/dev/null'], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
    maxBuffer: 4 * 1024 * 1024,
    killSignal: 'SIGKILL',
  });
  return { code: r.status, signal: r.signal, error: r.error, out: (r.stdout ?? '') + (r.stderr ?? '') };
}

describe.skipIf(!HAS_SCRIPT && !process.env.CI)('a terminal of width 0 (script)', () => {
  if (!HAS_SCRIPT) console.log('skipped: script (util-linux) is not installed');

  it('migrate finishes and prints its summary, with no runaway spinner', () => {
    const demo = demoCopy();
    const r = inTerminal(`stty cols 0 rows 0; ${guarded(`${q(process.execPath)} ${q(BIN)} migrate ${q(demo.plan)} --target sqlite:demo.db`)}`, demo.dir);
    expect(r.error, 'the run hung or flooded the terminal').toBeUndefined();
    expect(r.signal).toBeNull();
    expect(r.code, r.out.slice(-2000)).toBe(0);
    expect(r.out).toMatch(/succeeded, committed/);
    expect(r.out.length).toBeLessThan(100_000);
  });

  it('a terminal resized to width 0 while the spinner turns stops the spinner, and the command ends', () => {
    const dir = tempDir('forklift-width-');
    const script = path.join(dir, 'resize.mjs');
    const progress = pathToFileURL(path.join(ROOT, 'dist', 'src', 'cli', 'progress.js')).href;
    writeFileSync(
      script,
      `import { execSync } from 'node:child_process';
const { textSpinner } = await import(${JSON.stringify(progress)});
const pause = (ms) => new Promise((r) => setTimeout(r, ms));
const s = await textSpinner(true);
s.update('working');
await pause(600);
execSync('stty cols 0', { stdio: ['inherit', 'ignore', 'ignore'] });
await pause(100);
s.update('still working');
process.stderr.write('columns ' + process.stderr.columns + '\\n');
await pause(300);
s.stop();
process.stderr.write('done\\n');
`,
    );
    const r = inTerminal(`stty cols 120 rows 40; ${guarded(`${q(process.execPath)} ${q(script)}`)}`, dir);
    expect(r.error, 'the spinner hung or flooded the terminal').toBeUndefined();
    expect(r.code, r.out.slice(-2000)).toBe(0);
    // The spinner drew at least one frame before the resize (which text, a loaded machine decides).
    expect(r.out).toMatch(/ (starting|working)/);
    expect(r.out).toMatch(/columns 0\r?\n/);
    expect(r.out).toMatch(/done/);
    expect(r.out.length).toBeLessThan(100_000);
  });
});
