import { ConfigError, formatLocation, type Location } from '../core/errors.js';

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Expands `${VAR}` and `${VAR:-default}` from the environment (SPEC section 1). */
export function expandEnv(text: string, where: Location, env: NodeJS.ProcessEnv = process.env): string {
  if (!text.includes('${')) return text;
  return text.replace(VAR, (_m, name: string, fallback: string | undefined) => {
    const v = env[name];
    // As in a shell: `${VAR}` is the value even when empty (MariaDB's root has an empty password);
    // `${VAR:-default}` takes the default for an empty value too.
    if (v !== undefined && (v !== '' || fallback === undefined)) return v;
    if (fallback !== undefined) return fallback;
    throw new ConfigError(`${formatLocation(where)} environment variable ${name} is not set`, {
      code: 'config.env',
      location: where,
      hint: `Set ${name}, or give a default: \${${name}:-value}.`,
    });
  });
}
