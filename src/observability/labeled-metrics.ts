/**
 * Counters, gauges and histograms with label children resolved once and kept: the hot path holds a cell and does a
 * field increment (a histogram also a short bucket search), nothing more. prom-client's own children hash their label
 * object on every inc/observe; these cells do not (bench/prometheus-metrics.ts measures both). Each metric is
 * registered in a prom-client Registry, which renders the text exposition (`get()` is the shape it asks for).
 */
import type { Registry } from 'prom-client';

type MetricType = 'counter' | 'gauge' | 'histogram';

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

abstract class LabeledMetric<Cell> {
  private readonly cells = new Map<string, { values: string[]; cell: Cell }>();
  abstract readonly type: MetricType;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  /** The cell of one label combination, created on first use and kept (callers cache it further where hot). */
  child(...values: string[]): Cell {
    if (values.length !== this.labelNames.length) throw new Error(`${this.name}: want ${this.labelNames.length} label values (${this.labelNames.join(', ')}), got ${values.length}`);
    const key = values.join('\x00');
    let entry = this.cells.get(key);
    if (!entry) {
      entry = { values, cell: this.newCell() };
      this.cells.set(key, entry);
    }
    return entry.cell;
  }

  /** Drops every cell (tests; a gauge recomputed from a source at scrape time). */
  reset(): void {
    this.cells.clear();
  }

  protected abstract newCell(): Cell;
  protected abstract values(labels: Record<string, string>, cell: Cell, out: MetricValue[]): void;

  /** Called by the registry at scrape time. */
  protected collect(): void | Promise<void> {}

  /** prom-client's collection interface: the metric's values at this moment. */
  async get(): Promise<{ name: string; help: string; type: MetricType; values: MetricValue[]; aggregator: 'sum' }> {
    await this.collect();
    const out: MetricValue[] = [];
    for (const { values, cell } of this.cells.values()) {
      const labels: Record<string, string> = {};
      for (let i = 0; i < values.length; i++) labels[this.labelNames[i]!] = values[i]!;
      this.values(labels, cell, out);
    }
    return { name: this.name, help: this.help, type: this.type, values: out, aggregator: 'sum' };
  }

  register(registry: Registry): this {
    registry.registerMetric(this as never);
    return this;
  }
}

export class CounterCell {
  value = 0;
  inc(by = 1): void {
    this.value += by;
  }
}

export class LabeledCounter extends LabeledMetric<CounterCell> {
  readonly type = 'counter';
  protected newCell(): CounterCell {
    return new CounterCell();
  }
  protected values(labels: Record<string, string>, cell: CounterCell, out: MetricValue[]): void {
    out.push({ value: cell.value, labels });
  }
}

export class GaugeCell {
  value = 0;
  set(v: number): void {
    this.value = v;
  }
  inc(by = 1): void {
    this.value += by;
  }
  dec(by = 1): void {
    this.value -= by;
  }
}

/** A gauge; with `source`, its cells are recomputed from it at every scrape (values keyed by their label values). */
export class LabeledGauge extends LabeledMetric<GaugeCell> {
  readonly type = 'gauge';
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly source?: () => Iterable<[string[], number]> | Promise<Iterable<[string[], number]>>,
  ) {
    super(name, help, labelNames);
  }
  protected newCell(): GaugeCell {
    return new GaugeCell();
  }
  protected override async collect(): Promise<void> {
    if (!this.source) return;
    const values = await this.source();
    this.reset();
    for (const [labels, v] of values) this.child(...labels).set(v);
  }
  protected values(labels: Record<string, string>, cell: GaugeCell, out: MetricValue[]): void {
    out.push({ value: cell.value, labels });
  }
}

export class HistogramCell {
  /** Per bucket (not cumulative); the last slot counts values above every bound. */
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }
  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

export class LabeledHistogram extends LabeledMetric<HistogramCell> {
  readonly type = 'histogram';
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {
    super(name, help, labelNames);
    for (let i = 1; i < buckets.length; i++) if (!(buckets[i]! > buckets[i - 1]!)) throw new Error(`${name}: buckets must increase: ${buckets.join(', ')}`);
  }
  protected newCell(): HistogramCell {
    return new HistogramCell(this.buckets);
  }
  protected values(labels: Record<string, string>, cell: HistogramCell, out: MetricValue[]): void {
    let cumulative = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      cumulative += cell.counts[i]!;
      out.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: this.buckets[i]! }, value: cumulative });
    }
    out.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: cell.count });
    out.push({ metricName: `${this.name}_sum`, labels, value: cell.sum });
    out.push({ metricName: `${this.name}_count`, labels, value: cell.count });
  }
}

/** client_golang's ExponentialBuckets: count bounds from start, each factor times the one before. */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  const out: number[] = [];
  for (let i = 0, v = start; i < count; i++, v *= factor) out.push(v);
  return out;
}
