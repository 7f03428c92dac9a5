/**
 * Cron schedules as the CronJob controller reads them: robfig/cron's ParseStandard, which Kubernetes uses
 * (5 fields: minute hour day-of-month month day-of-week; names JAN-DEC and SUN-SAT; `*`, `?`, ranges, lists and
 * steps; the descriptors @yearly @annually @monthly @weekly @daily @midnight @hourly and `@every <duration>`; an
 * optional `TZ=zone` or `CRON_TZ=zone` prefix). Times are matched on the wall clock of an IANA time zone through
 * Intl, so no time zone database of our own is needed.
 *
 * The syntax is parsed by src/api/cron-fields.ts (shared with the API server's validation); this module adds the
 * matching: parse once, then `next(after)`. The controller only depends on the CronSchedule interface.
 *
 * Daylight saving time: a wall time that does not exist (spring forward) is skipped; a wall time that happens
 * twice (fall back) runs at its first occurrence after `after`, once per wall-clock minute scanned.
 */

import { CronSyntaxError, parseCronFields, type CronField, type CronFields } from '../../api/cron-fields.js';

/** A parsed schedule. */
export interface CronSchedule {
  /** The first activation strictly after `after` (whole minutes for field schedules), or undefined when none within 5 years. */
  next(after: Date): Date | undefined;
}

export class CronParseError extends Error {
  override name = 'CronParseError';
}

/**
 * Parses a schedule (the syntax is src/api/cron-fields.ts, which the API server validates with too). `timeZone`
 * applies unless the schedule carries its own TZ=/CRON_TZ= prefix; without either, the process's local zone is used,
 * as kube-controller-manager uses its own local time.
 */
export function parseCronSchedule(spec: string, timeZone?: string): CronSchedule {
  let parsed: CronFields;
  try {
    parsed = parseCronFields(spec);
  } catch (err) {
    if (err instanceof CronSyntaxError) throw new CronParseError(err.message);
    throw err;
  }
  const zone = parsed.zone ?? timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  const problem = checkTimeZone(zone);
  if (problem) throw new CronParseError(`provided bad location ${zone}: ${problem}`);
  if (parsed.everyMs !== undefined) {
    // robfig/cron's @every rounds down to whole seconds, minimum 1 s.
    const delay = Math.max(1000, Math.floor(parsed.everyMs / 1000) * 1000);
    return { next: (after) => new Date(Math.floor(after.getTime() / 1000) * 1000 + delay) };
  }
  return new FieldSchedule(parsed.fields!, zoneClock(zone));
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
    private readonly fields: CronField[],
    private readonly clock: ZoneClock,
  ) {}

  next(after: Date): Date | undefined {
    const start = after.getTime();
    const [minute, hour, dom, month, dow] = this.fields as [CronField, CronField, CronField, CronField, CronField];
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
