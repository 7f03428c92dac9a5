/**
 * kube-scheduler's attempt metrics (pkg/scheduler/metrics/metrics.go):
 *   scheduler_schedule_attempts_total{result,profile}                 result: scheduled | unschedulable | error
 *   scheduler_scheduling_attempt_duration_seconds{result,profile}     from the start of the scheduling cycle to the
 *                                                                     outcome (the bind, for scheduled pods)
 */
import { exponentialBuckets, LabeledCounter, LabeledHistogram, type CounterCell, type HistogramCell } from './labeled-metrics.js';
import { controlPlaneRegistry } from './registries.js';

export type ScheduleResult = 'scheduled' | 'unschedulable' | 'error';

/** 1 ms doubling to about 16 s, as upstream. */
export const SCHEDULING_ATTEMPT_BUCKETS = exponentialBuckets(0.001, 2, 15);

const attempts = new LabeledCounter(
  'scheduler_schedule_attempts_total',
  'Number of attempts to schedule pods, by the result. \'unschedulable\' means a pod could not be scheduled, while \'error\' means an internal scheduler problem.',
  ['result', 'profile'],
).register(controlPlaneRegistry());
const attemptDuration = new LabeledHistogram(
  'scheduler_scheduling_attempt_duration_seconds',
  'Scheduling attempt latency in seconds (scheduling algorithm + binding)',
  ['result', 'profile'],
  SCHEDULING_ATTEMPT_BUCKETS,
).register(controlPlaneRegistry());

const cells = new Map<string, { count: CounterCell; duration: HistogramCell }>();

/** Records one scheduling attempt of `profile` (the scheduler name) that began at `startedMs` (performance.now()). */
export function recordScheduleAttempt(result: ScheduleResult, profile: string, startedMs: number): void {
  const key = `${result}\x00${profile}`;
  let cell = cells.get(key);
  if (!cell) {
    cell = { count: attempts.child(result, profile), duration: attemptDuration.child(result, profile) };
    cells.set(key, cell);
  }
  cell.count.inc();
  cell.duration.observe((performance.now() - startedMs) / 1000);
}
