/**
 * The nftables proxier's rules, from the same model and plan as the iptables ones (service-model.ts planForwarding),
 * in the shape of kube-proxy's nftables mode (pkg/proxy/nftables/proxier.go): one table per agent
 * (`ip skiff-<prefix>`), verdict maps from (address, protocol, port) to the Service's chain instead of one rule per
 * Service, `numgen random mod N vmap` for balancing, and per-endpoint sets with timeouts for ClientIP affinity.
 *
 *   nat-prerouting, nat-output -> services:  ip daddr . l4proto . dport vmap @service-ips       -> svc-/svl-/ext-
 *                                            local daddr: l4proto . dport vmap @service-nodeports -> ext-
 *   svc-x: masquerade mark for sources outside the cluster CIDR; affinity; numgen random -> sep-y (DNAT)
 *   nat-postrouting -> masquerading;  filter-{input,forward,output} (ct state new) -> endpoints-check:
 *   @no-endpoint-services / @no-endpoint-nodeports -> reject (TCP: reset) or drop
 *   filter-prerouting-pre-dnat, filter-output-pre-dnat (before DNAT, ct state new) -> firewall-check:
 *   ip daddr . l4proto . dport vmap @firewall-ips -> firewall-x: ip saddr != { loadBalancerSourceRanges } drop
 *
 * Pure. `renderNftables` returns the whole script for `nft -f` (a transaction: all or nothing).
 */
import { createHash } from 'node:crypto';
import { cidrContains, planForwarding, servicePortName, type ProxyEndpoint, type ServicePortInfo } from '../service-model.js';

export interface NftablesRenderOptions {
  /** The table's name (`skiff-<per-agent id>`). */
  table: string;
  clusterCIDRs: string[];
  masqueradeMark: string;
  /** The node's own addresses (see IptablesRenderOptions.nodeIPs: a range holding one lets the LB IPs in as sources). */
  nodeIPs?: string[];
}

export interface RenderedNftPort {
  key: string;
  /** Chains this port owns, with their rules (without the `add rule ip T <chain>` head). */
  chains: Map<string, string[]>;
  /** Affinity sets this port owns: name → timeout seconds. */
  sets: Map<string, number>;
  serviceIps: string[];
  serviceNodePorts: string[];
  noEndpointServices: string[];
  noEndpointNodePorts: string[];
  firewallIps: string[];
}

const hash = (...parts: string[]) => createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 16);

export function servicePortKeyNft(sp: ServicePortInfo): string {
  return `${servicePortName(sp)}/${sp.protocol}`;
}

/** Pure: the chains, sets and map elements of one ServicePort. */
export function renderNftPort(sp: ServicePortInfo, o: NftablesRenderOptions): RenderedNftPort {
  const key = servicePortKeyNft(sp);
  const plan = planForwarding(sp);
  const proto = sp.protocol.toLowerCase();
  const h = hash(key);
  const svc = `svc-${h}`;
  const svl = `svl-${h}`;
  const ext = `ext-${h}`;
  const sep = (ep: ProxyEndpoint) => `sep-${hash(key, `${ep.ip}:${ep.port}`)}`;
  const aff = (ep: ProxyEndpoint) => `affinity-${sep(ep)}`;
  const fw = `firewall-${h}`;
  const out: RenderedNftPort = { key, chains: new Map(), sets: new Map(), serviceIps: [], serviceNodePorts: [], noEndpointServices: [], noEndpointNodePorts: [], firewallIps: [] };
  const verdict = (f: { verdict: 'reject' | 'drop' }) => (f.verdict === 'reject' ? 'goto reject-chain' : 'drop');

  for (const ip of sp.clusterIPs) {
    if (plan.hasInternalEndpoints) out.serviceIps.push(`${ip} . ${proto} . ${sp.port} : goto ${plan.internalToLocal ? svl : svc}`);
    else out.noEndpointServices.push(`${ip} . ${proto} . ${sp.port} : ${verdict(plan.internalFilter!)}`);
  }
  for (const ip of [...sp.externalIPs, ...sp.loadBalancerIPs]) {
    if (plan.usesExtChain) out.serviceIps.push(`${ip} . ${proto} . ${sp.port} : goto ${ext}`);
    else out.noEndpointServices.push(`${ip} . ${proto} . ${sp.port} : ${verdict(plan.externalFilter!)}`);
  }
  if (plan.usesFirewall) {
    // Checked before DNAT (kube-proxy's nftables firewall): sources outside the ranges are dropped on the way in.
    for (const ip of sp.loadBalancerIPs) out.firewallIps.push(`${ip} . ${proto} . ${sp.port} : goto ${fw}`);
    const ranges = sp.loadBalancerSourceRanges ?? [];
    const fromNode = ranges.some((cidr) => (o.nodeIPs ?? []).some((ip) => cidrContains(cidr, ip)));
    out.chains.set(fw, [`ip saddr != { ${[...ranges, ...(fromNode ? sp.loadBalancerIPs : [])].join(' , ')} } drop`]);
  }
  if (sp.nodePort !== undefined) {
    if (plan.usesExtChain) out.serviceNodePorts.push(`${proto} . ${sp.nodePort} : goto ${ext}`);
    else out.noEndpointNodePorts.push(`${proto} . ${sp.nodePort} : ${verdict(plan.externalFilter!)}`);
  }

  if (plan.usesExtChain) {
    const rules: string[] = [];
    if (sp.externalLocal) {
      if (plan.usesClusterChain) {
        for (const cidr of o.clusterCIDRs) rules.push(`ip saddr ${cidr} goto ${svc}`);
        rules.push('fib saddr type local jump mark-for-masquerade', `fib saddr type local goto ${svc}`);
      }
      rules.push(`goto ${svl}`);
    } else {
      rules.push('jump mark-for-masquerade', `goto ${svc}`);
    }
    out.chains.set(ext, rules);
  }
  const endpointRules = (eps: ProxyEndpoint[]): string[] => {
    const rules: string[] = [];
    if (sp.affinitySeconds !== undefined) for (const ep of eps) rules.push(`ip saddr @${aff(ep)} goto ${sep(ep)}`);
    if (eps.length === 1) rules.push(`goto ${sep(eps[0]!)}`);
    else rules.push(`numgen random mod ${eps.length} vmap { ${eps.map((ep, i) => `${i} : goto ${sep(ep)}`).join(' , ')} }`);
    return rules;
  };
  if (plan.usesClusterChain) {
    const rules: string[] = [];
    for (const ip of sp.clusterIPs) for (const cidr of o.clusterCIDRs) rules.push(`ip daddr ${ip} ${proto} dport ${sp.port} ip saddr != ${cidr} jump mark-for-masquerade`);
    out.chains.set(svc, [...rules, ...endpointRules(plan.cluster)]);
  }
  if (plan.usesLocalChain) out.chains.set(svl, endpointRules(plan.local));
  for (const ep of plan.reachable) {
    const rules = [`ip saddr ${ep.ip} jump mark-for-masquerade`];
    if (sp.affinitySeconds !== undefined) {
      out.sets.set(aff(ep), sp.affinitySeconds);
      rules.push(`update @${aff(ep)} { ip saddr }`);
    }
    rules.push(`meta l4proto ${proto} dnat to ${ep.ip}:${ep.port}`);
    out.chains.set(sep(ep), rules);
  }
  return out;
}

const MAPS: Array<[string, string]> = [
  ['service-ips', 'ipv4_addr . inet_proto . inet_service : verdict'],
  ['service-nodeports', 'inet_proto . inet_service : verdict'],
  ['no-endpoint-services', 'ipv4_addr . inet_proto . inet_service : verdict'],
  ['no-endpoint-nodeports', 'inet_proto . inet_service : verdict'],
  ['firewall-ips', 'ipv4_addr . inet_proto . inet_service : verdict'],
];

/** The base chains: hooks, dispatch, masquerading and rejection. */
function baseChains(o: NftablesRenderOptions): Array<{ name: string; hook?: string; rules: string[] }> {
  const m = o.masqueradeMark;
  const local = 'fib daddr type local ip daddr != 127.0.0.0/8';
  return [
    { name: 'nat-prerouting', hook: 'type nat hook prerouting priority dstnat ; policy accept ;', rules: ['jump services'] },
    { name: 'nat-output', hook: 'type nat hook output priority -100 ; policy accept ;', rules: ['jump services'] },
    { name: 'nat-postrouting', hook: 'type nat hook postrouting priority srcnat ; policy accept ;', rules: ['jump masquerading'] },
    { name: 'filter-input', hook: 'type filter hook input priority -1 ; policy accept ;', rules: ['ct state new jump endpoints-check'] },
    { name: 'filter-forward', hook: 'type filter hook forward priority -1 ; policy accept ;', rules: ['ct state new jump endpoints-check'] },
    { name: 'filter-output', hook: 'type filter hook output priority -1 ; policy accept ;', rules: ['ct state new jump endpoints-check'] },
    // Before the nat chains (-100): the destination is still the LB IP.
    { name: 'filter-prerouting-pre-dnat', hook: 'type filter hook prerouting priority -110 ; policy accept ;', rules: ['ct state new jump firewall-check'] },
    { name: 'filter-output-pre-dnat', hook: 'type filter hook output priority -110 ; policy accept ;', rules: ['ct state new jump firewall-check'] },
    { name: 'firewall-check', rules: ['ip daddr . meta l4proto . th dport vmap @firewall-ips'] },
    { name: 'services', rules: ['ip daddr . meta l4proto . th dport vmap @service-ips', `${local} meta l4proto . th dport vmap @service-nodeports`] },
    { name: 'endpoints-check', rules: ['ip daddr . meta l4proto . th dport vmap @no-endpoint-services', `${local} meta l4proto . th dport vmap @no-endpoint-nodeports`] },
    { name: 'masquerading', rules: [`meta mark & ${m} == 0 return`, `meta mark set meta mark ^ ${m}`, 'masquerade fully-random'] },
    { name: 'mark-for-masquerade', rules: [`meta mark set meta mark | ${m}`] },
    // kube-proxy rejects with ICMP; TCP gets a reset here (ICMP errors to pods are rate-limited, see render-iptables.ts).
    { name: 'reject-chain', rules: ['meta l4proto tcp reject with tcp reset', 'reject'] },
  ];
}

export interface NftInput {
  ports: RenderedNftPort[];
  /** Keys of ports whose chains are written; undefined: a full sync that replaces the table whole. */
  changed?: ReadonlySet<string>;
  /** Chains and sets of ours that are no longer wanted (partial syncs). */
  staleChains?: Iterable<string>;
  staleSets?: Iterable<string>;
}

/** Pure: the `nft -f` script. */
export function renderNftables(input: NftInput, o: NftablesRenderOptions): string {
  const t = `ip ${o.table}`;
  const lines: string[] = [`add table ${t}`];
  // A full sync replaces the table whole (whatever an earlier run left); a partial one keeps it and its sets.
  if (!input.changed) lines.push(`delete table ${t}`, `add table ${t}`);
  for (const [name, type] of MAPS) lines.push(`add map ${t} ${name} { type ${type} ; }`);
  const base = baseChains(o);
  for (const c of base) lines.push(`add chain ${t} ${c.name}${c.hook ? ` { ${c.hook} }` : ''}`);
  const written = input.ports.filter((p) => !input.changed || input.changed.has(p.key));
  for (const p of written) for (const [name, timeout] of p.sets) lines.push(`add set ${t} ${name} { type ipv4_addr ; flags dynamic,timeout ; timeout ${timeout}s ; }`);
  for (const p of written) for (const name of p.chains.keys()) lines.push(`add chain ${t} ${name}`);
  if (input.changed) {
    for (const c of base) lines.push(`flush chain ${t} ${c.name}`);
    for (const [name] of MAPS) lines.push(`flush map ${t} ${name}`);
    for (const p of written) for (const name of p.chains.keys()) lines.push(`flush chain ${t} ${name}`);
  }
  for (const c of base) for (const r of c.rules) lines.push(`add rule ${t} ${c.name} ${r}`);
  const elements = (map: string, pick: (p: RenderedNftPort) => string[]) => {
    const all = input.ports.flatMap(pick);
    // Large element lists in pieces, so no single command line gets huge.
    for (let i = 0; i < all.length; i += 500) lines.push(`add element ${t} ${map} { ${all.slice(i, i + 500).join(' , ')} }`);
  };
  elements('service-ips', (p) => p.serviceIps);
  elements('service-nodeports', (p) => p.serviceNodePorts);
  elements('no-endpoint-services', (p) => p.noEndpointServices);
  elements('no-endpoint-nodeports', (p) => p.noEndpointNodePorts);
  elements('firewall-ips', (p) => p.firewallIps);
  for (const p of written) for (const [name, rules] of p.chains) for (const r of rules) lines.push(`add rule ${t} ${name} ${r}`);
  if (input.changed) {
    const stale = [...(input.staleChains ?? [])];
    for (const c of stale) lines.push(`flush chain ${t} ${c}`);
    for (const c of stale) lines.push(`delete chain ${t} ${c}`);
    for (const s of input.staleSets ?? []) lines.push(`delete set ${t} ${s}`);
  }
  lines.push('');
  return lines.join('\n');
}
