import type { RunEntry } from '../../../src/stores/types.js';

/** The n-th run of a small ledger, as forklift records it (n from 1 to 9). */
export const entry = (n: number, over: Partial<RunEntry> = {}): RunEntry => ({
  id: `20261129T10000${n}Z-abc${n}`,
  command: 'migrate',
  status: 'succeeded',
  started: `2026-11-29T10:00:0${n}.000Z`,
  finished: `2026-11-29T10:00:0${n}.500Z`,
  operator: 'ana',
  host: 'plant-1',
  tool_version: '0.1.0',
  plan_sha256: 'a'.repeat(64),
  files: { 'items.yaml': 'b'.repeat(64) },
  counts: { items: { read: 10 * n, loaded: 10 * n } },
  message: null,
  ...over,
});
