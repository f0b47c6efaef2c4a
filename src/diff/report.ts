import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { ForkliftError } from '../core/errors.js';
import type { DiffRun } from './diff.js';
import { troubleError } from './errors.js';
import { rendererFor, type ReportWriter } from './render/index.js';
import type { DiffFormat } from './types.js';

/**
 * Writes a diff's report in one format to a file (written beside it under a temporary name and
 * renamed when complete: a report that looks complete is complete) or to a stream (stdout), with
 * backpressure. A reader that goes away (`| head`) ends the writing quietly.
 */
export async function writeReport(run: DiffRun, format: DiffFormat, to: { file: string } | { stream: Writable }): Promise<void> {
  const render = rendererFor(format);
  if ('stream' in to) {
    await render(run.result, run.records(), streamWriter(to.stream));
    return;
  }
  const final = path.resolve(to.file);
  const tmp = `${final}.partial-${randomBytes(4).toString('hex')}`;
  const stream = createWriteStream(tmp);
  try {
    await render(run.result, run.records(), streamWriter(stream));
    await new Promise<void>((resolve, reject) => {
      stream.once('error', reject);
      stream.end(resolve);
    });
    renameSync(tmp, final);
  } catch (e) {
    stream.destroy();
    rmSync(tmp, { force: true });
    if (e instanceof ForkliftError) throw e;
    throw troubleError(`cannot write the report to ${to.file}: ${e instanceof Error ? e.message : String(e)}`, { code: 'diff.output', hint: 'Check that the folder exists and can be written.', cause: e });
  }
}

/** Fails at once (before a long comparison) where a report file could not be written. */
export function checkReportFile(file: string): void {
  const dir = path.dirname(path.resolve(file));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw troubleError(`--output ${file}: the folder ${path.dirname(file)} does not exist`, { code: 'usage', hint: 'Create the folder first, or write the report elsewhere.' });
  }
  if (existsSync(file) && statSync(file).isDirectory()) throw troubleError(`--output ${file} is a folder`, { code: 'usage', hint: 'Name a file for the report.' });
}

export function streamWriter(stream: Writable): ReportWriter {
  let gone = false;
  let failure: Error | undefined;
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') gone = true;
    else failure = e;
  });
  return {
    async write(chunk) {
      if (failure) throw failure;
      if (gone) return;
      if (!stream.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            stream.off('drain', done);
            stream.off('error', done);
            stream.off('close', done);
            resolve();
          };
          stream.on('drain', done).on('error', done).on('close', done);
        });
      }
      if (failure) throw failure;
    },
  };
}
