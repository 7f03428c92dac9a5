/**
 * The registries behind the /metrics endpoints. One process-wide registry for the control plane (API server, store,
 * controllers, scheduler: k3s serves them all from one process, and so does `skiff server`), with the process's own
 * metrics (process_cpu_seconds_total, process_resident_memory_bytes, ...); each node agent keeps its own
 * (kubelet-metrics.ts), so an agent's /metrics shows its kubelet only.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * `SKIFF_INSTRUMENTATION=off` turns the hot-path hooks into no-ops (the endpoints still answer, with what is left):
 * bench/prometheus-metrics.ts measures the API server with and without them in one run.
 */
export const instrumentationEnabled = process.env.SKIFF_INSTRUMENTATION !== 'off';

let controlPlane: Registry | undefined;

/** The control plane's registry, created (with the process metrics) on first use. */
export function controlPlaneRegistry(): Registry {
  if (!controlPlane) {
    controlPlane = new Registry();
    // The event-loop delay histogram samples every 50 ms rather than prom-client's 10 ms: fewer wake-ups of an idle server.
    collectDefaultMetrics({ register: controlPlane, eventLoopMonitoringPrecision: 50 });
  }
  return controlPlane;
}

/** Answers a GET or HEAD with the registry's text exposition (format 0.0.4, what Prometheus asks for by default). */
export async function serveMetrics(registry: Registry, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await registry.metrics();
  res.writeHead(200, { 'Content-Type': Registry.PROMETHEUS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
}
