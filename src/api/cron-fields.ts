/**
 * The syntax of CronJob schedules, as robfig/cron's ParseStandard reads them (what Kubernetes validates
 * `spec.schedule` with and what the CronJob controller runs): 5 fields (minute hour day-of-month month
 * day-of-week), names JAN-DEC and SUN-SAT, `*` and `?`, ranges, lists and steps; the descriptors @yearly
 * @annually @monthly @weekly @daily @midnight @hourly and `@every <duration>`; an optional `TZ=zone` or
 * `CRON_TZ=zone` prefix. Errors carry robfig's words, which kube-apiserver returns as the validation detail.
 * Pure: no clock and no time zone database (the zone name is returned, not checked).
 */

export class CronSyntaxError extends Error {
  override name = 'CronSyntaxError';
}

/** One field's allowed values, and whether it was written as `*`/`?` (which matters for day matching). */
export interface CronField {
  values: Set<number>;
  star: boolean;
}

export interface CronFields {
  /** The zone of a TZ=/CRON_TZ= prefix, when there is one. */
  zone?: string;
  /** For `@every <duration>`: the duration in milliseconds. */
  everyMs?: number;
  /** Otherwise the five fields, minute to day-of-week. */
  fields?: CronField[];
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

/** Parses a schedule; throws CronSyntaxError with robfig/cron's message when it is not one. */
export function parseCronFields(spec: string): CronFields {
  let s = spec.trim();
  const out: CronFields = {};
  const tz = /^(?:CRON_)?TZ=(\S+)\s+/.exec(s);
  if (tz) {
    out.zone = tz[1];
    s = s.slice(tz[0].length).trim();
  }
  if (s.startsWith('@every ')) {
    out.everyMs = parseDuration(s.slice('@every '.length).trim());
    return out;
  }
  if (s.startsWith('@')) {
    // robfig/cron matches descriptors exactly: @HOURLY is not one.
    const d = descriptors[s];
    if (!d) throw new CronSyntaxError(`unrecognized descriptor: ${s}`);
    s = d;
  }
  const parts = s.split(/\s+/).filter(Boolean);
  if (parts.length !== 5) throw new CronSyntaxError(`expected exactly 5 fields, found ${parts.length}: [${parts.join(' ')}]`);
  out.fields = parts.map((p, i) => parseField(p, fieldSpecs[i]!));
  return out;
}

function parseField(text: string, spec: FieldSpec): CronField {
  const values = new Set<number>();
  let star = false;
  for (const expr of text.split(',')) {
    const rangeAndStep = expr.split('/');
    if (rangeAndStep.length > 2) throw new CronSyntaxError(`too many slashes: ${expr}`);
    const lowHigh = rangeAndStep[0]!.split('-');
    let start: number;
    let end: number;
    let exprStar = false;
    if (lowHigh[0] === '*' || lowHigh[0] === '?') {
      start = spec.min;
      end = spec.max;
      exprStar = true;
    } else {
      if (lowHigh.length > 2) throw new CronSyntaxError(`too many hyphens: ${expr}`);
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
    // Checked before any value is produced, so `0-1000000` costs nothing.
    if (start < spec.min) throw new CronSyntaxError(`beginning of range (${start}) below minimum (${spec.min}): ${expr}`);
    if (end > spec.max) throw new CronSyntaxError(`end of range (${end}) above maximum (${spec.max}): ${expr}`);
    if (start > end) throw new CronSyntaxError(`beginning of range (${start}) beyond end of range (${end}): ${expr}`);
    if (step === 0) throw new CronSyntaxError(`step of range should be a positive number: ${expr}`);
    for (let v = start; v <= end; v += step) values.add(v);
    star ||= exprStar;
  }
  return { values, star };
}

function intOrName(s: string, spec: FieldSpec): number {
  const named = spec.names?.[s.toLowerCase()];
  return named ?? mustInt(s);
}

/** Go's strconv.Atoi on a 64-bit platform, with its error words. */
function mustInt(s: string): number {
  if (!/^[+-]?\d+$/.test(s)) throw new CronSyntaxError(`failed to parse int from ${s}: strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
  const n = BigInt(s);
  if (n > 9223372036854775807n || n < -9223372036854775808n) {
    throw new CronSyntaxError(`failed to parse int from ${s}: strconv.Atoi: parsing ${JSON.stringify(s)}: value out of range`);
  }
  // Beyond 2^53 the exact value no longer matters: it is out of every field's range.
  return Number(n);
}

/** Go's time.ParseDuration for the unsigned forms robfig accepts after `@every`, in milliseconds. */
function parseDuration(text: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  if (!text) throw new CronSyntaxError('failed to parse duration @every : time: invalid duration ""');
  let ms = 0;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) throw new CronSyntaxError(`failed to parse duration @every ${text}: time: invalid duration ${JSON.stringify(text)}`);
    ms += Number(m[1]) * units[m[2]!]!;
    pos = re.lastIndex;
  }
  return ms;
}
