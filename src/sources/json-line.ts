/**
 * One line of JSON Lines, parsed with lossless-json so numbers reach the mapping exactly as
 * written (JSON.parse would turn 0.1000000000000000055 into 0.1 and 12345678901234567890 into
 * 12345678901234567000).
 */
import { isLosslessNumber, parse, stringify } from 'lossless-json';
import type { Cell } from './types.js';

export class JsonLineError extends Error {
  constructor(
    message: string,
    /** 0-based index into the line, when the parser tells it. */
    readonly index?: number,
  ) {
    super(message);
    this.name = 'JsonLineError';
  }
}

/** The top-level members of a JSON object line, as [key, cell] pairs. */
export type JsonMembers = [string, Cell][];

/** lossless-json's SyntaxErrors end in `at position N` (0-based). */
const POSITION = / at position (\d+)$/;

/** A key an object holds twice with different values. */
interface Repeated {
  key: string;
  oldValue: unknown;
  newValue: unknown;
}

function parseLine(line: string, repeated: Repeated[]): unknown {
  try {
    // A repeated key keeps its last value, as with JSON.parse (lossless-json throws by default);
    // one repeated with another value is noted, for the row's reject.
    return parse(line, null, {
      onDuplicateKey: ({ key, oldValue, newValue }) => {
        if (cellOf(oldValue) !== cellOf(newValue)) repeated.push({ key, oldValue, newValue });
        return newValue;
      },
    });
  } catch (e) {
    if (e instanceof SyntaxError) {
      const m = POSITION.exec(e.message);
      if (m === null) throw new JsonLineError(e.message);
      throw new JsonLineError(e.message.slice(0, m.index), Number(m[1]));
    }
    if (e instanceof RangeError) throw new JsonLineError('nested too deep');
    throw e;
  }
}

function cellOf(value: unknown): Cell {
  if (value === null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (isLosslessNumber(value)) return value.value;
  // Objects and arrays as compact JSON; their numbers stay LosslessNumbers and keep their text.
  try {
    return stringify(value) ?? null;
  } catch (e) {
    if (e instanceof RangeError) throw new JsonLineError('nested too deep');
    throw e;
  }
}

/**
 * Parse one JSON Lines line that must hold an object. Values become cells: strings as they are,
 * numbers as written, true/false as text, null as null, objects and arrays as compact JSON text.
 * Throws JsonLineError, with the index of the problem where the parser gives it.
 */
export function parseJsonObjectLine(line: string): { members: JsonMembers; repeated: { key: string; values: Cell[] }[] } {
  const found: Repeated[] = [];
  const value = parseLine(line, found);
  if (typeof value !== 'object' || value === null || Array.isArray(value) || isLosslessNumber(value)) {
    const at = line.length - line.trimStart().length;
    throw new JsonLineError(`each line must be a JSON object ({...}), found ${Array.isArray(value) ? 'an array' : 'a single value'}`, at);
  }
  const top = value as Record<string, unknown>;
  // A key repeated inside a nested object is that object's: only the line's own keys are columns.
  const repeated = new Map<string, Cell[]>();
  for (const r of found) {
    if (!Object.hasOwn(top, r.key) || top[r.key] !== r.newValue) continue;
    const values = repeated.get(r.key) ?? [cellOf(r.oldValue)];
    values.push(cellOf(r.newValue));
    repeated.set(r.key, values);
  }
  return { members: Object.entries(top).map(([key, v]): [string, Cell] => [key, cellOf(v)]), repeated: [...repeated].map(([key, values]) => ({ key, values })) };
}
