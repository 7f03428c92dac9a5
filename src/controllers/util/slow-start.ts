/** Upstream SlowStartInitialBatchSize. */
export const SLOW_START_INITIAL_BATCH_SIZE = 1;

/**
 * Runs `count` calls of fn in batches of 1, 2, 4, ... (controller.slowStartBatch); each batch runs concurrently and
 * fn gets the call's index (0..count-1). The first batch with a failure ends the run, so a create that fails for all
 * (quota, admission) costs one request rather than hundreds. Resolves with how many calls were made (`attempted`:
 * the rest will never happen, so their expectations must be lowered), how many succeeded, and the first error.
 */
export async function slowStartBatch(
  count: number,
  initialBatchSize: number,
  fn: (i: number) => Promise<void>,
): Promise<{ attempted: number; successes: number; error?: unknown }> {
  let successes = 0;
  let done = 0;
  for (let batch = Math.min(count, initialBatchSize); batch > 0; batch = Math.min(2 * batch, count - done)) {
    const results = await Promise.allSettled(Array.from({ length: batch }, (_, i) => fn(done + i)));
    done += batch;
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    successes += results.filter((r) => r.status === 'fulfilled').length;
    if (failed) return { attempted: done, successes, error: failed.reason };
  }
  return { attempted: done, successes };
}
