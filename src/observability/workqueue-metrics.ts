/**
 * client-go's workqueue metrics (util/workqueue/metrics.go, registered by component-base's workqueue provider), per
 * queue name (the controller's: `deployment`, `replicaset`, ...):
 *   workqueue_adds_total, workqueue_depth, workqueue_queue_duration_seconds, workqueue_work_duration_seconds,
 *   workqueue_retries_total, workqueue_unfinished_work_seconds, workqueue_longest_running_processor_seconds
 */
import { exponentialBuckets, LabeledCounter, LabeledGauge, LabeledHistogram, type CounterCell, type GaugeCell, type HistogramCell } from './labeled-metrics.js';
import { controlPlaneRegistry } from './registries.js';

/** 10 ns to 10 s, as client-go. */
const DURATION_BUCKETS = exponentialBuckets(10e-9, 10, 10);

const registry = controlPlaneRegistry();
const adds = new LabeledCounter('workqueue_adds_total', 'Total number of adds handled by workqueue', ['name']).register(registry);
const depth = new LabeledGauge('workqueue_depth', 'Current depth of workqueue', ['name']).register(registry);
const queueDuration = new LabeledHistogram('workqueue_queue_duration_seconds', 'How long in seconds an item stays in workqueue before being requested.', ['name'], DURATION_BUCKETS).register(registry);
const workDuration = new LabeledHistogram('workqueue_work_duration_seconds', 'How long in seconds processing an item from workqueue takes.', ['name'], DURATION_BUCKETS).register(registry);
const retries = new LabeledCounter('workqueue_retries_total', 'Total number of retries handled by workqueue', ['name']).register(registry);

const queues = new Set<WorkqueueMetrics>();

new LabeledGauge(
  'workqueue_unfinished_work_seconds',
  'How many seconds of work has done that is in progress and hasn\'t been observed by work_duration. Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.',
  ['name'],
  () => [...queues].map((q) => [[q.name], q.unfinishedSeconds()] as [string[], number]),
).register(registry);
new LabeledGauge(
  'workqueue_longest_running_processor_seconds',
  'How many seconds has the longest running processor for workqueue been running.',
  ['name'],
  () => [...queues].map((q) => [[q.name], q.longestRunningSeconds()] as [string[], number]),
).register(registry);

/**
 * One queue's metrics, fed by the queue as client-go's queueMetrics is: add when a key becomes dirty, get when a
 * worker takes it, done when the worker finishes it, retry on every rate-limited re-add.
 */
export class WorkqueueMetrics {
  private readonly addsCell: CounterCell;
  private readonly depthCell: GaugeCell;
  private readonly queueCell: HistogramCell;
  private readonly workCell: HistogramCell;
  private readonly retriesCell: CounterCell;
  private readonly addTimes = new Map<string, number>();
  private readonly processingStarts = new Map<string, number>();

  constructor(readonly name: string) {
    this.addsCell = adds.child(name);
    this.depthCell = depth.child(name);
    this.queueCell = queueDuration.child(name);
    this.workCell = workDuration.child(name);
    this.retriesCell = retries.child(name);
    queues.add(this);
  }

  add(key: string): void {
    this.addsCell.inc();
    this.depthCell.inc();
    if (!this.addTimes.has(key)) this.addTimes.set(key, performance.now());
  }

  get(key: string): void {
    this.depthCell.dec();
    const now = performance.now();
    const added = this.addTimes.get(key);
    if (added !== undefined) {
      this.queueCell.observe((now - added) / 1000);
      this.addTimes.delete(key);
    }
    this.processingStarts.set(key, now);
  }

  done(key: string): void {
    const started = this.processingStarts.get(key);
    if (started === undefined) return;
    this.workCell.observe((performance.now() - started) / 1000);
    this.processingStarts.delete(key);
  }

  retry(): void {
    this.retriesCell.inc();
  }

  /** The queue is shut down: its gauges stop being reported as running work. */
  shutDown(): void {
    queues.delete(this);
  }

  unfinishedSeconds(): number {
    const now = performance.now();
    let total = 0;
    for (const t of this.processingStarts.values()) total += now - t;
    return total / 1000;
  }

  longestRunningSeconds(): number {
    const now = performance.now();
    let oldest = now;
    for (const t of this.processingStarts.values()) if (t < oldest) oldest = t;
    return (now - oldest) / 1000;
  }
}
