import { CompactedError } from './store.js';
import type { Store } from './store.js';
import { createLogger } from '../log/logger.js';

const log = createLogger('compactor');

export interface CompactorOptions {
  /** Time between compactions; also the least history kept. Default 5 minutes (kube-apiserver --etcd-compaction-interval). */
  intervalMs?: number;
  /** Never compact away the newest keepRevisions revisions, however old they are. */
  keepRevisions?: number;
  /** Clock in milliseconds (injected by tests). Default Date.now. */
  now?: () => number;
  /** Receives a compaction that failed; the compactor keeps running. Default: logged to stderr. */
  onError?: (err: Error) => void;
}

export interface Compactor {
  /** Stops the timer; a compaction already running finishes. Idempotent. */
  stop(): void;
  /**
   * One compactor step, as the timer runs it: records the current revision with the time, then compacts to the
   * newest recorded revision that is at least intervalMs old. Resolves with the revision compacted to, or
   * undefined when there was nothing to do.
   */
  tick(): Promise<number | undefined>;
}

/**
 * Keeps the store's history bounded the way kube-apiserver does for etcd: every interval it compacts to the
 * revision it saw one interval earlier, so clients can resume watches from anything in the last ~interval.
 * Revisions are remembered with their time, so a late or early timer never cuts history shorter than intervalMs.
 */
export function startCompactor(store: Store, opts: CompactorOptions = {}): Compactor {
  const intervalMs = opts.intervalMs ?? 5 * 60_000;
  const keepRevisions = opts.keepRevisions ?? 0;
  const now = opts.now ?? Date.now;
  const onError =
    opts.onError ?? ((err: Error) => log.error('compaction failed', { err }));
  /** Revisions seen at earlier ticks, oldest first. */
  let seen: { at: number; revision: number }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  let last: Promise<unknown> = Promise.resolve();
  /** Ticks run one after another, so observations stay in time order. */
  function tick(): Promise<number | undefined> {
    const run = last.then(step);
    last = run.catch(() => undefined);
    return run;
  }

  async function step(): Promise<number | undefined> {
    const t = now();
    const current = await store.currentRevision();
    let target: number | undefined;
    while (seen.length > 0 && seen[0].at <= t - intervalMs) target = seen.shift()!.revision;
    seen.push({ at: t, revision: current });
    if (target === undefined) return undefined;
    target = Math.min(target, current - keepRevisions);
    if (target <= (await store.compactRevision())) return undefined;
    try {
      await store.compact(target);
    } catch (err) {
      // Another compactor got there first: the history we wanted gone is gone (kube-apiserver ignores it too).
      if (err instanceof CompactedError) return undefined;
      throw err;
    }
    return target;
  }

  function schedule(): void {
    // A chain of timeouts, not setInterval: a slow compaction never overlaps the next one.
    timer = setTimeout(() => {
      tick()
        .catch((err: Error) => onError(err))
        .finally(() => {
          if (!stopped) schedule();
        });
    }, intervalMs);
    timer.unref();
  }

  // The first observation is made now, so the first compaction can happen one interval from start.
  tick().catch((err: Error) => onError(err));
  schedule();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
    tick,
  };
}
