/**
 * Cron schedules as the CronJob controller reads them: robfig/cron's ParseStandard, which Kubernetes uses
 * (5 fields: minute hour day-of-month month day-of-week; names JAN-DEC and SUN-SAT; `*`, `?`, ranges, lists and
 * steps; the descriptors @yearly @annually @monthly @weekly @daily @midnight @hourly and `@every <duration>`; an
 * optional `TZ=zone` or `CRON_TZ=zone` prefix). Times are matched on the wall clock of an IANA time zone through
 * Intl, so no time zone database of our own is needed.
 *
 * Written here rather than taken from the `cron-parser` package (not installed) because the part the controller
 * needs is small: parse once, then `next(after)`. The controller only depends on the CronSchedule interface.
 *
 * Daylight saving time: a wall time that does not exist (spring forward) is skipped; a wall time that happens
 * twice (fall back) runs at its first occurrence after `after`, once per wall-clock minute scanned.
 */

/** A parsed schedule. */
export interface CronSchedule {
  /** The first activation strictly after `after` (whole minutes for field schedules), or undefined when none within 5 years. */
  next(after: Date): Date | undefined;
}

export class CronParseError extends Error {
  override name = 'CronParseError';
}

interface FieldSpec {
  min: number;
  max: number;
  names?: Record<string, number>;
}

const months: Record<string, number> = { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 };
const days: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };
const fieldSpecs: FieldSpec[] = [
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12, names: months },
  { min: 0, max: 6, names: days },
];

const descriptors: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/** One field's allowed values, and whether it was written as `*`/`?` (which matters for day matching). */
interface Field {
  values: Set<number>;
  star: boolean;
}

/**
 * Parses a schedule. `timeZone` applies unless the schedule carries its own TZ=/CRON_TZ= prefix; without either,
 * the process's local zone is used, as kube-controller-manager uses its own local time.
 */
export function parseCronSchedule(spec: string, timeZone?: string): CronSchedule {
  let s = spec.trim();
  let zone = timeZone;
  const tz = /^(?:CRON_)?TZ=(\S+)\s+/.exec(s);
  if (tz) {
    zone = tz[1];
    s = s.slice(tz[0].length).trim();
  }
  zone ??= Intl.DateTimeFormat().resolvedOptions().timeZone;
  const problem = checkTimeZone(zone!);
  if (problem) throw new CronParseError(`provided bad location ${zone}: ${problem}`);
  if (s.startsWith('@every ')) return everySchedule(s.slice('@every '.length).trim());
  if (s.startsWith('@')) {
    const d = descriptors[s.toLowerCase()];
    if (!d) throw new CronParseError(`unrecognized descriptor: ${s}`);
    s = d;
  }
  const parts = s.split(/\s+/).filter(Boolean);
  if (parts.length !== 5) throw new CronParseError(`expected exactly 5 fields, found ${parts.length}: [${parts.join(' ')}]`);
  const fields = parts.map((p, i) => parseField(p, fieldSpecs[i]!));
  return new FieldSchedule(fields, zoneClock(zone!));
}

/** undefined when Intl knows the IANA zone name, else the reason (Go's wording: "unknown time zone X"). */
export function checkTimeZone(zone: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return undefined;
  } catch {
    return `unknown time zone ${zone}`;
  }
}

function parseField(text: string, spec: FieldSpec): Field {
  const values = new Set<number>();
  let star = false;
  for (const expr of text.split(',')) {
    const rangeAndStep = expr.split('/');
    if (rangeAndStep.length > 2) throw new CronParseError(`too many slashes: ${expr}`);
    const lowHigh = rangeAndStep[0]!.split('-');
    let start: number;
    let end: number;
    let exprStar = false;
    if (lowHigh[0] === '*' || lowHigh[0] === '?') {
      start = spec.min;
      end = spec.max;
      exprStar = true;
    } else {
      if (lowHigh.length > 2) throw new CronParseError(`too many hyphens: ${expr}`);
      start = intOrName(lowHigh[0]!, spec);
      end = lowHigh.length === 2 ? intOrName(lowHigh[1]!, spec) : start;
    }
    let step = 1;
    if (rangeAndStep.length === 2) {
      step = mustInt(rangeAndStep[1]!);
      // "N/step" means "N-max/step".
      if (lowHigh.length === 1) end = spec.max;
      // "*/2" is a list of values, not "any": it does not get the star semantics for day matching.
      if (step > 1) exprStar = false;
    }
    if (start < spec.min) throw new CronParseError(`beginning of range (${start}) below minimum (${spec.min}): ${expr}`);
    if (end > spec.max) throw new CronParseError(`end of range (${end}) above maximum (${spec.max}): ${expr}`);
    if (start > end) throw new CronParseError(`beginning of range (${start}) beyond end of range (${end}): ${expr}`);
    if (step === 0) throw new CronParseError(`step of range should be a positive number: ${expr}`);
    for (let v = start; v <= end; v += step) values.add(v);
    star ||= exprStar;
  }
  return { values, star };
}

function intOrName(s: string, spec: FieldSpec): number {
  const named = spec.names?.[s.toLowerCase()];
  return named ?? mustInt(s);
}

function mustInt(s: string): number {
  if (!/^\d+$/.test(s)) throw new CronParseError(`failed to parse int from ${s}: strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
  return Number(s);
}

/** Go's time.ParseDuration for the units a schedule would use; @every rounds down to whole seconds, minimum 1 s. */
function everySchedule(text: string): CronSchedule {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let ms = 0;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) throw new CronParseError(`failed to parse duration @every ${text}: time: invalid duration ${JSON.stringify(text)}`);
    ms += Number(m[1]) * units[m[2]!]!;
    pos = re.lastIndex;
  }
  if (!text) throw new CronParseError(`failed to parse duration @every ${text}: time: invalid duration ""`);
  const delay = Math.max(1000, Math.floor(ms / 1000) * 1000);
  return { next: (after) => new Date(Math.floor(after.getTime() / 1000) * 1000 + delay) };
}

/** Converts between instants and wall-clock time in one zone. Wall times are ms values whose UTC fields are the wall fields. */
interface ZoneClock {
  wall(instant: number): number;
  /** The instants (0, 1 or 2, ascending) whose wall time is exactly `wall`. */
  instants(wall: number): number[];
}

const clocks = new Map<string, ZoneClock>();

function zoneClock(zone: string): ZoneClock {
  let c = clocks.get(zone);
  if (c) return c;
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  const wall = (instant: number): number => {
    const p: Record<string, number> = {};
    for (const part of fmt.formatToParts(new Date(instant))) if (part.type !== 'literal') p[part.type] = Number(part.value);
    return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour! % 24, p.minute!, p.second!) + (instant - Math.floor(instant / 1000) * 1000);
  };
  const day = 86_400_000;
  c = {
    wall,
    instants(w) {
      // Offsets are under a day, and zones change offset at most once within two days: the offsets in effect a day
      // before and a day after cover every instant that can show this wall time.
      const found = new Set<number>();
      for (const probe of [w - day, w + day]) {
        const offset = wall(probe) - probe;
        const instant = w - offset;
        if (wall(instant) === w) found.add(instant);
      }
      return [...found].sort((a, b) => a - b);
    },
  };
  clocks.set(zone, c);
  return c;
}

class FieldSchedule implements CronSchedule {
  constructor(
    private readonly fields: Field[],
    private readonly clock: ZoneClock,
  ) {}

  next(after: Date): Date | undefined {
    const start = after.getTime();
    const [minute, hour, dom, month, dow] = this.fields as [Field, Field, Field, Field, Field];
    // Scan wall-clock minutes from the one after `after`'s wall time, skipping whole months, days and hours that
    // cannot match (the way robfig/cron walks fields).
    let w = Math.floor(this.clock.wall(start) / 60_000) * 60_000 + 60_000;
    const limit = w + 5 * 366 * 86_400_000;
    while (w < limit) {
      const d = new Date(w);
      const y = d.getUTCFullYear();
      const mo = d.getUTCMonth();
      const day = d.getUTCDate();
      const h = d.getUTCHours();
      if (!month.values.has(mo + 1)) {
        w = Date.UTC(y, mo + 1, 1);
        continue;
      }
      const domMatch = dom.values.has(day);
      const dowMatch = dow.values.has(d.getUTCDay());
      // Vixie cron rule as robfig has it: if either day field is `*`, both must match; otherwise either may.
      const dayMatch = dom.star || dow.star ? domMatch && dowMatch : domMatch || dowMatch;
      if (!dayMatch) {
        w = Date.UTC(y, mo, day + 1);
        continue;
      }
      if (!hour.values.has(h)) {
        w = Date.UTC(y, mo, day, h + 1);
        continue;
      }
      if (!minute.values.has(d.getUTCMinutes())) {
        w += 60_000;
        continue;
      }
      for (const instant of this.clock.instants(w)) if (instant > start) return new Date(instant);
      w += 60_000;
    }
    return undefined;
  }
}

/** RFC 3339 with the zone's offset at that instant, as Go's time.Format(time.RFC3339) prints it ("Z" for UTC). */
export function formatRFC3339InZone(date: Date, zone: string): string {
  const instant = Math.floor(date.getTime() / 1000) * 1000;
  const offsetMin = Math.round((zoneClock(zone).wall(instant) - instant) / 60_000);
  const wall = new Date(instant + offsetMin * 60_000).toISOString().slice(0, 19);
  if (offsetMin === 0) return `${wall}Z`;
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  return `${wall}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}
