import type { Writable } from 'node:stream';
import { columnWidths, tableLines } from '../cli/render.js';
import { ConfigError, thrownInOpenJson } from '../core/errors.js';
import { buffered, type ReportWriter } from '../diff/render/common.js';
import { streamWriter } from '../diff/report.js';
import type { LedgerRecord } from './chain.js';
import { openLedgerReader } from './source.js';

/** One entry as `audit log` shows it (SPEC section 9). */
export interface AuditLogEntry {
  seq: number | null;
  id: string | null;
  command: string | null;
  status: string | null;
  started: string | null;
  finished: string | null;
  operator: string | null;
  host: string | null;
  prev_hash: string | null;
  entry_hash: string | null;
}

export const logEntry = (r: LedgerRecord): AuditLogEntry => ({
  seq: r.seq === null ? null : Number(r.seq),
  id: r.id,
  command: r.command,
  status: r.status,
  started: r.started,
  finished: r.finished,
  operator: r.operator,
  host: r.host,
  prev_hash: r.prev_hash,
  entry_hash: r.entry_hash,
});

/** A store's or a bundle's ledger, open for reading: each call of `entries` is a new read, nothing is held between batches. */
export interface AuditLogReader {
  /** The store URL without password, or the bundle as given. */
  source: string;
  /** The entries in batches: in chain order (chainOrder's), or with `ordered: false` in whatever order is cheapest. */
  entries(opts?: { ordered?: boolean }): AsyncIterable<AuditLogEntry[]>;
  close(): Promise<void>;
}

const noLedger = (display: string): ConfigError => new ConfigError(`${display}: no ledger (forklift_runs) here`, { code: 'audit.no-ledger', hint: 'Runs are recorded by migrate and bundle import.' });

/**
 * Opens the ledger of a store URL or a bundle (folder or .zip) for `audit log` (openLedgerReader).
 * Fails here, before anything is read, where there is no ledger.
 */
export async function openAuditLog(source: string, opts: { signal?: AbortSignal | undefined } = {}): Promise<AuditLogReader> {
  const ledger = await openLedgerReader(source, opts);
  if (!ledger.exists) {
    await ledger.close();
    throw noLedger(ledger.display);
  }
  return {
    source: ledger.display,
    async *entries({ ordered = true } = {}) {
      for await (const batch of ledger.records({ ordered })) yield batch.map(logEntry);
    },
    close: () => ledger.close(),
  };
}

const LOG_COLUMNS = ['seq', 'id', 'command', 'status', 'started', 'operator', 'entry_hash'];
const logCells = (e: AuditLogEntry): string[] => [e.seq === null ? '-' : String(e.seq), e.id ?? '', e.command ?? '', e.status ?? '', e.started ?? '', e.operator ?? '', e.entry_hash ? e.entry_hash.slice(0, 12) : '(unchained)'];

/**
 * The table of `audit log`, streamed: a first read finds the columns' widths, a second prints the
 * entries in chain order, then how many there were.
 */
async function writeLogTable(log: AuditLogReader, out: ReportWriter): Promise<void> {
  const widths = LOG_COLUMNS.map((h) => h.length);
  for await (const batch of log.entries({ ordered: false })) for (const e of batch) columnWidths(widths, logCells(e));
  const lines = tableLines(LOG_COLUMNS, widths, (c) => c === 0);
  const w = buffered(out);
  await w.write(`${lines.head}\n`);
  let entries = 0;
  let unchained = 0;
  for await (const batch of log.entries()) {
    for (const e of batch) {
      entries++;
      if (e.seq === null) unchained++;
      await w.write(`${lines.row(logCells(e))}\n`);
    }
  }
  await w.write(`\n${entries} entr${entries === 1 ? 'y' : 'ies'} in ${log.source}${unchained ? ` (${unchained} from before the audit chain)` : ''}\n`);
  await w.flush();
}

/** `audit log --json`: `{ source, entries }` as JSON.stringify(…, null, 2) prints it, written an entry at a time. */
async function writeLogJson(log: AuditLogReader, out: ReportWriter): Promise<void> {
  const w = buffered(out);
  await w.write(`{\n  "source": ${JSON.stringify(log.source)},\n  "entries": [`);
  let first = true;
  try {
    for await (const batch of log.entries()) {
      for (const e of batch) {
        await w.write(`${first ? '\n' : ',\n'}    ${JSON.stringify(e, null, 2).replace(/\n/g, '\n    ')}`);
        first = false;
      }
    }
  } catch (e) {
    // Entries are already out: the list is closed and the document left open at "error", for
    // the renderer to finish (core/errors.ts thrownInOpenJson). Where stdout itself failed, the
    // error is as it was.
    try {
      await w.write(`${first ? '' : '\n  '}],\n  "ok": false,\n  "error": `);
      await w.flush();
    } catch {
      throw e;
    }
    throw thrownInOpenJson(e);
  }
  await w.write(first ? ']\n}\n' : '\n  ]\n}\n');
  await w.flush();
}

/**
 * `forklift audit log`: the entries of a store's or a bundle's forklift_runs in chain order,
 * written to `stream` as a table or as one JSON document, with memory that does not grow with the
 * number of entries. A missing ledger fails before anything is written.
 */
export async function auditLog(opts: { source: string; format: 'text' | 'json'; stream: Writable; signal?: AbortSignal | undefined }): Promise<void> {
  const log = await openAuditLog(opts.source, { signal: opts.signal });
  try {
    await writeAuditLog(log, opts.format, opts.stream);
  } finally {
    await log.close();
  }
}

/** The entries of an open ledger written to `stream` as the table or the JSON document. */
export async function writeAuditLog(log: AuditLogReader, format: 'text' | 'json', stream: Writable): Promise<void> {
  const out = streamWriter(stream);
  await (format === 'json' ? writeLogJson(log, out) : writeLogTable(log, out));
}
