/**
 * Compiles a parsed expression into a tree of closures, once per mapping, so evaluating a row is
 * a few function calls: no re-parsing, no lookups by name, nothing reachable but the row's cells.
 *
 * Values are string | Decimal | boolean | null. An empty string is a missing value (null)
 * everywhere: in cells, in literals and in function results. Numbers are exact decimals.
 */

import { Decimal } from 'decimal.js';
import { BugError } from '../../core/errors.js';
import type { ArithOp, CompareOp, ExprNode } from './parser.js';
import { nfc } from '../../util/unicode.js';

export type ExprValue = string | Decimal | boolean | null;
export type CompiledExpr = (cells: readonly (string | null)[]) => ExprValue;
export type CompiledCondition = (cells: readonly (string | null)[]) => boolean;

/** A row the expression cannot be evaluated for; the caller rejects the row with this message. */
export class ExprRuntimeError extends Error {
  constructor(
    message: string,
    /** The part of the expression that failed, as written. */
    readonly expression: string,
    /** The column whose value caused it, when one did. */
    readonly column?: string,
  ) {
    super(message);
    this.name = 'ExprRuntimeError';
  }
}

// + - * and % are exact: with this precision decimal.js never rounds them. Results are copied back
// into plain Decimal instances so no caller inherits the huge precision for its own divisions.
const Exact = Decimal.clone({ precision: 1e9, rounding: Decimal.ROUND_HALF_UP });
// Division is exact whenever the quotient terminates (a/b with b = 2^x 5^y r needs at most
// sd(a) + 2.33 sd(b) significant digits). A quotient that does not end is cut, not rounded, after
// at least DIV_PLACES decimal places and 34 significant digits, however many integer digits it
// has: more places than any column keeps (38 digits at most). Cut, so that round() of it rounds
// as the exact quotient would: one rounded up into ...5000 would be rounded up a second time.
const DIV_PLACES = 40;
const Div = Decimal.clone({ precision: 34, rounding: Decimal.ROUND_DOWN });

export const ZERO = new Decimal(0);

/** A number token's digits, which the lexer has checked. */
export function parseDecimalLiteral(digits: string): Decimal {
  return new Decimal(digits);
}

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)$/;

function plain(d: Decimal): Decimal {
  if (!d.isFinite()) throw new ExprRuntimeError('the result is too large a number', '');
  return d.isZero() ? ZERO : new Decimal(d);
}

/** The text a value has when joined with & or passed to a text function. null is ''. */
export function exprValueText(v: ExprValue): string {
  if (v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return v.toFixed();
}

/** A value for a message: 'text' quoted, numbers and booleans as they are. */
export function showValue(v: ExprValue): string {
  if (v === null) return 'empty';
  if (typeof v === 'string') {
    const cps = Array.from(v);
    const s = cps.length > 60 ? `${cps.slice(0, 60).join('')}…` : v;
    return `'${s.replace(/\r?\n|\r/g, '\\n')}'`;
  }
  return exprValueText(v);
}

/** The value as a number when it is one or is text that looks like one, else undefined. */
function numericOf(v: ExprValue): Decimal | undefined {
  if (v instanceof Decimal) return v;
  if (typeof v === 'string') {
    const t = v.trim();
    if (NUMERIC.test(t)) return new Decimal(t);
  }
  return undefined;
}

/** Order by Unicode code point (JS's < compares UTF-16 units, which differs above U+FFFF). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // surrogates (D800-DFFF) encode code points above every BMP character; move them past E000-FFFF
    if (x >= 0xd800) x += x <= 0xdfff ? 0x2000 : -0x800;
    if (y >= 0xd800) y += y <= 0xdfff ? 0x2000 : -0x800;
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function label(node: ExprNode): string {
  return node.kind === 'column' ? node.name : node.text;
}

function columnOf(node: ExprNode): string | undefined {
  return node.kind === 'column' ? node.name : undefined;
}

function toNumber(v: ExprValue, from: ExprNode): Decimal | null {
  if (v === null) return null;
  if (v instanceof Decimal) return v;
  const n = typeof v === 'string' ? numericOf(v) : undefined;
  if (n !== undefined) return n;
  throw new ExprRuntimeError(`${label(from)} is ${showValue(v)}, not a number`, from.text, columnOf(from));
}

function nonEmpty(s: string): string | null {
  return s === '' ? null : s;
}

/** An expression the mapping itself makes text: a "string" literal, a join with &, or a text function. */
function isText(node: ExprNode): boolean {
  if (node.kind === 'literal') return typeof node.value === 'string';
  if (node.kind === 'concat') return true;
  return node.kind === 'call' && (node.name === 'text' || node.name === 'upper' || node.name === 'lower' || node.name === 'trim' || node.name === 'substr');
}

function compareValues(op: CompareOp, a: ExprValue, b: ExprValue, left: ExprNode, right: ExprNode): boolean {
  if (a === null || b === null) {
    // a missing value equals only null, differs from everything else, and has no order
    if (op === '=') return a === b;
    if (op === '!=') return a !== b;
    return false;
  }
  let c: number;
  if (a instanceof Decimal || b instanceof Decimal) {
    // A number on either side (a literal, arithmetic, len()) makes it a comparison of numbers, and
    // text on the other side is read as one: QTY > 5 with QTY '10'.
    const na = numericOf(a);
    const nb = numericOf(b);
    if (na === undefined || nb === undefined) {
      // Equality needs no number: 'n/a' = 0 is simply false. Order does: text such as '(5)' or
      // 'n/a' ordered by its characters instead would let the row through on the wrong grounds.
      if (op === '=') return false;
      if (op === '!=') return true;
      const [v, node, other] = na === undefined ? [a, left, right] : [b, right, left];
      throw new ExprRuntimeError(`${label(node)} is ${showValue(v)}, not a number, so it has no order against ${label(other)}`, node.text, columnOf(node));
    }
    c = na.cmp(nb);
  } else if (isText(left) || isText(right)) {
    // Against text the mapping writes as text (a "string", & or a text function), text is text even
    // when it looks like a number: item numbers 0100, 100 and 100.0 are three items, and
    // ITEMNO != "0100" must drop only the first.
    c = compareCodePoints(nfc(exprValueText(a)), nfc(exprValueText(b)));
  } else {
    // Two cells say nothing of their kind: SHIPPED > ORDERED with 10 and 9 means numbers, so two
    // that both read as numbers compare as numbers, anything else as text.
    const na = numericOf(a);
    const nb = numericOf(b);
    // Text in NFC, the form it is stored in: 'Café' decomposed in a cell equals "Café" typed composed.
    c = na !== undefined && nb !== undefined ? na.cmp(nb) : compareCodePoints(nfc(exprValueText(a)), nfc(exprValueText(b)));
  }
  switch (op) {
    case '=':
      return c === 0;
    case '!=':
      return c !== 0;
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    case '>=':
      return c >= 0;
  }
}

function arithmetic(op: ArithOp, a: Decimal, b: Decimal, node: ExprNode & { kind: 'arith' }): Decimal {
  switch (op) {
    case '+':
      return plain(Exact.add(a, b));
    case '-':
      return plain(Exact.sub(a, b));
    case '*':
      return plain(Exact.mul(a, b));
    case '/':
    case '%': {
      if (b.isZero()) {
        const col = columnOf(node.right);
        throw new ExprRuntimeError(
          `division by zero in ${node.text}${col === undefined ? '' : ` (${col} is ${showValue(b)})`}`,
          node.text,
          col,
        );
      }
      if (op === '%') return plain(Exact.mod(a, b));
      // a.e - b.e + 1 is the quotient's integer digits, or one more: its exponent is a.e - b.e or one less
      Div.set({ precision: Math.max(34, a.sd(true) + 3 * b.sd(true) + 2, a.e - b.e + 1 + DIV_PLACES) });
      return plain(Div.div(a, b));
    }
  }
}

function wholeNumber(v: Decimal, what: string, node: ExprNode, min: number, max: number): number {
  if (!v.isInteger() || v.lt(min) || v.gt(max))
    throw new ExprRuntimeError(
      `${what} must be a whole number from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}, got ${showValue(v)} (${label(node)})`,
      node.text,
      columnOf(node),
    );
  return v.toNumber();
}

function compileCall(node: ExprNode & { kind: 'call' }, columnIndex: (name: string) => number): CompiledExpr {
  const fs = node.args.map((a) => compileNode(a, columnIndex));
  const arg = (k: number): CompiledExpr => {
    const f = fs[k];
    if (f === undefined) throw new BugError(`${node.name}() compiled without argument ${k + 1}`);
    return f;
  };
  const argNode = (k: number): ExprNode => {
    const n = node.args[k];
    if (n === undefined) throw new BugError(`${node.name}() parsed without argument ${k + 1}`);
    return n;
  };

  switch (node.name) {
    case 'if': {
      const c = compileCondition(argNode(0), columnIndex);
      const a = arg(1);
      const b = arg(2);
      return (cells) => (c(cells) ? a(cells) : b(cells));
    }
    case 'coalesce':
      return (cells) => {
        for (const f of fs) {
          const v = f(cells);
          if (v !== null) return v;
        }
        return null;
      };
    case 'concat':
      return (cells) => {
        let s = '';
        for (const f of fs) s += exprValueText(f(cells));
        return nonEmpty(s);
      };
    case 'upper': {
      const f = arg(0);
      return (cells) => {
        const v = f(cells);
        return v === null ? null : exprValueText(v).toUpperCase();
      };
    }
    case 'lower': {
      const f = arg(0);
      return (cells) => {
        const v = f(cells);
        return v === null ? null : exprValueText(v).toLowerCase();
      };
    }
    case 'trim': {
      const f = arg(0);
      return (cells) => {
        const v = f(cells);
        return v === null ? null : nonEmpty(exprValueText(v).trim());
      };
    }
    case 'len': {
      const f = arg(0);
      return (cells) => {
        const v = f(cells);
        if (v === null) return ZERO; // an empty value is the empty string: length 0
        let n = 0;
        for (const _ of exprValueText(v)) n++;
        return new Decimal(n);
      };
    }
    case 'substr': {
      const f = arg(0);
      const fStart = arg(1);
      const startNode = argNode(1);
      const fLen = fs[2];
      const lenNode = node.args[2];
      return (cells) => {
        const v = f(cells);
        const start = toNumber(fStart(cells), startNode);
        if (v === null || start === null) return null;
        const from = wholeNumber(start, 'the start of substr()', startNode, 1, Number.MAX_SAFE_INTEGER) - 1;
        const cps = Array.from(exprValueText(v));
        if (fLen === undefined || lenNode === undefined) return nonEmpty(cps.slice(from).join(''));
        const len = toNumber(fLen(cells), lenNode);
        if (len === null) return null;
        const count = wholeNumber(len, 'the length of substr()', lenNode, 0, Number.MAX_SAFE_INTEGER);
        return nonEmpty(cps.slice(from, from + count).join(''));
      };
    }
    case 'round': {
      const f = arg(0);
      const xNode = argNode(0);
      const fPlaces = fs[1];
      const placesNode = node.args[1];
      return (cells) => {
        const x = toNumber(f(cells), xNode);
        let places = 0;
        if (fPlaces !== undefined && placesNode !== undefined) {
          const p = toNumber(fPlaces(cells), placesNode);
          if (p === null) return null;
          places = wholeNumber(p, 'the places of round()', placesNode, -100, 100);
        }
        if (x === null) return null;
        // half away from zero, as in spreadsheets: round(2.5) = 3, round(-2.5) = -3
        if (places >= 0) return plain(x.toDecimalPlaces(places, Decimal.ROUND_HALF_UP));
        // round(1250, -2) = 1300: shift the point, round to a whole number, shift back (all exact)
        const shifted = Exact.mul(x, new Decimal(`1e${places}`)).toDecimalPlaces(0, Decimal.ROUND_HALF_UP);
        return plain(Exact.mul(shifted, new Decimal(`1e${-places}`)));
      };
    }
    case 'abs': {
      const f = arg(0);
      const xNode = argNode(0);
      return (cells) => {
        const x = toNumber(f(cells), xNode);
        return x === null ? null : plain(x.abs());
      };
    }
    case 'number': {
      const f = arg(0);
      const xNode = argNode(0);
      return (cells) => {
        const x = toNumber(f(cells), xNode);
        return x === null ? null : plain(x);
      };
    }
    case 'text': {
      const f = arg(0);
      return (cells) => {
        const v = f(cells);
        return v === null ? null : exprValueText(v);
      };
    }
    case 'isnull': {
      const f = arg(0);
      return (cells) => f(cells) === null;
    }
    case 'isempty': {
      // also true for text that is only whitespace
      const f = arg(0);
      return (cells) => {
        const v = f(cells);
        return v === null || (typeof v === 'string' && v.trim() === '');
      };
    }
  }
}

function compileNode(node: ExprNode, columnIndex: (name: string) => number): CompiledExpr {
  switch (node.kind) {
    case 'literal': {
      const v = node.value;
      return () => v;
    }
    case 'column': {
      const i = columnIndex(node.name);
      if (!Number.isInteger(i) || i < 0) throw new BugError(`expression column ${node.name} has no index (${i})`);
      return (cells) => {
        const v = cells[i];
        return v === undefined || v === null || v === '' ? null : v;
      };
    }
    case 'negate': {
      const f = compileNode(node.operand, columnIndex);
      const operand = node.operand;
      return (cells) => {
        const x = toNumber(f(cells), operand);
        return x === null ? null : plain(x.neg());
      };
    }
    case 'not': {
      const c = compileCondition(node.operand, columnIndex);
      return (cells) => !c(cells);
    }
    case 'logical': {
      const l = compileCondition(node.left, columnIndex);
      const r = compileCondition(node.right, columnIndex);
      return node.op === 'and' ? (cells) => l(cells) && r(cells) : (cells) => l(cells) || r(cells);
    }
    case 'compare': {
      const l = compileNode(node.left, columnIndex);
      const r = compileNode(node.right, columnIndex);
      const op = node.op;
      return (cells) => compareValues(op, l(cells), r(cells), node.left, node.right);
    }
    case 'concat': {
      const l = compileNode(node.left, columnIndex);
      const r = compileNode(node.right, columnIndex);
      return (cells) => nonEmpty(exprValueText(l(cells)) + exprValueText(r(cells)));
    }
    case 'arith': {
      const l = compileNode(node.left, columnIndex);
      const r = compileNode(node.right, columnIndex);
      const { left, right, op } = node;
      return (cells) => {
        // both sides are checked, so bad data is reported even next to a missing value
        const a = toNumber(l(cells), left);
        const b = toNumber(r(cells), right);
        if (a === null || b === null) return null;
        return arithmetic(op, a, b, node);
      };
    }
    case 'call':
      return compileCall(node, columnIndex);
  }
}

/** Compiles an expression to a function of a row's cells. */
export function compileExpression(node: ExprNode, columnIndex: (name: string) => number): CompiledExpr {
  return compileNode(node, columnIndex);
}

/**
 * Compiles an expression used as a condition (filter:, if(), and/or/not): true stays true,
 * false and null are false, anything else is an ExprRuntimeError.
 */
export function compileCondition(node: ExprNode, columnIndex: (name: string) => number): CompiledCondition {
  const f = compileNode(node, columnIndex);
  return (cells) => {
    const v = f(cells);
    if (v === true) return true;
    if (v === false || v === null) return false;
    throw new ExprRuntimeError(`${label(node)} is ${showValue(v)}, expected true/false`, node.text, columnOf(node));
  };
}
