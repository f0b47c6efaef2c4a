/**
 * Recursive-descent parser for mapping expressions. Precedence, lowest first:
 *   or; and; not (prefix); = == != <> < <= > >= (non-associative); &; + -; * / %; unary -;
 *   function call; parentheses.
 * Keywords and function names are case-insensitive, column names are not.
 */

import { BACKQUOTE_HINT, ExprSyntaxError, tokenize, type OpToken, type Pos, type Token } from './lexer.js';
import { ZERO, parseDecimalLiteral, type ExprValue } from './evaluate.js';

export type CompareOp = '=' | '!=' | '<' | '<=' | '>' | '>=';
export type ArithOp = '+' | '-' | '*' | '/' | '%';

export type FunctionName =
  | 'if'
  | 'coalesce'
  | 'concat'
  | 'upper'
  | 'lower'
  | 'trim'
  | 'len'
  | 'substr'
  | 'round'
  | 'abs'
  | 'number'
  | 'text'
  | 'isnull'
  | 'isempty';

interface FunctionInfo {
  min: number;
  max: number;
  usage: string;
}

/** A Map, never an object: a user's `constructor(` must not find Object.prototype.constructor. */
export const FUNCTIONS: ReadonlyMap<FunctionName, FunctionInfo> = new Map<FunctionName, FunctionInfo>([
  ['if', { min: 3, max: 3, usage: 'if(condition, then, else)' }],
  ['coalesce', { min: 1, max: Infinity, usage: 'coalesce(a, b, ...)' }],
  ['concat', { min: 1, max: Infinity, usage: 'concat(a, b, ...)' }],
  ['upper', { min: 1, max: 1, usage: 'upper(text)' }],
  ['lower', { min: 1, max: 1, usage: 'lower(text)' }],
  ['trim', { min: 1, max: 1, usage: 'trim(text)' }],
  ['len', { min: 1, max: 1, usage: 'len(text)' }],
  ['substr', { min: 2, max: 3, usage: 'substr(text, start, [length]) with start counting from 1' }],
  ['round', { min: 1, max: 2, usage: 'round(number, [places])' }],
  ['abs', { min: 1, max: 1, usage: 'abs(number)' }],
  ['number', { min: 1, max: 1, usage: 'number(value)' }],
  ['text', { min: 1, max: 1, usage: 'text(value)' }],
  ['isnull', { min: 1, max: 1, usage: 'isnull(value)' }],
  ['isempty', { min: 1, max: 1, usage: 'isempty(value)' }],
]);

/** Names people reach for from SQL or spreadsheets, and what we call them. */
const ALIASES: ReadonlyMap<string, FunctionName> = new Map<string, FunctionName>([
  ['iif', 'if'],
  ['nvl', 'coalesce'],
  ['ifnull', 'coalesce'],
  ['isnullor', 'coalesce'],
  ['substring', 'substr'],
  ['mid', 'substr'],
  ['length', 'len'],
  ['ucase', 'upper'],
  ['lcase', 'lower'],
  ['concatenate', 'concat'],
  ['str', 'text'],
  ['tostring', 'text'],
  ['string', 'text'],
  ['num', 'number'],
  ['tonumber', 'number'],
  ['value', 'number'],
  ['isblank', 'isempty'],
]);

/** Reserved words; a column spelled like one needs backquotes. */
const KEYWORDS = new Set(['and', 'or', 'not', 'true', 'false', 'null', 'if']);

interface NodeBase {
  /** The expression's source text for this node, for error messages. */
  readonly text: string;
  /** Absolute 1-based line and column in the mapping file. */
  readonly line: number;
  readonly column: number;
}

export type ExprNode =
  | (NodeBase & { readonly kind: 'literal'; readonly value: ExprValue })
  | (NodeBase & { readonly kind: 'column'; readonly name: string })
  | (NodeBase & { readonly kind: 'negate'; readonly operand: ExprNode })
  | (NodeBase & { readonly kind: 'not'; readonly operand: ExprNode })
  | (NodeBase & { readonly kind: 'logical'; readonly op: 'and' | 'or'; readonly left: ExprNode; readonly right: ExprNode })
  | (NodeBase & { readonly kind: 'compare'; readonly op: CompareOp; readonly left: ExprNode; readonly right: ExprNode })
  | (NodeBase & { readonly kind: 'concat'; readonly left: ExprNode; readonly right: ExprNode })
  | (NodeBase & { readonly kind: 'arith'; readonly op: ArithOp; readonly left: ExprNode; readonly right: ExprNode })
  | (NodeBase & { readonly kind: 'call'; readonly name: FunctionName; readonly args: readonly ExprNode[] });

/** Deeper than this is a generated or broken expression, and would only risk the stack. */
export const MAX_DEPTH = 200;

const COMPARE: ReadonlyMap<string, CompareOp> = new Map<string, CompareOp>([
  ['=', '='],
  ['==', '='],
  ['!=', '!='],
  ['<>', '!='],
  ['<', '<'],
  ['<=', '<='],
  ['>', '>'],
  ['>=', '>='],
]);

export function levenshtein(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  let prev = Array.from({ length: y.length + 1 }, (_, k) => k);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = cur;
  }
  return prev[y.length] ?? 0;
}

/** The known function a mistyped name most likely meant, if any is close. */
export function suggestFunction(name: string): FunctionName | undefined {
  const lower = name.toLowerCase();
  const alias = ALIASES.get(lower);
  if (alias !== undefined) return alias;
  let best: FunctionName | undefined;
  let bestDist = Infinity;
  for (const fn of FUNCTIONS.keys()) {
    const d = levenshtein(lower, fn);
    if (d < bestDist) {
      best = fn;
      bestDist = d;
    }
  }
  const length = Array.from(lower).length;
  const limit = length <= 2 ? 1 : Math.max(2, Math.floor(length / 3));
  return bestDist <= limit ? best : undefined;
}

function describe(t: Token): string {
  if (t.kind === 'eof') return 'end of expression';
  const raw = Array.from(t.raw);
  const shown = raw.length > 30 ? `${raw.slice(0, 30).join('')}…` : t.raw;
  return `'${shown.replace(/\r?\n|\r/g, ' ')}'`;
}

export interface ParseOrigin {
  /** Absolute 1-based line and column where the expression text starts. */
  line: number;
  column: number;
}

class Parser {
  private readonly tokens: Token[];
  private readonly chars: string[];
  private k = 0;
  private depth = 0;
  private readonly depths = new WeakMap<ExprNode, number>();

  constructor(
    text: string,
    private readonly origin: ParseOrigin,
  ) {
    this.tokens = tokenize(text);
    this.chars = Array.from(text);
  }

  parse(): ExprNode {
    const first = this.peek();
    if (first.kind === 'eof')
      throw new ExprSyntaxError('the expression is empty', first.start, "write a value or condition, e.g. LT_WEEKS * 7 or STATUS != 'D'");
    const node = this.parseOr();
    const t = this.peek();
    if (t.kind !== 'eof') {
      const prev = this.tokens[this.k - 1];
      const adjacentNames =
        prev !== undefined && (prev.kind === 'ident' || prev.kind === 'quoted') && (t.kind === 'ident' || t.kind === 'number');
      throw new ExprSyntaxError(
        `unexpected ${describe(t)} — expected an operator or the end of the expression`,
        t.start,
        adjacentNames
          ? BACKQUOTE_HINT
          : t.kind === 'rparen'
            ? "this ')' has no '(' to close"
            : 'join values with an operator such as = + & and, or call a function like if(c, a, b)',
      );
    }
    return node;
  }

  // ---- token helpers

  private peek(): Token {
    // tokenize always ends with eof, and we never move past it
    return this.tokens[this.k] ?? this.tokens[this.tokens.length - 1]!;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.k++;
    return t;
  }

  private isKeyword(t: Token, word: string): boolean {
    return t.kind === 'ident' && t.value.toLowerCase() === word;
  }

  private isOp(t: Token, op: OpToken): boolean {
    return t.kind === 'op' && t.value === op;
  }

  // ---- node helpers

  private abs(p: Pos): { line: number; column: number } {
    // A multi-line expression survives YAML only as a block scalar, whose lines all share the
    // first line's indentation, so every line is offset by the starting column.
    return { line: this.origin.line + p.line, column: this.origin.column + p.col };
  }

  private textOf(start: Pos, endOffset: number): string {
    return this.chars.slice(start.offset, endOffset).join('').replace(/\s+/g, ' ').trim();
  }

  private lastEnd(): number {
    return this.tokens[this.k - 1]?.end ?? 0;
  }

  private base(start: Pos): NodeBase {
    const { line, column } = this.abs(start);
    return { text: this.textOf(start, this.lastEnd()), line, column };
  }

  private depthOf(n: ExprNode): number {
    return this.depths.get(n) ?? 1;
  }

  private track<T extends ExprNode>(node: T, start: Pos, ...children: ExprNode[]): T {
    let d = 1;
    for (const c of children) d = Math.max(d, this.depthOf(c) + 1);
    if (d > MAX_DEPTH)
      throw new ExprSyntaxError(
        `the expression is too long or too deeply nested (more than ${MAX_DEPTH} levels)`,
        start,
        'split it into simpler fields, or use coalesce()/concat() with many arguments instead of long chains',
      );
    this.depths.set(node, d);
    return node;
  }

  private enter(at: Pos): void {
    if (++this.depth > MAX_DEPTH)
      throw new ExprSyntaxError(
        `the expression is nested too deeply (more than ${MAX_DEPTH} levels)`,
        at,
        'remove redundant parentheses, or split it into simpler fields',
      );
  }

  private leave(): void {
    this.depth--;
  }

  // ---- grammar

  private parseOr(): ExprNode {
    const start = this.peek().start;
    let left = this.parseAnd();
    while (this.isKeyword(this.peek(), 'or')) {
      this.next();
      const right = this.parseAnd();
      left = this.track({ kind: 'logical', op: 'or', left, right, ...this.base(start) }, start, left, right);
    }
    return left;
  }

  private parseAnd(): ExprNode {
    const start = this.peek().start;
    let left = this.parseNot();
    while (this.isKeyword(this.peek(), 'and')) {
      this.next();
      const right = this.parseNot();
      left = this.track({ kind: 'logical', op: 'and', left, right, ...this.base(start) }, start, left, right);
    }
    return left;
  }

  private parseNot(): ExprNode {
    const t = this.peek();
    if (this.isKeyword(t, 'not')) {
      this.next();
      this.enter(t.start);
      const operand = this.parseNot();
      this.leave();
      return this.track({ kind: 'not', operand, ...this.base(t.start) }, t.start, operand);
    }
    return this.parseComparison();
  }

  private parseComparison(): ExprNode {
    const start = this.peek().start;
    const left = this.parseConcat();
    const t = this.peek();
    const op = t.kind === 'op' ? COMPARE.get(t.value) : undefined;
    if (op === undefined) return left;
    this.next();
    const right = this.parseConcat();
    const again = this.peek();
    if (again.kind === 'op' && COMPARE.has(again.value))
      throw new ExprSyntaxError(
        `comparisons cannot be chained: unexpected '${again.value}' after ${this.textOf(start, this.lastEnd())}`,
        again.start,
        "combine comparisons with and, e.g. 0 < QTY and QTY < 10; compare a condition's result with parentheses",
      );
    return this.track({ kind: 'compare', op, left, right, ...this.base(start) }, start, left, right);
  }

  private parseConcat(): ExprNode {
    const start = this.peek().start;
    let left = this.parseAdditive();
    while (this.isOp(this.peek(), '&')) {
      this.next();
      const right = this.parseAdditive();
      left = this.track({ kind: 'concat', left, right, ...this.base(start) }, start, left, right);
    }
    return left;
  }

  private parseAdditive(): ExprNode {
    const start = this.peek().start;
    let left = this.parseMultiplicative();
    for (;;) {
      const t = this.peek();
      if (!this.isOp(t, '+') && !this.isOp(t, '-')) return left;
      this.next();
      const right = this.parseMultiplicative();
      const op = t.value as ArithOp;
      left = this.track({ kind: 'arith', op, left, right, ...this.base(start) }, start, left, right);
    }
  }

  private parseMultiplicative(): ExprNode {
    const start = this.peek().start;
    let left = this.parseUnary();
    for (;;) {
      const t = this.peek();
      if (!this.isOp(t, '*') && !this.isOp(t, '/') && !this.isOp(t, '%')) return left;
      this.next();
      const right = this.parseUnary();
      const op = t.value as ArithOp;
      left = this.track({ kind: 'arith', op, left, right, ...this.base(start) }, start, left, right);
    }
  }

  private parseUnary(): ExprNode {
    const t = this.peek();
    if (this.isOp(t, '-')) {
      this.next();
      this.enter(t.start);
      const operand = this.parseUnary();
      this.leave();
      // -3 is a literal, not an operation on one
      if (operand.kind === 'literal' && typeof operand.value === 'object' && operand.value !== null) {
        const v = operand.value.neg();
        return this.track({ kind: 'literal', value: v.isZero() ? ZERO : v, ...this.base(t.start) }, t.start);
      }
      return this.track({ kind: 'negate', operand, ...this.base(t.start) }, t.start, operand);
    }
    return this.parsePrimary();
  }

  private parsePrimary(): ExprNode {
    const t = this.peek();
    switch (t.kind) {
      case 'number': {
        this.next();
        return this.track({ kind: 'literal', value: parseDecimalLiteral(t.value), ...this.base(t.start) }, t.start);
      }
      case 'string': {
        this.next();
        // an empty string is a missing value, everywhere (SPEC section 4)
        return this.track({ kind: 'literal', value: t.value === '' ? null : t.value, ...this.base(t.start) }, t.start);
      }
      case 'quoted': {
        this.next();
        return this.track({ kind: 'column', name: t.value, ...this.base(t.start) }, t.start);
      }
      case 'lparen': {
        this.next();
        this.enter(t.start);
        const inner = this.parseOr();
        this.leave();
        const close = this.peek();
        if (close.kind !== 'rparen') this.failClose(t, close);
        this.next();
        return inner;
      }
      case 'ident':
        return this.parseName(t);
      default:
        throw new ExprSyntaxError(`unexpected ${describe(t)} — expected a value`, t.start, this.valueHint(t));
    }
  }

  private valueHint(t: Token): string {
    if (t.kind === 'eof') return 'the expression ends where a value should follow; finish it or remove the trailing operator';
    if (t.kind === 'rparen' || t.kind === 'comma') return 'a value is missing here; remove the extra separator or fill in the value';
    if (this.isOp(t, '+')) return 'numbers are written without a plus sign';
    return 'a value is a column (ITEMNO, or `Any header` in backquotes), a number, a \'string\', true, false, null, a function call or (...)';
  }

  private failClose(open: Token, got: Token): never {
    const { line, column } = this.abs(open.start);
    if (got.kind === 'eof')
      throw new ExprSyntaxError(`missing ')' — the '(' at ${line}:${column} is not closed`, got.start, "add the closing ')'");
    throw new ExprSyntaxError(
      `unexpected ${describe(got)} — expected ')' to close the '(' at ${line}:${column}`,
      got.start,
      got.kind === 'ident' || got.kind === 'quoted' ? BACKQUOTE_HINT : "add an operator between the values or the missing ')'",
    );
  }

  private parseName(t: Token): ExprNode {
    const word = t.value.toLowerCase();
    const after = this.tokens[this.k + 1];
    const isCall = after !== undefined && after.kind === 'lparen';

    if (isCall && !(KEYWORDS.has(word) && word !== 'if')) return this.parseCall(t);

    if (word === 'true' || word === 'false') {
      this.next();
      return this.track({ kind: 'literal', value: word === 'true', ...this.base(t.start) }, t.start);
    }
    if (word === 'null') {
      this.next();
      return this.track({ kind: 'literal', value: null, ...this.base(t.start) }, t.start);
    }
    if (word === 'if')
      throw new ExprSyntaxError("'if' needs its arguments: if(condition, then, else)", t.start, `for a column named ${t.value}, write \`${t.value}\``);
    if (KEYWORDS.has(word))
      throw new ExprSyntaxError(
        `unexpected '${t.value}' — expected a value`,
        t.start,
        word === 'not'
          ? 'put the condition in parentheses: (not X)'
          : `'${word}' joins two conditions and needs one on each side; for a column named ${t.value}, write \`${t.value}\``,
      );
    this.next();
    return this.track({ kind: 'column', name: t.value, ...this.base(t.start) }, t.start);
  }

  private parseCall(nameTok: Token): ExprNode {
    const lower = nameTok.value.toLowerCase();
    const fn = FUNCTIONS.has(lower as FunctionName) ? (lower as FunctionName) : undefined;
    if (fn === undefined) {
      const suggestion = suggestFunction(nameTok.value);
      const known = [...FUNCTIONS.keys()].join(', ');
      throw new ExprSyntaxError(
        `unknown function '${nameTok.value}'${suggestion === undefined ? '' : ` — did you mean ${suggestion}()?`}`,
        nameTok.start,
        `${suggestion === undefined ? '' : `${FUNCTIONS.get(suggestion)?.usage ?? suggestion}. `}The functions are ${known}`,
      );
    }
    const info = FUNCTIONS.get(fn)!;
    this.next(); // name
    const open = this.next(); // (
    this.enter(open.start);
    const args: ExprNode[] = [];
    if (this.peek().kind !== 'rparen') {
      for (;;) {
        args.push(this.parseOr());
        const t = this.peek();
        if (t.kind === 'comma') {
          this.next();
          continue;
        }
        if (t.kind === 'rparen') break;
        if (t.kind === 'eof') this.failClose(open, t);
        throw new ExprSyntaxError(
          `unexpected ${describe(t)} — expected ',' or ')' in ${fn}()`,
          t.start,
          t.kind === 'ident' || t.kind === 'quoted' ? BACKQUOTE_HINT : `separate the arguments with commas: ${info.usage}`,
        );
      }
    }
    this.next(); // )
    this.leave();
    if (args.length < info.min || args.length > info.max) {
      const want =
        info.min === info.max
          ? `${info.min} argument${info.min === 1 ? '' : 's'}`
          : info.max === Infinity
            ? `at least ${info.min} argument${info.min === 1 ? '' : 's'}`
            : `${info.min} to ${info.max} arguments`;
      throw new ExprSyntaxError(`${fn}() takes ${want}, got ${args.length}`, nameTok.start, `write ${info.usage}`);
    }
    return this.track({ kind: 'call', name: fn, args, ...this.base(nameTok.start) }, nameTok.start, ...args);
  }
}

/** Parses expression text; throws ExprSyntaxError with a position relative to the text. */
export function parse(text: string, origin: ParseOrigin): ExprNode {
  return new Parser(text, origin).parse();
}
