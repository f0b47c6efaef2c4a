import { compareDecimalText, compareText } from '../bundle/order.js';
import type { Column, ColumnType } from '../model/types.js';
import { decimalSortKey } from '../stores/read-common.js';
import type { Cell } from './types.js';

/**
 * The canonical typed form a diff compares in. Both sides' values arrive in the staging form
 * (strings, numbers for integers, 1/0 booleans, fixed-scale decimal text, `YYYY-MM-DD`, UTC
 * `YYYY-MM-DDTHH:mm:ss.SSSZ`), each at its own column's type. Two columns compare as numbers when
 * both sides hold numbers (integer, decimal, boolean), so `1234.50` equals `1234.5` whatever the
 * scale of either side; otherwise as their canonical text, exactly, code point by code point
 * (no normalization: an NFD string differs from its NFC form, and a diff says so).
 *
 * The order is src/bundle/order.ts's canonical order over those values: nulls first, numbers by
 * value, text by code point. sortKey encodes a key as bytes whose plain byte order (SQLite's
 * BLOB order, memcmp) is exactly that order, for sorting a side on disk.
 */

export type Kind = 'numeric' | 'text';

const NUMERIC = new Set<ColumnType>(['integer', 'decimal', 'boolean']);

export function kindOf(type: ColumnType): Kind {
  return NUMERIC.has(type) ? 'numeric' : 'text';
}

/** The kind two sides' columns are compared in. */
export function commonKind(left: ColumnType, right: ColumnType): Kind {
  return kindOf(left) === 'numeric' && kindOf(right) === 'numeric' ? 'numeric' : 'text';
}

/** A staged value as its canonical text (the bundle CSV's text of it); null stays null. */
export function cellText(type: ColumnType): (v: unknown) => Cell {
  if (type === 'boolean') return (v) => (v === null || v === undefined ? null : v === 1 || v === true || v === '1' ? 'true' : v === 0 || v === false || v === '0' ? 'false' : String(v));
  return (v) => (v === null || v === undefined ? null : typeof v === 'string' ? v : String(v));
}

/**
 * A side's value as compared in `kind`: numbers stay as they are (a number or decimal text),
 * anything compared as text becomes its canonical text at the side's own type.
 */
export function normalizer(type: ColumnType, kind: Kind): (v: unknown) => unknown {
  if (kind === 'numeric') return (v) => (v === undefined ? null : v);
  if (type === 'boolean') return cellText(type);
  return (v) => (v === null || v === undefined ? null : typeof v === 'string' ? v : String(v));
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)$/;

/** Numbers (or decimal text) by value; text that is not a number after every number, by decimalSortKey. */
export function compareNumeric(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  const x = String(a);
  const y = String(b);
  if (DECIMAL.test(x) && DECIMAL.test(y)) return compareDecimalText(x.replace(/^\+/, ''), y.replace(/^\+/, ''));
  const kx = decimalSortKey(x)!;
  const ky = decimalSortKey(y)!;
  return kx < ky ? -1 : kx > ky ? 1 : 0;
}

export function compareIn(kind: Kind): (a: unknown, b: unknown) => number {
  if (kind === 'numeric') {
    return (a, b) => (a === null ? (b === null ? 0 : -1) : b === null ? 1 : compareNumeric(a, b));
  }
  return (a, b) => (a === null ? (b === null ? 0 : -1) : b === null ? 1 : compareText(a as string, b as string));
}

/** Equality in `kind` of two normalized values. */
export function equalIn(kind: Kind): (a: unknown, b: unknown) => boolean {
  if (kind === 'numeric') return (a, b) => (a === null || b === null ? a === b : a === b || compareNumeric(a, b) === 0);
  return (a, b) => a === b;
}

/** Compares normalized keys column by column. */
export function keyCompare(kinds: readonly Kind[]): (a: readonly unknown[], b: readonly unknown[]) => number {
  const cmps = kinds.map(compareIn);
  const n = cmps.length;
  if (n === 1) {
    const c0 = cmps[0]!;
    return (a, b) => c0(a[0], b[0]);
  }
  return (a, b) => {
    for (let i = 0; i < n; i++) {
      const r = cmps[i]!(a[i], b[i]);
      if (r !== 0) return r;
    }
    return 0;
  };
}

// ---------------------------------------------------------------------------------------------
// sort keys

let buf = Buffer.allocUnsafe(1024);
let at = 0;

function room(n: number): void {
  if (at + n <= buf.length) return;
  const next = Buffer.allocUnsafe(Math.max(buf.length * 2, at + n));
  buf.copy(next, 0, 0, at);
  buf = next;
}

/**
 * Text in an order-preserving, self-delimiting form. Each UTF-16 code unit is ranked the way
 * compareText orders it (code point order: a surrogate, half of an astral character, after every
 * BMP character), the rank plus one written in 1, 2 or 3 bytes whose first byte ranges increase
 * with the rank (so the encoding is prefix-free and keeps order), then a 0 byte ends the text
 * (below every character: a prefix sorts first).
 */
function putText(s: string): void {
  room(s.length * 3 + 1);
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    const v = (u < 0xd800 ? u : u <= 0xdfff ? u + 0x2000 : u - 0x800) + 1;
    if (v < 0x80) buf[at++] = v;
    else if (v < 0x4080) {
      const w = v - 0x80;
      buf[at++] = 0x80 | (w >> 8);
      buf[at++] = w & 0xff;
    } else {
      const w = v - 0x4080;
      buf[at++] = 0xc0 | (w >> 16);
      buf[at++] = (w >> 8) & 0xff;
      buf[at++] = w & 0xff;
    }
  }
  buf[at++] = 0;
}

/**
 * A normalized key as bytes whose byte order is keyCompare's order: per column a tag (1 null, 2 a
 * value) and the value's text, numbers through decimalSortKey (an exact text that sorts by value).
 */
export function sortKey(key: readonly unknown[], kinds: readonly Kind[]): Buffer {
  at = 0;
  for (let i = 0; i < kinds.length; i++) {
    const v = key[i];
    room(1);
    if (v === null || v === undefined) {
      buf[at++] = 1;
      continue;
    }
    buf[at++] = 2;
    putText(kinds[i] === 'numeric' ? decimalSortKey(typeof v === 'string' ? v.replace(/^\+/, '') : String(v))! : (v as string));
  }
  return Buffer.from(buf.subarray(0, at));
}

/** The type text a schema comparison shows (and compares): `decimal(10,3)`, `string(32)`, `enum(RUN,IDLE)`. */
export function typeText(c: Column): string {
  switch (c.type) {
    case 'decimal':
      return `decimal(${c.precision ?? 18},${c.scale ?? 0})`;
    case 'string':
      return c.length === undefined ? 'string' : `string(${c.length})`;
    case 'enum':
      return `enum(${(c.values ?? []).join(',')})`;
    default:
      return c.type;
  }
}
