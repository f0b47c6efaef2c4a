/** An SQL identifier in double quotes (SQLite, PostgreSQL, SQL Server with QUOTED_IDENTIFIER; MySQL in ANSI_QUOTES). */
export const q = (name: string): string => `"${name.replace(/"/g, '""')}"`;
