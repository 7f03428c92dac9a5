/**
 * Counters, gauges and histograms with label children resolved once and kept: the hot path holds a cell and does a
 * field increment (a histogram also a short bucket search), nothing more. prom-client's own children hash their label
 * object on every inc/observe; these cells do not (bench/prometheus-metrics.ts measures both). Rendering is ours too:
 * each cell keeps its label text, so a scrape of thousands of series is string concatenation, not object building.
 */
import type { MetricsRegistry } from './registries.js';

type MetricType = 'counter' | 'gauge' | 'histogram';

/** A sample value in the text format (Go's formatting of the special values). */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Label values in the text format: backslash, double quote and newline escaped. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Help text in the text format: backslash and newline escaped. */
function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export abstract class LabeledMetric<Cell> {
  private readonly cells = new Map<string, { labels: string; cell: Cell }>();
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
      const labels = values.map((v, i) => `${this.labelNames[i]}="${escapeLabelValue(v)}"`).join(',');
      entry = { labels, cell: this.newCell() };
      this.cells.set(key, entry);
    }
    return entry.cell;
  }

  /** Drops every cell (a gauge recomputed from a source at scrape time). */
  reset(): void {
    this.cells.clear();
  }

  protected abstract newCell(): Cell;
  /** Appends the cell's sample lines; `labels` is its label text (`a="x",b="y"`, '' without labels). */
  protected abstract lines(labels: string, cell: Cell, out: string[]): void;

  /** Called at scrape time, before rendering. */
  protected collect(): void | Promise<void> {}

  /** The metric family in the text format (0.0.4), HELP and TYPE first. */
  async render(): Promise<string> {
    await this.collect();
    const out = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    for (const { labels, cell } of this.cells.values()) this.lines(labels, cell, out);
    return `${out.join('\n')}\n`;
  }

  register(registry: MetricsRegistry): this {
    registry.add(this);
    return this;
  }
}

const braces = (labels: string) => (labels === '' ? '' : `{${labels}}`);

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
  protected lines(labels: string, cell: CounterCell, out: string[]): void {
    out.push(`${this.name}${braces(labels)} ${formatValue(cell.value)}`);
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

/**
 * A gauge; with `source`, its cells are recomputed from it at every scrape (values keyed by their label values). A
 * source that fails leaves the family without samples for that scrape rather than failing the whole scrape.
 */
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
    let values: Iterable<[string[], number]>;
    try {
      values = await this.source();
    } catch {
      this.reset();
      return;
    }
    this.reset();
    for (const [labels, v] of values) this.child(...labels).set(v);
  }
  protected lines(labels: string, cell: GaugeCell, out: string[]): void {
    out.push(`${this.name}${braces(labels)} ${formatValue(cell.value)}`);
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
  /** The `le` label of each bucket, +Inf last. */
  private readonly les: string[];
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {
    super(name, help, labelNames);
    this.les = [...buckets.map(formatValue), '+Inf'];
    for (let i = 1; i < buckets.length; i++) if (!(buckets[i]! > buckets[i - 1]!)) throw new Error(`${name}: buckets must increase: ${buckets.join(', ')}`);
  }
  protected newCell(): HistogramCell {
    return new HistogramCell(this.buckets);
  }
  protected lines(labels: string, cell: HistogramCell, out: string[]): void {
    const sep = labels === '' ? '' : ',';
    let cumulative = 0;
    for (let i = 0; i < this.les.length; i++) {
      cumulative += cell.counts[i]!;
      out.push(`${this.name}_bucket{${labels}${sep}le="${this.les[i]}"} ${cumulative}`);
    }
    out.push(`${this.name}_sum${braces(labels)} ${formatValue(cell.sum)}`);
    out.push(`${this.name}_count${braces(labels)} ${cell.count}`);
  }
}

/** client_golang's ExponentialBuckets: count bounds from start, each factor times the one before. */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  const out: number[] = [];
  for (let i = 0, v = start; i < count; i++, v *= factor) out.push(v);
  return out;
}
