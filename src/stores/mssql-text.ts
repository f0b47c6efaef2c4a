/**
 * SQL Server text forms shared by the store's reads (read-mssql.ts) and the SQL source
 * (sources/sql.ts), kept apart from both so a source that is not SQL Server does not load the mssql
 * package.
 */

/** Bytes as bundles hold them: `\x` and the bytes in hex. */
export const hexText = (c: string): string => `N'\\x' + LOWER(CONVERT(nvarchar(max), CAST(${c} AS varbinary(max)), 2))`;

/**
 * A sql_variant as the exact text of the value it holds. CONVERT of a variant to text converts by
 * its base type with that type's default style, which drops digits: a float keeps 6 significant
 * digits, money 2 decimals, a datetime loses its seconds (`Jan  1 2024 10:15AM`). Each base type
 * that loses something so gets a lossless form: floats with style 3 (17 digits), money as
 * decimal(19, 4), date and time types in ODBC canonical form (121) with every digit of their
 * fraction, binary as hex. The others (integers, bit, decimal and numeric with all their digits,
 * character strings, uniqueidentifier) are exact in the default style.
 */
export function mssqlVariantText(c: string): string {
  const as = (type: string, style = ''): string => `CONVERT(nvarchar(50), CAST(${c} AS ${type})${style})`;
  return [
    `CASE CAST(SQL_VARIANT_PROPERTY(${c}, 'BaseType') AS nvarchar(128))`,
    `WHEN 'float' THEN ${as('float', ', 3')}`,
    `WHEN 'real' THEN ${as('real', ', 3')}`,
    `WHEN 'money' THEN ${as('decimal(19, 4)')}`,
    `WHEN 'smallmoney' THEN ${as('decimal(19, 4)')}`,
    `WHEN 'datetime' THEN ${as('datetime', ', 121')}`,
    `WHEN 'smalldatetime' THEN ${as('smalldatetime', ', 120')}`,
    `WHEN 'datetime2' THEN ${as('datetime2(7)', ', 121')}`,
    `WHEN 'datetimeoffset' THEN ${as('datetimeoffset(7)', ', 121')}`,
    `WHEN 'time' THEN ${as('time(7)', ', 121')}`,
    `WHEN 'date' THEN ${as('date', ', 23')}`,
    `WHEN 'binary' THEN ${hexText(c)}`,
    `WHEN 'varbinary' THEN ${hexText(c)}`,
    `ELSE CONVERT(nvarchar(max), ${c}) END`,
  ].join(' ');
}

/**
 * A tedious instant as ISO text with the digits below the millisecond it carries: a Date holds
 * milliseconds, and tedious gives a datetime2(7) or datetimeoffset(7)'s 100-nanosecond rest in
 * `nanosecondsDelta` (seconds). With them the text shows what the column holds, so exactInstants
 * refuses what forklift cannot keep instead of the Date cutting it unseen.
 */
export function tediousInstantText(v: Date): string {
  const iso = v.toISOString();
  const delta = Math.round(((v as Date & { nanosecondsDelta?: number }).nanosecondsDelta ?? 0) * 1e7);
  if (delta <= 0) return iso;
  return `${iso.slice(0, -1)}${String(delta).padStart(4, '0').replace(/0+$/, '')}Z`;
}
