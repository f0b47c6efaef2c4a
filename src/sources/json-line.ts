/**
 * One line of JSON Lines: a strict JSON object scanner that keeps each top-level value's text,
 * so numbers reach the mapping exactly as written (JSON.parse would turn 0.1000000000000000055
 * into 0.1 and 12345678901234567890 into 12345678901234567000).
 */
import type { Cell } from './types.js';

export class JsonLineError extends Error {
  constructor(
    message: string,
    /** 0-based index into the line. */
    readonly index: number,
  ) {
    super(message);
    this.name = 'JsonLineError';
  }
}

/** The top-level members of a JSON object line, as [key, cell] pairs in order of appearance. */
export type JsonMembers = [string, Cell][];

const Ch = {
  Tab: 9,
  Lf: 10,
  Cr: 13,
  Space: 32,
  Quote: 34,
  Plus: 43,
  Comma: 44,
  Minus: 45,
  Dot: 46,
  Zero: 48,
  Nine: 57,
  Colon: 58,
  E: 69,
  LBracket: 91,
  Backslash: 92,
  RBracket: 93,
  e: 101,
  LBrace: 123,
  RBrace: 125,
} as const;

class Scanner {
  i = 0;
  constructor(readonly s: string) {}

  fail(message: string, at = this.i): never {
    throw new JsonLineError(message, at);
  }

  ws(): void {
    const s = this.s;
    let i = this.i;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === Ch.Space || c === Ch.Tab || c === Ch.Lf || c === Ch.Cr) i++;
      else break;
    }
    this.i = i;
  }

  describe(at: number): string {
    return at >= this.s.length ? 'end of line' : JSON.stringify(this.s[at]);
  }

  /** Scans a string; returns its decoded value. */
  string(): string {
    const s = this.s;
    const start = this.i;
    if (s.charCodeAt(start) !== Ch.Quote) this.fail(`expected a string, found ${this.describe(start)}`);
    let i = start + 1;
    let escaped = false;
    for (;;) {
      if (i >= s.length) this.fail('string is not closed', start);
      const c = s.charCodeAt(i);
      if (c === Ch.Quote) break;
      if (c < 0x20) this.fail('control character in a string (write it as \\n, \\t, \\u00XX)', i);
      if (c === Ch.Backslash) {
        escaped = true;
        const n = s[i + 1];
        if (n === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) this.fail('bad \\u escape', i);
          i += 6;
          continue;
        }
        if (n === undefined || !'"\\/bfnrt'.includes(n)) this.fail(`bad escape \\${n ?? ''}`, i);
        i += 2;
        continue;
      }
      i++;
    }
    this.i = i + 1;
    const body = s.slice(start + 1, i);
    return escaped ? (JSON.parse(s.slice(start, i + 1)) as string) : body;
  }

  number(): void {
    const s = this.s;
    let i = this.i;
    const start = i;
    if (s.charCodeAt(i) === Ch.Minus) i++;
    const digits = (): number => {
      const from = i;
      while (i < s.length && s.charCodeAt(i) >= Ch.Zero && s.charCodeAt(i) <= Ch.Nine) i++;
      return i - from;
    };
    const intStart = i;
    const n = digits();
    if (n === 0) this.fail(`unexpected ${this.describe(start)}`, start);
    if (n > 1 && s.charCodeAt(intStart) === Ch.Zero) this.fail('number with a leading zero', intStart);
    if (s.charCodeAt(i) === Ch.Dot) {
      i++;
      if (digits() === 0) this.fail('number needs digits after the decimal point', i);
    }
    const c = s.charCodeAt(i);
    if (c === Ch.e || c === Ch.E) {
      i++;
      const sign = s.charCodeAt(i);
      if (sign === Ch.Plus || sign === Ch.Minus) i++;
      if (digits() === 0) this.fail('number needs digits in its exponent', i);
    }
    this.i = i;
  }

  literal(word: string): void {
    if (this.s.startsWith(word, this.i)) this.i += word.length;
    else this.fail(`unexpected ${this.describe(this.i)}`);
  }

  /** Any value; nested objects and arrays are validated. */
  value(depth: number): void {
    if (depth > 512) this.fail('nested too deep');
    this.ws();
    const c = this.s.charCodeAt(this.i);
    if (c === Ch.Quote) this.string();
    else if (c === Ch.LBrace) this.container(Ch.RBrace, depth);
    else if (c === Ch.LBracket) this.container(Ch.RBracket, depth);
    else if (c === Ch.Minus || (c >= Ch.Zero && c <= Ch.Nine)) this.number();
    else if (c === 116) this.literal('true');
    else if (c === 102) this.literal('false');
    else if (c === 110) this.literal('null');
    else this.fail(`unexpected ${this.describe(this.i)}`);
  }

  container(close: number, depth: number): void {
    const isObject = close === Ch.RBrace;
    this.i++;
    this.ws();
    if (this.s.charCodeAt(this.i) === close) {
      this.i++;
      return;
    }
    for (;;) {
      if (isObject) {
        this.ws();
        this.string();
        this.ws();
        if (this.s.charCodeAt(this.i) !== Ch.Colon) this.fail(`expected ':' after a key, found ${this.describe(this.i)}`);
        this.i++;
      }
      this.value(depth + 1);
      this.ws();
      const c = this.s.charCodeAt(this.i);
      if (c === Ch.Comma) {
        this.i++;
        continue;
      }
      if (c === close) {
        this.i++;
        return;
      }
      this.fail(`expected ',' or '${isObject ? '}' : ']'}', found ${this.describe(this.i)}`);
    }
  }
}

/** `text` without whitespace outside strings (nested values are passed on compact, numbers intact). */
function compact(text: string): string {
  let out = '';
  let from = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === Ch.Backslash) i++;
      else if (c === Ch.Quote) inString = false;
      continue;
    }
    if (c === Ch.Quote) inString = true;
    else if (c === Ch.Space || c === Ch.Tab || c === Ch.Lf || c === Ch.Cr) {
      out += text.slice(from, i);
      from = i + 1;
    }
  }
  return from === 0 ? text : out + text.slice(from);
}

/**
 * Parse one JSON Lines line that must hold an object. Values become cells: strings as they are,
 * numbers as written, true/false as text, null as null, objects and arrays as compact JSON text.
 * Throws JsonLineError with the index of the problem.
 */
export function parseJsonObjectLine(line: string): JsonMembers {
  const sc = new Scanner(line);
  sc.ws();
  if (line.charCodeAt(sc.i) !== Ch.LBrace) {
    if (sc.i < line.length) {
      // Tell a valid non-object apart from broken JSON.
      const at = sc.i;
      sc.value(0);
      sc.ws();
      if (sc.i < line.length) sc.fail(`unexpected ${sc.describe(sc.i)} after the value`);
      sc.fail('each line must be a JSON object ({...}), found ' + (line[at] === '[' ? 'an array' : 'a single value'), at);
    }
    sc.fail('empty line');
  }
  sc.i++;
  const members: JsonMembers = [];
  sc.ws();
  if (line.charCodeAt(sc.i) === Ch.RBrace) {
    sc.i++;
  } else {
    for (;;) {
      sc.ws();
      const key = sc.string();
      sc.ws();
      if (line.charCodeAt(sc.i) !== Ch.Colon) sc.fail(`expected ':' after key ${JSON.stringify(key)}, found ${sc.describe(sc.i)}`);
      sc.i++;
      sc.ws();
      const start = sc.i;
      const c = line.charCodeAt(start);
      let cell: Cell;
      if (c === Ch.Quote) cell = sc.string();
      else if (c === 110) {
        sc.literal('null');
        cell = null;
      } else if (c === 116) {
        sc.literal('true');
        cell = 'true';
      } else if (c === 102) {
        sc.literal('false');
        cell = 'false';
      } else {
        sc.value(1);
        const raw = line.slice(start, sc.i);
        cell = c === Ch.LBrace || c === Ch.LBracket ? compact(raw) : raw;
      }
      members.push([key, cell]);
      sc.ws();
      const d = line.charCodeAt(sc.i);
      if (d === Ch.Comma) {
        sc.i++;
        continue;
      }
      if (d === Ch.RBrace) {
        sc.i++;
        break;
      }
      sc.fail(`expected ',' or '}', found ${sc.describe(sc.i)}`);
    }
  }
  sc.ws();
  if (sc.i < line.length) sc.fail(`unexpected ${sc.describe(sc.i)} after the object`);
  return members;
}
