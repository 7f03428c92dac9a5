/**
 * ContainerLogManager: rotation of the container logs a CRI runtime writes (containerd writes `<pod log dir>/<container>/
 * <attempt>.log` itself and never rotates it), as kubelet's container log manager does
 * (pkg/kubelet/logs/container_log_manager.go, 1.32):
 *
 *   every 10 s (monitoringPeriod) ── ListContainers, the running ones ── per container (its logPath):
 *     missing log? ── ReopenContainerLog (a rotation that lost it is repaired) ── stat again
 *     size < containerLogMaxSize? ── nothing
 *     else rotateLog:
 *       `<log>.*`: remove `.tmp` leftovers and plain files whose `.gz` exists (cleanupUnusedLogs)
 *       keep the newest containerLogMaxFiles - 2 rotated files, removing oldest first (removeExcessLogs)
 *       gzip the uncompressed ones: `<f>` ─▶ `<f>.tmp` ─▶ rename `<f>.gz`, remove `<f>` (compressLog)
 *       rename `<log>` ─▶ `<log>.<YYYYMMDD-hhmmss>`, ReopenContainerLog (containerd opens a fresh `<log>`); when the
 *       reopen fails, rename back so the next round tries again (rotateLatestLog)
 *
 * So at most containerLogMaxFiles files per container: the current one, the newest rotated one uncompressed (a
 * `kubectl logs -f` may still be draining it) and containerLogMaxFiles - 2 compressed ones. The reader
 * (../logs/container-log-reader.ts) reads compressed rotated files too.
 *
 * The process runtime rotates its own logs as it writes them (../logs/container-log-writer.ts) and has no
 * reopenContainerLog: the kubelet starts this manager only for runtimes that have it. Timestamps are UTC (kubelet uses
 * the node's local time zone; skiff's writer and this manager agree on UTC, so names sort the same on every node).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { realClock, type Clock } from '../../client/types.js';
import { createLogger, type Logger } from '../../log/logger.js';
import { COMPRESSED_SUFFIX, DEFAULT_MAX_FILES, DEFAULT_MAX_SIZE_BYTES, rotatedFiles, rotatedName } from '../logs/container-log-writer.js';
import type { ContainerRuntime } from '../runtime/types.js';

/** kubelet's containerLogMonitorInterval default. */
export const DEFAULT_LOG_MONITOR_INTERVAL_MS = 10_000;
const TMP_SUFFIX = '.tmp';

export interface ContainerLogManagerOptions {
  /** Must have reopenContainerLog (CRI ReopenContainerLog). */
  runtime: Pick<ContainerRuntime, 'listContainers'> & { reopenContainerLog(id: string): Promise<void> };
  /** containerLogMaxSize in bytes (default 10 MiB): a log at least this big is rotated. */
  maxSizeBytes?: number;
  /** containerLogMaxFiles (default 5, at least 2): files kept per container, the current one included. */
  maxFiles?: number;
  /** containerLogMonitorInterval (default 10 s). */
  monitorIntervalMs?: number;
  clock?: Clock;
  log?: Logger;
}

/** Why a container log policy is invalid (kubelet's words), or undefined. */
export function validateContainerLogPolicy(maxSizeBytes: number, maxFiles: number): string | undefined {
  if (!Number.isInteger(maxFiles) || maxFiles <= 1) return `invalid MaxFiles ${maxFiles}, must be > 1`;
  if (!Number.isFinite(maxSizeBytes) || maxSizeBytes < 0) return `invalid MaxSize ${maxSizeBytes}, must be >= 0`;
  return undefined;
}

export class ContainerLogManager {
  private readonly runtime: ContainerLogManagerOptions['runtime'];
  private readonly maxSizeBytes: number;
  private readonly maxFiles: number;
  private readonly intervalMs: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private timer: { cancel(): void } | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(options: ContainerLogManagerOptions) {
    this.maxSizeBytes = options.maxSizeBytes ?? DEFAULT_MAX_SIZE_BYTES;
    this.maxFiles = options.maxFiles ?? DEFAULT_MAX_FILES;
    const invalid = validateContainerLogPolicy(this.maxSizeBytes, this.maxFiles);
    if (invalid) throw new Error(`container log manager: ${invalid}`);
    this.runtime = options.runtime;
    this.intervalMs = options.monitorIntervalMs ?? DEFAULT_LOG_MONITOR_INTERVAL_MS;
    this.clock = options.clock ?? realClock;
    this.log = options.log ?? createLogger('container-log-manager');
  }

  /** Checks every monitor interval until stop(). */
  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.rotateLogs()
        .catch((err: unknown) => this.log.error(`rotating container logs: ${(err as Error).message}`, { err }))
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.timer = this.clock.setTimeout(tick, this.intervalMs);
        });
    };
    this.timer = this.clock.setTimeout(tick, this.intervalMs);
  }

  /** Stops the checks and waits for one in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.running;
  }

  /** One round over the running containers (kubelet's rotateLogs); a container's failure is logged and the rest go on. */
  async rotateLogs(): Promise<void> {
    const containers = (await this.runtime.listContainers({ state: 'running' })).filter((c) => c.logPath);
    // Every log's size at once (one round trip to the thread pool for all); the few that need work go one at a time.
    const sizes = await Promise.all(containers.map((c) => fileSize(c.logPath).catch((err: unknown) => err as Error)));
    for (const [i, c] of containers.entries()) {
      if (this.stopped) return;
      const size = sizes[i];
      if (typeof size === 'number' && size < this.maxSizeBytes) continue;
      try {
        if (size instanceof Error) throw size;
        await this.processContainer(c.id, c.logPath, size);
      } catch (err) {
        this.log.error(`rotating the log of container ${c.id}: ${(err as Error).message}`, { key: c.id, path: c.logPath, err });
      }
    }
  }

  private async processContainer(id: string, path: string, known: number | undefined): Promise<void> {
    let size = known;
    if (size === undefined) {
      // A rotation that renamed the log and then failed to reopen it (an agent killed in between) loses the file:
      // asking the runtime to reopen it brings it back (kubelet does the same).
      await this.runtime.reopenContainerLog(id);
      size = await fileSize(path);
      if (size === undefined) throw new Error(`log file ${path} is missing after ReopenContainerLog`);
    }
    if (size < this.maxSizeBytes) return;
    await this.rotateLog(id, path);
  }

  private async rotateLog(id: string, path: string): Promise<void> {
    await this.cleanupUnusedLogs(path);
    let rotated = rotatedFiles(path);
    // Besides the new current file and the one rotated now, maxFiles - 2 rotated files stay; oldest removed first so
    // a `kubectl logs` reading them in order is not cut in the middle.
    const excess = Math.max(0, rotated.length - Math.max(0, this.maxFiles - 2));
    for (const old of rotated.slice(0, excess)) await rm(old, { force: true });
    rotated = rotated.slice(excess);
    for (const file of rotated) if (!file.endsWith(COMPRESSED_SUFFIX)) await compressLog(file);
    await this.rotateLatestLog(id, path);
  }

  /** Temporary files of an interrupted compression, and plain files whose compressed copy is complete. */
  private async cleanupUnusedLogs(path: string): Promise<void> {
    const dir = dirname(path);
    const prefix = `${basename(path)}.`;
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    const present = new Set(names);
    for (const name of names) {
      if (!name.startsWith(prefix)) continue;
      if (name.endsWith(TMP_SUFFIX) || present.has(`${name}${COMPRESSED_SUFFIX}`)) await rm(join(dir, name), { force: true });
    }
  }

  private async rotateLatestLog(id: string, path: string): Promise<void> {
    const target = rotatedName(path, BigInt(this.clock.now().getTime()) * 1_000_000n);
    await rename(path, target);
    try {
      await this.runtime.reopenContainerLog(id);
    } catch (err) {
      // Renamed back, so the next round tries again; the runtime still writes to it.
      await rename(target, path).catch((e: unknown) => this.log.error(`renaming ${target} back to ${path}: ${(e as Error).message}`, { key: id, err: e }));
      throw new Error(`failed to reopen container log ${JSON.stringify(id)}: ${(err as Error).message}`);
    }
    this.log.debug('container log rotated', { key: id, path, rotated: target });
  }
}

/** gzip `<file>` into `<file>.tmp`, rename that to `<file>.gz`, remove `<file>` (kubelet's compressLog). */
async function compressLog(file: string): Promise<void> {
  const tmp = `${file}${TMP_SUFFIX}`;
  await pipeline(createReadStream(file), createGzip(), createWriteStream(tmp, { mode: 0o640 }));
  await rename(tmp, `${file}${COMPRESSED_SUFFIX}`);
  await rm(file, { force: true });
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
