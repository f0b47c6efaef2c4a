import { spawnSync } from 'node:child_process';
import { BIN } from '../helpers.js';

/**
 * The CLI as a person uses it: in a pseudo-terminal (tmux), keys sent, the screen read. One tmux
 * server per test process; call killTerminals() after the file's tests.
 */

export const HAS_TMUX = spawnSync('tmux', ['-V']).status === 0;
const SOCKET = `forklift-test-${process.pid}`;
let sessions = 0;

function tmux(...args: string[]): string {
  const r = spawnSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
  return r.stdout;
}

export async function screenUntil(session: string, re: RegExp, timeoutMs = 20_000): Promise<string> {
  const end = Date.now() + timeoutMs;
  let screen = '';
  while (Date.now() < end) {
    screen = tmux('capture-pane', '-p', '-J', '-S', '-300', '-t', session);
    if (re.test(screen)) return screen;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out waiting for ${re} on the screen:\n${screen}`);
}

/** Starts `forklift ARGS` in a new session; the screen ends with EXIT=<code> when it is done. */
export function start(cwd: string, args: string): string {
  const session = `s${++sessions}`;
  tmux('new-session', '-d', '-s', session, '-x', '200', '-y', '50', `cd '${cwd}' && FORCE_COLOR=0 '${process.execPath}' '${BIN}' ${args}; echo "EXIT=$?"; sleep 60`);
  return session;
}

export const keys = (session: string, ...k: string[]): void => void tmux('send-keys', '-t', session, ...k);

export function killTerminals(): void {
  if (HAS_TMUX) tmux('kill-server');
}
