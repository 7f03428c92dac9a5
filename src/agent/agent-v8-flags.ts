/**
 * V8 settings a `skiff agent` process makes for itself at start (issue 7's memory target; src/agent/README.md "Memory").
 * Only the agent command: the server's hot paths (watch fan-out, JSON, admission) want a large young generation.
 *
 * The young generation capped at 2 MB semispaces (the effect of --max-semi-space-size=2): V8 doubles them up to 16 MB
 * while objects survive, 32 MB of young generation with 100 pods. --max-semi-space-size itself is read once when the
 * heap is set up and has no effect set from a running process (checked again), but --semi-space-growth-factor is read
 * at each growth: after every GC the cap sets it to 1 (no growth) once the semispaces reached the cap, and back to 2
 * when V8 has shrunk them. No second process, nothing for a service unit to set.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/** The young generation's cap: both semispaces together (2 MB each), as V8's new_space reports its size. */
export const AGENT_NEW_SPACE_CAP_BYTES = 4 * 1024 * 1024;

/** V8's default growth factor of the semispaces (--semi-space-growth-factor). */
const DEFAULT_GROWTH_FACTOR = 2;

/** Starts the young-generation cap; call before the agent's modules load (they grow the young generation). */
export function applyAgentV8Flags(): void {
  capYoungGeneration(AGENT_NEW_SPACE_CAP_BYTES);
}

/**
 * Keeps V8's new space at about capBytes: after each GC (a 'gc' performance entry), growth is off while the new space
 * is at or over the cap and on below it. Entries arrive after the GC, so one more doubling can slip through between
 * two of them; the cap is approximate, not a limit. Returns a function that stops it.
 */
export function capYoungGeneration(capBytes: number): () => void {
  let growthFactor = DEFAULT_GROWTH_FACTOR;
  const check = () => {
    const newSpace = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    if (!newSpace) return;
    const wanted = newSpace.space_size >= capBytes ? 1 : DEFAULT_GROWTH_FACTOR;
    if (wanted === growthFactor) return;
    growthFactor = wanted;
    setFlagsFromString(`--semi-space-growth-factor=${wanted}`);
  };
  const observer = new PerformanceObserver(check);
  observer.observe({ entryTypes: ['gc'] });
  check();
  return () => observer.disconnect();
}
