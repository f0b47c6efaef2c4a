import { ConfigError } from '../core/errors.js';
import { SqliteStore } from './sqlite.js';
import type { TargetStore } from './types.js';
import { redactUrl, storeKind } from './url.js';

export async function openStore(url: string): Promise<TargetStore> {
  const kind = storeKind(url);
  if (kind === 'sqlite') return new SqliteStore(url);
  throw new ConfigError(`${redactUrl(url)}: ${kind} targets are not supported yet`, {
    code: 'store.unsupported',
    hint: 'Use a sqlite: target for now.',
  });
}

export { redactUrl, storeKind } from './url.js';
export type { TargetStore, RunEntry, LoadMode } from './types.js';
