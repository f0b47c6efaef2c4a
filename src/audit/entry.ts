import { hostname } from 'node:os';
import { operator } from '../core/operator.js';
import { toolVersion } from '../core/version.js';
import type { RunEntry } from '../stores/types.js';

/**
 * A ledger entry of a command that is not a plan run (bundle import, exit, audit init): who ran
 * it, on which host, with which version, finished now (SPEC section 9).
 */
export function commandEntry(e: Pick<RunEntry, 'id' | 'command' | 'status' | 'files' | 'counts' | 'message'> & { started: Date }): RunEntry {
  return {
    id: e.id,
    command: e.command,
    status: e.status,
    started: e.started.toISOString(),
    finished: new Date().toISOString(),
    operator: operator(),
    host: hostname(),
    tool_version: toolVersion(),
    plan_sha256: null,
    files: e.files,
    counts: e.counts,
    message: e.message,
  };
}
