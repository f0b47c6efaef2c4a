import type { FieldSpec } from '../plan/schema.js';
import { mayNeedNfc, nfc } from '../util/unicode.js';

/** Clean steps of SPEC section 4, composed once per field. An empty result is a missing value. */
export type CleanStep = NonNullable<FieldSpec['clean']>[number];

export function makeCleaner(steps: readonly CleanStep[] | undefined): ((s: string) => string | null) | undefined {
  if (!steps || steps.length === 0) return undefined;
  const fns = steps.map((step): ((s: string) => string) => {
    if (typeof step === 'object') {
      // Compared in NFC, as stored: a decomposed 'n/a' variant is the value listed.
      const nulls = new Set(step.null_if.map(nfc));
      return (s) => (nulls.has(s) || (mayNeedNfc(s) && nulls.has(nfc(s))) ? '' : s);
    }
    switch (step) {
      case 'trim':
        return (s) => s.trim();
      case 'upper':
        return (s) => s.toUpperCase();
      case 'lower':
        return (s) => s.toLowerCase();
      case 'squash_spaces':
        return (s) => s.replace(/\s+/g, ' ');
      case 'strip_leading_zeros':
        return (s) => s.replace(/^0+(?=.)/, '');
      case 'nfc':
        return (s) => s.normalize('NFC');
    }
  });
  return (s) => {
    let v = s;
    for (const f of fns) v = f(v);
    return v === '' ? null : v;
  };
}
