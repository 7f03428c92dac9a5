/**
 * The CRI container log format, one record per line:
 *
 *   <RFC3339Nano timestamp> <stdout|stderr> <P|F> <content>\n
 *
 * as containerd's CRI plugin writes it (pkg/cri/io/logger.go) and kubelet reads it (pkg/kubelet/kuberuntime/logs/logs.go,
 * parseCRILog). `F` ends a line; `P` is a fragment of a longer line (over the line size limit, or the last bytes before the
 * stream closed without a newline) that the next record continues.
 *
 * Timestamps are carried as bigint nanoseconds since the epoch: JavaScript dates stop at milliseconds, and the format
 * (and `kubectl logs --timestamps`) has nanoseconds.
 */

export type LogStream = 'stdout' | 'stderr';

export interface CriLogRecord {
  /** Nanoseconds since the epoch. */
  timeNs: bigint;
  stream: LogStream;
  /** true for a `P` record: the line continues in the next record of this stream. */
  partial: boolean;
  content: Buffer;
}

const NS_PER_MS = 1_000_000n;

/**
 * Wall clock in nanoseconds: the epoch milliseconds at first use plus the monotonic clock since, so records written in
 * one process are ordered and distinct even within one millisecond.
 */
let baseWallNs: bigint | undefined;
let baseMonoNs = 0n;
export function nowNanos(): bigint {
  const mono = process.hrtime.bigint();
  if (baseWallNs === undefined) {
    baseWallNs = BigInt(Date.now()) * NS_PER_MS;
    baseMonoNs = mono;
  }
  return baseWallNs + (mono - baseMonoNs);
}

/** Go's time.RFC3339Nano in UTC: the fraction's trailing zeros trimmed, none at all for a whole second. */
export function formatRfc3339Nano(timeNs: bigint): string {
  return formatTime(timeNs, false);
}

/** kubelet's timeFormatOut for `--timestamps` ("2006-01-02T15:04:05.000000000Z07:00"): always nine digits. */
export function formatRfc3339NanoFixed(timeNs: bigint): string {
  return formatTime(timeNs, true);
}

function formatTime(timeNs: bigint, fixed: boolean): string {
  let seconds = timeNs / 1_000_000_000n;
  let frac = timeNs % 1_000_000_000n;
  if (frac < 0n) {
    frac += 1_000_000_000n;
    seconds -= 1n;
  }
  const iso = new Date(Number(seconds) * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
  let digits = frac.toString().padStart(9, '0');
  if (!fixed) digits = digits.replace(/0+$/, '');
  return `${iso.slice(0, 19)}${digits === '' ? '' : `.${digits}`}Z`;
}

const RFC3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/;

/** Parses an RFC 3339 time with up to nine fraction digits and any offset; undefined when it is not one. */
export function parseRfc3339Nano(text: string): bigint | undefined {
  const m = RFC3339.exec(text);
  if (m === null) return undefined;
  const ms = Date.parse(`${m[1]}${m[3] === 'Z' ? 'Z' : m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  const frac = m[2] === undefined ? 0n : BigInt(m[2].padEnd(9, '0'));
  return BigInt(ms) * NS_PER_MS + frac;
}

/** One record as bytes, newline included. */
export function formatCriRecord(record: CriLogRecord): Buffer {
  const head = `${formatRfc3339Nano(record.timeNs)} ${record.stream} ${record.partial ? 'P' : 'F'} `;
  return Buffer.concat([Buffer.from(head), record.content, NEWLINE]);
}

const NEWLINE = Buffer.from('\n');

/**
 * Parses one record without its trailing newline. Returns an Error naming the line when it is not CRI format (kubelet
 * reports such lines and skips them).
 */
export function parseCriRecord(line: Buffer): CriLogRecord | Error {
  const sp1 = line.indexOf(0x20);
  const sp2 = sp1 < 0 ? -1 : line.indexOf(0x20, sp1 + 1);
  // The tag field is one letter; kubelet also accepts tags with ':'-separated extras ("F:x"), taking the first.
  const sp3 = sp2 < 0 ? -1 : line.indexOf(0x20, sp2 + 1);
  if (sp3 < 0) {
    // A record with empty content may lack the space after the tag ("... stdout F").
    if (sp2 > 0 && line.length > sp2 + 1) return parseParts(line, sp1, sp2, line.length);
    return new Error(`not a CRI log record: ${JSON.stringify(line.subarray(0, 80).toString())}`);
  }
  return parseParts(line, sp1, sp2, sp3);
}

function parseParts(line: Buffer, sp1: number, sp2: number, sp3: number): CriLogRecord | Error {
  const timeNs = parseRfc3339Nano(line.subarray(0, sp1).toString('latin1'));
  const stream = line.subarray(sp1 + 1, sp2).toString('latin1');
  const tag = line.subarray(sp2 + 1, sp3).toString('latin1').split(':')[0];
  if (timeNs === undefined || (stream !== 'stdout' && stream !== 'stderr') || (tag !== 'P' && tag !== 'F')) {
    return new Error(`not a CRI log record: ${JSON.stringify(line.subarray(0, 80).toString())}`);
  }
  return { timeNs, stream, partial: tag === 'P', content: sp3 >= line.length ? Buffer.alloc(0) : line.subarray(sp3 + 1) };
}
