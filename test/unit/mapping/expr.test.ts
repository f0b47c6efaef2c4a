import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, ForkliftError } from '../../../src/core/errors.js';
import {
  ExprRuntimeError,
  columnsOf,
  compileCondition,
  compileExpression,
  parseExpression,
  type ExprSource,
  type ExprValue,
} from '../../../src/mapping/expr/index.js';

const W: ExprSource = { file: 'mappings/items.yaml', line: 12, column: 10 };

type Row = Record<string, string | null> | Map<string, string | null>;

/** Evaluates src against a row given by column name (a Map for names like __proto__). */
function run(src: string, row: Row = {}): ExprValue {
  const entries = row instanceof Map ? [...row.entries()] : Object.entries(row);
  const header = entries.map(([k]) => k);
  const cells = entries.map(([, v]) => v);
  const node = parseExpression(src, W);
  const f = compileExpression(node, (name) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`test row lacks column ${name}`);
    return i;
  });
  return f(cells);
}

/** The value as a plain decimal string, asserting it is a Decimal. */
function num(src: string, row: Row = {}): string {
  const v = run(src, row);
  if (!(v instanceof Decimal)) throw new Error(`${src} gave ${String(v)}, not a Decimal`);
  return v.toFixed();
}

function parseError(src: string, where: ExprSource = W): ConfigError {
  try {
    parseExpression(src, where);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error(`expected ${JSON.stringify(src)} not to parse`);
}

function runtimeError(src: string, row: Row = {}): ExprRuntimeError {
  try {
    run(src, row);
  } catch (e) {
    if (e instanceof ExprRuntimeError) return e;
    throw e;
  }
  throw new Error(`expected ${JSON.stringify(src)} to fail at run time`);
}

describe('literals', () => {
  it('reads numbers as exact decimals', () => {
    expect(num('7')).toBe('7');
    expect(num('0.5')).toBe('0.5');
    expect(num('.5')).toBe('0.5');
    expect(num('-3')).toBe('-3');
    expect(num('- 3')).toBe('-3');
    expect(num('-0')).toBe('0');
    expect(num('123456789012345678901234567890.000000000000000000001')).toBe(
      '123456789012345678901234567890.000000000000000000001',
    );
    // values are plain decimal.js instances, not a private clone
    expect((run('7') as Decimal).constructor).toBe(Decimal);
  });

  it('reads strings in either quote with escapes', () => {
    expect(run('"abc"')).toBe('abc');
    expect(run("'abc'")).toBe('abc');
    expect(run(String.raw`"say \"hi\""`)).toBe('say "hi"');
    expect(run(String.raw`'it\'s'`)).toBe("it's");
    expect(run(String.raw`"a\\b"`)).toBe('a\\b');
    expect(run(String.raw`"a\nb\tc"`)).toBe('a\nb\tc');
    expect(run(`"it's"`)).toBe("it's");
    expect(run(`'say "hi"'`)).toBe('say "hi"');
  });

  it('reads true, false and null in any case', () => {
    expect(run('true')).toBe(true);
    expect(run('FALSE')).toBe(false);
    expect(run('True')).toBe(true);
    expect(run('null')).toBe(null);
    expect(run('NULL')).toBe(null);
  });

  it('treats an empty string literal as missing', () => {
    expect(run('""')).toBe(null);
    expect(run("''")).toBe(null);
  });
});

describe('precedence and associativity', () => {
  it('orders arithmetic', () => {
    expect(num('1 + 2 * 3')).toBe('7');
    expect(num('(1 + 2) * 3')).toBe('9');
    expect(num('10 - 4 - 3')).toBe('3');
    expect(num('24 / 4 / 2')).toBe('3');
    expect(num('2 * 7 % 4')).toBe('2');
    expect(num('7 % 4 * 2')).toBe('6');
    expect(num('-2 * 3')).toBe('-6');
    expect(num('-(2 + 3) * 2')).toBe('-10');
    expect(num('--2')).toBe('2');
    expect(num('2 - -2')).toBe('4');
  });

  it('puts & below + and above comparisons', () => {
    expect(run('1 + 2 & 3 + 4')).toBe('37');
    expect(run('"a" & 1 + 2 = "a3"')).toBe(true);
    expect(run('"1" & "0" > 9')).toBe(true); // ("1" & "0") > 9 -> 10 > 9
  });

  it('orders or < and < not < comparisons', () => {
    expect(run('true or false and false')).toBe(true);
    expect(run('(true or false) and false')).toBe(false);
    expect(run('not 1 = 2')).toBe(true);
    expect(run('not true or true')).toBe(true);
    expect(run('not (true or true)')).toBe(false);
    expect(run('not not true')).toBe(true);
    expect(run('1 < 2 and 2 < 3')).toBe(true);
    expect(run('1 = 1 or 1 / 0 = 1')).toBe(true); // short-circuit
    expect(run('1 = 2 and 1 / 0 = 1')).toBe(false);
  });

  it('takes keywords and function names in any case, column names as written', () => {
    expect(run('TRUE AND NOT False Or false')).toBe(true);
    expect(run('IF(true, UPPER("a"), "b")')).toBe('A');
    expect(run('Coalesce(null, 1) = 1')).toBe(true);
    expect(run('qty & QTY', { qty: 'lower', QTY: 'UPPER' })).toBe('lowerUPPER');
  });

  it('does not chain comparisons', () => {
    const e = parseError('1 < 2 < 3');
    expect(e.message).toBe("mappings/items.yaml:12:16 expression: comparisons cannot be chained: unexpected '<' after 1 < 2");
    expect(e.hint).toMatch(/and/);
    expect(run('(1 < 2) = true')).toBe(true);
  });
});

describe('comparisons', () => {
  it('compares as numbers when either side is a number, reading text on the other side as one', () => {
    expect(run('QTY > 9', { QTY: '10' })).toBe(true);
    expect(run('QTY = 10', { QTY: '10.000' })).toBe(true);
    expect(run('QTY == 10', { QTY: ' 10 ' })).toBe(true);
    expect(run('QTY <> 10', { QTY: '+10.' })).toBe(false);
    expect(run('QTY >= -0.5', { QTY: '-.5' })).toBe(true);
    expect(run('QTY < 0', { QTY: '-0.0001' })).toBe(true);
    expect(run('QTY <= 5', { QTY: '5' })).toBe(true);
    // a number is a literal, arithmetic or a numeric function's result
    expect(run('number(QTY) > "9"', { QTY: '10' })).toBe(true);
    expect(run('QTY * 1 = B', { QTY: '007', B: '7.0' })).toBe(true);
    expect(run('number(A) = number(B)', { A: '007', B: '7' })).toBe(true);
    expect(run('len(A) = "3"', { A: 'abc' })).toBe(true);
    expect(run('coalesce(A, 0) < 5', { A: '4.5' })).toBe(true);
    expect(run('"1" & "0" > 9')).toBe(true);
  });

  it('compares text against text exactly, even when it looks like numbers', () => {
    // item numbers 0100, 100, 100.0 and +100 are four items: ITEMNO != "0100" dropped all four
    for (const item of ['100', '100.0', '+100', ' 0100', '0101']) expect(run('ITEMNO != "0100"', { ITEMNO: item }), item).toBe(true);
    expect(run('ITEMNO != "0100"', { ITEMNO: '0100' })).toBe(false);
    expect(run('ITEMNO = "100"', { ITEMNO: '100.0' })).toBe(false);
    expect(run('upper(A) = "1E3"', { A: '1e3' })).toBe(true);
    expect(run('trim(A) = "7"', { A: ' 007 ' })).toBe(false);
    expect(run('A & "" = "7"', { A: '7.0' })).toBe(false);
    // order against a "string" is code point order: '10' < '9'
    expect(run('QTY > "9"', { QTY: '10' })).toBe(false);
  });

  it('two cells that both read as numbers compare as numbers (SHIPPED > ORDERED), others as text', () => {
    expect(run('SHIPPED > ORDERED', { SHIPPED: '10', ORDERED: '9' })).toBe(true);
    expect(run('A = B', { A: '007', B: '7' })).toBe(true);
    expect(run('A != B', { A: '1.50', B: '1.5' })).toBe(false);
    expect(run('A < B', { A: '10', B: 'n/a' })).toBe(true);
    expect(run('A = B', { A: 'ab', B: 'ab' })).toBe(true);
  });

  it('compares anything else as text, by code point', () => {
    expect(run('A > B', { A: 'B', B: 'A' })).toBe(true);
    expect(run('"a" > "Z"')).toBe(true);
    expect(run('"abc" < "abd"')).toBe(true);
    expect(run('"ab" < "abc"')).toBe(true);
    // Order against a number asks for a number: text that is none is an error, not text order.
    expect(runtimeError('QTY > 5', { QTY: 'abc' }).message).toBe("QTY is 'abc', not a number, so it has no order against 5");
    expect(runtimeError('0 < A', { A: '(5)' }).message).toBe("A is '(5)', not a number, so it has no order against 0");
    expect(runtimeError('A >= B * 2', { A: '5,0', B: '1' }).message).toMatch(/^A is '5,0', not a number/);
    expect(run('QTY > "5"', { QTY: 'abc' })).toBe(true); // two texts: code point order
    expect(run('QTY = 5', { QTY: 'abc' })).toBe(false); // equality needs no order
    expect(run('CODE = "A1"', { CODE: 'A1' })).toBe(true);
    expect(run('CODE = "a1"', { CODE: 'A1' })).toBe(false);
    expect(run('CODE = "A1"', { CODE: 'A1 ' })).toBe(false);
    expect(run('"1e3" = "1000"')).toBe(false); // no exponents: text
    expect(run('"1,5" = 1.5')).toBe(false);
    // U+1F600 is above U+FFFD although its UTF-16 units are not
    expect(run('A > B', { A: '\u{1F600}', B: '\uFFFD' })).toBe(true);
    expect(run('true = "true"')).toBe(true);
    expect(run('true = true')).toBe(true);
    expect(run('true != false')).toBe(true);
  });
});

describe('missing values', () => {
  const none = { STATUS: null, QTY: null };

  it('treats an absent or empty cell as null', () => {
    expect(run('STATUS', { STATUS: null })).toBe(null);
    expect(run('STATUS', { STATUS: '' })).toBe(null);
    expect(run('STATUS', { STATUS: ' ' })).toBe(' ');
    expect(run('isnull(STATUS)', { STATUS: '' })).toBe(true);
    // a short row: the cell is not there at all
    const f = compileExpression(parseExpression('isnull(B)', W), () => 5);
    expect(f(['a'])).toBe(true);
  });

  it('is equal only to null and unequal to everything else', () => {
    expect(run('STATUS != "D"', none)).toBe(true);
    expect(run('STATUS <> "D"', none)).toBe(true);
    expect(run('STATUS = "D"', none)).toBe(false);
    expect(run('STATUS = null', none)).toBe(true);
    expect(run('STATUS != null', none)).toBe(false);
    expect(run('STATUS = ""', none)).toBe(true);
    expect(run('STATUS = null', { STATUS: 'D' })).toBe(false);
    expect(run('STATUS != null', { STATUS: 'D' })).toBe(true);
    expect(run('null = null')).toBe(true);
  });

  it('has no order', () => {
    for (const op of ['<', '<=', '>', '>=']) {
      expect(run(`QTY ${op} 5`, none)).toBe(false);
      expect(run(`5 ${op} QTY`, none)).toBe(false);
      expect(run(`null ${op} null`)).toBe(false);
    }
  });

  it('propagates through arithmetic, but bad data on the other side still fails', () => {
    expect(run('QTY + 1', none)).toBe(null);
    expect(run('QTY * 0', none)).toBe(null);
    expect(run('-QTY', none)).toBe(null);
    expect(run('1 / QTY', none)).toBe(null);
    expect(run('QTY / 0', none)).toBe(null);
    expect(runtimeError('QTY + X', { QTY: null, X: 'abc' }).message).toBe("X is 'abc', not a number");
  });

  it('is false as a condition', () => {
    expect(run('STATUS and true', none)).toBe(false);
    expect(run('STATUS or true', none)).toBe(true);
    expect(run('not STATUS', none)).toBe(true);
    expect(run('if(STATUS, "y", "n")', none)).toBe('n');
  });
});

describe('concatenation', () => {
  it('joins text forms', () => {
    expect(run('A & "-" & B', { A: 'x', B: 'y' })).toBe('x-y');
    expect(run('A & "-" & B', { A: 'x', B: null })).toBe('x-');
    expect(run('A & B', { A: null, B: null })).toBe(null);
    expect(run('"n=" & 1.50')).toBe('n=1.5');
    expect(run('"n=" & 0.0000001')).toBe('n=0.0000001');
    expect(run('"n=" & 123456789012345678901234567890')).toBe('n=123456789012345678901234567890');
    expect(run('"n=" & PRICE', { PRICE: '1.50' })).toBe('n=1.50'); // cells stay as written
    expect(run('"n=" & (PRICE * 1)', { PRICE: '1.50' })).toBe('n=1.5');
    expect(run('"flag " & true & "/" & false')).toBe('flag true/false');
    expect(run('1 & 2')).toBe('12');
  });
});

describe('functions', () => {
  it('if chooses lazily', () => {
    expect(run('if(QTY > 5, "big", "small")', { QTY: '6' })).toBe('big');
    expect(run('if(QTY > 5, "big", "small")', { QTY: '5' })).toBe('small');
    expect(num('if(true, 1, 1 / 0)')).toBe('1');
    expect(num('if(false, 1 / 0, 2)')).toBe('2');
    expect(run('if(false, 1, null)')).toBe(null);
    expect(runtimeError('if(S, 1, 2)', { S: 'A' }).message).toBe("S is 'A', expected true/false");
    expect(runtimeError('if(1 + 1, 1, 2)').message).toBe('1 + 1 is 2, expected true/false');
  });

  it('coalesce takes the first present value, lazily', () => {
    expect(run('coalesce(A, B, "x")', { A: null, B: 'b' })).toBe('b');
    expect(run('coalesce(A, B, "x")', { A: '', B: null })).toBe('x');
    expect(run('coalesce(A, B)', { A: null, B: null })).toBe(null);
    expect(run('coalesce(A)', { A: 'a' })).toBe('a');
    expect(num('coalesce(1, 1 / 0)')).toBe('1');
  });

  it('concat joins any number of values', () => {
    expect(run('concat(A, "/", B, "/", 3, true)', { A: 'a', B: null })).toBe('a//3true');
    expect(run('concat(A)', { A: null })).toBe(null);
  });

  it('upper, lower, trim', () => {
    expect(run('upper(A)', { A: 'straße é' })).toBe('STRASSE É');
    expect(run('lower(A)', { A: 'ÄBC' })).toBe('äbc');
    expect(run('upper(A)', { A: null })).toBe(null);
    expect(run('upper(true)')).toBe('TRUE');
    expect(run('lower(1.5)')).toBe('1.5');
    expect(run('trim(A)', { A: '  a b \t' })).toBe('a b');
    expect(run('trim(A)', { A: '   ' })).toBe(null);
    expect(run('trim(A)', { A: null })).toBe(null);
    expect(run('trim(A) = null', { A: '\u00a0' })).toBe(true);
  });

  it('len counts characters', () => {
    expect(num('len(A)', { A: 'abc' })).toBe('3');
    expect(num('len(A)', { A: 'a😀b' })).toBe('3');
    expect(num('len(A)', { A: null })).toBe('0');
    expect(num('len(12.50)')).toBe('4');
    expect(run('len(A) > 2', { A: 'abc' })).toBe(true);
  });

  it('substr counts from 1', () => {
    expect(run('substr("hello", 2)')).toBe('ello');
    expect(run('substr("hello", 2, 3)')).toBe('ell');
    expect(run('substr("hello", 1, 0)')).toBe(null);
    expect(run('substr("hello", 9)')).toBe(null);
    expect(run('substr("hello", 4, 99)')).toBe('lo');
    expect(run('substr(A, 2, 1)', { A: 'a😀b' })).toBe('😀');
    expect(run('substr(A, 1, 2)', { A: null })).toBe(null);
    expect(run('substr(12345, "2", "2")')).toBe('23');
    expect(runtimeError('substr("abc", 0)').message).toMatch(/start of substr\(\) must be a whole number from 1 up, got 0/);
    expect(runtimeError('substr("abc", 1.5)').message).toMatch(/got 1.5/);
    expect(runtimeError('substr("abc", 1, -1)').message).toMatch(/length of substr\(\)/);
    expect(runtimeError('substr("abc", S)', { S: 'x' }).message).toBe("S is 'x', not a number");
  });

  it('round rounds half away from zero', () => {
    expect(num('round(2.5)')).toBe('3');
    expect(num('round(-2.5)')).toBe('-3');
    expect(num('round(2.4)')).toBe('2');
    expect(num('round(1.005, 2)')).toBe('1.01');
    expect(num('round(X, 2)', { X: '3.14159' })).toBe('3.14');
    expect(num('round(1250, -2)')).toBe('1300');
    expect(num('round(-1249, -2)')).toBe('-1200');
    expect(num('round(7, 3)')).toBe('7');
    expect(run('round(X)', { X: null })).toBe(null);
    expect(run('round(1.5, X)', { X: null })).toBe(null);
    expect(runtimeError('round(1, 0.5)').message).toMatch(/places of round\(\) must be a whole number from -100 to 100/);
    expect(runtimeError('round(X)', { X: 'n/a' }).message).toBe("X is 'n/a', not a number");
  });

  it('abs, number, text', () => {
    expect(num('abs(-2.5)')).toBe('2.5');
    expect(num('abs(X)', { X: '-0' })).toBe('0');
    expect(run('abs(X)', { X: null })).toBe(null);
    expect(num('number(X)', { X: ' 0012.50 ' })).toBe('12.5');
    expect(run('number(X)', { X: null })).toBe(null);
    expect(runtimeError('number(X)', { X: '12,5' }).message).toBe("X is '12,5', not a number");
    expect(runtimeError('number(true)').message).toBe('true is true, not a number');
    expect(run('text(1.50 * 2)')).toBe('3');
    expect(run('text(X)', { X: null })).toBe(null);
    expect(run('text(false)')).toBe('false');
    expect(run('text(X) = "007"', { X: '007' })).toBe(true);
  });

  it('isnull and isempty', () => {
    expect(run('isnull(X)', { X: null })).toBe(true);
    expect(run('isnull(X)', { X: '' })).toBe(true);
    expect(run('isnull(X)', { X: ' ' })).toBe(false);
    expect(run('isnull(X)', { X: '0' })).toBe(false);
    expect(run('isempty(X)', { X: null })).toBe(true);
    expect(run('isempty(X)', { X: ' \t' })).toBe(true);
    expect(run('isempty(X)', { X: 'x' })).toBe(false);
    expect(run('isempty(0)')).toBe(false);
    expect(run('not isnull(X) and X > 5', { X: null })).toBe(false);
  });

  it('checks argument counts when parsing', () => {
    expect(parseError('upper(A, B)').message).toBe('mappings/items.yaml:12:10 expression: upper() takes 1 argument, got 2');
    expect(parseError('if(A, B)').message).toMatch(/if\(\) takes 3 arguments, got 2/);
    expect(parseError('coalesce()').message).toMatch(/coalesce\(\) takes at least 1 argument, got 0/);
    expect(parseError('substr(A)').message).toMatch(/substr\(\) takes 2 to 3 arguments, got 1/);
    expect(parseError('round(1, 2, 3)').hint).toBe('write round(number, [places])');
  });
});

describe('decimal exactness', () => {
  it('adds and multiplies without binary floating point', () => {
    const v = run('0.1 + 0.2');
    expect(v).toBeInstanceOf(Decimal);
    expect((v as Decimal).eq(new Decimal('0.3'))).toBe(true);
    expect(num('0.1 + 0.2')).toBe('0.3');
    expect(run('0.1 + 0.2 = 0.3')).toBe(true);
    expect(num('A + B', { A: '0.1', B: '0.2' })).toBe('0.3');
    expect(num('123456789012345678.123456 * 1')).toBe('123456789012345678.123456');
    expect(num('X * 1', { X: '123456789012345678.123456' })).toBe('123456789012345678.123456');
    expect(num('99999999999999999999.99 + 0.01')).toBe('100000000000000000000');
    expect(num('1.1 * 1.1')).toBe('1.21');
    expect(num('12345678901234567890 * 98765432109876543210')).toBe('1219326311370217952237463801111263526900');
    expect(num('LT_WEEKS * 7', { LT_WEEKS: '2.5' })).toBe('17.5');
  });

  it('divides exactly when the quotient ends, and cuts it after at least 40 places and 34 digits when it does not', () => {
    expect(num('10 / 4')).toBe('2.5');
    expect(num('1 / 1024')).toBe('0.0009765625');
    expect(num('123456789012345678.123456 / 1')).toBe('123456789012345678.123456');
    expect(num('123456789012345678.123456 / 8')).toBe('15432098626543209.765432');
    expect(num('1 / 3')).toBe(`0.${'3'.repeat(41)}`);
    expect(num('2 / 3')).toBe(`0.${'6'.repeat(41)}`);
    expect(num('1 / 300000000000000000000000000000')).toMatch(/^0\.0{29}3{34,}$/);
    // the integer digits of a large quotient take nothing from its decimal places
    expect(num('X / 7', { X: '100000000000000000000000000' })).toBe(`14285714285714285714285714.${'285714'.repeat(7).slice(0, 41)}`);
    expect(num('round(X / 7, 10)', { X: '100000000000000000000000000' })).toBe('14285714285714285714285714.2857142857');
    expect(num('round(-X / 7, 10)', { X: '100000000000000000000000000' })).toBe('-14285714285714285714285714.2857142857');
    expect(num('round(X / 3, 38)', { X: '1'.padEnd(38, '0') })).toBe(`${'3'.repeat(37)}.${'3'.repeat(38)}`);
    // Cut, not rounded: 940 / 2001 = 0.46976511744127936031984007996001999000|49975..., which rounded
    // to 40 places would end in ...9000|50 and then round up at 38.
    expect(num('round(940 / 2001, 38)')).toBe('0.46976511744127936031984007996001999');
    expect(num('-7 % 3')).toBe('-1');
    expect(num('7.5 % 2')).toBe('1.5');
  });

  it('leaves decimal.js defaults alone for the caller', () => {
    const v = run('1 + 1') as Decimal;
    expect(v.div(3).toFixed()).toBe(new Decimal(2).div(3).toFixed());
  });

  it('a + b - b = a for any decimals', () => {
    const decimal = fc
      .tuple(fc.boolean(), fc.stringMatching(/^\d{1,30}$/), fc.option(fc.stringMatching(/^\d{0,30}$/)))
      .map(([neg, int, frac]) => `${neg ? '-' : ''}${int}${frac === null ? '' : `.${frac}`}`);
    const node = parseExpression('A + B - B', W);
    const f = compileExpression(node, (name) => (name === 'A' ? 0 : 1));
    const mul = compileExpression(parseExpression('A * B / B', W), (name) => (name === 'A' ? 0 : 1));
    fc.assert(
      fc.property(decimal, decimal, (a, b) => {
        const v = f([a, b]);
        expect(v).toBeInstanceOf(Decimal);
        expect((v as Decimal).eq(new Decimal(a))).toBe(true);
        if (!new Decimal(b).isZero()) expect((mul([a, b]) as Decimal).eq(new Decimal(a))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('parse errors', () => {
  it('locate the token in the mapping file and say what was expected', () => {
    // filter: 'QTY > )'   with the expression starting at column 20 of line 12
    const e = parseError('QTY > )', { file: 'mappings/items.yaml', line: 12, column: 20 });
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.code).toBe('mapping.expr');
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe("mappings/items.yaml:12:26 expression: unexpected ')' — expected a value");
    expect(e.location).toEqual({ file: 'mappings/items.yaml', line: 12, column: 26 });
    expect(e.hint).toBeTruthy();
  });

  it('count columns from the start of the expression', () => {
    const where = { file: 'm.yaml', line: 3, column: 20 };
    expect(parseError('1 +', where).location).toEqual({ file: 'm.yaml', line: 3, column: 23 });
    expect(parseError('(1 + 2', where).message).toBe("m.yaml:3:26 expression: missing ')' — the '(' at 3:20 is not closed");
    expect(parseError('A $ B', where).message).toBe("m.yaml:3:22 expression: unexpected character '$'");
    // code points, not UTF-16 units
    expect(parseError('"😀😀" )', where).location?.column).toBe(25);
  });

  it('handle multi-line text', () => {
    const where = { file: 'm.yaml', line: 5, column: 7 };
    // a block scalar: every line is indented like the first
    const e = parseError('A +\n  B C', where);
    expect(e.location).toEqual({ file: 'm.yaml', line: 6, column: 11 });
    expect(e.message).toBe("m.yaml:6:11 expression: unexpected 'C' — expected an operator or the end of the expression");
    expect(parseError('A +\r\nB +\r\n)', where).location).toEqual({ file: 'm.yaml', line: 7, column: 7 });
    expect(parseError('"a\nb" )', where).location).toEqual({ file: 'm.yaml', line: 6, column: 10 });
    expect(run('A +\n B', { A: '1', B: '2' })).toEqual(new Decimal(3));
  });

  it('explain common mistakes', () => {
    expect(parseError('').message).toBe('mappings/items.yaml:12:10 expression: the expression is empty');
    expect(parseError('   ').message).toMatch(/the expression is empty/);
    expect(parseError('"abc').message).toBe('mappings/items.yaml:12:10 expression: string is not closed');
    expect(parseError('A & "ab\\qc"').message).toBe("mappings/items.yaml:12:17 expression: unknown escape '\\q' in a string");
    expect(parseError('`abc').message).toMatch(/12:10 expression: column name in backquotes is not closed/);
    expect(parseError('``').message).toMatch(/empty column name/);
    expect(parseError('A && B').hint).toMatch(/and/);
    expect(parseError('A || B').hint).toMatch(/or/);
    expect(parseError('!A').hint).toMatch(/not/);
    expect(parseError('A ** 2').message).toBe("mappings/items.yaml:12:13 expression: unexpected '*' — expected a value");
    expect(parseError('7abc').message).toBe("mappings/items.yaml:12:10 expression: '7abc' is not a number");
    expect(parseError('1.2.3').message).toMatch(/'1.2.3' is not a number/);
    expect(parseError('1e5').message).toMatch(/'1e5' is not a number/);
    expect(parseError('+1').message).toMatch(/unexpected '\+' — expected a value/);
    expect(parseError('upper(A,)').message).toBe("mappings/items.yaml:12:18 expression: unexpected ')' — expected a value");
    expect(parseError('upper(A B)').message).toBe("mappings/items.yaml:12:18 expression: unexpected 'B' — expected ',' or ')' in upper()");
    expect(parseError('(A B)').hint).toMatch(/backquotes/);
    expect(parseError('A)').hint).toMatch(/no '\('/);
    const spaced = parseError('Air temperature > 300');
    expect(spaced.message).toBe("mappings/items.yaml:12:14 expression: unexpected 'temperature' — expected an operator or the end of the expression");
    expect(spaced.hint).toMatch(/backquotes/);
  });

  it('reserve keywords: a column spelled like one needs backquotes', () => {
    const e = parseError('and = 1');
    expect(e.message).toBe("mappings/items.yaml:12:10 expression: unexpected 'and' — expected a value");
    expect(e.hint).toMatch(/`and`/);
    expect(parseError('IF > 1').message).toMatch(/'if' needs its arguments/);
    expect(parseError('A = not B').hint).toMatch(/parentheses/);
    expect(parseError('OR(1)').message).toMatch(/unexpected 'OR'/);
    expect(run('`and` = 1', { and: '1' })).toBe(true);
    expect(run('`if` & `NULL`', { if: 'a', NULL: 'b' })).toBe('ab');
  });

  it('refuse absurd nesting instead of overflowing the stack', () => {
    expect(parseError('('.repeat(5000) + '1' + ')'.repeat(5000)).message).toMatch(/nested too deeply/);
    expect(parseError('-'.repeat(5000) + '1').message).toMatch(/nested too deeply/);
    expect(parseError('not '.repeat(5000) + 'true').message).toMatch(/nested too deeply/);
    expect(parseError(Array.from({ length: 5000 }, () => '1').join(' + ')).message).toMatch(/too long or too deeply nested/);
    expect(num(Array.from({ length: 150 }, () => '1').join(' + '))).toBe('150');
    expect(num('('.repeat(150) + '1' + ')'.repeat(150))).toBe('1');
  });
});

describe('unknown functions', () => {
  it('suggest the closest known function', () => {
    const e = parseError('uper(ITEMNO)', { file: 'mappings/items.yaml', line: 7, column: 22 });
    expect(e.message).toBe("mappings/items.yaml:7:22 expression: unknown function 'uper' — did you mean upper()?");
    expect(e.location).toEqual({ file: 'mappings/items.yaml', line: 7, column: 22 });
    expect(e.hint).toMatch(/^upper\(text\)\. The functions are if, coalesce/);
    expect(parseError('A & COALESE(B, C)').message).toMatch(/12:14 expression: unknown function 'COALESE' — did you mean coalesce\(\)\?/);
    expect(parseError('substring(A, 1)').message).toMatch(/did you mean substr\(\)/);
    expect(parseError('nvl(A, 1)').message).toMatch(/did you mean coalesce\(\)/);
    expect(parseError('rnd(A)').message).toMatch(/did you mean round\(\)/);
  });

  it('say nothing when nothing is close', () => {
    const e = parseError('frobnicate(A)');
    expect(e.message).toBe("mappings/items.yaml:12:10 expression: unknown function 'frobnicate'");
    expect(e.hint).toMatch(/^The functions are if, coalesce/);
  });

  it('never reach JavaScript objects', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf', 'eval', 'Function', 'require']) {
      expect(parseError(`${name}(1)`).message).toMatch(/unknown function/);
    }
  });
});

describe('column references', () => {
  it('read bare, Unicode and backquoted names', () => {
    expect(run('Product_ID', { Product_ID: 'P1' })).toBe('P1');
    expect(run('_x1', { _x1: 'y' })).toBe('y');
    expect(run('Größe & 数量', { Größe: 'L', 数量: '3' })).toBe('L3');
    expect(run('`Air temperature [K]` > 300', { 'Air temperature [K]': '300.1' })).toBe(true);
    expect(run('`it``s` & ""', { 'it`s': 'v' })).toBe('v');
    expect(run('`1st`', { '1st': 'one' })).toBe('one');
    expect(run('`a\'b"c`', { 'a\'b"c': 'q' })).toBe('q');
  });

  it('are listed once each by columnsOf', () => {
    const node = parseExpression('if(A > 1, `B c` & A, coalesce(C, -D, not E)) = upper(A)', W);
    expect(columnsOf(node)).toEqual(['A', 'B c', 'C', 'D', 'E']);
    expect(columnsOf(parseExpression('1 + 2', W))).toEqual([]);
  });

  it('are resolved once at compile time, not per row', () => {
    let lookups = 0;
    const node = parseExpression('A + A * B', W);
    const f = compileExpression(node, (name) => {
      lookups++;
      return name === 'A' ? 0 : 1;
    });
    const before = lookups;
    for (let i = 0; i < 100; i++) expect(f([String(i), '2'])).toEqual(new Decimal(i * 3));
    expect(lookups).toBe(before);
  });

  it('named __proto__ or constructor are just columns', () => {
    const row = new Map<string, string | null>([
      ['__proto__', 'p'],
      ['constructor', 'c'],
      ['toString', 't'],
    ]);
    expect(run('`__proto__`', row)).toBe('p');
    expect(run('`__proto__` & constructor & toString', row)).toBe('pct');
    expect(run('constructor = "c"', row)).toBe(true);
    expect(run('isnull(`__proto__`)', new Map([['__proto__', null]]))).toBe(true);
    expect(columnsOf(parseExpression('`__proto__` & constructor', W))).toEqual(['__proto__', 'constructor']);
    expect(({} as Record<string, unknown>)['p']).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'p')).toBe(false);
  });
});

describe('runtime errors', () => {
  it('name the column and the value', () => {
    const e = runtimeError('LT_WEEKS * 7', { LT_WEEKS: 'abc' });
    expect(e).toBeInstanceOf(ExprRuntimeError);
    expect(e).toBeInstanceOf(Error);
    expect(e).not.toBeInstanceOf(ForkliftError);
    expect(e.message).toBe("LT_WEEKS is 'abc', not a number");
    expect(e.column).toBe('LT_WEEKS');
    expect(e.expression).toBe('LT_WEEKS');
    expect(runtimeError('-X', { X: 'n/a' }).message).toBe("X is 'n/a', not a number");
    expect(runtimeError('upper(X) + 1', { X: 'a' }).message).toBe("upper(X) is 'A', not a number");
    expect(runtimeError('true + 1').message).toBe('true is true, not a number');
  });

  it('refuse division by zero', () => {
    expect(runtimeError('1 / 0').message).toBe('division by zero in 1 / 0');
    const e = runtimeError('STOCK / PACK', { STOCK: '10', PACK: '0.00' });
    expect(e.message).toBe('division by zero in STOCK / PACK (PACK is 0)');
    expect(e.column).toBe('PACK');
    expect(runtimeError('5 % (2 - 2)').message).toBe('division by zero in 5 % (2 - 2)');
  });

  it('insist on true/false in conditions', () => {
    expect(runtimeError('STATUS and true', { STATUS: 'A' }).message).toBe("STATUS is 'A', expected true/false");
    expect(runtimeError('not 1').message).toBe('1 is 1, expected true/false');
    expect(runtimeError('false or "x"').message).toBe('"x" is \'x\', expected true/false');
  });

  it('compileCondition is the filter: true keeps, false and null drop, the rest is an error', () => {
    const col = (name: string): number => (name === 'STATUS' ? 0 : -1);
    const filter = compileCondition(parseExpression('STATUS != "D"', W), col);
    expect(filter(['A'])).toBe(true);
    expect(filter(['D'])).toBe(false);
    expect(filter([null])).toBe(true);
    const bare = compileCondition(parseExpression('STATUS', W), col);
    expect(bare([null])).toBe(false);
    expect(() => bare(['x'])).toThrow(ExprRuntimeError);
  });
});

describe('robustness', () => {
  const pieces = [
    'A', 'B', '`c d`', '1', '0', '-', '+', '*', '/', '%', '&', '=', '==', '!=', '<>', '<', '<=', '>', '>=',
    '(', ')', ',', 'and', 'or', 'not', 'true', 'false', 'null', '"s"', "'t'", '""', '0.5', '.5',
    'if(', 'coalesce(', 'concat(', 'upper(', 'lower(', 'trim(', 'len(', 'substr(', 'round(', 'abs(',
    'number(', 'text(', 'isnull(', 'isempty(', 'uper(', '__proto__', '`__proto__`', 'constructor(', '\n', '"', '`', '\\',
  ];
  const exprText = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 60 }),
    fc.string({ unit: 'grapheme-ascii', maxLength: 60 }),
    fc.array(fc.constantFrom(...pieces), { maxLength: 25 }).map((p) => p.join(' ')),
    fc.array(fc.constantFrom(...pieces), { maxLength: 25 }).map((p) => p.join('')),
  );

  it('the parser throws nothing but ConfigError', () => {
    fc.assert(
      fc.property(exprText, (src) => {
        try {
          parseExpression(src, W);
        } catch (e) {
          expect(e).toBeInstanceOf(ConfigError);
          expect((e as ConfigError).location?.line).toBeGreaterThanOrEqual(W.line);
          expect((e as ConfigError).location?.column).toBeGreaterThanOrEqual(1);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('evaluation throws nothing but ExprRuntimeError', () => {
    const cell = fc.oneof(fc.constant(null), fc.constant(''), fc.constantFrom('0', '1', '-2.5', 'abc', ' 7 ', '__proto__'), fc.string({ maxLength: 8 }));
    let evaluated = 0;
    fc.assert(
      fc.property(exprText, cell, cell, cell, (src, a, b, c) => {
        let node;
        try {
          node = parseExpression(src, W);
        } catch {
          return;
        }
        const header = columnsOf(node);
        const values = [a, b, c];
        const f = compileExpression(node, (name) => header.indexOf(name));
        const cells = header.map((_, i) => values[i % 3] ?? null);
        try {
          const v = f(cells);
          expect(v === null || typeof v === 'string' || typeof v === 'boolean' || v instanceof Decimal).toBe(true);
          if (typeof v === 'string') expect(v).not.toBe('');
          evaluated++;
        } catch (e) {
          expect(e).toBeInstanceOf(ExprRuntimeError);
        }
      }),
      { numRuns: 1000 },
    );
    expect(evaluated).toBeGreaterThan(0);
  });
});

describe('text compared in Unicode NFC', () => {
  // 'Café' as a source may hold it decomposed (e + U+0301, as macOS and some PDFs write it).
  const decomposed = 'Cafe\u0301';
  it('equals the same text typed composed, as it is stored', () => {
    expect(run('S = "Café"', { S: decomposed })).toBe(true);
    expect(run('S != "Café"', { S: decomposed })).toBe(false);
    expect(run('S = T', { S: decomposed, T: 'Café' })).toBe(true);
    expect(run('S = "Cafe"', { S: decomposed })).toBe(false);
  });
});
