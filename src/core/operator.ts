import { userInfo } from 'node:os';
import { ConfigError } from './errors.js';

/**
 * The most characters of an operator a ledger holds: forklift_runs.operator is varchar(255) on
 * MySQL/MariaDB (strict, so a longer one fails the run's commit), and a bundle's forklift_runs
 * declares 255 for every store.
 */
export const OPERATOR_MAX = 255;

/** Who ran a command, for the ledger (SPEC section 9): FORKLIFT_OPERATOR, else the OS user. */
export function operator(): string {
  if (process.env.FORKLIFT_OPERATOR) return process.env.FORKLIFT_OPERATOR;
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/**
 * A FORKLIFT_OPERATOR the ledger cannot hold is refused (exit 2) before any work: found at the
 * ledger insert, it would fail the load in its last step, and the failed attempt's own entry too.
 */
export function checkOperator(): void {
  const who = process.env.FORKLIFT_OPERATOR;
  const n = who ? [...who].length : 0;
  if (n <= OPERATOR_MAX) return;
  throw new ConfigError(`FORKLIFT_OPERATOR has ${n} characters; the ledger keeps at most ${OPERATOR_MAX}`, {
    code: 'env.operator',
    hint: `Set FORKLIFT_OPERATOR to a name or an id of at most ${OPERATOR_MAX} characters (it is recorded in every ledger entry as who ran the command).`,
  });
}
