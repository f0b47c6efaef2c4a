// eslint-disable-next-line no-control-regex -- a range check, not a control character
const BEYOND_LATIN = /[^\u0000-\u02ff]/;

/** Whether `t` may not be NFC as it is: it holds a character from U+0300 up (below, Latin without combining marks, text is NFC already). */
export const mayNeedNfc = (t: string): boolean => BEYOND_LATIN.test(t);

/**
 * `t` in Unicode NFC, as every store gets text (SPEC section 3). Text is compared in this form:
 * 'Café' typed in a mapping and 'Cafe\u0301' read from a source are one value.
 */
export const nfc = (t: string): string => (BEYOND_LATIN.test(t) ? t.normalize('NFC') : t);

/** Index of the first UTF-16 code unit of `t` that is half of a surrogate pair, or -1. */
export function firstLoneSurrogate(t: string): number {
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff && i + 1 < t.length) {
      const d = t.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
    }
    return i;
  }
  return -1;
}

// Control characters, the line and paragraph separators and the BOM: none may show as itself
// on one line of a table or in a YAML comment.
const UNPRINTABLE = /[\p{Cc}\u2028\u2029\ufeff]/gu;

/**
 * `t` with every control character (and U+2028, U+2029, U+FEFF) escaped as `\n`, `\r`, `\t` or
 * `\uXXXX`, so it stays on one line; `keepTab` leaves tabs as they are (a YAML comment holds them).
 */
export function escapeControl(t: string, opts: { keepTab?: boolean } = {}): string {
  return t.replace(UNPRINTABLE, (c) => (c === '\t' ? (opts.keepTab ? c : '\\t') : c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}
