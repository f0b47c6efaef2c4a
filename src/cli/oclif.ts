/**
 * @oclif/core, as forklift's own modules import it: bundled into one file by the build
 * (scripts/vendor.mjs), for the reason src/vendor/apache-arrow.ts gives: its 34 CommonJS modules (and
 * semver, minimatch, ejs behind them) took about 50 ms of every command's start, before anything
 * else could begin. @oclif/plugin-help's `help` command loads the package itself (its Help reads
 * the configuration through its methods and fields only, so the two copies meet nowhere else).
 */
// Named one by one: @oclif/core is CommonJS, whose names a bundled ES module cannot re-export with `*`.
export { Args, Command, Flags, execute, settings, type Hook, type Interfaces } from '@oclif/core';
