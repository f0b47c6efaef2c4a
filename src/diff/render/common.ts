import type { Cell, DiffRecord, DiffResult, SchemaChange, SideDescription, TableDiff } from '../types.js';

/** Where a report goes: a file or stdout, with backpressure. */
export interface ReportWriter {
  write(chunk: string): Promise<void>;
}

/** A renderer: the summary and the records (streamed, read once) into one format. */
export type Renderer = (result: DiffResult, records: AsyncIterable<DiffRecord>, out: ReportWriter) => Promise<void>;

/** Buffers small writes into chunks of about 64 KiB. */
export function buffered(out: ReportWriter): ReportWriter & { flush(): Promise<void> } {
  let buf: string[] = [];
  let size = 0;
  return {
    async write(s) {
      buf.push(s);
      size += s.length;
      if (size >= 1 << 16) await this.flush();
    },
    async flush() {
      if (!buf.length) return;
      const s = buf.join('');
      buf = [];
      size = 0;
      await out.write(s);
    },
  };
}

/** The table's key and other compared column names, for records of that table. */
export function columnsByTable(result: DiffResult): Map<string, { key: string[]; values: string[] }> {
  return new Map(result.tables.map((t) => [t.table, { key: t.key, values: t.columns.filter((c) => !t.key.includes(c)) }]));
}

/** A value for people: NULL for a missing value; quoted where the bare text would mislead. */
export function showCell(v: Cell): string {
  if (v === null) return 'NULL';
  if (v === '' || v === 'NULL' || /^\s|\s$|["\u2028\u2029]/.test(v) || hasControl(v)) return JSON.stringify(v);
  return v;
}

function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
}

export function describeSide(d: SideDescription): string {
  switch (d.kind) {
    case 'bundle':
      return `bundle ${d.location}${d.zipped ? ' (zip)' : ''} · Payload-Oxum ${d.payload_oxum ?? '(none)'} · manifest-sha256.txt sha256 ${d.manifest_sha256 ?? '(none)'}`;
    case 'store':
      return `${d.store} store ${d.url}`;
  }
}

export function describeChange(s: SchemaChange): string {
  switch (s.kind) {
    case 'table-added':
      return `${s.table}: table only on the right`;
    case 'table-removed':
      return `${s.table}: table only on the left`;
    case 'column-added':
      return `${s.table}.${s.column}: column only on the right (${s.type})`;
    case 'column-removed':
      return `${s.table}.${s.column}: column only on the left (${s.type})`;
    case 'type-changed':
      return `${s.table}.${s.column}: type ${s.left} → ${s.right}`;
    case 'key-changed':
      return `${s.table}: primary key (${s.left.join(', ') || 'none'}) → (${s.right.join(', ') || 'none'})`;
    default:
      return unreachable(s);
  }
}

export function unreachable(x: never): never {
  throw new Error(`unhandled case ${JSON.stringify(x)}`);
}

export const fmtInt = (n: number | null): string => (n === null ? '—' : n.toLocaleString('en-US'));

export function keyLabel(t: TableDiff): string {
  return t.key.length ? t.key.join('+') : '—';
}

export function verdict(r: DiffResult): string {
  if (r.identical) return 'identical';
  const parts: string[] = [];
  if (r.totals.schema_changes) parts.push(`${fmtInt(r.totals.schema_changes)} schema change${r.totals.schema_changes === 1 ? '' : 's'}`);
  const t = r.totals;
  if (t.added + t.removed + t.changed) parts.push(`${fmtInt(t.added)} added, ${fmtInt(t.removed)} removed, ${fmtInt(t.changed)} changed row${t.changed === 1 ? '' : 's'} (${fmtInt(t.changed_cells)} cell${t.changed_cells === 1 ? '' : 's'})`);
  return `different: ${parts.join('; ')}`;
}
