import { userInfo } from 'node:os';

/** Who ran a command, for the ledger (SPEC section 9): FORKLIFT_OPERATOR, else the OS user. */
export function operator(): string {
  if (process.env.FORKLIFT_OPERATOR) return process.env.FORKLIFT_OPERATOR;
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
