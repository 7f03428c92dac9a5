import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CronParseError, parseCronSchedule } from './cron-schedule.js';

function next(spec: string, after: string, tz = 'UTC'): string | undefined {
  return parseCronSchedule(spec, tz).next(new Date(after))?.toISOString();
}

describe('parseCronSchedule().next', () => {
  const cases: { name: string; spec: string; tz?: string; after: string; want: string | undefined }[] = [
    { name: 'every minute is strictly after', spec: '* * * * *', after: '2025-01-01T12:00:00Z', want: '2025-01-01T12:01:00.000Z' },
    { name: 'steps', spec: '*/5 * * * *', after: '2025-01-01T12:03:10Z', want: '2025-01-01T12:05:00.000Z' },
    { name: 'N/step means N-max/step', spec: '7/20 * * * *', after: '2025-01-01T12:30:00Z', want: '2025-01-01T12:47:00.000Z' },
    { name: 'ranges and lists', spec: '15,45 8-10 * * *', after: '2025-01-01T10:50:00Z', want: '2025-01-02T08:15:00.000Z' },
    { name: 'month names', spec: '0 0 1 mar *', after: '2025-01-01T00:00:00Z', want: '2025-03-01T00:00:00.000Z' },
    { name: 'day names', spec: '0 6 * * MON-FRI', after: '2025-01-03T07:00:00Z', want: '2025-01-06T06:00:00.000Z' },
    // 2025-06-13 is a Friday; with both day fields restricted, either matching is enough.
    { name: 'dom OR dow when both are restricted', spec: '0 0 13 * 5', after: '2025-06-01T00:00:00Z', want: '2025-06-06T00:00:00.000Z' },
    { name: 'dom AND dow when one is *', spec: '0 0 13 * *', after: '2025-06-01T00:00:00Z', want: '2025-06-13T00:00:00.000Z' },
    { name: 'leap day', spec: '0 0 29 2 *', after: '2025-03-01T00:00:00Z', want: '2028-02-29T00:00:00.000Z' },
    { name: '@hourly', spec: '@hourly', after: '2025-01-01T12:00:00Z', want: '2025-01-01T13:00:00.000Z' },
    { name: '@weekly is Sunday midnight', spec: '@weekly', after: '2025-01-01T00:00:00Z', want: '2025-01-05T00:00:00.000Z' },
    { name: '@every', spec: '@every 1m30s', after: '2025-01-01T12:00:00.500Z', want: '2025-01-01T12:01:30.000Z' },
    { name: 'never', spec: '0 0 30 2 *', after: '2025-01-01T00:00:00Z', want: undefined },
    { name: 'time zone: 09:00 in New York is 14:00 UTC in winter', spec: '0 9 * * *', tz: 'America/New_York', after: '2025-01-01T00:00:00Z', want: '2025-01-01T14:00:00.000Z' },
    { name: 'time zone: and 13:00 UTC in summer', spec: '0 9 * * *', tz: 'America/New_York', after: '2025-07-01T00:00:00Z', want: '2025-07-01T13:00:00.000Z' },
    { name: 'half-hour zone', spec: '0 * * * *', tz: 'Asia/Kolkata', after: '2025-01-01T00:00:00Z', want: '2025-01-01T00:30:00.000Z' },
    { name: 'TZ= prefix wins over the zone given', spec: 'CRON_TZ=Asia/Tokyo 0 9 * * *', tz: 'UTC', after: '2025-01-01T00:00:00Z', want: '2025-01-02T00:00:00.000Z' },
    // Berlin skips 02:00-03:00 on 2025-03-30: that day has no 02:30.
    { name: 'a wall time inside the spring-forward gap is skipped', spec: '30 2 * * *', tz: 'Europe/Berlin', after: '2025-03-29T02:00:00Z', want: '2025-03-31T00:30:00.000Z' },
    // Berlin repeats 02:00-03:00 on 2025-10-26: 02:30 CEST (00:30Z) comes first.
    { name: 'a repeated wall time runs at its first occurrence', spec: '30 2 * * *', tz: 'Europe/Berlin', after: '2025-10-26T00:00:00Z', want: '2025-10-26T00:30:00.000Z' },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(next(c.spec, c.after, c.tz), c.want));
  }
});

describe('parseCronSchedule errors', () => {
  const cases: { spec: string; tz?: string; want: RegExp }[] = [
    { spec: '* * * *', want: /expected exactly 5 fields, found 4/ },
    { spec: '@fortnightly', want: /unrecognized descriptor: @fortnightly/ },
    { spec: '61 * * * *', want: /end of range \(61\) above maximum \(59\): 61/ },
    { spec: '5-1 * * * *', want: /beginning of range \(5\) beyond end of range \(1\)/ },
    { spec: '*/x * * * *', want: /failed to parse int from x/ },
    { spec: '*/0 * * * *', want: /step of range should be a positive number/ },
    { spec: '0 0 * * *', tz: 'Mars/Olympus', want: /provided bad location Mars\/Olympus: unknown time zone Mars\/Olympus/ },
  ];
  for (const c of cases) {
    it(`rejects ${JSON.stringify(c.spec)}`, () => {
      assert.throws(() => parseCronSchedule(c.spec, c.tz ?? 'UTC'), (err: unknown) => err instanceof CronParseError && c.want.test(err.message));
    });
  }
});
