import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import yazl from 'yazl';

/**
 * Minimal workbooks written part by part, for cells that exceljs cannot write (a formula saved
 * without its result, as openpyxl, exceljs and Apache POI do) and for the workbook's date system.
 * One sheet "Data"; cell style 0 is General, 1 is a date (built-in format 14), 2 a date and time (22).
 */

const NS = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
const REL = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
const PKG = 'http://schemas.openxmlformats.org/package/2006/relationships';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A text cell. */
export const str = (ref: string, text: string): string => `<c r="${ref}" t="inlineStr"><is><t>${esc(text)}</t></is></c>`;
/** A number cell; `style` 1 formats it as a date, 2 as a date and time. */
export const num = (ref: string, v: string | number, style?: 1 | 2): string => `<c r="${ref}"${style === undefined ? '' : ` s="${style}"`}><v>${v}</v></c>`;
/** A cell of shared text: the index of its string in `sharedStrings` (writeXlsx's option). */
export const shared = (ref: string, index: number): string => `<c r="${ref}" t="s"><v>${index}</v></c>`;
/** A row of cells. */
export const row = (r: number, ...cells: string[]): string => `<row r="${r}">${cells.join('')}</row>`;

export async function writeXlsx(file: string, rows: string[], opts: { date1904?: boolean; sharedStrings?: string[] } = {}): Promise<void> {
  const sst = opts.sharedStrings;
  const parts: Record<string, string> = {
    '[Content_Types].xml':
      '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
      '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>' +
      '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>' +
      '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>' +
      '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>' +
      (sst ? '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>' : '') +
      '</Types>',
    '_rels/.rels': `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="${PKG}"><Relationship Id="rId1" Type="${REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>`,
    'xl/workbook.xml':
      `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="${NS}" xmlns:r="${REL}"><workbookPr${opts.date1904 === true ? ' date1904="1"' : ''}/>` +
      '<sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>',
    'xl/_rels/workbook.xml.rels':
      `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="${PKG}"><Relationship Id="rId1" Type="${REL}/worksheet" Target="worksheets/sheet1.xml"/>` +
      `<Relationship Id="rId2" Type="${REL}/styles" Target="styles.xml"/>` +
      (sst ? `<Relationship Id="rId3" Type="${REL}/sharedStrings" Target="sharedStrings.xml"/>` : '') +
      '</Relationships>',
    'xl/styles.xml': `<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="${NS}"><cellXfs count="3"><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="22"/></cellXfs></styleSheet>`,
    'xl/worksheets/sheet1.xml': `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="${NS}"><sheetData>${rows.join('')}</sheetData></worksheet>`,
  };
  if (sst) parts['xl/sharedStrings.xml'] = `<?xml version="1.0" encoding="UTF-8"?><sst xmlns="${NS}" count="${sst.length}" uniqueCount="${sst.length}">${sst.map((t) => `<si><t>${esc(t)}</t></si>`).join('')}</sst>`;
  const zip = new yazl.ZipFile();
  for (const [name, text] of Object.entries(parts)) zip.addBuffer(Buffer.from(text, 'utf8'), name);
  const out = createWriteStream(file);
  zip.outputStream.pipe(out);
  zip.end();
  await once(out, 'close');
}
