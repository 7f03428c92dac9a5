/**
 * The service proxy's loop, whatever writes the rules: Services and EndpointSlices from the agent's shared informers →
 * the model (service-model.ts) → a backend that renders and writes them (iptables/, nftables/).
 *
 * - Changes mark their Service dirty; a bounded-frequency runner (1 s, bursts of 2, as kube-proxy) syncs. A sync
 *   re-renders the dirty Services only and hands the backend every rendered port plus the keys that changed (a
 *   partial sync); the first sync, and the one after a failed write, are full: the backend replaces whatever of ours
 *   is in the kernel (rules left by a killed agent included).
 * - A route for the service CIDR to the pod bridge lets the node itself reach ClusterIPs (local packets are routed
 *   before the OUTPUT DNAT; see reference/runtime-feasibility.md §4).
 * - UDP conntrack entries of endpoints that went away are deleted with the `conntrack` tool when it is installed
 *   (kube-proxy does the same: UDP has no connection end that would clear them).
 * - LoadBalancer Services with externalTrafficPolicy Local get their spec.healthCheckNodePort answered (service-health-
 *   server.ts) whatever the mode: the counts of local ready endpoints follow each sync, and a failed sync answers 503.
 * - stop() has the backend remove everything, and removes the route and the health check ports.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { KubeObject } from '../api/object.js';
import { EndpointSlices, Services } from '../client/resources.js';
import type { InformerFactory } from '../client/types.js';
import { createLogger } from '../log/logger.js';
import { BoundedFrequencyRunner } from './bounded-frequency-runner.js';
import { categorizeEndpoints, servicePortsOf, type ServicePortInfo } from './service-model.js';
import { countLocalReadyEndpoints, healthCheckPortOf, type HealthCheckTarget, type ServiceHealthServer } from './service-health-server.js';

const run = promisify(execFile);
const log = createLogger('proxy');
const TOOL_TIMEOUT_MS = 30_000;

/** Renders one ServicePort and writes the rules of all of them. */
export interface ProxyBackend<R extends { key: string }> {
  render(sp: ServicePortInfo): R;
  /** Writes the rules: every rendered port, and the keys of those whose own rules changed (undefined: a full sync). */
  apply(all: R[], changed: ReadonlySet<string> | undefined): Promise<{ lines: number }>;
  /** Removes every rule of ours. Idempotent. */
  remove(): Promise<void>;
}

export interface ServiceProxierOptions {
  informers: InformerFactory;
  nodeName: string;
  /** Routed to `routeDevice` so host-originated ClusterIP traffic is DNATed (none: no route is added). */
  serviceCIDRs: string[];
  routeDevice?: string;
  minSyncIntervalMs?: number;
  /** Periodic full resync (kube-proxy: 1 h). */
  maxSyncIntervalMs?: number;
  /** Called after each successful sync with what it wrote (tests and benches). */
  onSynced?: (info: SyncInfo) => void;
  /** Serves the Services' health check node ports (none: not served). */
  healthServer?: ServiceHealthServer;
}

export interface SyncInfo {
  full: boolean;
  servicePorts: number;
  changedServices: number;
  renderMs: number;
  restoreMs: number;
  lines: number;
}

type Svc = Service & KubeObject;
type Slice = EndpointSlice & KubeObject;

export class ServiceProxier<R extends { key: string }> {
  private readonly runner: BoundedFrequencyRunner;
  /** Rendered ports per Service key (`ns/name`). */
  private readonly rendered = new Map<string, { ports: ServicePortInfo[]; rendered: R[] }>();
  /** Slices per Service key, by slice name. */
  private readonly slices = new Map<string, Map<string, Slice>>();
  private dirty = new Set<string>();
  /** Services with a health check node port, by key. */
  private readonly healthTargets = new Map<string, HealthCheckTarget>();
  private needFull = true;
  private routeAdded = new Set<string>();
  private conntrackPath: string | undefined | null = undefined;
  private stopped = false;
  private initialized = false;
  private syncing: Promise<void> = Promise.resolve();
  private services!: ReturnType<InformerFactory['informerFor']>;

  constructor(
    private readonly o: ServiceProxierOptions,
    private readonly backend: ProxyBackend<R>,
  ) {
    this.runner = new BoundedFrequencyRunner(() => (this.syncing = this.sync()), { minIntervalMs: o.minSyncIntervalMs ?? 1000, maxIntervalMs: o.maxSyncIntervalMs ?? 3_600_000, burst: 2 });
  }

  async start(): Promise<void> {
    this.services = this.o.informers.informerFor<Svc>(Services);
    const slices = this.o.informers.informerFor<Slice>(EndpointSlices);
    const keyOf = (obj: KubeObject) => `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
    const changed = (key: string) => {
      this.dirty.add(key);
      // Not before both informers have listed (kube-proxy's isInitialized): a sync that knew the Services but not yet
      // their EndpointSlices would reject traffic to Services that have endpoints.
      if (this.initialized) this.runner.run();
    };
    this.services.addEventHandler({ add: (s) => changed(keyOf(s)), update: (_o, s) => changed(keyOf(s)), delete: (s) => changed(keyOf(s)) });
    const sliceKey = (s: Slice) => {
      const svc = s.metadata?.labels?.['kubernetes.io/service-name'];
      return svc ? `${s.metadata?.namespace ?? ''}/${svc}` : undefined;
    };
    const putSlice = (s: Slice) => {
      const key = sliceKey(s);
      if (!key) return;
      let m = this.slices.get(key);
      if (!m) this.slices.set(key, (m = new Map()));
      m.set(s.metadata!.name!, s);
      changed(key);
    };
    const dropSlice = (s: Slice) => {
      const key = sliceKey(s);
      if (!key) return;
      const m = this.slices.get(key);
      m?.delete(s.metadata!.name!);
      if (m?.size === 0) this.slices.delete(key);
      changed(key);
    };
    slices.addEventHandler({
      add: putSlice,
      update: (old, s) => {
        const oldKey = sliceKey(old);
        if (oldKey && oldKey !== sliceKey(s)) dropSlice(old);
        putSlice(s);
      },
      delete: dropSlice,
    });
    this.o.informers.start();
    await Promise.all([this.services.waitForSync(), slices.waitForSync()]);
    this.initialized = true;
    this.runner.start();
    this.runner.run();
  }

  /** Waits for the sync under way (if any). */
  async settled(): Promise<void> {
    await this.syncing;
  }

  /** Stops syncing and removes every rule, chain and route of ours. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.runner.stop();
    await this.syncing.catch(() => undefined);
    await this.o.healthServer?.close();
    await this.backend.remove();
    for (const cidr of this.routeAdded) await run('ip', ['route', 'del', cidr, 'dev', this.o.routeDevice!], { timeout: TOOL_TIMEOUT_MS }).catch(() => undefined);
  }

  private async sync(): Promise<void> {
    if (this.stopped) return;
    const full = this.needFull;
    const dirty = full ? new Set([...this.rendered.keys(), ...this.services.lister.list().map((s) => `${s.metadata?.namespace}/${s.metadata?.name}`)]) : this.dirty;
    this.dirty = new Set();
    const t0 = performance.now();
    const changedKeys = new Set<string>();
    const udpGone: Array<{ clusterIPs: string[]; port: number; ip?: string }> = [];
    for (const key of dirty) {
      const [ns, name] = key.split('/') as [string, string];
      const svc = this.services.lister.get(ns, name) as Svc | undefined;
      const ports = svc ? servicePortsOf(svc, [...(this.slices.get(key)?.values() ?? [])], this.o.nodeName) : [];
      const before = this.rendered.get(key);
      if (before) collectUdpGone(before.ports, ports, udpGone);
      const hcPort = svc ? healthCheckPortOf(svc) : undefined;
      if (hcPort !== undefined) this.healthTargets.set(key, { port: hcPort, localEndpoints: countLocalReadyEndpoints(ports) });
      else this.healthTargets.delete(key);
      if (ports.length === 0) this.rendered.delete(key);
      else this.rendered.set(key, { ports, rendered: ports.map((sp) => this.backend.render(sp)) });
      for (const r of this.rendered.get(key)?.rendered ?? []) changedKeys.add(r.key);
    }
    const all = [...this.rendered.keys()].sort().flatMap((k) => this.rendered.get(k)!.rendered);
    try {
      const t1 = performance.now();
      const { lines } = await this.backend.apply(all, full ? undefined : changedKeys);
      const t2 = performance.now();
      this.needFull = false;
      await this.ensureRoutes();
      if (udpGone.length > 0) await this.clearUdpConntrack(udpGone);
      const info: SyncInfo = { full, servicePorts: all.length, changedServices: dirty.size, renderMs: t1 - t0, restoreMs: t2 - t1, lines };
      log.debug('synced service rules', { ...info });
      await this.syncHealthChecks(true);
      this.o.onSynced?.(info);
    } catch (err) {
      // The next try writes everything again: what the kernel holds is unknown now.
      log.error('syncing service rules failed; retrying with a full sync', { err });
      this.needFull = true;
      for (const k of dirty) this.dirty.add(k);
      await this.syncHealthChecks(false);
      if (!this.stopped) setTimeout(() => this.runner.run(), 1000).unref();
    }
  }

  /** The health check ports follow the Services; while the rules are not written, every one answers 503. */
  private async syncHealthChecks(healthy: boolean): Promise<void> {
    const hs = this.o.healthServer;
    if (!hs || this.stopped) return;
    hs.setProxyHealthy(healthy);
    try {
      await hs.sync(this.healthTargets);
    } catch (err) {
      log.error('syncing the health check ports of Services failed; retried at the next sync', { err });
    }
  }

  private async ensureRoutes(): Promise<void> {
    if (!this.o.routeDevice) return;
    for (const cidr of this.o.serviceCIDRs) {
      if (this.routeAdded.has(cidr)) continue;
      try {
        await run('ip', ['route', 'replace', cidr, 'dev', this.o.routeDevice, 'scope', 'link'], { timeout: TOOL_TIMEOUT_MS });
        this.routeAdded.add(cidr);
        log.info('routed the service CIDR to the pod bridge (host-originated ClusterIP traffic)', { cidr, dev: this.o.routeDevice });
      } catch (err) {
        // The bridge appears with the first pod; the next sync tries again.
        log.debug('no route for the service CIDR yet', { cidr, err });
      }
    }
  }

  private async clearUdpConntrack(gone: Array<{ clusterIPs: string[]; port: number; ip?: string }>): Promise<void> {
    if (this.conntrackPath === undefined) this.conntrackPath = await run('sh', ['-c', 'command -v conntrack']).then((r) => r.stdout.trim() || null, () => null);
    if (!this.conntrackPath) return;
    for (const g of gone) {
      for (const vip of g.clusterIPs) {
        const args = ['-D', '-p', 'udp', '--orig-dst', vip, '--orig-port-dst', String(g.port), ...(g.ip ? ['--dst-nat', g.ip] : [])];
        // Exit 1 means nothing matched.
        await run(this.conntrackPath, args, { timeout: TOOL_TIMEOUT_MS }).catch(() => undefined);
      }
    }
  }
}

/** UDP endpoints present before and gone now (their flows must be cleared), and UDP ports that had no endpoints before. */
function collectUdpGone(before: ServicePortInfo[], after: ServicePortInfo[], out: Array<{ clusterIPs: string[]; port: number; ip?: string }>): void {
  for (const b of before) {
    if (b.protocol !== 'UDP') continue;
    const a = after.find((x) => x.portName === b.portName && x.protocol === 'UDP');
    const nowIps = new Set(a ? categorizeEndpoints(a).all.map((e) => e.ip) : []);
    const wasEps = categorizeEndpoints(b).all;
    for (const ep of wasEps) if (!nowIps.has(ep.ip)) out.push({ clusterIPs: b.clusterIPs, port: b.port, ip: ep.ip });
    // Packets sent while there was no endpoint left entries that would keep hitting the REJECT path.
    if (wasEps.length === 0 && nowIps.size > 0) out.push({ clusterIPs: b.clusterIPs, port: b.port });
  }
}

