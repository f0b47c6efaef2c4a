/**
 * zod/mini, for the readers on a command's start path (a bundle's datapackage.json, an export
 * profile): the build bundles only the functions named here (scripts/vendor.mjs), about 37 KB
 * against the 570 KB of vendor/zod.ts, whose start cost 60 ms of every `bundle verify` on this
 * machine. The plan's schema keeps the full zod (vendor/zod.ts) for its JSON Schema. English
 * messages, as the full zod gives them: zod/mini loads no locale by itself.
 */
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());

export { array, boolean, int, looseObject, minLength, minimum, number, optional, record, safeParse, strictObject, string, union, type infer as Infer, type ZodMiniType } from 'zod/mini';
