/**
 * Excel's date serials: days since the workbook's epoch, a fraction for the time of day. In the
 * 1900 system serial 1 is 1900-01-01 and Lotus's phantom 1900-02-29 is 60 (serials below it are
 * a day early); in the 1904 system serial 0 is 1904-01-01. The reader of workbooks and the
 * mapping's `date: excel` both go through this one conversion.
 */
export type ExcelDateSystem = 1900 | 1904;

/** Milliseconds since 1970-01-01 of a serial's wall-clock time (as if UTC). */
export function excelSerialToMillis(serial: number, system: ExcelDateSystem): number {
  const days = system === 1900 && serial < 60 ? serial + 1 : serial;
  // 25569 days from 1899-12-30 (serial 0 after the phantom day) to 1970-01-01; 1462 from 1899-12-30 to 1904-01-01.
  return Math.round((days - 25569 + (system === 1904 ? 1462 : 0)) * 86_400_000);
}

/**
 * Whether a serial is a date Excel shows: from 1900-01-01 (serial 1; 0 is the "1900-01-00" of no
 * calendar) or 1904-01-01 (serial 0) to 9999-12-31. Excel shows ##### for the rest.
 */
export function inExcelDateRange(serial: number, system: ExcelDateSystem): boolean {
  return system === 1904 ? serial >= 0 && serial <= 2957003 : serial >= 1 && serial <= 2958465;
}

/** Whether a serial falls on Lotus's phantom 1900-02-29, which the 1900 system counts though it never was. */
export function isLotusLeapDay(serial: number, system: ExcelDateSystem): boolean {
  return system === 1900 && serial >= 60 && serial < 61;
}

/** Why a value on the phantom day is rejected: read as the day before it (the old way), it loaded silently as another date. */
export const LOTUS_LEAP_DAY = 'is on Excel’s day 60, 1900-02-29, a date that did not exist (a Lotus 1-2-3 leftover): correct the date in the source';
