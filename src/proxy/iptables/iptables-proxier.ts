/**
 * The iptables proxier: Services and EndpointSlices from the agent's shared informers → the model → rules
 * (render-iptables.ts) → `iptables-restore --noflush`, which touches only the chains named in its input (ours).
 *
 * - Changes mark their Service dirty; a bounded-frequency runner (1 s, bursts of 2, as kube-proxy) syncs. A sync
 *   re-renders the dirty Services only and writes their chains plus the top-level chains whole (a partial sync); the
 *   first sync, and the one after a failed restore, write everything and delete whatever chains of ours are left
 *   (from a run that was killed), so a restart replaces stale rules whole.
 * - The jumps from PREROUTING/OUTPUT/POSTROUTING (nat) and INPUT/FORWARD/OUTPUT (filter) are checked and inserted
 *   at every full sync; a route for the service CIDR to the pod bridge lets the node itself reach ClusterIPs (local
 *   packets are routed before the OUTPUT DNAT; see reference/runtime-feasibility.md §4).
 * - UDP conntrack entries of endpoints that went away are deleted with the `conntrack` tool when it is installed
 *   (kube-proxy does the same: UDP has no connection end that would clear them).
 * - stop() removes the jumps, our chains and the route.
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { EndpointSlices, Services } from '../../client/resources.js';
import type { KubeObject } from '../../api/object.js';
import type { InformerFactory } from '../../client/types.js';
import { createLogger } from '../../log/logger.js';
import { BoundedFrequencyRunner } from '../bounded-frequency-runner.js';
import { categorizeEndpoints, servicePortsOf, type ServicePortInfo } from '../service-model.js';
import { jumpRules, renderRestore, renderServicePort, topChains, type IptablesRenderOptions, type RenderedServicePort } from './render-iptables.js';

const run = promisify(execFile);
const log = createLogger('proxy');
const TOOL_TIMEOUT_MS = 30_000;

export interface IptablesProxierOptions {
  informers: InformerFactory;
  nodeName: string;
  /** Per-agent chain prefix (chainPrefixFor). */
  prefix: string;
  clusterCIDRs: string[];
  /** Routed to `routeDevice` so host-originated ClusterIP traffic is DNATed (none: no route is added). */
  serviceCIDRs: string[];
  routeDevice?: string;
  minSyncIntervalMs?: number;
  /** Periodic full resync (kube-proxy: 1 h). */
  maxSyncIntervalMs?: number;
  masqueradeMark?: string;
  /** Called after each successful sync with what it wrote (tests and benches). */
  onSynced?: (info: SyncInfo) => void;
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

export class IptablesProxier {
  private readonly render: IptablesRenderOptions;
  private readonly runner: BoundedFrequencyRunner;
  /** Rendered ports per Service key (`ns/name`). */
  private readonly rendered = new Map<string, { ports: ServicePortInfo[]; rendered: RenderedServicePort[] }>();
  /** Slices per Service key, by slice name. */
  private readonly slices = new Map<string, Map<string, Slice>>();
  private dirty = new Set<string>();
  private needFull = true;
  /** Our nat chains as they are in the kernel after the last sync (undefined: not read yet). */
  private existingNatChains: Set<string> | undefined;
  private routeAdded = new Set<string>();
  private conntrackPath: string | undefined | null = undefined;
  private stopped = false;
  private syncing: Promise<void> = Promise.resolve();
  private services!: ReturnType<InformerFactory['informerFor']>;

  constructor(private readonly o: IptablesProxierOptions) {
    this.render = { prefix: o.prefix, clusterCIDRs: o.clusterCIDRs, masqueradeMark: o.masqueradeMark ?? '0x4000' };
    this.runner = new BoundedFrequencyRunner(() => (this.syncing = this.sync()), { minIntervalMs: o.minSyncIntervalMs ?? 1000, maxIntervalMs: o.maxSyncIntervalMs ?? 3_600_000, burst: 2 });
  }

  async start(): Promise<void> {
    this.services = this.o.informers.informerFor<Svc>(Services);
    const slices = this.o.informers.informerFor<Slice>(EndpointSlices);
    const keyOf = (obj: KubeObject) => `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
    const changed = (key: string) => {
      this.dirty.add(key);
      this.runner.run();
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
    await removeIptablesRules(this.o.prefix);
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
      if (ports.length === 0) this.rendered.delete(key);
      else this.rendered.set(key, { ports, rendered: ports.map((sp) => renderServicePort(sp, this.render)) });
      for (const r of this.rendered.get(key)?.rendered ?? []) changedKeys.add(r.key);
    }
    const all = [...this.rendered.keys()].sort().flatMap((k) => this.rendered.get(k)!.rendered);
    const wanted = new Set<string>();
    for (const sp of all) for (const c of sp.natChains) wanted.add(c);
    try {
      if (full) this.existingNatChains = await listChains('nat', this.o.prefix);
      const top = new Set(Object.values(topChains(this.o.prefix)));
      const stale = [...(this.existingNatChains ?? [])].filter((c) => !wanted.has(c) && !top.has(c));
      const text = renderRestore({ ports: all, ...(full ? {} : { changed: changedKeys }), staleNatChains: stale }, this.render);
      const t1 = performance.now();
      await iptablesRestore(text);
      const t2 = performance.now();
      this.existingNatChains = wanted;
      // After the restore: a jump needs its chain.
      if (full) await this.ensureJumps();
      this.needFull = false;
      await this.ensureRoutes();
      if (udpGone.length > 0) await this.clearUdpConntrack(udpGone);
      const info: SyncInfo = { full, servicePorts: all.length, changedServices: dirty.size, renderMs: t1 - t0, restoreMs: t2 - t1, lines: text.split('\n').length };
      log.debug('synced service rules', { ...info });
      this.o.onSynced?.(info);
    } catch (err) {
      // The next try writes everything again: what the kernel holds is unknown now.
      log.error('syncing service rules failed; retrying with a full sync', { err });
      this.needFull = true;
      for (const k of dirty) this.dirty.add(k);
      if (!this.stopped) setTimeout(() => this.runner.run(), 1000).unref();
    }
  }

  private async ensureJumps(): Promise<void> {
    for (const j of jumpRules(this.o.prefix)) {
      const present = await run('iptables', ['-w', '5', '-t', j.table, '-C', j.chain, ...j.args], { timeout: TOOL_TIMEOUT_MS }).then(
        () => true,
        () => false,
      );
      if (!present) await run('iptables', ['-w', '5', '-t', j.table, '-I', j.chain, '1', ...j.args], { timeout: TOOL_TIMEOUT_MS });
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

function iptablesRestore(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('iptables-restore', ['-w', '5', '--noflush'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`iptables-restore failed (exit ${code}): ${stderr.trim()}`))));
    child.stdin.end(text);
  });
}

/** Chains of a table whose names start with `<prefix>-`. */
export async function listChains(table: 'nat' | 'filter', prefix: string): Promise<Set<string>> {
  const { stdout } = await run('iptables', ['-w', '5', '-t', table, '-S'], { timeout: TOOL_TIMEOUT_MS, maxBuffer: 512 * 1024 * 1024 });
  const chains = new Set<string>();
  for (const line of stdout.split('\n')) if (line.startsWith(`-N ${prefix}-`)) chains.add(line.slice(3).trim());
  return chains;
}

/** Removes the jumps to our chains and the chains themselves (both tables). Idempotent. */
export async function removeIptablesRules(prefix: string): Promise<void> {
  for (const j of jumpRules(prefix)) {
    // A jump inserted twice (two starts racing) is removed twice.
    for (let i = 0; i < 5; i++) {
      const ok = await run('iptables', ['-w', '5', '-t', j.table, '-D', j.chain, ...j.args], { timeout: TOOL_TIMEOUT_MS }).then(
        () => true,
        () => false,
      );
      if (!ok) break;
    }
  }
  for (const table of ['filter', 'nat'] as const) {
    const chains = [...(await listChains(table, prefix))];
    if (chains.length === 0) continue;
    const text = [`*${table}`, ...chains.map((c) => `:${c} - [0:0]`), ...chains.map((c) => `-X ${c}`), 'COMMIT', ''].join('\n');
    await new Promise<void>((resolve, reject) => {
      const child = spawn('iptables-restore', ['-w', '5', '--noflush'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`removing ${table} chains ${prefix}-* failed: ${stderr.trim()}`))));
      child.stdin.end(text);
    });
  }
}
