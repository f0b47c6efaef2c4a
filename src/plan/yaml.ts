import { readFileSync } from 'node:fs';
import YAML, { isMap, isScalar, isSeq, isAlias, LineCounter, type Node } from 'yaml';
import { ConfigError, type Location } from '../core/errors.js';
import { expandEnv } from './env.js';

export type YamlPath = readonly (string | number)[];

/** A YAML file read with positions kept, so every later complaint can name file:line:column. */
export interface YamlFile {
  file: string;
  /** The text, for hashing and reports. */
  text: string;
  value: unknown;
  /** The position of the node at path, or of its nearest existing ancestor. */
  locate(path: YamlPath): Location;
  /** The position of the key of the pair at path (where an unknown key is written). */
  locateKey(path: YamlPath): Location;
}

/**
 * Reads a YAML file. Numbers with a fractional part or an exponent are kept as their source text,
 * since a YAML float would turn a control total like 1250000.10 into a binary approximation.
 * `${VAR}` and `${VAR:-default}` are expanded in every string (SPEC section 1).
 */
export function readYamlFile(file: string, displayName = file): YamlFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(code === 'ENOENT' ? `${displayName}: file not found` : `${displayName}: cannot read (${code})`, {
      code: 'config.file-missing',
      location: { file: displayName },
      hint: code === 'ENOENT' ? 'Check the path; paths in a plan are relative to the plan file.' : 'Check the file permissions.',
      cause: e,
    });
  }
  return parseYamlText(text, displayName);
}

export function parseYamlText(text: string, file: string): YamlFile {
  const lineCounter = new LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const posOfErr = (err: (typeof doc.errors)[number]): { line: number; col: number } | undefined => err.linePos?.[0] ?? lineCounter.linePos(err.pos[0]);
    const problems = doc.errors.map((err) => {
      const pos = posOfErr(err);
      const where = pos ? `${file}:${pos.line}:${pos.col}` : file;
      return `${where} ${firstLine(err.message)}`;
    });
    const first = posOfErr(doc.errors[0]!);
    throw new ConfigError(`${problems[0]}`, {
      code: 'config.yaml',
      location: first ? { file, line: first.line, column: first.col } : { file },
      hint: 'This is not valid YAML: check indentation, colons and quotes near that line.',
      // One syntax slip makes the parser stumble over everything after it: the first few say it.
      details: problems.length > 3 ? [...problems.slice(1, 3), `(${problems.length - 3} more that probably follow from the first)`] : problems.slice(1),
    });
  }
  const posOf = (node: Node | null | undefined): Location => {
    const start = node?.range?.[0];
    if (start === undefined) return { file };
    const p = lineCounter.linePos(start);
    return { file, line: p.line, column: p.col };
  };
  const toJs = (node: unknown, path: YamlPath): unknown => {
    if (node === null || node === undefined) return null;
    if (isAlias(node)) return toJs(node.resolve(doc), path);
    if (isScalar(node)) {
      const v = node.value;
      if (typeof v === 'number') {
        const src = node.source ?? String(v);
        return Number.isInteger(v) && /^[+-]?\d+$/.test(src) ? v : src;
      }
      if (typeof v === 'string') return expandEnv(v, posOf(node));
      return v;
    }
    if (isMap(node)) {
      const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
      for (const pair of node.items) {
        const k = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        out[k] = toJs(pair.value, [...path, k]);
      }
      return out;
    }
    if (isSeq(node)) return node.items.map((it, i) => toJs(it, [...path, i]));
    return null;
  };
  const value = toJs(doc.contents, []);
  return {
    file,
    text,
    value,
    locateKey(path) {
      const parent = doc.getIn(path.slice(0, -1), true);
      if (isMap(parent)) {
        const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === String(path[path.length - 1]));
        if (pair && isScalar(pair.key)) return posOf(pair.key);
      }
      return this.locate(path);
    },
    locate(path) {
      for (let n = path.length; n >= 0; n--) {
        const node = doc.getIn(path.slice(0, n), true) as Node | undefined;
        if (node && typeof node === 'object' && 'range' in node) return posOf(node);
        // A key that names a pair whose value is null: locate the key itself.
        if (n > 0) {
          const parent = doc.getIn(path.slice(0, n - 1), true);
          if (isMap(parent)) {
            const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === String(path[n - 1]));
            if (pair && isScalar(pair.key)) return posOf(pair.key);
          }
        }
      }
      return { file };
    },
  };
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}
