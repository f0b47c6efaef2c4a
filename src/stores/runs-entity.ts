import type { Column, Entity } from '../model/types.js';

const s = (name: string, length: number, required = false, description?: string): Column => ({ name, type: 'string', length, required, ...(description ? { description } : {}) });
const t = (name: string, description: string): Column => ({ name, type: 'text', required: false, description });

/**
 * The run ledger (SPEC sections 5 and 9) as one entity, the same whichever store holds it: each
 * store creates forklift_runs with its own DDL, but a bundle describes it this way, so exports of
 * the same ledger from different stores are the same bytes.
 */
export const RUNS_ENTITY: Entity = {
  name: 'forklift_runs',
  description: 'The run ledger: every migrate, import, purge and exit on this store, failed and rejected attempts and dry runs included.',
  columns: [
    s('id', 64, true, 'Run id (UTC start time and a random suffix)'),
    s('command', 32, true),
    s('status', 16, true, 'succeeded, rejected, failed, validated or dry-run (a rehearsal, rolled back)'),
    s('started', 32, true, 'ISO 8601, UTC'),
    s('finished', 32, true, 'ISO 8601, UTC'),
    s('operator', 255),
    s('host', 255),
    s('tool_version', 64),
    s('plan_sha256', 64),
    t('files', 'Plan, mapping and input files with their SHA-256 (JSON)'),
    t('counts', 'Per-entity ledger (JSON)'),
    t('message', 'Why a run was rejected or failed'),
    { name: 'seq', type: 'integer', required: false, description: 'Position in the audit chain (1, 2, …); empty for entries from before the chain' },
    s('prev_hash', 64, false, 'entry_hash of the entry before it in the chain'),
    s('entry_hash', 64, false, 'SHA-256 of the entry as RFC 8785 canonical JSON, prev_hash included'),
    t('signature', 'Ed25519 signature over entry_hash (base64), when FORKLIFT_SIGNING_KEY was set'),
  ],
  primaryKey: ['id'],
  rules: [],
};

/**
 * Other stores' ledgers that came in with a bundle import (SPEC section 9): each imported entry as
 * its store wrote it, under the id of the import that brought it (the import's own entry in
 * forklift_runs records the chain's head). Kept apart from forklift_runs so the two chains never mix.
 */
export const IMPORTED_RUNS_ENTITY: Entity = {
  name: 'forklift_imported_runs',
  description: 'Ledger entries of other stores, brought in by bundle imports: each as its store wrote it, under the import that brought it.',
  columns: [s('import_id', 64, true, 'The bundle import (its id in forklift_runs) that brought this entry'), ...RUNS_ENTITY.columns],
  primaryKey: ['import_id', 'id'],
  rules: [],
};
