/**
 * Lexer for the mapping expression language (SPEC section 4, `expr:` and `filter:`).
 *
 * Works on code points, so a column like `Größe` or an emoji in a string counts as one column per
 * character, the way an editor shows it. Positions are relative to the expression text (line and
 * column 0-based); parseExpression turns them into absolute YAML positions.
 */

export type TokenKind = 'number' | 'string' | 'ident' | 'quoted' | 'op' | 'lparen' | 'rparen' | 'comma' | 'eof';

export type OpToken = '=' | '==' | '!=' | '<>' | '<' | '<=' | '>' | '>=' | '&' | '+' | '-' | '*' | '/' | '%';

export interface Pos {
  /** Code point offset into the expression text. */
  offset: number;
  /** 0-based line within the expression text. */
  line: number;
  /** 0-based code point column within that line. */
  col: number;
}

export interface Token {
  kind: TokenKind;
  /** number: its digits; string: the unescaped text; ident: the name; quoted: the name; op/punct: the operator. */
  value: string;
  /** The token as written. */
  raw: string;
  start: Pos;
  /** Offset just past the token. */
  end: number;
}

/** A syntax problem at a position relative to the expression text; parseExpression makes it a ConfigError. */
export class ExprSyntaxError extends Error {
  constructor(
    message: string,
    readonly pos: Pos,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'ExprSyntaxError';
  }
}

const IDENT_START = /^[\p{L}_]$/u;
const IDENT_PART = /^[\p{L}\p{M}\p{Nd}_]$/u;
const DIGIT = /^[0-9]$/;
const SPACE = /^\s$/u;

export const BACKQUOTE_HINT = 'a column name with spaces, symbols or a keyword\'s spelling goes in backquotes, e.g. `Air temperature [K]`';

function showChar(c: string): string {
  const cp = c.codePointAt(0) ?? 0;
  if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  return `'${c}'`;
}

export function tokenize(text: string): Token[] {
  const chars = Array.from(text);
  const tokens: Token[] = [];
  let i = 0;
  let line = 0;
  let lineStart = 0;

  const posAt = (offset: number): Pos => ({ offset, line, col: offset - lineStart });
  const at = (k: number): string => chars[k] ?? '';
  const slice = (a: number, b: number): string => chars.slice(a, b).join('');

  while (i < chars.length) {
    const c = at(i);

    if (c === '\r' || c === '\n') {
      i += c === '\r' && at(i + 1) === '\n' ? 2 : 1;
      line++;
      lineStart = i;
      continue;
    }
    if (SPACE.test(c)) {
      i++;
      continue;
    }

    const start = posAt(i);

    // numbers: 7, 0.5, 7., .5 (no exponents, no signs: '-' is the unary operator)
    if (DIGIT.test(c) || (c === '.' && DIGIT.test(at(i + 1)))) {
      let j = i;
      while (DIGIT.test(at(j))) j++;
      if (at(j) === '.') {
        j++;
        while (DIGIT.test(at(j))) j++;
      }
      if (at(j) === '.' || IDENT_PART.test(at(j))) {
        let k = j;
        while (at(k) === '.' || IDENT_PART.test(at(k))) k++;
        throw new ExprSyntaxError(
          `'${slice(i, k)}' is not a number`,
          start,
          `numbers are written like 7, 0.5 or -3 (a point for decimals, no thousands separators or exponents); ${BACKQUOTE_HINT}`,
        );
      }
      const raw = slice(i, j);
      tokens.push({ kind: 'number', value: raw, raw, start, end: j });
      i = j;
      continue;
    }

    // strings: "..." or '...' with \" \' \\ \n \t
    if (c === '"' || c === "'") {
      let j = i + 1;
      let value = '';
      let closed = false;
      while (j < chars.length) {
        const d = at(j);
        if (d === c) {
          closed = true;
          j++;
          break;
        }
        if (d === '\\') {
          const e = at(j + 1);
          const escPos: Pos = { offset: j, line, col: j - lineStart };
          if (e === '"' || e === "'" || e === '\\') value += e;
          else if (e === 'n') value += '\n';
          else if (e === 't') value += '\t';
          else if (e === '')
            throw new ExprSyntaxError('string is not closed', start, `end the string with a matching ${c}`);
          else
            throw new ExprSyntaxError(
              `unknown escape '\\${e}' in a string`,
              escPos,
              'the escapes are \\" \\\' \\\\ \\n and \\t; write a backslash itself as \\\\',
            );
          j += 2;
          continue;
        }
        if (d === '\r' || d === '\n') {
          // keep the line count right for positions after a multi-line string
          const crlf = d === '\r' && at(j + 1) === '\n';
          value += crlf ? '\r\n' : d;
          j += crlf ? 2 : 1;
          line++;
          lineStart = j;
          continue;
        }
        value += d;
        j++;
      }
      if (!closed) throw new ExprSyntaxError('string is not closed', start, `end the string with a matching ${c}`);
      tokens.push({ kind: 'string', value, raw: slice(i, j), start, end: j });
      i = j;
      continue;
    }

    // backquoted column names: `Air temperature [K]`, a backquote inside is written twice
    if (c === '`') {
      let j = i + 1;
      let name = '';
      let closed = false;
      while (j < chars.length) {
        const d = at(j);
        if (d === '`') {
          if (at(j + 1) === '`') {
            name += '`';
            j += 2;
            continue;
          }
          closed = true;
          j++;
          break;
        }
        if (d === '\r' || d === '\n') break;
        name += d;
        j++;
      }
      if (!closed)
        throw new ExprSyntaxError('column name in backquotes is not closed', start, 'end the column name with a backquote ` on the same line');
      if (name === '') throw new ExprSyntaxError('empty column name ``', start, 'put the column header between the backquotes');
      tokens.push({ kind: 'quoted', value: name, raw: slice(i, j), start, end: j });
      i = j;
      continue;
    }

    if (IDENT_START.test(c)) {
      let j = i + 1;
      while (IDENT_PART.test(at(j))) j++;
      const raw = slice(i, j);
      tokens.push({ kind: 'ident', value: raw, raw, start, end: j });
      i = j;
      continue;
    }

    const two = c + at(i + 1);
    const push = (kind: TokenKind, value: string): void => {
      tokens.push({ kind, value, raw: value, start, end: i + value.length });
      i += value.length;
    };
    switch (two) {
      case '==':
      case '!=':
      case '<>':
      case '<=':
      case '>=':
        push('op', two);
        continue;
      case '&&':
        throw new ExprSyntaxError("'&&' is not an operator", start, "write 'and' to combine conditions; a single & joins text");
      case '||':
        throw new ExprSyntaxError("'||' is not an operator", start, "write 'or' to combine conditions; & joins text");
    }
    switch (c) {
      case '=':
      case '<':
      case '>':
      case '&':
      case '+':
      case '-':
      case '*':
      case '/':
      case '%':
        push('op', c);
        continue;
      case '(':
        push('lparen', c);
        continue;
      case ')':
        push('rparen', c);
        continue;
      case ',':
        push('comma', c);
        continue;
      case '!':
        throw new ExprSyntaxError("'!' is not an operator", start, "write 'not' to negate a condition, or != for 'not equal'");
      case '|':
        throw new ExprSyntaxError("'|' is not an operator", start, "write 'or' to combine conditions; & joins text");
    }
    throw new ExprSyntaxError(`unexpected character ${showChar(c)}`, start, BACKQUOTE_HINT);
  }

  const endPos = posAt(chars.length);
  tokens.push({ kind: 'eof', value: '', raw: '', start: endPos, end: chars.length });
  return tokens;
}
