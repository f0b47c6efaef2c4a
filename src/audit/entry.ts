import { hostname } from 'node:os';
import { checkOperator, operator } from '../core/operator.js';
import { toolVersion } from '../core/version.js';
import { ForkliftError } from '../core/errors.js';
import type { RunEntry, TargetStore } from '../stores/types.js';
import { activeSigner } from './signing.js';

/**
 * A ledger entry of a command (bundle import, exit, audit init, purge): who ran it, on which host,
 * with which version, finished now (SPEC section 9); the plan's hash where a plan drove it.
 */
export function commandEntry(e: Pick<RunEntry, 'id' | 'command' | 'status' | 'files' | 'counts' | 'message'> & { started: Date; plan_sha256?: string | null | undefined }): RunEntry {
  return {
    id: e.id,
    command: e.command,
    status: e.status,
    started: e.started.toISOString(),
    finished: new Date().toISOString(),
    operator: operator(),
    host: hostname(),
    tool_version: toolVersion(),
    plan_sha256: e.plan_sha256 ?? null,
    files: e.files,
    counts: e.counts,
    message: e.message,
  };
}

/**
 * What a command that appends to a ledger checks before any work, each a usage error (exit 2):
 * FORKLIFT_SIGNING_KEY (a bad key) and FORKLIFT_OPERATOR (one the ledger cannot hold).
 */
export function checkLedgerWriter(): void {
  activeSigner();
  checkOperator();
}

/** What a failed command says when the store did not take its failed entry either (a SQLite file another program still holds locked). */
export function notOnRecord(store: Pick<TargetStore, 'display'>): string {
  return `this attempt is not in the ledger of ${store.display}: the store did not take its failed entry either`;
}

/**
 * A command that failed after recording its attempt says the store's new ledger head, as a run
 * report does (ledger_head): a copy of the head kept elsewhere stays current.
 */
export function noteLedgerHead(e: unknown, store: Pick<TargetStore, 'display' | 'ledgerHead'>): void {
  if (e instanceof ForkliftError && store.ledgerHead) e.details.push(`the attempt is recorded in the ledger of ${store.display}: ledger head ${store.ledgerHead}`);
}
