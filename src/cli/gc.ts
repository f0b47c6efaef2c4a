import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * V8's full garbage collection, for a command that streams millions of rows and wants its peak
 * memory low (diff: heapGuard in src/diff/diff.ts). `--expose-gc` set at run time exposes `gc` to
 * contexts created afterwards; undefined where that is not possible.
 */
export function fullGc(): (() => void) | undefined {
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? () => void (gc as () => void)() : undefined;
  } catch {
    return undefined;
  }
}
