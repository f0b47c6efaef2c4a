import { readFileSync } from 'node:fs';
import YAML, { isMap, isScalar, isSeq, isAlias, LineCounter, type Node, type Pair } from 'yaml';
import { ConfigError, formatLocation, type Location } from '../core/errors.js';
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
  /**
   * The text as written of the plain scalar at path that YAML read as a number or boolean
   * (`0x1F`, `True`); undefined for anything else, strings and nulls included.
   */
  writtenAt(path: YamlPath): { text: string; value: number | boolean } | undefined;
}

/**
 * Reads a YAML file. A number stays a number only when it is a whole number that prints back
 * exactly as written (`12`, `-3`); any other is kept as its source text: a YAML float would turn a
 * control total like 1250000.10 into a binary approximation, and a value such as `0100`, `0x1F` or
 * `12345678901234567890` is data whose digits must survive (a default, a value-map entry). A
 * setting that takes a number then refuses the text with a message saying what to write instead
 * of silently reading 31. Map keys are their text as written for the same reason. `${VAR}` and
 * `${VAR:-default}` are expanded in every string (SPEC section 1).
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
  // Unique keys are checked below (keySeen): the library's own check compares every key with every
  // other, and a map of 40,000 keys took half a minute.
  const doc = YAML.parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  if (doc.errors.length > 0) {
    const posOfErr = (err: (typeof doc.errors)[number]): { line: number; col: number } | undefined => err.linePos?.[0] ?? lineCounter.linePos(err.pos[0]);
    const problems = doc.errors.map((err) => {
      const pos = posOfErr(err);
      const where = pos ? `${file}:${pos.line}:${pos.col}` : file;
      return `${where} ${firstLine(err.message)}`;
    });
    const first = posOfErr(doc.errors[0]!);
    const line = first ? (text.split('\n')[first.line - 1] ?? '') : '';
    // `{ path: ${PART} }`: YAML reads the `{` of `${` as the start of another map.
    const unquotedVar = /[{[][^'"]*\$\{/.test(line);
    throw new ConfigError(`${problems[0]}`, {
      code: 'config.yaml',
      location: first ? { file, line: first.line, column: first.col } : { file },
      hint: unquotedVar
        ? 'This is not valid YAML: inside { } or [ ], quote a value that holds ${…}, such as path: "${DATA_DIR}/items.csv".'
        : 'This is not valid YAML: check indentation, colons and quotes near that line.',
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
  // Values reached through aliases, counted: nested aliases multiply (a few hundred bytes of
  // `b: &b [*a, *a, …]` levels stand for billions of values), which no plan needs.
  let throughAliases = 0;
  let inAlias = 0;
  const toJs = (node: unknown, path: YamlPath): unknown => {
    if (node === null || node === undefined) return null;
    if (inAlias > 0 && ++throughAliases > MAX_ALIAS_VALUES) {
      throw new ConfigError(`${file}: its aliases (*name) stand for more than ${MAX_ALIAS_VALUES.toLocaleString('en')} values`, {
        code: 'config.yaml',
        location: { file },
        hint: 'Aliases that repeat aliases multiply: write the values out, or use fewer levels of anchors (&name) and aliases.',
      });
    }
    if (isAlias(node)) {
      inAlias++;
      try {
        return toJs(node.resolve(doc), path);
      } finally {
        inAlias--;
      }
    }
    if (isScalar(node)) {
      const v = node.value;
      if (typeof v === 'number') {
        const src = node.source ?? String(v);
        return Number.isInteger(v) && String(v) === src ? v : src;
      }
      if (typeof v === 'string') return expandEnv(v, posOf(node));
      return v;
    }
    if (isMap(node)) {
      const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
      for (const pair of node.items) {
        const k = keyText(pair);
        if (k in out) {
          const at = posOf(pair.key as Node);
          throw new ConfigError(`${formatLocation(at)} Map keys must be unique: '${k}' is given twice`, {
            code: 'config.yaml',
            location: at,
            hint: 'This is not valid YAML: keep one of the two entries.',
          });
        }
        out[k] = toJs(pair.value, [...path, k]);
      }
      return out;
    }
    if (isSeq(node)) return node.items.map((it, i) => toJs(it, [...path, i]));
    return null;
  };
  const value = toJs(doc.contents, []);
  /**
   * The node at path and, for a map entry, its pair (whose value may be null). Keys are matched by
   * their text as written, as toJs names them; doc.getIn would look `007` up as 7.
   */
  const find = (path: YamlPath): { node: unknown; pair?: Pair } | undefined => {
    let node: unknown = doc.contents;
    let pair: Pair | undefined;
    for (const seg of path) {
      if (isAlias(node)) node = node.resolve(doc);
      if (isMap(node)) {
        pair = node.items.find((p) => keyText(p) === String(seg));
        if (!pair) return undefined;
        node = pair.value;
      } else if (isSeq(node)) {
        pair = undefined;
        node = node.items[typeof seg === 'number' ? seg : /^\d+$/.test(seg) ? Number(seg) : -1];
        if (node === undefined) return undefined;
      } else return undefined;
    }
    return pair ? { node, pair } : { node };
  };
  const hasRange = (n: unknown): n is Node => n !== null && typeof n === 'object' && 'range' in n;
  return {
    file,
    text,
    value,
    locateKey(path) {
      const key = find(path)?.pair?.key;
      return isScalar(key) ? posOf(key) : this.locate(path);
    },
    locate(path) {
      for (let n = path.length; n >= 0; n--) {
        const hit = find(path.slice(0, n));
        if (!hit) continue;
        if (hasRange(hit.node)) return posOf(hit.node);
        // A key that names a pair whose value is null: locate the key itself.
        if (isScalar(hit.pair?.key)) return posOf(hit.pair.key);
      }
      return { file };
    },
    writtenAt(path) {
      let node = find(path)?.node;
      if (isAlias(node)) node = node.resolve(doc);
      if (!isScalar(node) || (typeof node.value !== 'number' && typeof node.value !== 'boolean')) return undefined;
      return { text: node.source ?? String(node.value), value: node.value };
    },
  };
}

/** A map key as toJs names it: a string key as it reads, any other scalar (`007`, `1.50`, `True`) as written. */
const MAX_ALIAS_VALUES = 100_000;

function keyText(pair: Pair): string {
  const k = pair.key;
  if (!isScalar(k)) return String(k);
  return typeof k.value === 'string' ? k.value : (k.source ?? String(k.value));
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}
