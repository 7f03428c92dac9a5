/**
 * The registries behind the /metrics endpoints. One process-wide registry for the control plane (API server, store,
 * controllers, scheduler: k3s serves them all from one process, and so does `skiff server`), with the process's own
 * metrics from prom-client (process_cpu_seconds_total, process_resident_memory_bytes, nodejs_*); each node agent keeps
 * its own (kubelet-metrics.ts), so an agent's /metrics shows its kubelet only.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

/**
 * `SKIFF_INSTRUMENTATION=off` turns the hot-path hooks into no-ops (the endpoints still answer, with what is left):
 * bench/prometheus-metrics.ts measures the API server with and without them in one run.
 */
export const instrumentationEnabled = process.env.SKIFF_INSTRUMENTATION !== 'off';

/** What a registry holds: a metric family that renders itself in the text format. */
export interface RenderedMetric {
  readonly name: string;
  render(): Promise<string>;
}

/** Metric families rendered in registration order, then prom-client's process metrics when asked for. */
export class MetricsRegistry {
  private readonly families: RenderedMetric[] = [];
  private processMetrics: Promise<Registry> | undefined;

  /**
   * withProcessMetrics: add prom-client's process_* and nodejs_* metrics, started at the first scrape, so processes
   * nobody scrapes (agents, commands, tests) run no event-loop monitor.
   */
  constructor(private readonly withProcessMetrics = false) {}

  add(metric: RenderedMetric): void {
    if (this.families.some((m) => m.name === metric.name)) throw new Error(`metric ${metric.name} is registered already`);
    this.families.push(metric);
  }

  /** The whole exposition (text format 0.0.4). */
  async text(): Promise<string> {
    const parts = await Promise.all(this.families.map((m) => m.render()));
    if (this.withProcessMetrics) {
      // Loaded at the first scrape (once, however many scrapes wait for it): a node agent nobody scrapes keeps
      // prom-client, and the node:cluster, v8 and perf_hooks modules it pulls in, out of its memory.
      this.processMetrics ??= import('prom-client').then(({ collectDefaultMetrics, Registry }) => {
        const registry = new Registry();
        // The event-loop delay histogram samples every 50 ms rather than prom-client's 10 ms: fewer wake-ups.
        collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 50 });
        return registry;
      });
      parts.push(await (await this.processMetrics).metrics());
    }
    return parts.join('');
  }
}

let controlPlane: MetricsRegistry | undefined;

/** The control plane's registry (with the process metrics), created on first use. */
export function controlPlaneRegistry(): MetricsRegistry {
  controlPlane ??= new MetricsRegistry(true);
  return controlPlane;
}

/** Answers a GET or HEAD with the registry's text exposition (format 0.0.4, what Prometheus asks for by default). */
export async function serveMetrics(registry: MetricsRegistry, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await registry.text();
  res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
}
