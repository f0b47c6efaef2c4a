import type { Progress } from '../run/pipeline.js';

/** A spinner with rows and rows/s on a TTY; nothing at all otherwise. ora loads only when shown. */
export async function progressReporter(enabled: boolean): Promise<{ update: (p: Progress) => void; stop: () => void }> {
  if (!enabled) return { update: () => {}, stop: () => {} };
  const { default: ora } = await import('ora');
  const spinner = ora({ stream: process.stderr, text: 'starting' }).start();
  const fmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  return {
    update(p) {
      spinner.text =
        p.stage === 'extract'
          ? `reading ${p.entity ?? ''}: ${fmt.format(p.rows)} rows · ${fmt.format(p.rowsPerSecond)} rows/s`
          : p.stage === 'validate'
            ? 'checking keys, references and BOM cycles'
            : p.stage === 'load'
              ? 'loading in one transaction (a dry run rolls it back)'
              : 'writing report and rejects';
    },
    stop() {
      spinner.stop();
    },
  };
}

/** A spinner showing a line of text (tables, rows) on a TTY; nothing otherwise. */
export async function textSpinner(enabled: boolean): Promise<{ update: (text: string) => void; stop: () => void }> {
  if (!enabled) return { update: () => {}, stop: () => {} };
  const { default: ora } = await import('ora');
  const spinner = ora({ stream: process.stderr, text: 'starting' }).start();
  return {
    update(text) {
      spinner.text = text;
    },
    stop() {
      spinner.stop();
    },
  };
}
