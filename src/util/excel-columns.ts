/** Excel's letters for a 1-based column number: 1 -> `A`, 28 -> `AB`. */
export function excelColumnLetters(n: number): string {
  let s = '';
  for (let k = n; k > 0; k = Math.floor((k - 1) / 26)) s = String.fromCharCode(65 + ((k - 1) % 26)) + s;
  return s;
}
