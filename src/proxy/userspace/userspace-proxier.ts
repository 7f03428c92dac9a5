/**
 * The userspace backend of the service proxier (service-proxier.ts): kube-proxy's historical userspace mode. The agent
 * process itself accepts each Service port's connections and relays them to an endpoint (proxy-socket.ts).
 *
 * Per ServicePort, up to two listeners, each only while it has endpoints to send to:
 * - internal (root with iptables only): a free port on every address; the ClusterIP is REDIRECTed to it
 *   (render-portals.ts). Its endpoints follow internalTrafficPolicy.
 * - external: the NodePort on every address (30000-32767 need no privilege, so this works without root), or a free
 *   port when the Service has externalIPs / load-balancer IPs but no NodePort (root). Endpoints follow
 *   externalTrafficPolicy (the client's address is lost in the relay either way, as in kube-proxy's userspace mode).
 * A ServicePort without endpoints has no listener: its NodePort is refused by the kernel, its ClusterIP by a REJECT.
 * A sync opens the new listeners first, then writes the rules (replacing our chains whole), then closes listeners no
 * longer wanted; listeners that stay only get their new endpoints (established connections are never dropped).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createLogger } from '../../log/logger.js';
import { iptablesRestore, listChains } from '../iptables/iptables-proxier.js';
import { servicePortKey } from '../iptables/render-iptables.js';
import { categorizeEndpoints, servicePortName, type ProxyEndpoint, type ServicePortInfo } from '../service-model.js';
import type { ProxyBackend } from '../service-proxier.js';
import { openProxySocket, type ProxySocket } from './proxy-socket.js';
import { portalChains, portalJumps, renderPortals, type PortalTargets } from './render-portals.js';

const run = promisify(execFile);
const log = createLogger('proxy');
const TOOL_TIMEOUT_MS = 30_000;

export interface UserspaceBackendOptions {
  /** The agent's chain prefix (chainPrefixFor), for the portal chains. */
  prefix: string;
  /** ClusterIPs, externalIPs and LB IPs are redirected with iptables (root); false: NodePorts only. */
  redirect: boolean;
  /** Where listeners bind (default 0.0.0.0: every node address, and where REDIRECT delivers). */
  bindAddress?: string;
  udpIdleTimeoutMs?: number;
  dialTimeoutMs?: number;
}

export interface RenderedUserspacePort {
  key: string;
  sp: ServicePortInfo;
}

interface PortProxy {
  sp: ServicePortInfo;
  internal?: ProxySocket;
  external?: ProxySocket;
}

export class UserspaceBackend implements ProxyBackend<RenderedUserspacePort> {
  private readonly proxies = new Map<string, PortProxy>();
  /** Listeners that could not be opened (port taken), said once per key and port. */
  private readonly bindFailures = new Set<string>();
  /** Services already named as unreachable by ClusterIP (no root). */
  private readonly warnedNoRedirect = new Set<string>();
  private lastRules = '';
  private jumpsChecked = false;
  /** Listeners closed at the last sync whose connections still run (ended by remove()). */
  private readonly retired = new Set<ProxySocket>();

  constructor(private readonly o: UserspaceBackendOptions) {}

  render(sp: ServicePortInfo): RenderedUserspacePort {
    return { key: servicePortKey(sp), sp };
  }

  /** The listeners (tests and the bench): key → ports. */
  listeners(): Map<string, { internal?: number; external?: number; active: number }> {
    const out = new Map<string, { internal?: number; external?: number; active: number }>();
    for (const [key, p] of this.proxies) {
      out.set(key, { ...(p.internal ? { internal: p.internal.port } : {}), ...(p.external ? { external: p.external.port } : {}), active: (p.internal?.active ?? 0) + (p.external?.active ?? 0) });
    }
    return out;
  }

  async apply(all: RenderedUserspacePort[], changed: ReadonlySet<string> | undefined): Promise<{ lines: number }> {
    const full = changed === undefined;
    const wanted = new Map(all.map((r) => [r.key, r]));
    const toClose: ProxySocket[] = [];
    for (const [key, p] of this.proxies) {
      if (wanted.has(key)) continue;
      this.proxies.delete(key);
      if (p.internal) toClose.push(p.internal);
      if (p.external) toClose.push(p.external);
    }
    for (const r of all) {
      if (!full && !changed.has(r.key) && this.proxies.has(r.key) && !this.hasBindFailure(r.key)) continue;
      toClose.push(...(await this.reconcile(r)));
    }
    let lines = 0;
    try {
      if (this.o.redirect) {
        const targets: PortalTargets[] = [...this.proxies.values()].map((p) => ({ sp: p.sp, internalPort: p.internal?.port, externalPort: p.external?.port }));
        const text = renderPortals(this.o.prefix, targets);
        lines = text.split('\n').length;
        if (full || text !== this.lastRules) {
          try {
            await iptablesRestore(text);
          } catch (err) {
            this.lastRules = '';
            throw err;
          }
          this.lastRules = text;
        }
        if (full || !this.jumpsChecked) {
          await this.ensureJumps();
          this.jumpsChecked = true;
        }
      } else {
        this.sayUnreachable(all);
      }
    } finally {
      // After the rules stopped sending to them (or failed to: the retry writes rules for the listeners kept), so
      // none leaks. Connections already accepted go on.
      for (const s of toClose) {
        await s.close();
        if (s.active > 0) this.retired.add(s);
      }
      for (const s of this.retired) if (s.active === 0) this.retired.delete(s);
    }
    return { lines };
  }

  async remove(): Promise<void> {
    for (const p of this.proxies.values()) {
      p.internal?.destroyAll();
      p.external?.destroyAll();
      await p.internal?.close();
      await p.external?.close();
    }
    this.proxies.clear();
    for (const s of this.retired) s.destroyAll();
    this.retired.clear();
    this.lastRules = '';
    this.jumpsChecked = false;
    if (this.o.redirect) await removeUserspaceRules(this.o.prefix);
  }

  private hasBindFailure(key: string): boolean {
    for (const f of this.bindFailures) if (f.startsWith(`${key} `)) return true;
    return false;
  }

  /** Brings one ServicePort's listeners to what it needs now; returns the listeners to close after the rules. */
  private async reconcile(r: RenderedUserspacePort): Promise<ProxySocket[]> {
    const { sp } = r;
    const old = this.proxies.get(r.key);
    const retire: ProxySocket[] = [];
    const next: PortProxy = { sp };
    if (sp.protocol === 'SCTP') {
      if (!this.bindFailures.has(`${r.key} sctp`)) log.warn(`the userspace proxy relays TCP and UDP only; Service port ${servicePortName(sp)}/SCTP is not proxied`, { key: r.key });
      this.bindFailures.add(`${r.key} sctp`);
      this.proxies.set(r.key, next);
      return [...(old?.internal ? [old.internal] : []), ...(old?.external ? [old.external] : [])];
    }
    const { cluster, local } = categorizeEndpoints(sp);
    const internalEps = sp.internalLocal ? local : cluster;
    const externalEps = sp.externalLocal ? local : cluster;
    const externallyReachable = sp.nodePort !== undefined || (this.o.redirect && sp.externalIPs.length + sp.loadBalancerIPs.length > 0);

    const keep = async (which: 'internal' | 'external', eps: ProxyEndpoint[], wantPort: number | undefined, needed: boolean) => {
      const cur = old?.[which];
      // A NodePort that changed needs a new listener; a free port stays what it was.
      const samePort = cur && (wantPort === undefined || cur.port === wantPort);
      if (!needed || eps.length === 0) {
        if (cur) retire.push(cur);
        return;
      }
      if (cur && samePort) {
        cur.setEndpoints(eps, sp.affinitySeconds);
        next[which] = cur;
        return;
      }
      if (cur) retire.push(cur);
      try {
        const s = await openProxySocket({
          protocol: sp.protocol as 'TCP' | 'UDP',
          port: wantPort ?? 0,
          bindAddress: this.o.bindAddress ?? '0.0.0.0',
          // With portals, the node's own datagrams arrive REDIRECTed to 127.0.0.1.
          alsoLoopback: this.o.redirect,
          ...(this.o.udpIdleTimeoutMs !== undefined ? { udpIdleTimeoutMs: this.o.udpIdleTimeoutMs } : {}),
          ...(this.o.dialTimeoutMs !== undefined ? { dialTimeoutMs: this.o.dialTimeoutMs } : {}),
        });
        s.setEndpoints(eps, sp.affinitySeconds);
        next[which] = s;
        this.bindFailures.delete(`${r.key} ${which}`);
      } catch (err) {
        const failure = `${r.key} ${which}`;
        if (!this.bindFailures.has(failure)) log.warn(`the userspace proxy cannot listen for ${servicePortName(sp)} on ${sp.protocol} port ${wantPort ?? 0}; it does not answer there (retried at each sync)`, { key: r.key, err });
        this.bindFailures.add(failure);
      }
    };
    await keep('internal', internalEps, undefined, this.o.redirect);
    await keep('external', externalEps, sp.nodePort, externallyReachable);
    this.proxies.set(r.key, next);
    return retire;
  }

  /** Without root nothing sends ClusterIP traffic to us: name the Services once, with the reason. */
  private sayUnreachable(all: RenderedUserspacePort[]): void {
    const fresh = new Set<string>();
    for (const { sp } of all) {
      const svc = `${sp.namespace}/${sp.name}`;
      if (this.warnedNoRedirect.has(svc)) continue;
      this.warnedNoRedirect.add(svc);
      fresh.add(svc);
    }
    if (fresh.size === 0) return;
    const names = [...fresh];
    log.warn(`not reachable by ClusterIP on this node: ${names.slice(0, 20).join(', ')}${names.length > 20 ? ` and ${names.length - 20} more` : ''}; without root the userspace proxy cannot redirect ClusterIP, external and load-balancer IP traffic (iptables needs root): use their NodePorts`, { services: names.length });
  }

  private async ensureJumps(): Promise<void> {
    for (const j of portalJumps(this.o.prefix)) {
      const present = await run('iptables', ['-w', '5', '-t', j.table, '-C', j.chain, ...j.args], { timeout: TOOL_TIMEOUT_MS }).then(
        () => true,
        () => false,
      );
      if (!present) await run('iptables', ['-w', '5', '-t', j.table, '-I', j.chain, '1', ...j.args], { timeout: TOOL_TIMEOUT_MS });
    }
  }
}

/** Removes the userspace mode's jumps and chains (as a killed run left them, too). Idempotent. */
export async function removeUserspaceRules(prefix: string): Promise<void> {
  for (const j of portalJumps(prefix)) {
    for (let i = 0; i < 5; i++) {
      const ok = await run('iptables', ['-w', '5', '-t', j.table, '-D', j.chain, ...j.args], { timeout: TOOL_TIMEOUT_MS }).then(
        () => true,
        () => false,
      );
      if (!ok) break;
    }
  }
  const c = portalChains(prefix);
  for (const table of ['nat', 'filter'] as const) {
    const present = await listChains(table, prefix);
    const ours = (table === 'nat' ? [c.container, c.host] : [c.reject]).filter((ch) => present.has(ch));
    if (ours.length === 0) continue;
    await iptablesRestore([`*${table}`, ...ours.map((ch) => `:${ch} - [0:0]`), ...ours.map((ch) => `-X ${ch}`), 'COMMIT', ''].join('\n'));
  }
}
