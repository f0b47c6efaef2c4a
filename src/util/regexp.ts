/** Text matched literally inside a RegExp: every character with a meaning there escaped. */
export const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
