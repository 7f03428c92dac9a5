/**
 * ContainerLogWriter: turns a container's stdout and stderr bytes into CRI-format records in one file, and rotates it.
 *
 * Line splitting copies containerd's redirectLogs (pkg/cri/io/logger.go): a newline ends an `F` record (a `\r` before it is
 * dropped, as Go's bufio.Reader.ReadLine does); a line longer than maxLineBytes (containerd's max_container_log_line_size,
 * 16 KiB) is cut into `P` records; bytes left when the stream closes without a newline become a `P` record. Each stream has
 * its own pending line, so interleaved stdout and stderr never mix inside a record.
 *
 * Rotation copies kubelet's container log manager (pkg/kubelet/logs/container_log_manager.go, defaults
 * containerLogMaxSize 10 MiB and containerLogMaxFiles 5): the current file is `<path>` (e.g. `0.log`); when the next
 * record would take it over maxSizeBytes it is renamed `<path>.<YYYYMMDD-hhmmss>` (UTC) and a new one started, and only the
 * newest maxFiles - 1 rotated files are kept. Differences: the writer rotates at once instead of kubelet's 10 s check, and
 * rotated files are not gzip-compressed (readers need no decompression). Two rotations within one second get `-1`, `-2`
 * suffixes, which still sort after the plain name.
 *
 * Writes are synchronous appends: the supervisor that owns the writers serves many containers from one event loop, and a
 * small append to the page cache costs microseconds.
 */
import { closeSync, fstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { formatCriRecord, nowNanos, type LogStream } from './cri-log-format.js';

export const DEFAULT_MAX_SIZE_BYTES = 10 * 1024 * 1024;
export const DEFAULT_MAX_FILES = 5;
export const DEFAULT_MAX_LINE_BYTES = 16 * 1024;

export interface ContainerLogWriterOptions {
  /** The current log file, e.g. /var/log/pods/<ns>_<pod>_<uid>/<container>/0.log; its directory is created. */
  path: string;
  maxSizeBytes?: number;
  /** Files kept in all, the current one included (>= 1). */
  maxFiles?: number;
  maxLineBytes?: number;
  /** Record timestamps, nanoseconds since the epoch. */
  clock?: () => bigint;
}

export class ContainerLogWriter {
  readonly path: string;
  private readonly maxSizeBytes: number;
  private readonly maxFiles: number;
  private readonly maxLineBytes: number;
  private readonly clock: () => bigint;
  private fd: number | undefined;
  private size = 0;
  private readonly pending: Record<LogStream, Buffer[]> = { stdout: [], stderr: [] };
  private readonly pendingBytes: Record<LogStream, number> = { stdout: 0, stderr: 0 };

  constructor(options: ContainerLogWriterOptions) {
    this.path = options.path;
    this.maxSizeBytes = options.maxSizeBytes ?? DEFAULT_MAX_SIZE_BYTES;
    this.maxFiles = Math.max(1, options.maxFiles ?? DEFAULT_MAX_FILES);
    this.maxLineBytes = Math.max(1, options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
    this.clock = options.clock ?? nowNanos;
    this.open();
  }

  /** Appends bytes the container wrote on one stream; complete lines are written at once. */
  write(stream: LogStream, chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      this.append(stream, chunk.subarray(start, end));
      if (nl < 0) break;
      this.emit(stream, false);
      start = nl + 1;
    }
  }

  /** The stream closed: bytes after the last newline become a `P` record (containerd's behaviour at EOF). */
  endStream(stream: LogStream): void {
    if (this.pendingBytes[stream] > 0) this.emit(stream, true);
  }

  /** Flushes both streams and closes the file. */
  close(): void {
    this.endStream('stdout');
    this.endStream('stderr');
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private append(stream: LogStream, bytes: Buffer): void {
    let rest = bytes;
    while (this.pendingBytes[stream] + rest.length > this.maxLineBytes) {
      const take = this.maxLineBytes - this.pendingBytes[stream];
      this.pending[stream].push(rest.subarray(0, take));
      this.pendingBytes[stream] += take;
      this.emit(stream, true);
      rest = rest.subarray(take);
    }
    if (rest.length > 0) {
      // Copy: the caller's buffer may be reused (stream chunks are, in pooled reads).
      this.pending[stream].push(Buffer.from(rest));
      this.pendingBytes[stream] += rest.length;
    }
  }

  private emit(stream: LogStream, partial: boolean): void {
    let content = this.pending[stream].length === 1 ? this.pending[stream][0] : Buffer.concat(this.pending[stream]);
    this.pending[stream] = [];
    this.pendingBytes[stream] = 0;
    if (!partial && content.length > 0 && content[content.length - 1] === 0x0d) content = content.subarray(0, content.length - 1);
    const record = formatCriRecord({ timeNs: this.clock(), stream, partial, content });
    if (this.size > 0 && this.size + record.length > this.maxSizeBytes) this.rotate();
    if (this.fd === undefined) this.open();
    writeSync(this.fd!, record);
    this.size += record.length;
  }

  private open(): void {
    mkdirSync(dirname(this.path), { recursive: true });
    this.fd = openSync(this.path, 'a', 0o640);
    this.size = fstatSync(this.fd).size;
  }

  private rotate(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    renameSync(this.path, rotatedName(this.path, this.clock()));
    const rotated = rotatedFiles(this.path);
    for (const old of rotated.slice(0, Math.max(0, rotated.length - (this.maxFiles - 1)))) rmSync(old, { force: true });
    this.open();
  }
}

/**
 * The name a log rotated at timeNs gets: `<path>.<YYYYMMDD-hhmmss>`. A second rotation within one second gets the next
 * suffix after every existing one of that second (`-1`, `-2`; not the first free one: the oldest may have been deleted,
 * and its name must not come back as the newest), counting compressed ones too.
 */
export function rotatedName(path: string, timeNs: bigint): string {
  const stamp = rotationStamp(timeNs);
  let last = -1;
  for (const f of rotatedFiles(path)) {
    const m = ROTATED_SUFFIX.exec(f)!;
    if (m[1] === stamp) last = Math.max(last, Number(m[2] ?? 0));
  }
  return last < 0 ? `${path}.${stamp}` : `${path}.${stamp}-${last + 1}`;
}

/** kubelet's rotation timestamp format "20060102-150405", in UTC. */
function rotationStamp(timeNs: bigint): string {
  const iso = new Date(Number(timeNs / 1_000_000n)).toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
}

/**
 * Rotated files of a log path, oldest first (their names sort by time): `<path>.<stamp>[-n]`, and the same with `.gz`
 * once kubelet's container log manager compressed them (the cri runtime's logs; see kubelet/container-log-manager.ts).
 */
export function rotatedFiles(path: string): string[] {
  const dir = dirname(path);
  const prefix = `${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith(prefix) && /^\d{8}-\d{6}(-\d+)?(\.gz)?$/.test(n.slice(prefix.length)))
    .sort(compareRotated)
    .map((n) => join(dir, n));
}

function compareRotated(a: string, b: string): number {
  // "x.20260101-101010" < "x.20260101-101010-2" < "x.20260101-101010-10": numeric on the collision suffix.
  const ka = ROTATED_SUFFIX.exec(a)!;
  const kb = ROTATED_SUFFIX.exec(b)!;
  if (ka[1] !== kb[1]) return ka[1]! < kb[1]! ? -1 : 1;
  return Number(ka[2] ?? 0) - Number(kb[2] ?? 0);
}

const ROTATED_SUFFIX = /\.(\d{8}-\d{6})(?:-(\d+))?(?:\.gz)?$/;

/** Suffix of a rotated log kubelet's container log manager compressed. */
export const COMPRESSED_SUFFIX = '.gz';
