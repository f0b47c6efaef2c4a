import { PG_ADMIN_URL, withPg, type PgDatabases } from './stores/live.js';

/**
 * PostgreSQL DOMAINs as an ERP's schema has them: one over each type forklift reads (text, date,
 * timestamp, timestamptz, numeric, boolean, integers, float, an enum, an array), most with a
 * domain over that domain (the `2` names), one with a CHECK.
 */
export const PG_DOMAINS_DDL = `
  CREATE DOMAIN code AS varchar(8);
  CREATE DOMAIN code2 AS code;
  CREATE DOMAIN label AS text;
  CREATE DOMAIN label2 AS label;
  CREATE DOMAIN day AS date;
  CREATE DOMAIN day2 AS day CHECK (VALUE >= DATE '1990-01-01');
  CREATE DOMAIN stamp AS timestamp(3);
  CREATE DOMAIN stamp2 AS stamp;
  CREATE DOMAIN instant AS timestamptz;
  CREATE DOMAIN instant2 AS instant;
  CREATE DOMAIN amount AS numeric(18,6);
  CREATE DOMAIN amount2 AS amount;
  CREATE DOMAIN yesno AS boolean;
  CREATE DOMAIN yesno2 AS yesno;
  CREATE DOMAIN qty AS integer;
  CREATE DOMAIN qty2 AS qty;
  CREATE DOMAIN bigqty AS bigint;
  CREATE DOMAIN ratio AS double precision;
  CREATE TYPE state AS ENUM ('RUN', 'IDLE', 'Größe');
  CREATE DOMAIN state2 AS state;
  CREATE DOMAIN days AS date[];`;

/**
 * What a session on the database prints unless it sets its own: dates as DD/MM/YYYY, instants in
 * New York time, intervals in the SQL standard's form, floats with fewer digits.
 */
export const PG_NON_ISO_DEFAULTS = ["SET datestyle = 'SQL, DMY'", "SET timezone = 'America/New_York'", "SET intervalstyle = 'sql_standard'", 'SET extra_float_digits = 0'];

/** A database of `dbs` whose sessions default to PG_NON_ISO_DEFAULTS (ALTER DATABASE … SET). */
export async function pgNonIsoDatabase(dbs: PgDatabases): Promise<string> {
  const { name, url } = await dbs.create();
  await withPg(PG_ADMIN_URL, async (c) => {
    for (const s of PG_NON_ISO_DEFAULTS) await c.query(`ALTER DATABASE ${name} ${s}`);
  });
  return url;
}
