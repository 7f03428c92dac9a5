/**
 * What NetworkPolicies (networking.k8s.io/v1) allow for the pods of one node, as data: pure, no I/O. The render
 * (render-policy-iptables.ts) turns it into rules; the controller (network-policy-controller.ts) feeds it from informers.
 *
 * Semantics (https://kubernetes.io/docs/concepts/services-networking/network-policies/, as kube-router's netpol
 * controller enforces them in k3s):
 * - A pod is isolated for ingress (egress) when some policy of its namespace selects it (`podSelector`, empty = every
 *   pod) and has Ingress (Egress) in `policyTypes`; absent `policyTypes` means Ingress, plus Egress when egress rules
 *   exist. An isolated pod accepts (sends) only what the union of those policies' rules allows; other pods are not
 *   touched. Replies of allowed connections are the render's business (conntrack).
 * - A rule with no (or empty) `from`/`to` matches every peer; with no (or empty) `ports` every port. A peer is an
 *   `ipBlock` (cidr minus `except`), or pods: `podSelector` alone (the policy's namespace), `namespaceSelector` alone
 *   (every pod of the matching namespaces), or both (matching pods in matching namespaces).
 * - A port is a protocol (default TCP) with a number, a range (`endPort`), a name, or nothing (every port of that
 *   protocol). Names resolve per destination pod from its containers' ports: for ingress against the selected pod, for
 *   egress against each peer pod (and with no `to`, against every pod in the cluster that has the name).
 * - Pods count as peers and as enforced pods when they have an IPv4 pod IP, are not on the host network and have not
 *   ended (Succeeded/Failed pods' addresses are reused by new pods).
 *
 * What cannot be honoured is skipped so that less is allowed (fail closed) and reported as a warning for an Event:
 * IPv6 blocks (the rules are IPv4 iptables), malformed CIDRs, named ports towards ipBlocks, peers with no selector.
 */
import type { Namespace, Pod } from 'kubernetes-types/core/v1.js';
import type { NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort } from 'kubernetes-types/networking/v1.js';
import { isIP } from 'node:net';
import { labelSelectorFromObject, matches, type LabelSelector } from '../../../api/labels.js';

export type Direction = 'ingress' | 'egress';
export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface PortMatch {
  protocol: Protocol;
  /** Absent: every port of the protocol. */
  port?: number;
  /** With `port`: the range port..endPort. */
  endPort?: number;
}

/** Addresses: a pod is `<ip>/32`; an ipBlock its cidr without its excepts. */
export interface PeerMatch {
  cidr: string;
  except: string[];
}

/** Traffic matching every field given is allowed; an absent field matches anything. */
export interface AllowEntry {
  /** The other end: the source for ingress, the destination for egress. */
  peer?: PeerMatch;
  /** Only traffic to this local pod (an ingress named port resolved on that pod). */
  podIP?: string;
  port?: PortMatch;
}

/** One policy's allowed traffic in one direction (its rules, expanded); empty entries: deny everything. */
export interface PolicyDirectionModel {
  /** `namespace/name` */
  policy: string;
  direction: Direction;
  entries: AllowEntry[];
}

/** A pod of this node and the policies that isolate it; a direction absent is not isolated. */
export interface PodFirewallModel {
  /** `namespace/name` */
  pod: string;
  ip: string;
  /** Keys of `policies` (policy + direction), in order. Absent: not isolated in that direction. */
  ingress?: string[];
  egress?: string[];
}

export interface PolicyWarning {
  /** `namespace/name` */
  policy: string;
  message: string;
}

export interface NetworkPolicyModel {
  pods: PodFirewallModel[];
  /** By key `<direction>/<namespace>/<name>`; only policies that select a pod of this node. */
  policies: Map<string, PolicyDirectionModel>;
  warnings: PolicyWarning[];
}

export interface PolicyInputs {
  nodeName: string;
  policies: readonly NetworkPolicy[];
  /** Every pod of the cluster (peers live on any node). */
  pods: readonly Pod[];
  namespaces: readonly Namespace[];
}

export function policyDirectionKey(direction: Direction, policy: string): string {
  return `${direction}/${policy}`;
}

const keyOf = (o: { metadata?: { namespace?: string; name?: string } }) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

/** The pod's IPv4 address when it takes part in policy (as an enforced pod or as a peer). */
export function policyPodIP(pod: Pod): string | undefined {
  if (pod.spec?.hostNetwork) return undefined;
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return undefined;
  const ips = [pod.status?.podIP, ...(pod.status?.podIPs ?? []).map((p) => p.ip)];
  return ips.find((ip): ip is string => typeof ip === 'string' && isIP(ip) === 4);
}

/** policyTypes as the API server defaults them (SetDefaults_NetworkPolicy), for objects stored without them. */
export function policyTypesOf(p: NetworkPolicy): Set<'Ingress' | 'Egress'> {
  const given = p.spec?.policyTypes;
  if (given && given.length > 0) return new Set(given.filter((t): t is 'Ingress' | 'Egress' => t === 'Ingress' || t === 'Egress'));
  return new Set(p.spec?.egress && p.spec.egress.length > 0 ? ['Ingress', 'Egress'] : ['Ingress']);
}

interface PeerPod {
  key: string;
  namespace: string;
  labels: Record<string, string>;
  ip: string;
  pod: Pod;
}

/** Pure: the model for the pods of `nodeName`. Deterministic order (pods, policies and entries sorted). */
export function computePolicyModel(input: PolicyInputs): NetworkPolicyModel {
  const warnings: PolicyWarning[] = [];
  const warn = (policy: string, message: string) => {
    if (!warnings.some((w) => w.policy === policy && w.message === message)) warnings.push({ policy, message });
  };
  const nsLabels = new Map<string, Record<string, string>>();
  for (const ns of input.namespaces) {
    const name = ns.metadata?.name ?? '';
    // The API server sets kubernetes.io/metadata.name on every namespace (1.21+); namespaceSelectors rely on it.
    nsLabels.set(name, { 'kubernetes.io/metadata.name': name, ...(ns.metadata?.labels ?? {}) });
  }
  const peers: PeerPod[] = [];
  for (const pod of input.pods) {
    const ip = policyPodIP(pod);
    if (!ip) continue;
    peers.push({ key: keyOf(pod), namespace: pod.metadata?.namespace ?? '', labels: pod.metadata?.labels ?? {}, ip, pod });
  }
  peers.sort((a, b) => cmp(a.key, b.key));
  const local = peers.filter((p) => p.pod.spec?.nodeName === input.nodeName);
  const policies = [...input.policies].sort((a, b) => cmp(keyOf(a), keyOf(b)));

  const model: NetworkPolicyModel = { pods: [], policies: new Map(), warnings };
  const isolation = new Map<string, { ingress?: string[]; egress?: string[] }>();
  for (const policy of policies) {
    const pKey = keyOf(policy);
    const selector = parseSelector(policy.spec?.podSelector ?? {}, pKey, 'spec.podSelector', warn);
    if (!selector) continue;
    const selected = local.filter((p) => p.namespace === policy.metadata?.namespace && matches(selector, p.labels));
    if (selected.length === 0) continue;
    const types = policyTypesOf(policy);
    for (const direction of ['ingress', 'egress'] as const) {
      if (!types.has(direction === 'ingress' ? 'Ingress' : 'Egress')) continue;
      const key = policyDirectionKey(direction, pKey);
      const rules = (direction === 'ingress' ? policy.spec?.ingress : policy.spec?.egress) ?? [];
      const entries: AllowEntry[] = [];
      rules.forEach((rule, i) => {
        const path = `spec.${direction}[${i}]`;
        const rulePeers = (direction === 'ingress' ? (rule as { from?: NetworkPolicyPeer[] }).from : (rule as { to?: NetworkPolicyPeer[] }).to) ?? [];
        const ports = rule.ports ?? [];
        entries.push(...expandRule({ policy, pKey, direction, path, rulePeers, ports, selected, peers, nsLabels, warn }));
      });
      model.policies.set(key, { policy: pKey, direction, entries: dedupe(entries) });
      for (const pod of selected) {
        let iso = isolation.get(pod.key);
        if (!iso) isolation.set(pod.key, (iso = {}));
        (iso[direction] ??= []).push(key);
      }
    }
  }
  for (const pod of local) {
    const iso = isolation.get(pod.key);
    if (!iso) continue;
    model.pods.push({ pod: pod.key, ip: pod.ip, ...(iso.ingress ? { ingress: iso.ingress } : {}), ...(iso.egress ? { egress: iso.egress } : {}) });
  }
  return model;
}

interface RuleContext {
  policy: NetworkPolicy;
  pKey: string;
  direction: Direction;
  path: string;
  rulePeers: NetworkPolicyPeer[];
  ports: NetworkPolicyPort[];
  /** The local pods the policy selects. */
  selected: PeerPod[];
  peers: PeerPod[];
  nsLabels: Map<string, Record<string, string>>;
  warn: (policy: string, message: string) => void;
}

type ResolvedPeer = { kind: 'any' } | { kind: 'block'; match: PeerMatch } | { kind: 'pods'; pods: PeerPod[] };

function expandRule(c: RuleContext): AllowEntry[] {
  const peers: ResolvedPeer[] = c.rulePeers.length === 0 ? [{ kind: 'any' }] : c.rulePeers.flatMap((peer, j) => resolvePeer(c, peer, `${c.path}.${c.direction === 'ingress' ? 'from' : 'to'}[${j}]`));
  const ports: Array<NetworkPolicyPort | undefined> = c.ports.length === 0 ? [undefined] : c.ports;
  const out: AllowEntry[] = [];
  for (const peer of peers) {
    for (const [k, port] of ports.entries()) {
      const protocol = normalizeProtocol(port?.protocol);
      if (!protocol) {
        c.warn(c.pKey, `${c.path}.ports[${k}].protocol ${JSON.stringify(port?.protocol)} is not TCP, UDP or SCTP: that port allows nothing`);
        continue;
      }
      if (port === undefined || port.port === undefined || typeof port.port === 'number') {
        const pm = port === undefined ? undefined : numericPort(port, protocol);
        for (const p of peerMatches(peer)) out.push({ ...(p ? { peer: p } : {}), ...(pm ? { port: pm } : {}) });
        continue;
      }
      // A named port: resolved on the destination pod.
      const name = port.port;
      if (c.direction === 'ingress') {
        for (const target of c.selected) {
          const num = resolveNamedPort(target.pod, name, protocol);
          if (num === undefined) continue;
          for (const p of peerMatches(peer)) out.push({ ...(p ? { peer: p } : {}), podIP: target.ip, port: { protocol, port: num } });
        }
        continue;
      }
      if (peer.kind === 'block') {
        c.warn(c.pKey, `${c.path}.ports[${k}]: the named port ${JSON.stringify(name)} cannot be resolved for the ipBlock ${peer.match.cidr} (names resolve on pods only): that combination allows nothing`);
        continue;
      }
      const dests = peer.kind === 'pods' ? peer.pods : c.peers;
      for (const dest of dests) {
        const num = resolveNamedPort(dest.pod, name, protocol);
        if (num !== undefined) out.push({ peer: { cidr: `${dest.ip}/32`, except: [] }, port: { protocol, port: num } });
      }
    }
  }
  return out;
}

function peerMatches(peer: ResolvedPeer): Array<PeerMatch | undefined> {
  if (peer.kind === 'any') return [undefined];
  if (peer.kind === 'block') return [peer.match];
  return peer.pods.map((p) => ({ cidr: `${p.ip}/32`, except: [] }));
}

function resolvePeer(c: RuleContext, peer: NetworkPolicyPeer, path: string): ResolvedPeer[] {
  if (peer.ipBlock) {
    const block = parseIpBlock(peer.ipBlock.cidr, peer.ipBlock.except ?? []);
    if (typeof block === 'string') {
      c.warn(c.pKey, `${path}.ipBlock: ${block}: that peer allows nothing`);
      return [];
    }
    return [{ kind: 'block', match: block }];
  }
  if (!peer.podSelector && !peer.namespaceSelector) {
    c.warn(c.pKey, `${path}: a peer needs a podSelector, a namespaceSelector or an ipBlock: that peer allows nothing`);
    return [];
  }
  const podSel = peer.podSelector ? parseSelector(peer.podSelector, c.pKey, `${path}.podSelector`, c.warn) : undefined;
  const nsSel = peer.namespaceSelector ? parseSelector(peer.namespaceSelector, c.pKey, `${path}.namespaceSelector`, c.warn) : undefined;
  if ((peer.podSelector && !podSel) || (peer.namespaceSelector && !nsSel)) return [];
  const ownNs = c.policy.metadata?.namespace ?? '';
  const pods = c.peers.filter((p) => {
    if (nsSel ? !matches(nsSel, c.nsLabels.get(p.namespace) ?? { 'kubernetes.io/metadata.name': p.namespace }) : p.namespace !== ownNs) return false;
    return podSel ? matches(podSel, p.labels) : true;
  });
  return [{ kind: 'pods', pods }];
}

function parseSelector(obj: Parameters<typeof labelSelectorFromObject>[0], policy: string, path: string, warn: (p: string, m: string) => void): LabelSelector | undefined {
  try {
    return labelSelectorFromObject(obj);
  } catch (err) {
    warn(policy, `${path}: ${(err as Error).message}: it selects nothing`);
    return undefined;
  }
}

function normalizeProtocol(p: string | undefined): Protocol | undefined {
  const v = p ?? 'TCP';
  return v === 'TCP' || v === 'UDP' || v === 'SCTP' ? v : undefined;
}

function numericPort(port: NetworkPolicyPort, protocol: Protocol): PortMatch {
  if (typeof port.port !== 'number') return { protocol };
  const end = port.endPort !== undefined && port.endPort > port.port ? { endPort: port.endPort } : {};
  return { protocol, port: port.port, ...end };
}

/** The port number a container of the pod declares under `name` for `protocol` (kubelet's named port lookup). */
export function resolveNamedPort(pod: Pod, name: string, protocol: Protocol): number | undefined {
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name === name && (p.protocol ?? 'TCP') === protocol) return p.containerPort;
  }
  return undefined;
}

/** An IPv4 block, or why it is refused. */
export function parseIpBlock(cidr: string, except: string[]): PeerMatch | string {
  const base = parseCidr(cidr);
  if (typeof base === 'string') return base;
  const out: string[] = [];
  for (const e of except) {
    const x = parseCidr(e);
    if (typeof x === 'string') return `except ${x}`;
    if (x.prefix < base.prefix || !sameNetwork(x.addr, base.addr, base.prefix)) return `except ${JSON.stringify(e)} is not inside ${JSON.stringify(cidr)}`;
    out.push(`${formatAddr(x.addr)}/${x.prefix}`);
  }
  return { cidr: `${formatAddr(base.addr)}/${base.prefix}`, except: out };
}

function parseCidr(text: string): { addr: number; prefix: number } | string {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text ?? '');
  if (!m) {
    if (typeof text === 'string' && text.includes(':')) return `the IPv6 block ${JSON.stringify(text)} is not enforced (skiff's network policy rules are IPv4 only)`;
    return `${JSON.stringify(text)} is not a CIDR`;
  }
  const prefix = Number(m[2]);
  if (isIP(m[1]!) !== 4 || prefix > 32) return `${JSON.stringify(text)} is not a CIDR`;
  const addr = m[1]!.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  // The network address (kube-router and iptables mask host bits the same way).
  return { addr: maskOf(addr, prefix), prefix };
}

function maskOf(addr: number, prefix: number): number {
  return prefix === 0 ? 0 : (addr - (addr % 2 ** (32 - prefix))) >>> 0;
}

function sameNetwork(a: number, b: number, prefix: number): boolean {
  return maskOf(a, prefix) === maskOf(b, prefix);
}

function formatAddr(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

function dedupe(entries: AllowEntry[]): AllowEntry[] {
  const seen = new Set<string>();
  return entries.filter((e) => {
    const k = JSON.stringify(e);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
