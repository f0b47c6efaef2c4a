import { ConfigError } from '../core/errors.js';
import { nearest } from '../util/suggest.js';
import type { Hook } from './oclif.js';
import { writeError } from './render-error.js';

/**
 * oclif's `command_not_found` hook. Without it an unknown command is oclif's own error (` ›
 * Error: command nosuchcmd not found` on stderr, nothing on stdout even with --json); here it is
 * a usage error like any other (SPEC section 8: exit 2), rendered in the one place, with the
 * closest command.
 */
const hook: Hook<'command_not_found'> = async function (opts) {
  const ids = opts.config.commands.filter((c) => !c.hidden).map((c) => c.id);
  // With topics separated by spaces oclif joins the words after the command into its id too
  // (`exprot out` is "exprot:out"): the command typed is the topics, then one word.
  const words = opts.id.split(':');
  let n = 1;
  while (n < words.length && ids.some((id) => id.startsWith(`${words.slice(0, n).join(':')}:`))) n++;
  const typed = words.slice(0, n).join(' ');
  const commands = ids.map((id) => id.replaceAll(':', ' '));
  const near = nearest(typed, commands);
  const bin = opts.config.bin;
  const err = new ConfigError(`${bin} ${typed}: no such command`, {
    code: 'usage',
    hint: near === undefined ? `Run ${bin} --help for the commands.` : `Did you mean \`${bin} ${near}\`? Run ${bin} --help for the commands.`,
  });
  writeError(err, opts.argv ?? []);
};

export default hook;
