/**
 * The policy model (compute-policy-model.ts) as iptables rules in the filter table: pure, golden-tested. The layout is
 * kube-router's (pkg/controllers/netpol: KUBE-ROUTER-FORWARD, KUBE-POD-FW-*, KUBE-NWPLCY-*) under per-agent names
 * (`<tag>` = 4 hex of the agent's identity, its bridge name, the same as the service proxy's `SK<tag>`), so agents
 * sharing one network namespace never touch each other's chains:
 *
 *   FORWARD, INPUT ─▶ SKIFF-POD-FW-<tag>                    every packet forwarded or sent to the node by a pod
 *                      ├ ESTABLISHED,RELATED → RETURN          replies of allowed connections pass
 *                      ├ -s <pod> → SKIFF-POD-FW-<tag>-<hash>  egress of each egress-isolated pod of this node
 *                      └ -d <pod> → SKIFF-POD-FW-<tag>-<hash>  ingress of each ingress-isolated pod of this node
 *   pod chain:  clear mark 0x10000 ─ (ingress: from the node itself → RETURN, kubelet probes) ─ each policy's chain
 *               ─ mark set → RETURN ─ DROP
 *   SKIFF-NWPLCY-<tag>-<hash>   one per policy and direction: each allowed (peer, port) sets the mark; an ipBlock
 *                               with excepts jumps to a chain of its own that RETURNs for the excepts first
 *
 * A pod-to-pod packet between two isolated pods of this node passes the sender's egress chain, then the receiver's
 * ingress chain: every chain RETURNs what it allows, nothing here ACCEPTs, so rules after ours (the service proxy's,
 * the host's) still apply. Denied packets are dropped (a client sees a timeout, as with Calico; kube-router REJECTs).
 * A mark bit of its own (0x10000, kube-router's) carries "allowed by a policy" from a policy chain back to the pod
 * chain; each pod chain clears it first, so another agent's chains never see a stale bit.
 */
import { createHash } from 'node:crypto';
import { policyDirectionKey, type AllowEntry, type NetworkPolicyModel, type PolicyDirectionModel } from './compute-policy-model.js';

export const POLICY_MARK = '0x10000/0x10000';

export interface PolicyRenderOptions {
  /** 4 hex characters per agent (policyChainTag). */
  tag: string;
}

export interface RenderedPolicyRules {
  /** Every chain of ours, the top chain first. */
  chains: string[];
  /** `-A` lines, in order. */
  rules: string[];
}

/** The per-agent tag: the first 4 hex of sha256(identity), as the service proxy's chain prefix `SK<tag>`. */
export function policyChainTag(agentIdentity: string): string {
  return createHash('sha256').update(agentIdentity).digest('hex').slice(0, 4);
}

export function topPolicyChain(tag: string): string {
  return `SKIFF-POD-FW-${tag}`;
}

/** True for every chain an agent with this tag owns (top, pod and policy chains). */
export function isPolicyChainOf(tag: string, chain: string): boolean {
  return chain === topPolicyChain(tag) || chain.startsWith(`SKIFF-POD-FW-${tag}-`) || chain.startsWith(`SKIFF-NWPLCY-${tag}-`);
}

/** Chain names are at most 28 characters: 13 + 4 + 1 + 10. */
function hashed(kind: 'SKIFF-POD-FW' | 'SKIFF-NWPLCY', tag: string, ...parts: string[]): string {
  return `${kind}-${tag}-${createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 10).toUpperCase()}`;
}

export function podChainName(tag: string, direction: 'ingress' | 'egress', pod: string, ip: string): string {
  return hashed('SKIFF-POD-FW', tag, direction, pod, ip);
}

export function policyChainName(tag: string, policyKey: string): string {
  return hashed('SKIFF-NWPLCY', tag, policyKey);
}

/** The jumps into the top chain, as arguments after `-I <chain> 1` / `-D <chain>` in the filter table. */
export function policyJumpRules(tag: string): Array<{ chain: 'FORWARD' | 'INPUT'; args: string[] }> {
  const args = ['-m', 'comment', '--comment', 'skiff network policy', '-j', topPolicyChain(tag)];
  return [
    { chain: 'FORWARD', args },
    { chain: 'INPUT', args },
  ];
}

const q = (s: string) => `"${s.replace(/["\\]/g, '')}"`;
const comment = (text: string) => `-m comment --comment ${q(text)}`;

/** Pure: the chains and rules for a model. */
export function renderPolicyRules(model: NetworkPolicyModel, o: PolicyRenderOptions): RenderedPolicyRules {
  const top = topPolicyChain(o.tag);
  const chains = [top];
  const rules: string[] = [];
  const policyChains: string[] = [];
  const policyRules: string[] = [];
  const rendered = new Set<string>();

  rules.push(`-A ${top} -m conntrack --ctstate RELATED,ESTABLISHED ${comment('replies of allowed connections')} -j RETURN`);
  const podChains: Array<{ chain: string; lines: string[] }> = [];
  for (const direction of ['egress', 'ingress'] as const) {
    for (const pod of model.pods) {
      const keys = pod[direction];
      if (!keys) continue;
      const chain = podChainName(o.tag, direction, pod.pod, pod.ip);
      rules.push(`-A ${top} ${direction === 'egress' ? '-s' : '-d'} ${pod.ip}/32 ${comment(`${pod.pod} ${direction}`)} -j ${chain}`);
      const lines = [`-A ${chain} -j MARK --set-xmark 0x0/${POLICY_MARK.split('/')[1]}`];
      if (direction === 'ingress') lines.push(`-A ${chain} -m addrtype --src-type LOCAL ${comment('from the node itself (probes)')} -j RETURN`);
      for (const key of keys) {
        const policy = model.policies.get(key)!;
        const pChain = policyChainName(o.tag, key);
        lines.push(`-A ${chain} ${comment(`${policy.policy} ${direction}`)} -j ${pChain}`);
        if (!rendered.has(key)) {
          rendered.add(key);
          renderPolicyChain(policy, pChain, o.tag, policyChains, policyRules);
        }
      }
      lines.push(`-A ${chain} -m mark --mark ${POLICY_MARK} -j RETURN`);
      lines.push(`-A ${chain} ${comment(`${pod.pod}: ${direction} not allowed by any policy`)} -j DROP`);
      podChains.push({ chain, lines });
    }
  }
  for (const pc of podChains) {
    chains.push(pc.chain);
    rules.push(...pc.lines);
  }
  chains.push(...policyChains);
  rules.push(...policyRules);
  return { chains, rules };
}

function renderPolicyChain(policy: PolicyDirectionModel, chain: string, tag: string, chains: string[], rules: string[]): void {
  chains.push(chain);
  const peerFlag = policy.direction === 'ingress' ? '-s' : '-d';
  const extra: Array<{ chain: string; lines: string[] }> = [];
  const key = policyDirectionKey(policy.direction, policy.policy);
  for (const e of policy.entries) {
    const match = entryMatch(e, peerFlag);
    if (e.peer && e.peer.except.length > 0) {
      const sub = policyChainName(tag, `${key}\0${e.peer.cidr}\0${e.peer.except.join(',')}`);
      if (!extra.some((x) => x.chain === sub)) {
        extra.push({
          chain: sub,
          lines: [
            ...e.peer.except.map((x) => `-A ${sub} ${peerFlag} ${x} ${comment(`${policy.policy}: except ${x}`)} -j RETURN`),
            `-A ${sub} -j MARK --set-xmark ${POLICY_MARK}`,
          ],
        });
      }
      rules.push(`-A ${chain} ${match}${comment(policy.policy)} -j ${sub}`);
    } else {
      rules.push(`-A ${chain} ${match}${comment(policy.policy)} -j MARK --set-xmark ${POLICY_MARK}`);
    }
  }
  for (const x of extra) {
    chains.push(x.chain);
    rules.push(...x.lines);
  }
}

function entryMatch(e: AllowEntry, peerFlag: '-s' | '-d'): string {
  const parts: string[] = [];
  if (e.peer) parts.push(`${peerFlag} ${e.peer.cidr}`);
  if (e.podIP) parts.push(`-d ${e.podIP}/32`);
  if (e.port) {
    const proto = e.port.protocol.toLowerCase();
    parts.push(`-p ${proto}`);
    if (e.port.port !== undefined) parts.push(`-m ${proto} --dport ${e.port.port}${e.port.endPort !== undefined ? `:${e.port.endPort}` : ''}`);
  }
  return parts.length ? `${parts.join(' ')} ` : '';
}

/**
 * iptables-restore input (for `--noflush`): every chain of ours declared (which flushes it), the rules, and stale
 * chains (ours in the kernel but no longer rendered) flushed and deleted in the same transaction.
 */
export function renderPolicyRestore(r: RenderedPolicyRules, staleChains: readonly string[] = []): string {
  const stale = staleChains.filter((c) => !r.chains.includes(c));
  return ['*filter', ...r.chains.map((c) => `:${c} - [0:0]`), ...stale.map((c) => `:${c} - [0:0]`), ...r.rules, ...stale.map((c) => `-X ${c}`), 'COMMIT', ''].join('\n');
}
