/**
 * readContainerLogs: what `kubectl logs` shows of one container, read from its CRI-format log files.
 *
 * Semantics follow kubelet's ReadLogs (pkg/kubelet/kuberuntime/logs/logs.go):
 * - tailLines counts lines from the end, then sinceTime filters (a record older than sinceTime is skipped);
 * - `P` records are joined with the records that continue them, so a line cut by the 16 KiB limit comes out whole;
 * - timestamps prefixes each line with kubelet's fixed nine-digit RFC 3339 time of the line's first record;
 * - limitBytes cuts the output at that many bytes, even inside a line;
 * - follow keeps reading as the file grows, across rotations (the renamed file is drained first, then any rotated file
 *   written meanwhile, then the new current file), until isRunning() says the container exited and the file is drained,
 *   or the caller destroys the stream.
 *
 * One deliberate difference: kubelet reads only the current file, so `--tail` right after a rotation shows almost
 * nothing; this reader also reads the rotated (uncompressed) files the writer kept, oldest first.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync, watch, type FSWatcher } from 'node:fs';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { formatRfc3339NanoFixed, parseCriRecord, type CriLogRecord, type LogStream } from './cri-log-format.js';
import { COMPRESSED_SUFFIX, rotatedFiles } from './container-log-writer.js';

export interface ReadContainerLogsOptions {
  /** Lines from the end; undefined or negative = all (kubectl's --tail=-1). */
  tailLines?: number;
  /** Only lines written at or after this time (milliseconds since the epoch, or nanoseconds as a bigint). */
  sinceTime?: number | bigint;
  /** Only lines of the last N seconds (relative to now()); the later of sinceTime and this wins. */
  sinceSeconds?: number;
  timestamps?: boolean;
  limitBytes?: number;
  follow?: boolean;
  /** Which streams (default both). */
  stream?: LogStream | 'all';
  /** Asked in follow mode when the file has no more bytes: false ends the stream once drained. Default: always running. */
  isRunning?: () => boolean | Promise<boolean>;
  /** How often follow mode looks for new bytes when no file event came (default 250 ms). */
  pollIntervalMs?: number;
  now?: () => number;
}

export function readContainerLogs(path: string, options: ReadContainerLogsOptions = {}): Readable {
  // Not Readable.from: destroying that waits for the generator to reach a yield, and a follower waiting for bytes that
  // never come would never get there. The abort signal wakes it.
  const abort = new AbortController();
  const lines = generateLogs(path, options, abort.signal);
  return new Readable({
    read() {
      lines.next().then(
        (r) => this.push(r.done ? null : r.value),
        (err: Error) => this.destroy(err),
      );
    },
    destroy(err, callback) {
      abort.abort();
      lines.return(undefined).then(
        () => callback(err),
        (e: Error) => callback(err ?? e),
      );
    },
  });
}

interface LineState {
  /** Fragments of the unfinished line of each stream, and the time of its first record. */
  fragments: Record<LogStream, Buffer[]>;
  firstTime: Record<LogStream, bigint | undefined>;
}

interface OutputLine {
  timeNs: bigint;
  content: Buffer;
  /** false for a line that ended without a newline (the stream closed mid-line). */
  complete: boolean;
}

async function* generateLogs(path: string, options: ReadContainerLogsOptions, signal: AbortSignal): AsyncGenerator<Buffer> {
  const wanted = options.stream ?? 'all';
  const sinceNs = sinceNanos(options);
  let remaining = options.limitBytes !== undefined && options.limitBytes >= 0 ? options.limitBytes : Infinity;
  const state: LineState = { fragments: { stdout: [], stderr: [] }, firstTime: { stdout: undefined, stderr: undefined } };

  const render = (line: OutputLine): Buffer | undefined => {
    if (sinceNs !== undefined && line.timeNs < sinceNs) return undefined;
    const parts = options.timestamps ? [Buffer.from(`${formatRfc3339NanoFixed(line.timeNs)} `), line.content] : [line.content];
    if (line.complete) parts.push(NEWLINE);
    let out = Buffer.concat(parts);
    if (out.length > remaining) out = out.subarray(0, remaining);
    remaining -= out.length;
    return out;
  };

  // Phase 1: what is on disk now. The current file stays open at its end for phase 2.
  const files = rotatedFiles(path);
  let current = openIfExists(path);
  let offset = 0;
  let carry: Buffer = Buffer.alloc(0);
  /** Time of the last record read from the current file (or the rotated ones followed after it). */
  let lastTimeNs: bigint | undefined;
  const lines: OutputLine[] = [];
  const tail = options.tailLines !== undefined && options.tailLines >= 0 ? options.tailLines : undefined;
  const collect = (line: OutputLine) => {
    lines.push(line);
    if (tail !== undefined && lines.length > tail) lines.shift();
  };
  try {
    for (const file of startFiles(files, tail, wanted)) {
      for (const record of parseRecords(readRotated(file)).records) {
        lastTimeNs = record.timeNs;
        feed(state, record, wanted, collect);
      }
    }
    if (current !== undefined) {
      const chunk = readAvailable(current.fd, 0);
      offset = chunk.length;
      const parsed = parseRecords(chunk);
      carry = parsed.rest;
      for (const record of parsed.records) {
        lastTimeNs = record.timeNs;
        feed(state, record, wanted, collect);
      }
    }
    if (!options.follow) flushUnfinished(state, collect);
    for (const line of lines) {
      const out = render(line);
      if (out !== undefined && out.length > 0) yield out;
      if (remaining <= 0) return;
    }
    if (!options.follow) return;

    // Phase 2: follow.
    const pollMs = options.pollIntervalMs ?? 250;
    const isRunning = options.isRunning ?? (() => true);
    const pending: OutputLine[] = [];
    const push = (line: OutputLine) => pending.push(line);
    let watcher: FSWatcher | undefined;
    let wake: (() => void) | undefined;
    const watchCurrent = () => {
      watcher?.close();
      watcher = undefined;
      try {
        watcher = watch(path, () => wake?.());
        watcher.on('error', () => undefined);
      } catch {
        // The file may not exist yet; polling covers it.
      }
    };
    watchCurrent();
    try {
      let exited = false;
      /** When the current file was seen renamed away and drained: the time to move on to the new one. */
      let switchAt: number | undefined;
      for (;;) {
        if (current === undefined) {
          current = openIfExists(path);
          offset = 0;
          if (current !== undefined) watchCurrent();
        }
        let progressed = false;
        if (current !== undefined) {
          const chunk = readAvailable(current.fd, offset);
          if (chunk.length > 0) {
            progressed = true;
            switchAt = undefined;
            offset += chunk.length;
            const parsed = parseRecords(carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk);
            carry = parsed.rest;
            for (const record of parsed.records) {
              lastTimeNs = record.timeNs;
              feed(state, record, wanted, push);
            }
          } else {
            const rotatedIno = rotatedAway(path, current.ino);
            // Under the cri runtime the file is renamed first and containerd opens the new one when asked
            // (ReopenContainerLog), writing to the renamed one until it swaps: switch once the new file exists and the
            // old one stayed quiet for SWITCH_GRACE_MS after that.
            // A container that exited writes nothing more anywhere: no need to wait then.
            if (rotatedIno === false || rotatedIno === -1) {
              switchAt = undefined;
            } else if (exited || Date.now() >= (switchAt ??= Date.now() + SWITCH_GRACE_MS)) {
              switchAt = undefined;
              // Drained the renamed file: read rotated files written after it, then the new current file.
              for (const file of filesAfter(path, current.ino, lastTimeNs)) {
                for (const record of parseRecords(readRotated(file)).records) {
                  lastTimeNs = record.timeNs;
                  feed(state, record, wanted, push);
                }
              }
              closeSync(current.fd);
              current = undefined;
              carry = Buffer.alloc(0);
              progressed = true;
            }
          }
        }
        while (pending.length > 0) {
          const out = render(pending.shift()!);
          if (out !== undefined && out.length > 0) yield out;
          if (remaining <= 0) return;
        }
        if (signal.aborted) return;
        if (progressed) continue;
        if (exited) break;
        // No new bytes: if the container exited, read once more (it may have written just before exiting), then end.
        if (!(await isRunning())) {
          exited = true;
          continue;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, pollMs);
          function done() {
            clearTimeout(timer);
            signal.removeEventListener('abort', done);
            wake = undefined;
            resolve();
          }
          wake = done;
          signal.addEventListener('abort', done);
        });
      }
      flushUnfinished(state, push);
      for (const line of pending) {
        const out = render(line);
        if (out !== undefined && out.length > 0) yield out;
        if (remaining <= 0) return;
      }
    } finally {
      watcher?.close();
    }
  } finally {
    if (current !== undefined) closeSync(current.fd);
  }
}

const NEWLINE = Buffer.from('\n');
/** How long a renamed log must stay quiet, once its successor exists, before a follower leaves it. */
const SWITCH_GRACE_MS = 100;

function sinceNanos(options: ReadContainerLogsOptions): bigint | undefined {
  let since: bigint | undefined;
  if (options.sinceTime !== undefined) since = typeof options.sinceTime === 'bigint' ? options.sinceTime : BigInt(Math.floor(options.sinceTime)) * 1_000_000n;
  if (options.sinceSeconds !== undefined && options.sinceSeconds > 0) {
    const fromSeconds = BigInt(Math.floor((options.now ?? Date.now)() - options.sinceSeconds * 1000)) * 1_000_000n;
    if (since === undefined || fromSeconds > since) since = fromSeconds;
  }
  return since;
}

/** Adds one record to its stream's line; calls emit with each finished line. Records of other streams are skipped. */
function feed(state: LineState, record: CriLogRecord, wanted: LogStream | 'all', emit: (line: OutputLine) => void): void {
  if (wanted !== 'all' && record.stream !== wanted) return;
  const s = record.stream;
  state.fragments[s].push(record.content);
  state.firstTime[s] ??= record.timeNs;
  if (record.partial) return;
  const content = state.fragments[s].length === 1 ? state.fragments[s][0]! : Buffer.concat(state.fragments[s]);
  emit({ timeNs: state.firstTime[s]!, content, complete: true });
  state.fragments[s] = [];
  state.firstTime[s] = undefined;
}

/** Lines left unfinished at the end (the container closed a stream mid-line) come out without a newline. */
function flushUnfinished(state: LineState, emit: (line: OutputLine) => void): void {
  const open = (['stdout', 'stderr'] as const).filter((s) => state.firstTime[s] !== undefined).sort((a, b) => (state.firstTime[a]! < state.firstTime[b]! ? -1 : 1));
  for (const s of open) {
    emit({ timeNs: state.firstTime[s]!, content: Buffer.concat(state.fragments[s]), complete: false });
    state.fragments[s] = [];
    state.firstTime[s] = undefined;
  }
}

/** Complete records of a chunk, and the bytes after its last newline (a record still being written). */
function parseRecords(chunk: Buffer): { records: CriLogRecord[]; rest: Buffer } {
  const records: CriLogRecord[] = [];
  let start = 0;
  for (;;) {
    const nl = chunk.indexOf(0x0a, start);
    if (nl < 0) break;
    const parsed = parseCriRecord(chunk.subarray(start, nl));
    // kubelet logs and skips lines it cannot parse; a reader has no one to tell, so it skips them.
    if (!(parsed instanceof Error)) records.push(parsed);
    start = nl + 1;
  }
  return { records, rest: Buffer.from(chunk.subarray(start)) };
}

/**
 * For tail: the rotated files worth reading, newest last. Older files are skipped once the newer ones hold tailLines
 * finished lines (a file's `F` records of the wanted streams), so `--tail` does not read 40 MiB of history.
 */
function startFiles(rotated: string[], tail: number | undefined, wanted: LogStream | 'all'): string[] {
  if (tail === undefined) return rotated;
  // The current file is read anyway; count from the newest rotated file backwards. Counting is approximate (a rough
  // tag scan) but only decides where to start: every file from there on is parsed properly.
  let lines = 0;
  for (let i = rotated.length - 1; i >= 0; i--) {
    if (lines >= tail) return rotated.slice(i + 1);
    const text = readRotated(rotated[i]!).toString('latin1');
    for (const m of text.matchAll(/^\S+ (stdout|stderr) F/gm)) if (wanted === 'all' || m[1] === wanted) lines++;
  }
  return rotated;
}

/**
 * A rotated file's records: compressed ones (kubelet's container log manager gzips all but the newest rotated file) are
 * inflated whole; at most containerLogMaxSize each. A file removed meanwhile (retention) reads as empty.
 */
function readRotated(file: string): Buffer {
  try {
    const bytes = readFileSync(file);
    return file.endsWith(COMPRESSED_SUFFIX) ? gunzipSync(bytes) : bytes;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
    throw err;
  }
}

function openIfExists(path: string): { fd: number; ino: number } | undefined {
  try {
    const fd = openSync(path, 'r');
    return { fd, ino: fstatSync(fd).ino };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function readAvailable(fd: number, offset: number): Buffer {
  const size = fstatSync(fd).size;
  if (size <= offset) return Buffer.alloc(0);
  const buf = Buffer.allocUnsafe(size - offset);
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, offset + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** The inode of the file at path when it is no longer the one we hold open; false while it still is. */
function rotatedAway(path: string, ino: number): number | false {
  try {
    const now = statSync(path).ino;
    return now === ino ? false : now;
  } catch {
    return -1; // renamed and the new file not created yet
  }
}

/**
 * Rotated files that came after the one with this inode, oldest first. A follower that fell behind (a slow client)
 * may find its file gone from the list: the kubelet's next rotation compressed it (a new file, a new inode). Then the
 * files after it are those whose first record is newer than the last record read.
 */
function filesAfter(path: string, ino: number, lastTimeNs: bigint | undefined): string[] {
  const rotated = rotatedFiles(path);
  const index = rotated.findIndex((f) => {
    try {
      return statSync(f).ino === ino;
    } catch {
      return false;
    }
  });
  if (index >= 0) return rotated.slice(index + 1);
  if (lastTimeNs === undefined) return [];
  return rotated.filter((f) => {
    const first = firstRecordTime(f);
    return first !== undefined && first > lastTimeNs;
  });
}

/** The time of a rotated file's first record (its first 4 KiB, or the whole file inflated when compressed). */
function firstRecordTime(file: string): bigint | undefined {
  let head: Buffer;
  if (file.endsWith(COMPRESSED_SUFFIX)) {
    head = readRotated(file);
  } else {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      return undefined;
    }
    try {
      const buf = Buffer.allocUnsafe(4096);
      head = buf.subarray(0, readSync(fd, buf, 0, buf.length, 0));
    } finally {
      closeSync(fd);
    }
  }
  const nl = head.indexOf(0x0a);
  const record = parseCriRecord(nl < 0 ? head : head.subarray(0, nl));
  return record instanceof Error ? undefined : record.timeNs;
}
