/** A word as a POSIX shell reads it back: a command a hint shows can be pasted as it is. */
export function shellWord(w: string): string {
  return /^[\w./:=@%+-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}
