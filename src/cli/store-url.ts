import { Args, Flags, type Interfaces } from './oclif.js';
import { expandEnv } from '../plan/env.js';

/**
 * A store URL given on the command line, with `${VAR}` and `${VAR:-default}` expanded as in a plan
 * (SPEC section 1): `--target 'postgres://etl:${PGPASSWORD}@db/erp'` keeps the password out of the
 * shell history and the process list. Expanded once, when parsed.
 */
export function storeUrlFlag<R extends boolean = false>(name: string, opts: { description: string; required?: R }): Interfaces.OptionFlag<R extends true ? string : string | undefined> {
  return Flags.string({ ...opts, parse: async (input: string) => expandEnv(input, { file: `--${name}` }) }) as Interfaces.OptionFlag<R extends true ? string : string | undefined>;
}

/** A positional argument that may be a store URL (diff's LEFT and RIGHT), expanded the same way. */
export function storeUrlArg(name: string, opts: { description: string; required: true }) {
  return Args.string({ ...opts, parse: async (input) => expandEnv(input, { file: name }) });
}
