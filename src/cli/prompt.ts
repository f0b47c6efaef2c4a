/**
 * A prompt left with Ctrl-C, as the user's error: kept apart from the prompts themselves, so a
 * command that may ask (purge --all) loads @inquirer/prompts only when it does.
 */
import { ExitCode, ForkliftError } from '../core/errors.js';

/** A person left the prompts (Ctrl-C): nothing is written. Exit 1. */
export class PromptCancelled extends ForkliftError {
  constructor(message = 'cancelled; nothing was written', hint = 'Run the command again, or with --yes to write the guess as it is.') {
    super(message, { code: 'cancelled', exitCode: ExitCode.runtime, hint });
  }
}

/** Runs a prompt; Ctrl-C becomes PromptCancelled (or what `cancelled` makes). */
export async function ask<T>(prompt: Promise<T>, cancelled: () => ForkliftError = () => new PromptCancelled()): Promise<T> {
  try {
    return await prompt;
  } catch (e) {
    if (e instanceof Error && (e.name === 'ExitPromptError' || e.name === 'AbortPromptError')) throw cancelled();
    throw e;
  }
}
