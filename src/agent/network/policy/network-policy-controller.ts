/**
 * NetworkPolicy enforcement for the pods of one node (kube-router's netpol controller, which k3s runs in every agent):
 * Pods (all of the cluster: peers live anywhere), Namespaces, NetworkPolicies and the kube-dns EndpointSlices (the
 * servers' DNS stands in for CoreDNS pods: cluster-dns-peers.ts) from the agent's shared informers →
 * computePolicyModel (pure) → renderPolicyRules (pure) → `iptables-restore --noflush` of this agent's chains only.
 *
 * - Syncs run through a BoundedFrequencyRunner (1 s, bursts of 2, as the service proxy): any change asks for one, the
 *   first comes at once. A sync whose text equals the last one written writes nothing; the periodic resync (5 min,
 *   kube-router's --iptables-sync-period) always writes, repairing whatever removed our rules.
 * - Every write is whole: our chains declared (flushed) and refilled, chains of ours no longer rendered deleted in the
 *   same transaction — at start that replaces whatever a killed run left. The jumps from FORWARD and INPUT are checked
 *   after each write and inserted first in their chain when missing.
 * - What a policy asks that cannot be honoured (compute-policy-model.ts) becomes a Warning Event on the policy, once
 *   per policy generation and message.
 * - stop() removes the jumps and every chain of ours: pods are no longer isolated while no agent runs, as with
 *   kube-router (whose rules stay, but k3s flushes them on a clean shutdown only with --disable-network-policy).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Namespace, Pod } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import type { KubeObject } from '../../../api/object.js';
import { EndpointSlices, Namespaces, NetworkPolicies, Pods } from '../../../client/resources.js';
import type { EventRecorder, Informer, InformerFactory } from '../../../client/types.js';
import { createLogger } from '../../../log/logger.js';
import { BoundedFrequencyRunner } from '../../../proxy/bounded-frequency-runner.js';
import { iptablesRestore } from '../../../proxy/iptables/iptables-proxier.js';
import { clusterDnsPeers, isClusterDnsSlice } from './cluster-dns-peers.js';
import { computePolicyModel, policyPodIP } from './compute-policy-model.js';
import { isPolicyChainOf, policyChainTag, policyJumpRules, renderPolicyRestore, renderPolicyRules, topPolicyChain } from './render-policy-iptables.js';

const run = promisify(execFile);
const log = createLogger('network-policy');
const TOOL_TIMEOUT_MS = 30_000;

export interface NetworkPolicyControllerOptions {
  informers: InformerFactory;
  nodeName: string;
  /** Anything unique to this agent on the machine (its CNI bridge's name): chains are named after it. */
  agentIdentity: string;
  /** Warning Events on policies that cannot be honoured (none: only logged). */
  recorder?: EventRecorder;
  minSyncIntervalMs?: number;
  /** Periodic full write (default 5 min). */
  maxSyncIntervalMs?: number;
  /** After each sync that wrote rules (tests, timings). */
  onSynced?: (info: PolicySyncInfo) => void;
  /** Where rules go (default: the kernel, through iptables; tests record instead). */
  writer?: PolicyRuleWriter;
}

/** The kernel side: what the controller reads and writes. */
export interface PolicyRuleWriter {
  /** Chains of ours present now. */
  listChains(): Promise<Set<string>>;
  /** iptables-restore --noflush input (renderPolicyRestore's). */
  restore(text: string): Promise<void>;
  /** The jumps from FORWARD and INPUT, inserted first where missing. */
  ensureJumps(): Promise<void>;
  /** Jumps and chains removed. Idempotent. */
  remove(): Promise<void>;
}

/** The writer for this machine's filter table (iptables-nft or legacy, whichever `iptables` is). */
export function iptablesPolicyWriter(tag: string): PolicyRuleWriter {
  return {
    listChains: () => listPolicyChains(tag),
    restore: (text) => iptablesRestore(text),
    ensureJumps: () => ensureJumps(tag),
    remove: () => removeNetworkPolicyRules(tag),
  };
}

export interface PolicySyncInfo {
  /** Pods of this node isolated by some policy. */
  isolatedPods: number;
  policies: number;
  rules: number;
  renderMs: number;
  restoreMs: number;
}

type Obj<T> = T & KubeObject;

export class NetworkPolicyController {
  readonly tag: string;
  private readonly runner: BoundedFrequencyRunner;
  private pods!: Informer<Obj<Pod>>;
  private namespaces!: Informer<Obj<Namespace>>;
  private policies!: Informer<Obj<NetworkPolicy>>;
  private slices!: Informer<Obj<EndpointSlice>>;
  private lastText = '';
  private lastWriteAt = 0;
  private needWrite = true;
  private stopped = false;
  private initialized = false;
  private syncing: Promise<void> = Promise.resolve();
  private readonly warned = new Set<string>();
  private readonly writer: PolicyRuleWriter;

  constructor(private readonly o: NetworkPolicyControllerOptions) {
    this.tag = policyChainTag(o.agentIdentity);
    this.writer = o.writer ?? iptablesPolicyWriter(this.tag);
    const maxIntervalMs = o.maxSyncIntervalMs ?? 300_000;
    this.runner = new BoundedFrequencyRunner(
      () => {
        if (Date.now() - this.lastWriteAt >= maxIntervalMs - 1000) this.needWrite = true;
        return this.enqueueSync();
      },
      { minIntervalMs: o.minSyncIntervalMs ?? 1000, maxIntervalMs, burst: 2 },
    );
  }

  /** The chains' names start with this (the top chain's name). */
  get topChain(): string {
    return topPolicyChain(this.tag);
  }

  async start(): Promise<void> {
    this.pods = this.o.informers.informerFor<Obj<Pod>>(Pods);
    this.namespaces = this.o.informers.informerFor<Obj<Namespace>>(Namespaces);
    this.policies = this.o.informers.informerFor<Obj<NetworkPolicy>>(NetworkPolicies);
    // The same informer as the service proxy's; only the kube-dns slices matter here (cluster-dns-peers.ts).
    this.slices = this.o.informers.informerFor<Obj<EndpointSlice>>(EndpointSlices);
    const changed = () => {
      if (this.initialized && !this.stopped) this.runner.run();
    };
    // A pod matters when its address, labels, node, phase or ports change: status-only churn (conditions) is skipped.
    const podShape = (p: Pod) => JSON.stringify([policyPodIP(p), p.metadata?.labels, p.spec?.nodeName, p.spec?.containers?.map((c) => c.ports)]);
    this.pods.addEventHandler({ add: changed, update: (a, b) => podShape(a) !== podShape(b) && changed(), delete: changed });
    this.namespaces.addEventHandler({ add: changed, update: (a, b) => JSON.stringify(a.metadata?.labels) !== JSON.stringify(b.metadata?.labels) && changed(), delete: changed });
    this.policies.addEventHandler({ add: changed, update: changed, delete: changed });
    const dnsSlice = (s: EndpointSlice) => isClusterDnsSlice(s) && changed();
    this.slices.addEventHandler({ add: dnsSlice, update: (_a, b) => dnsSlice(b), delete: dnsSlice });
    this.o.informers.start();
    await Promise.all([this.pods.waitForSync(), this.namespaces.waitForSync(), this.policies.waitForSync(), this.slices.waitForSync()]);
    // The first write (everything of a previous run replaced) before start returns; a failed one is retried.
    this.initialized = true;
    await this.enqueueSync();
    this.runner.start();
  }

  /** Syncs one after the other (the runner's and the first one). */
  private enqueueSync(): Promise<void> {
    this.syncing = this.syncing.then(() => this.sync());
    return this.syncing;
  }

  /** Waits for the sync under way (tests). */
  async settled(): Promise<void> {
    await this.syncing;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.runner.stop();
    await this.syncing.catch(() => undefined);
    await this.writer.remove();
  }

  private async sync(): Promise<void> {
    if (this.stopped) return;
    const t0 = performance.now();
    const model = computePolicyModel({ nodeName: this.o.nodeName, policies: this.policies.lister.list(), pods: [...this.pods.lister.list(), ...clusterDnsPeers(this.slices.lister.list())], namespaces: this.namespaces.lister.list() });
    this.report(model.warnings);
    const rendered = renderPolicyRules(model, { tag: this.tag });
    const t1 = performance.now();
    try {
      const base = renderPolicyRestore(rendered);
      if (!this.needWrite && base === this.lastText) return;
      const stale = [...(await this.writer.listChains())].filter((c) => !rendered.chains.includes(c));
      await this.writer.restore(renderPolicyRestore(rendered, stale));
      await this.writer.ensureJumps();
      const t2 = performance.now();
      this.lastText = base;
      this.lastWriteAt = Date.now();
      this.needWrite = false;
      const info: PolicySyncInfo = { isolatedPods: model.pods.length, policies: model.policies.size, rules: rendered.rules.length, renderMs: t1 - t0, restoreMs: t2 - t1 };
      log.debug('synced network policy rules', { ...info });
      this.o.onSynced?.(info);
    } catch (err) {
      log.error('writing the network policy rules failed; retrying', { err });
      this.needWrite = true;
      if (!this.stopped) setTimeout(() => this.runner.run(), 1000).unref();
    }
  }

  private report(warnings: Array<{ policy: string; message: string }>): void {
    for (const w of warnings) {
      const [ns, name] = w.policy.split('/') as [string, string];
      const policy = this.policies.lister.get(ns, name);
      const key = `${policy?.metadata?.uid}/${policy?.metadata?.generation}/${w.message}`;
      if (this.warned.has(key)) continue;
      this.warned.add(key);
      log.warn(`network policy ${w.policy}: ${w.message}`, { node: this.o.nodeName });
      if (policy && this.o.recorder) this.o.recorder.event({ ...policy, apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' }, 'Warning', 'PolicyNotEnforced', w.message);
    }
  }
}

/** Our chains in the filter table now (iptables -S). */
export async function listPolicyChains(tag: string): Promise<Set<string>> {
  const { stdout } = await run('iptables', ['-w', '5', '-t', 'filter', '-S'], { timeout: TOOL_TIMEOUT_MS, maxBuffer: 256 * 1024 * 1024 });
  const chains = new Set<string>();
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('-N ')) continue;
    const name = line.slice(3).trim();
    if (isPolicyChainOf(tag, name)) chains.add(name);
  }
  return chains;
}

async function ensureJumps(tag: string): Promise<void> {
  for (const j of policyJumpRules(tag)) {
    const present = await run('iptables', ['-w', '5', '-t', 'filter', '-C', j.chain, ...j.args], { timeout: TOOL_TIMEOUT_MS }).then(
      () => true,
      () => false,
    );
    if (!present) await run('iptables', ['-w', '5', '-t', 'filter', '-I', j.chain, '1', ...j.args], { timeout: TOOL_TIMEOUT_MS });
  }
}

/** Removes the jumps to our chains and the chains (an agent's clean stop; tests' clean-up after kill -9). Idempotent. */
export async function removeNetworkPolicyRules(tag: string): Promise<void> {
  for (const j of policyJumpRules(tag)) {
    // A jump inserted twice (two starts racing) is removed twice.
    for (let i = 0; i < 5; i++) {
      const ok = await run('iptables', ['-w', '5', '-t', 'filter', '-D', j.chain, ...j.args], { timeout: TOOL_TIMEOUT_MS }).then(
        () => true,
        () => false,
      );
      if (!ok) break;
    }
  }
  const chains = [...(await listPolicyChains(tag))];
  if (chains.length === 0) return;
  await iptablesRestore(['*filter', ...chains.map((c) => `:${c} - [0:0]`), ...chains.map((c) => `-X ${c}`), 'COMMIT', ''].join('\n'));
}
