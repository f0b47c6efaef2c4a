import { ConfigError, formatLocation, type Location } from '../core/errors.js';

// `$${` is a literal `${`: a legacy file named `p ${HOME}.csv`, or a column header holding `${`,
// must be writable in a mapping without being expanded.
// A `${` that is neither (unclosed, or no name after it) is a mistake said as one: taken as text,
// `${DB:-test` became a database named so.
const VAR = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{/g;

/** Text as it must be written in a plan or mapping file to mean itself: `${` as `$${`. */
export function escapeEnv(text: string): string {
  return text.replaceAll('${', () => '$${');
}

/** Expands `${VAR}` and `${VAR:-default}` from the environment (SPEC section 1); `$${` is a literal `${`. */
export function expandEnv(text: string, where: Location, env: NodeJS.ProcessEnv = process.env): string {
  if (!text.includes('${')) return text;
  return text.replace(VAR, (m: string, name: string | undefined, fallback: string | undefined, offset: number) => {
    // A place in a file reads `p.yaml:3:9 environment …`; a flag or argument is a label, `--target: environment …`.
    const at = where.line === undefined ? `${formatLocation(where)}:` : formatLocation(where);
    if (m === '${') {
      // Where, not the text itself: a URL's password may follow it.
      throw new ConfigError(`${at} the \${ at character ${offset + 1} starts no variable: a variable is \${NAME} or \${NAME:-default}, its name letters, digits and _`, {
        code: 'config.env',
        location: where,
        hint: 'Close the variable with }, or write $${ for a literal ${.',
      });
    }
    if (name === undefined) return m.slice(1);
    const v = env[name];
    // As in a shell: `${VAR}` is the value even when empty (MariaDB's root has an empty password);
    // `${VAR:-default}` takes the default for an empty value too.
    if (v !== undefined && (v !== '' || fallback === undefined)) return v;
    if (fallback !== undefined) return fallback;
    throw new ConfigError(`${at} environment variable ${name} is not set`, {
      code: 'config.env',
      location: where,
      hint: `Set ${name}, or give a default: \${${name}:-value}.`,
    });
  });
}
