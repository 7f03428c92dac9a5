/**
 * The per-Service health check servers of the proxy (kube-proxy's ServiceHealthServer, pkg/proxy/healthcheck/
 * service_health.go): a LoadBalancer Service with externalTrafficPolicy Local gets spec.healthCheckNodePort from the
 * API server, and every node's proxy answers HTTP on that port so that a cloud load balancer sends traffic only to
 * nodes holding a ready endpoint of it (the Local policy drops external traffic elsewhere).
 *
 * - Any request on the port: 200 when the node has local ready endpoints and the proxy is healthy, else 503; header
 *   X-Content-Type-Options: nosniff; body JSON {"service":{"namespace","name"},"localEndpoints":N,
 *   "serviceProxyHealthy":bool} (upstream's shape, tab-indented).
 * - localEndpoints counts distinct IPs of this node's ready endpoints over all the Service's ports (terminating ones
 *   do not count: the node should stop getting new traffic while they drain).
 * - sync() opens a listener for each new (Service, port), closes those of Services gone or moved to another port, and
 *   updates the counts of the rest in place; a port that cannot be bound (another process holds it) is said once and
 *   tried again at the next sync, as kube-proxy.
 */
import http from 'node:http';
import type { Service } from 'kubernetes-types/core/v1.js';
import { createLogger } from '../log/logger.js';
import type { ServicePortInfo } from './service-model.js';

const log = createLogger('proxy');

export interface HealthCheckTarget {
  /** spec.healthCheckNodePort. */
  port: number;
  /** Distinct IPs of this node's ready endpoints. */
  localEndpoints: number;
}

/** kube-proxy's NeedsHealthCheck: a LoadBalancer Service with externalTrafficPolicy Local and its allocated port. */
export function healthCheckPortOf(svc: Service): number | undefined {
  const spec = svc.spec;
  if (spec?.type !== 'LoadBalancer' || spec.externalTrafficPolicy !== 'Local') return undefined;
  const port = spec.healthCheckNodePort;
  return typeof port === 'number' && port > 0 ? port : undefined;
}

/** Pure: this node's ready endpoints of a Service, counted once per IP across its ports (EndpointsMap.LocalReadyEndpoints). */
export function countLocalReadyEndpoints(ports: readonly ServicePortInfo[]): number {
  const ips = new Set<string>();
  for (const sp of ports) for (const ep of sp.endpoints) if (ep.local && ep.ready) ips.add(ep.ip);
  return ips.size;
}

interface Instance {
  namespace: string;
  name: string;
  port: number;
  localEndpoints: number;
  server: http.Server;
}

export interface ServiceHealthServerOptions {
  /** Where the listeners bind (kube-proxy: every node address unless --nodeport-addresses narrows it). */
  bindAddress?: string;
}

export class ServiceHealthServer {
  private readonly instances = new Map<string, Instance>();
  /** Ports that failed to bind, by Service key: said once per (Service, port). */
  private readonly failed = new Map<string, number>();
  private healthy = true;

  constructor(private readonly o: ServiceHealthServerOptions = {}) {}

  /** The ports listened on, by Service key `ns/name` (tests). */
  get ports(): ReadonlyMap<string, number> {
    return new Map([...this.instances].map(([k, i]) => [k, i.port]));
  }

  /** The proxy's own health (its last sync wrote the rules): false answers 503 everywhere, as kube-proxy's healthz. */
  setProxyHealthy(healthy: boolean): void {
    this.healthy = healthy;
  }

  /** Makes the listeners match `targets` (by Service key `ns/name`). */
  async sync(targets: ReadonlyMap<string, HealthCheckTarget>): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [key, inst] of this.instances) {
      const t = targets.get(key);
      if (t && t.port === inst.port) continue;
      this.instances.delete(key);
      closing.push(closeServer(inst.server));
      log.info('closed the health check port of a Service', { service: key, port: inst.port });
    }
    // The old listener of a Service that moved ports is closed before the new one opens (it may take that port).
    await Promise.all(closing);
    for (const key of this.failed.keys()) if (!targets.has(key)) this.failed.delete(key);
    for (const [key, t] of targets) {
      const inst = this.instances.get(key);
      if (inst) {
        inst.localEndpoints = t.localEndpoints;
        continue;
      }
      const [namespace, name] = key.split('/') as [string, string];
      const fresh: Instance = { namespace, name, port: t.port, localEndpoints: t.localEndpoints, server: http.createServer((_req, res) => this.answer(fresh, res)) };
      try {
        await listen(fresh.server, t.port, this.o.bindAddress ?? '0.0.0.0');
      } catch (err) {
        if (this.failed.get(key) !== t.port) log.warn(`the health check port ${t.port} of Service ${key} could not be opened; retried at each sync`, { err });
        this.failed.set(key, t.port);
        continue;
      }
      // After listening, errors are per connection (EMFILE and the like): it keeps listening.
      fresh.server.on('error', (err) => log.warn(`the health check port ${t.port} of Service ${key} failed to accept a connection`, { err }));
      this.failed.delete(key);
      this.instances.set(key, fresh);
      log.info('opened the health check port of a Service', { service: key, port: t.port });
    }
  }

  /** Closes every listener. */
  async close(): Promise<void> {
    const all = [...this.instances.values()];
    this.instances.clear();
    await Promise.all(all.map((i) => closeServer(i.server)));
  }

  private answer(inst: Instance, res: http.ServerResponse): void {
    const healthy = this.healthy;
    const count = inst.localEndpoints;
    // Upstream prints this with Go's %q and a tab-indented template.
    const body = `{\n\t"service": {\n\t\t"namespace": ${JSON.stringify(inst.namespace)},\n\t\t"name": ${JSON.stringify(inst.name)}\n\t},\n\t"localEndpoints": ${count},\n\t"serviceProxyHealthy": ${healthy}\n}`;
    res.writeHead(count > 0 && healthy ? 200 : 503, { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Kept-alive health checkers would hold close() open.
    server.closeAllConnections();
  });
}
