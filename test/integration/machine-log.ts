import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers.js';

/**
 * A plan that loads machine_events (the demo model's) incrementally from a CSV log, with the
 * watermark ts per machine: `log` writes the log the next run reads.
 */
export function machineLogProject(target: string): { plan: string; log: (rows: string[]) => void } {
  const dir = tempDir('forklift-incr-plan-');
  writeFileSync(
    path.join(dir, 'machine_log.yaml'),
    [
      'entity: machine_events',
      'source: { format: csv, path: log.csv }',
      'load: incremental',
      'watermark: ts',
      'fields:',
      '  machine_id: { from: M }',
      '  ts: { from: T, timestamp: "yyyy-MM-dd HH:mm:ss", timezone: Europe/Berlin }',
      '  state: { from: S }',
      '  good_count: { from: G }',
      '',
    ].join('\n'),
  );
  writeFileSync(path.join(dir, 'forklift.yaml'), `name: incremental\ntarget: ${target}\nmappings: [machine_log.yaml]\n`);
  return { plan: path.join(dir, 'forklift.yaml'), log: (rows) => writeFileSync(path.join(dir, 'log.csv'), ['M,T,S,G', ...rows].join('\n') + '\n') };
}
