import type { Progress } from '../run/pipeline.js';

interface Spinner {
  update: (text: string) => void;
  stop: () => void;
}

const none: Spinner = { update: () => {}, stop: () => {} };

/** A terminal that reports its width: ora divides by it, and a width of 0 makes it clear lines forever. */
const hasWidth = (stream: NodeJS.WriteStream): boolean => (stream.columns ?? 0) > 0;

/**
 * An ora spinner on stderr, or nothing when it is not wanted or the terminal does not say how
 * wide it is (`stty cols 0`, some serial consoles and containers). A terminal resized to width 0
 * during the run stops the spinner for good; ora only loads when shown.
 */
async function spinner(enabled: boolean): Promise<Spinner> {
  const stream = process.stderr;
  if (!enabled) return none;
  const { default: ora } = await import('ora');
  // Asked after the import: the width can change while ora loads.
  if (!hasWidth(stream)) return none;
  // discardStdin would put the terminal in raw mode, where Ctrl-C is a byte, not SIGINT: the run
  // went on to commit after the user had stopped it.
  const s = ora({ stream, text: 'starting', discardStdin: false }).start();
  let stopped = false;
  // 'resize' is emitted as the width changes, before ora's next frame can divide by it.
  const onResize = (): void => {
    if (!hasWidth(stream)) stop();
  };
  function stop(): void {
    if (stopped) return;
    stopped = true;
    stream.off('resize', onResize);
    s.stop();
  }
  stream.on('resize', onResize);
  return {
    update(text) {
      if (!stopped) s.text = text;
    },
    stop,
  };
}

/** A spinner with rows and rows/s on a TTY; nothing at all otherwise. */
export async function progressReporter(enabled: boolean): Promise<{ update: (p: Progress) => void; stop: () => void }> {
  const s = await spinner(enabled);
  const fmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  return {
    update(p) {
      s.update(
        p.stage === 'extract'
          ? `reading ${p.entity ?? ''}: ${fmt.format(p.rows)} rows · ${fmt.format(p.rowsPerSecond)} rows/s`
          : p.stage === 'validate'
            ? 'checking keys, references and BOM cycles'
            : p.stage === 'load'
              ? 'loading in one transaction (a dry run rolls it back)'
              : 'writing report and rejects',
      );
    },
    stop: s.stop,
  };
}

/** A spinner showing a line of text (tables, rows) on a TTY; nothing otherwise. */
export async function textSpinner(enabled: boolean): Promise<{ update: (text: string) => void; stop: () => void }> {
  return spinner(enabled);
}
