import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { formatProblem, makeDateParser, makeTimestampParser } from '../../../src/mapping/datetime.js';

describe('dates', () => {
  it('reads ISO dates, Excel date cells and formats', () => {
    expect(makeDateParser(undefined)('2025-12-31')).toEqual({ ok: true, value: '2025-12-31' });
    expect(makeDateParser(undefined)('2025-12-31T00:00:00')).toEqual({ ok: true, value: '2025-12-31' });
    expect(makeDateParser('dd.MM.yyyy')('01.02.2025')).toEqual({ ok: true, value: '2025-02-01' });
    expect(makeDateParser('yyyyMMdd')('20250228')).toEqual({ ok: true, value: '2025-02-28' });
  });
  it('refuses the year 0000 and years of five digits, as timestamps are: no store or bundle holds them', () => {
    const outside = { ok: false, reason: 'is outside the years 0001 to 9999' };
    expect(makeDateParser(undefined)('0000-01-01')).toEqual(outside);
    expect(makeDateParser('dd.MM.yyyy')('29.02.0000')).toEqual(outside);
    expect(makeDateParser('dd.MM.yyyyy')('01.01.10000')).toEqual(outside);
    expect(makeDateParser('excel')('0000-03-01')).toEqual(outside);
    expect(makeDateParser(undefined)('0001-01-01')).toEqual({ ok: true, value: '0001-01-01' });
    expect(makeDateParser(undefined)('9999-12-31')).toEqual({ ok: true, value: '9999-12-31' });
  });

  it('refuses dates that do not exist', () => {
    expect(makeDateParser('dd.MM.yyyy')('30.02.2025').ok).toBe(false);
    expect(makeDateParser(undefined)('2025-13-01').ok).toBe(false);
    expect(makeDateParser(undefined)('2025-01-01T10:00:00').ok).toBe(false);
  });
  it('refuses a date in year 0000, as it does a timestamp: SQL Server and PostgreSQL hold none', () => {
    const outside = { ok: false, reason: 'is outside the years 0001 to 9999' };
    expect(makeDateParser(undefined)('0000-06-15')).toMatchObject(outside);
    expect(makeDateParser('dd.MM.yyyy')('15.06.0000')).toMatchObject(outside);
    expect(makeDateParser(undefined)('0001-01-01')).toEqual({ ok: true, value: '0001-01-01' });
    expect(makeDateParser(undefined)('9999-12-31')).toEqual({ ok: true, value: '9999-12-31' });
  });

  it('reads Excel serial numbers, across the 1900 leap-year bug', () => {
    const p = makeDateParser('excel');
    expect(p('45658')).toEqual({ ok: true, value: '2025-01-01' });
    expect(p('61')).toEqual({ ok: true, value: '1900-03-01' });
    expect(p('59')).toEqual({ ok: true, value: '1900-02-28' });
  });
  it("refuses Excel serial 60, Lotus's phantom 1900-02-29, which used to read as 1900-02-28 (the same as 59)", () => {
    const lotus = { ok: false, reason: 'is on Excel’s day 60, 1900-02-29, a date that did not exist (a Lotus 1-2-3 leftover): correct the date in the source' };
    expect(makeDateParser('excel')('60')).toEqual(lotus);
    expect(makeTimestampParser('excel', 'UTC')('60')).toEqual(lotus);
    expect(makeTimestampParser('excel', 'UTC')('60.5')).toEqual(lotus);
    expect(makeTimestampParser('excel', 'UTC')('61.25')).toEqual({ ok: true, value: '1900-03-01T06:00:00.000Z' });
    // The reader gives a date cell on that day as the day Excel shows, which is no date either.
    expect(makeDateParser('excel')('1900-02-29')).toEqual({ ok: false, reason: 'is not a real calendar date' });
    expect(makeDateParser('excel', 1904)('60')).toEqual({ ok: true, value: '1904-03-01' });
  });
  it('reads Excel serial numbers in the workbook\'s 1904 date system (serial 0 is 1904-01-01)', () => {
    const p = makeDateParser('excel', 1904);
    expect(p('45657')).toEqual({ ok: true, value: '2029-01-01' });
    expect(makeDateParser('excel', 1900)('45657')).toEqual({ ok: true, value: '2024-12-31' });
    expect(p('0')).toEqual({ ok: true, value: '1904-01-01' });
    expect(p('59')).toEqual({ ok: true, value: '1904-02-29' }); // no phantom leap day
    expect(p('2957003')).toEqual({ ok: true, value: '9999-12-31' });
    expect(p('2957004')).toEqual({ ok: false, reason: 'is outside Excel’s date range' });
    expect(makeDateParser('excel')('0')).toEqual({ ok: false, reason: 'is outside Excel’s date range' });
  });
  it('excel: takes a date cell as the date it is; a serial with a fraction of a day is refused as a date cell with a time is', () => {
    const timeOfDay = { ok: false, reason: 'has a time of day; a date column takes a date only' };
    for (const system of [1900, 1904] as const) {
      const p = makeDateParser('excel', system);
      expect(p('2029-01-01')).toEqual({ ok: true, value: '2029-01-01' });
      expect(p('2029-01-01T12:00:00')).toEqual(timeOfDay);
      expect(p('45657.5')).toEqual(timeOfDay);
      expect(p('2029-02-30').ok).toBe(false);
      expect(p('01.01.2029')).toEqual({ ok: false, reason: 'is not an Excel date serial number' });
    }
    expect(makeDateParser(undefined)('2029-01-01T12:00:00')).toEqual(timeOfDay);
  });
  it('falls back to luxon for named months', () => {
    expect(makeDateParser('d MMM yyyy')('3 Feb 2025')).toEqual({ ok: true, value: '2025-02-03' });
  });
});

describe('timestamps', () => {
  it('excel: serial numbers in the workbook\'s date system and date cells, as local times in the zone', () => {
    const p = makeTimestampParser('excel', 'UTC', 'reject', 1904);
    expect(p('45657.5')).toEqual({ ok: true, value: '2029-01-01T12:00:00.000Z' });
    expect(p('2029-01-01T12:00:00.250')).toEqual({ ok: true, value: '2029-01-01T12:00:00.250Z' });
    expect(p('2029-01-01')).toEqual({ ok: true, value: '2029-01-01T00:00:00.000Z' });
    expect(makeTimestampParser('excel', 'Europe/Berlin')('45657.5')).toEqual({ ok: true, value: '2024-12-31T11:00:00.000Z' });
  });
  it('keeps offsets and converts to UTC', () => {
    const p = makeTimestampParser(undefined, undefined);
    expect(p('2025-03-01T06:00:00+01:00')).toEqual({ ok: true, value: '2025-03-01T05:00:00.000Z' });
    expect(p('2025-03-01 06:00:00Z')).toEqual({ ok: true, value: '2025-03-01T06:00:00.000Z' });
    expect(p('2025-03-01T06:00:00.047-0230')).toEqual({ ok: true, value: '2025-03-01T08:30:00.047Z' });
  });
  it('needs a time zone for local times', () => {
    const r = makeTimestampParser(undefined, undefined)('2025-03-01 06:00:00');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/timezone/);
  });
  it('converts local time with the zone rules, summer and winter', () => {
    const p = makeTimestampParser('yyyy-MM-dd HH:mm:ss', 'Europe/Berlin');
    expect(p('2025-01-15 08:00:00')).toEqual({ ok: true, value: '2025-01-15T07:00:00.000Z' });
    expect(p('2025-07-15 08:00:00')).toEqual({ ok: true, value: '2025-07-15T06:00:00.000Z' });
  });
  it('refuses a local time the clocks skipped', () => {
    const r = makeTimestampParser('yyyy-MM-dd HH:mm:ss', 'Europe/Berlin')('2025-03-30 02:30:00');
    expect(r.ok).toBe(false);
  });
  it('refuses a local time that happened twice (the clocks went back), unless the mapping says which', () => {
    const at = (ambiguous?: 'reject' | 'earlier' | 'later') => makeTimestampParser('yyyy-MM-dd HH:mm:ss', 'Europe/Berlin', ambiguous);
    const r = at()('2025-10-26 02:30:00');
    expect(r).toEqual({ ok: false, reason: "happened twice in Europe/Berlin (the clocks went back: at +02:00 and at +01:00); set `ambiguous: earlier` or `later` in the mapping, or give the source's offset" });
    expect(at('earlier')('2025-10-26 02:30:00')).toEqual({ ok: true, value: '2025-10-26T00:30:00.000Z' });
    expect(at('later')('2025-10-26 02:30:00')).toEqual({ ok: true, value: '2025-10-26T01:30:00.000Z' });
    // The hours around the fold happened once.
    expect(at()('2025-10-26 01:59:59')).toEqual({ ok: true, value: '2025-10-25T23:59:59.000Z' });
    expect(at()('2025-10-26 03:00:00')).toEqual({ ok: true, value: '2025-10-26T02:00:00.000Z' });
    expect(at('later')('2025-03-30 02:30:00').ok).toBe(false); // a gap stays a gap
    expect(makeTimestampParser('yyyy-MM-dd HH:mm:ss', 'America/New_York')('2025-11-02 01:30:00').ok).toBe(false);
    // A fixed offset or UTC has no fold.
    expect(makeTimestampParser('yyyy-MM-dd HH:mm:ss', 'UTC')('2025-10-26 02:30:00').ok).toBe(true);
  });
  it('names the UTC instant when the conversion, not the text, takes a local time out of the years 0001 to 9999', () => {
    // Europe/Berlin kept local mean time (+00:53:28) until 1893.
    expect(makeTimestampParser(undefined, 'Europe/Berlin')('0001-01-01 00:00:00')).toEqual({
      ok: false,
      reason: 'is 0000-12-31T23:06:32Z in UTC (Europe/Berlin was at +00:53:28 then): the year 0000, before 0001-01-01T00:00:00Z, which no store holds',
    });
    expect(makeTimestampParser(undefined, 'Europe/Berlin')('0001-01-01 01:00:00')).toEqual({ ok: true, value: '0001-01-01T00:06:32.000Z' });
    expect(makeTimestampParser(undefined, 'America/New_York')('9999-12-31 23:00:00')).toEqual({
      ok: false,
      reason: 'is 10000-01-01T04:00:00Z in UTC (America/New_York was at -05:00 then): the year 10000, after 9999-12-31T23:59:59.999Z, which no store holds',
    });
    expect(makeTimestampParser(undefined, undefined)('0001-01-01T00:30:00+01:00')).toEqual({
      ok: false,
      reason: 'is 0000-12-31T23:30:00Z in UTC (at its offset +01:00): the year 0000, before 0001-01-01T00:00:00Z, which no store holds',
    });
    // Out of the years as written: said as before.
    expect(makeTimestampParser(undefined, 'UTC')('0000-06-01 00:00:00')).toEqual({ ok: false, reason: 'is outside the years 0001 to 9999' });
  });
  it('refuses sub-millisecond digits instead of dropping them', () => {
    expect(makeTimestampParser(undefined, 'UTC')('2025-01-01T00:00:00.123000').ok).toBe(true);
    expect(makeTimestampParser(undefined, 'UTC')('2025-01-01T00:00:00.1234').ok).toBe(false);
  });
  it.each([
    ['the fast path', 'dd.MM.yyyy HH:mm:ss'],
    ['a format read by luxon', 'd MMM yyyy hh:mm:ss a'],
  ])('%s agrees with luxon on every instant (property)', (_, format) => {
    // Local times that happened twice are left out: luxon takes one instant or the other depending
    // on the minute, and the fold has its own test above.
    const parse = makeTimestampParser(format, 'America/New_York', 'earlier');
    fc.assert(
      fc.property(fc.date({ min: new Date('1990-01-01T00:00:00Z'), max: new Date('2040-01-01T00:00:00Z'), noInvalidDate: true }), (d) => {
        const local = DateTime.fromJSDate(d, { zone: 'America/New_York' }).set({ millisecond: 0 });
        const near = [local.minus({ hours: 2 }), local.plus({ hours: 2 })];
        fc.pre(near.every((x) => x.offset === local.offset));
        const text = local.toFormat(format);
        const expected = DateTime.fromFormat(text, format, { zone: 'America/New_York' });
        const r = parse(text);
        expect(r.ok).toBe(true);
        if (r.ok) expect(r.value).toBe(expected.toUTC().toISO());
      }),
      { numRuns: 500 },
    );
  });
  it('refuses an offset no clock shows (beyond ±18:00, or 60 minutes and more), naming it', () => {
    const invalid = (offset: string) => ({ ok: false, reason: `has the offset ${offset}, which is not a valid offset (hours up to 18, minutes up to 59)` });
    const iso = makeTimestampParser(undefined, undefined);
    expect(iso('2024-03-01T10:00:00+99:99')).toEqual(invalid('+99:99'));
    expect(iso('2024-03-01T10:00:00+25:00')).toEqual(invalid('+25:00'));
    expect(iso('2024-03-01T10:00:00+10:60')).toEqual(invalid('+10:60'));
    expect(iso('2024-03-01T10:00:00-1801')).toEqual(invalid('-1801'));
    expect(iso('2024-03-01T10:00:00+19')).toEqual(invalid('+19'));
    expect(iso('2024-03-01T10:00:00+18:00')).toEqual({ ok: true, value: '2024-02-29T16:00:00.000Z' });
    expect(iso('2024-03-01T10:00:00-12:00')).toEqual({ ok: true, value: '2024-03-01T22:00:00.000Z' });
    expect(iso('2024-03-01T10:00:00+0545')).toEqual({ ok: true, value: '2024-03-01T04:15:00.000Z' });
    // The same where luxon reads the format (which would take +10:75 for +11:15).
    const named = makeTimestampParser('d MMM yyyy HH:mm ZZ', undefined);
    expect(named('1 Mar 2024 10:00 +10:75')).toEqual(invalid('+10:75'));
    expect(named('1 Mar 2024 10:00 +99:99')).toEqual(invalid('+99:99'));
    expect(named('1 Mar 2024 10:00 -00:30')).toEqual({ ok: true, value: '2024-03-01T10:30:00.000Z' });
    expect(makeTimestampParser('d MMM yyyy HH:mm ZZZ', undefined)('1 Mar 2024 10:00 +0545')).toEqual({ ok: true, value: '2024-03-01T04:15:00.000Z' });
  });
});

describe('timestamps in a format luxon reads (named months, two-digit years, am/pm)', () => {
  it('resolve the zone as the fast path does: a time the clocks skipped, one that happened twice, `ambiguous`', () => {
    for (const ambiguous of ['reject', 'earlier', 'later'] as const) {
      const luxon = makeTimestampParser('d MMM yyyy HH:mm', 'Europe/Berlin', ambiguous);
      const fast = makeTimestampParser('d.M.yyyy HH:mm', 'Europe/Berlin', ambiguous);
      expect(luxon('31 Mar 2024 02:30')).toEqual(fast('31.3.2024 02:30'));
      expect(luxon('27 Oct 2024 02:30')).toEqual(fast('27.10.2024 02:30'));
      expect(luxon('27 Oct 2024 03:30')).toEqual(fast('27.10.2024 03:30'));
    }
    const p = (ambiguous?: 'earlier' | 'later') => makeTimestampParser('d MMM yyyy HH:mm', 'Europe/Berlin', ambiguous);
    expect(p()('31 Mar 2024 02:30')).toEqual({ ok: false, reason: 'does not exist in Europe/Berlin (the clocks skipped it)' });
    expect(p()('27 Oct 2024 02:30')).toEqual({
      ok: false,
      reason: "happened twice in Europe/Berlin (the clocks went back: at +02:00 and at +01:00); set `ambiguous: earlier` or `later` in the mapping, or give the source's offset",
    });
    expect(p('earlier')('27 Oct 2024 02:30')).toEqual({ ok: true, value: '2024-10-27T00:30:00.000Z' });
    expect(p('later')('27 Oct 2024 02:30')).toEqual({ ok: true, value: '2024-10-27T01:30:00.000Z' });
    expect(makeTimestampParser('d MMM yyyy hh:mm a', 'Europe/Berlin', 'later')('27 Oct 2024 02:30 AM')).toEqual({ ok: true, value: '2024-10-27T01:30:00.000Z' });
  });
  it('need a time zone for local times, as the fast path does', () => {
    const noZone = { ok: false, reason: 'has no time zone; set `timezone:` in the mapping (such as Europe/Berlin or UTC)' };
    expect(makeTimestampParser('dd.MM.yy HH:mm', undefined)('27.10.24 02:30')).toEqual(noZone);
    expect(makeTimestampParser('dd.MM.yyyy HH:mm', undefined)('27.10.2024 02:30')).toEqual(noZone);
    expect(makeTimestampParser('dd.MM.yy HH:mm', 'UTC')('27.10.24 02:30')).toEqual({ ok: true, value: '2024-10-27T02:30:00.000Z' });
  });
  it('take the offset or the zone the text gives', () => {
    const offset = makeTimestampParser('d MMM yyyy HH:mm ZZ', 'Europe/Berlin');
    expect(offset('27 Oct 2024 02:30 +01:00')).toEqual({ ok: true, value: '2024-10-27T01:30:00.000Z' });
    expect(offset('31 Mar 2024 02:30 +01:00')).toEqual({ ok: true, value: '2024-03-31T01:30:00.000Z' }); // an offset is never in a gap
    const zone = (ambiguous?: 'earlier') => makeTimestampParser('d MMM yyyy HH:mm z', undefined, ambiguous);
    expect(zone()('31 Mar 2024 02:30 Europe/Berlin')).toEqual({ ok: false, reason: 'does not exist in Europe/Berlin (the clocks skipped it)' });
    expect(zone()('27 Oct 2024 02:30 Europe/Berlin').ok).toBe(false);
    expect(zone('earlier')('27 Oct 2024 02:30 Europe/Berlin')).toEqual({ ok: true, value: '2024-10-27T00:30:00.000Z' });
    expect(zone()('27 Oct 2024 02:30 Asia/Kathmandu')).toEqual({ ok: true, value: '2024-10-26T20:45:00.000Z' });
    expect(zone()('27 Oct 2024 02:30 Mars/Olympus')).toEqual({ ok: false, reason: 'names the time zone Mars/Olympus, which is not known' });
  });
});

describe('time zones whose clocks move by 30 or 15 minutes, or off the hour', () => {
  it('Lord Howe: a time the clocks skipped is refused, one that happened once is read (the tester\'s rows)', () => {
    const p = (ambiguous?: 'earlier' | 'later') => makeTimestampParser('yyyy-MM-dd HH:mm', 'Australia/Lord_Howe', ambiguous);
    expect(p()('2024-10-06 02:10')).toEqual({ ok: false, reason: 'does not exist in Australia/Lord_Howe (the clocks skipped it)' });
    expect(p()('2024-04-07 01:10')).toEqual({ ok: true, value: '2024-04-06T14:10:00.000Z' });
    expect(p('later')('2024-04-07 01:10')).toEqual({ ok: true, value: '2024-04-06T14:10:00.000Z' });
    expect(p('earlier')('2024-04-07 01:40')).toEqual({ ok: true, value: '2024-04-06T14:40:00.000Z' });
    expect(p('later')('2024-04-07 01:40')).toEqual({ ok: true, value: '2024-04-06T15:10:00.000Z' });
  });

  const pad = (n: number): string => String(n).padStart(2, '0');
  /** Each wall-clock minute of `day` in `zone`, with the instants (by the minute) luxon shows it at. */
  function wallClock(zone: string, day: string): Map<string, string[]> {
    const start = Date.parse(`${day}T00:00:00Z`);
    const at = new Map<string, string[]>();
    for (let m = 0; m < 1440; m++) at.set(`${day} ${pad(Math.floor(m / 60))}:${pad(m % 60)}`, []);
    for (let t = start - 18 * 3_600_000; t < start + 42 * 3_600_000; t += 60_000) {
      at.get(DateTime.fromMillis(t, { zone }).toFormat('yyyy-MM-dd HH:mm'))?.push(new Date(t).toISOString());
    }
    return at;
  }

  it.each([
    ['Australia/Lord_Howe', '2024-04-07'], // 02:00 (+11:00) back to 01:30 (+10:30)
    ['Australia/Lord_Howe', '2024-10-06'], // 02:00 on to 02:30
    ['Asia/Kathmandu', '1986-01-01'], // 00:00 (+05:30) on to 00:15 (+05:45)
    ['America/St_Johns', '2010-03-14'], // 00:01 (-03:30) on to 01:01
    ['America/St_Johns', '2010-11-06'], // 00:01 on 7 November back to 23:01 the day before
    ['America/St_Johns', '2010-11-07'],
    ['Europe/Berlin', '2024-03-31'],
    ['Europe/Berlin', '2024-10-27'],
  ])('%s on %s: every minute of the day as luxon has it', (zone, day) => {
    const parse = (ambiguous: 'reject' | 'earlier' | 'later') => makeTimestampParser('yyyy-MM-dd HH:mm', zone, ambiguous);
    const [reject, earlier, later] = [parse('reject'), parse('earlier'), parse('later')];
    const seen = { skipped: 0, twice: 0 };
    for (const [wall, instants] of wallClock(zone, day)) {
      const [first, second] = instants;
      if (first === undefined) {
        seen.skipped++;
        expect(reject(wall), wall).toEqual({ ok: false, reason: `does not exist in ${zone} (the clocks skipped it)` });
        expect(later(wall).ok, wall).toBe(false);
      } else if (second === undefined) {
        for (const p of [reject, earlier, later]) expect(p(wall), wall).toEqual({ ok: true, value: first });
      } else {
        seen.twice++;
        expect(instants, wall).toHaveLength(2);
        expect(reject(wall).ok, wall).toBe(false);
        expect(earlier(wall), wall).toEqual({ ok: true, value: first });
        expect(later(wall), wall).toEqual({ ok: true, value: second });
      }
    }
    expect(seen.skipped + seen.twice).toBeGreaterThan(0);
  });
});

describe('a fraction of a second in a format (S)', () => {
  it('is read as the digits written: .5 is 500 ms, .05 is 50 ms (luxon read both as 5 ms)', () => {
    const p = makeTimestampParser('yyyy-MM-dd HH:mm:ss.S', 'UTC');
    expect(p('2024-01-01 10:00:00.5')).toEqual({ ok: true, value: '2024-01-01T10:00:00.500Z' });
    expect(p('2024-01-01 10:00:00.05')).toEqual({ ok: true, value: '2024-01-01T10:00:00.050Z' });
    expect(p('2024-01-01 10:00:00.123')).toEqual({ ok: true, value: '2024-01-01T10:00:00.123Z' });
    expect(p('2024-01-01 10:00:00.1234')).toMatchObject({ ok: false, reason: 'has digits below a millisecond, which forklift would have to drop' });
    expect(makeTimestampParser('yyyy-MM-dd HH:mm:ss.SS', 'UTC')('2024-01-01 10:00:00.05')).toEqual({ ok: true, value: '2024-01-01T10:00:00.050Z' });
    expect(makeTimestampParser('yyyy-MM-dd HH:mm:ss.SSS', 'UTC')('2024-01-01 10:00:00.5').ok).toBe(false);
    expect(makeTimestampParser('yyyy-MM-dd HH:mm:ss.SSSSSS', 'UTC')('2024-01-01 10:00:00.250000')).toEqual({ ok: true, value: '2024-01-01T10:00:00.250Z' });
  });

  it('is refused by the format check where luxon would read it (beside its other tokens), unless SSS', () => {
    expect(formatProblem('dd-MMM-yyyy HH:mm:ss.S')).toMatch(/a fraction of a second written as S is read exactly only beside/);
    expect(formatProblem('dd-MMM-yyyy HH:mm:ss.SSS')).toBeUndefined();
    expect(formatProblem('yyyy-MM-dd HH:mm:ss.S')).toBeUndefined();
  });
});

describe('a date format with a time of day, read into a date column', () => {
  it('is refused for a time other than midnight, as the ISO and Excel paths refuse it', () => {
    const p = makeDateParser('dd.MM.yyyy HH:mm');
    expect(p('01.02.2024 13:45')).toEqual({ ok: false, reason: 'has a time of day; a date column takes a date only' });
    expect(p('01.02.2024 00:00')).toEqual({ ok: true, value: '2024-02-01' });
    expect(makeDateParser('d MMM yyyy h:mm a')('1 Feb 2024 1:45 PM')).toMatchObject({ ok: false, reason: 'has a time of day; a date column takes a date only' });
  });
});

describe('Unix time (X, x)', () => {
  it('reads seconds and milliseconds as the UTC instant', () => {
    expect(makeTimestampParser('X', undefined)('1704067200')).toEqual({ ok: true, value: '2024-01-01T00:00:00.000Z' });
    expect(makeTimestampParser('X', undefined)('1704067200.25')).toEqual({ ok: true, value: '2024-01-01T00:00:00.250Z' });
    expect(makeTimestampParser('x', undefined)('1704067200123')).toEqual({ ok: true, value: '2024-01-01T00:00:00.123Z' });
    expect(makeTimestampParser('X', undefined)('17040672OO')).toMatchObject({ ok: false, reason: 'is not Unix time in seconds (format X)' });
    expect(makeDateParser('X')('1704067200')).toEqual({ ok: true, value: '2024-01-01' });
    expect(makeDateParser('X')('1704067201')).toMatchObject({ ok: false });
    expect(formatProblem('X')).toBeUndefined();
    expect(formatProblem('yyyy X')).toMatch(/X and x \(Unix time\) stand alone/);
  });
});
