/**
 * The pod network between nodes, computed (pure) from this node and every Node object, as flannel's two backends that
 * k3s ships: host-gw (`<podCIDR> via <nodeIP>` when the node's InternalIP is on a directly connected link) and vxlan
 * (`<podCIDR> via <remote VTEP IP> dev <vxlan> onlink`, a permanent neighbour entry VTEP IP → VTEP MAC and an FDB
 * entry VTEP MAC → the node's InternalIP, with flannel's addressing: a node's VTEP IP is its podCIDR's network
 * address). The applier (node-route-applier.ts) makes the host match this; node-network.ts feeds it.
 *
 * IPv4 only (flannel's vxlan backend carries IPv6 on a second device; skiff does not yet).
 */
import { isIP } from 'node:net';

/** `--flannel-backend`: k3s's values, plus `auto` (skiff's default): host-gw to nodes on a shared link, vxlan to others. */
export const FLANNEL_BACKENDS = ['auto', 'host-gw', 'vxlan', 'none'] as const;
export type FlannelBackend = (typeof FLANNEL_BACKENDS)[number];

/** The node annotation holding a node's VTEP MAC (flannel keeps it in flannel.alpha.coreos.com/backend-data). */
export const VTEP_MAC_ANNOTATION = 'skiff.dev/vtep-mac';
/** The node's VXLAN UDP port when it is not 8472 (two agents in one network namespace cannot share it). */
export const VTEP_PORT_ANNOTATION = 'skiff.dev/vtep-port';
/** flannel's VNI and port (the Linux kernel's historical VXLAN port, not IANA's 4789). */
export const VXLAN_VNI = 1;
export const VXLAN_PORT = 8472;

/** What the computation needs of one Node object. */
export interface NodeNetInfo {
  name: string;
  /** spec.podCIDRs (or [spec.podCIDR]). */
  podCidrs: string[];
  /** The first InternalIP (IPv4) of status.addresses. */
  internalIp?: string;
  vtepMac?: string;
  vtepPort?: number;
  /** A simulated (kwok-style) node: it has no pods to reach, and no VTEP will ever answer. */
  simulated?: boolean;
}

/** An IPv4 address of this node's network namespace and the subnet it is on. */
export interface LocalAddress {
  address: string;
  prefixLen: number;
  dev: string;
}

export interface PodRoute {
  /** The remote node's podCIDR. */
  dst: string;
  /** host-gw: the node's InternalIP; vxlan: its VTEP IP (podCIDR network address). */
  via: string;
  /** vxlan: the vxlan device (with onlink). host-gw: the kernel picks the link. */
  dev?: string;
  onlink?: boolean;
  node: string;
  mode: 'host-gw' | 'vxlan';
}

export interface VtepNeighbour {
  ip: string;
  mac: string;
  dev: string;
}

export interface VtepFdbEntry {
  mac: string;
  /** The remote node's InternalIP. */
  dst: string;
  port: number;
  dev: string;
}

export interface DesiredNodeNetwork {
  routes: PodRoute[];
  neighbours: VtepNeighbour[];
  fdb: VtepFdbEntry[];
  /** Whether any peer is reached over vxlan (the device is made only then). */
  needsVxlan: boolean;
  /** Nodes not programmed, and why (logged once per change). */
  skipped: Array<{ node: string; reason: string }>;
}

export interface ComputeNodeRoutesInput {
  self: string;
  nodes: NodeNetInfo[];
  backend: Exclude<FlannelBackend, 'none'>;
  /** The addresses of the network namespace the agent programs (not of its pod bridge or vxlan device). */
  addresses: LocalAddress[];
  vxlanDev: string;
}

/** Pure: the routes, neighbour and FDB entries this node needs to reach every other node's pods. */
export function computeNodeRoutes(input: ComputeNodeRoutesInput): DesiredNodeNetwork {
  const out: DesiredNodeNetwork = { routes: [], neighbours: [], fdb: [], needsVxlan: false, skipped: [] };
  const own = new Set(input.addresses.map((a) => a.address));
  const selfNode = input.nodes.find((n) => n.name === input.self);
  const selfCidrs = new Set((selfNode?.podCidrs ?? []).filter(isIpv4Cidr));
  const claimed = new Map<string, string>();
  for (const node of [...input.nodes].sort((a, b) => a.name.localeCompare(b.name))) {
    if (node.name === input.self || node.simulated) continue;
    const cidrs = node.podCidrs.filter(isIpv4Cidr);
    if (cidrs.length === 0) {
      if (node.podCidrs.length > 0) out.skipped.push({ node: node.name, reason: 'no IPv4 podCIDR (IPv6 pod routes are not programmed)' });
      continue; // no podCIDR yet: nothing to route
    }
    const ip = node.internalIp;
    if (ip === undefined || isIP(ip) !== 4) {
      out.skipped.push({ node: node.name, reason: 'no IPv4 InternalIP' });
      continue;
    }
    if (own.has(ip)) {
      out.skipped.push({ node: node.name, reason: `its InternalIP ${ip} is this host's own: its pods' bridge is local` });
      continue;
    }
    const clash = cidrs.find((c) => selfCidrs.has(c) || claimed.has(c));
    if (clash !== undefined) {
      out.skipped.push({ node: node.name, reason: `podCIDR ${clash} is also ${claimed.get(clash) ?? 'this node'}'s` });
      continue;
    }
    for (const c of cidrs) claimed.set(c, node.name);
    const onLink = input.addresses.some((a) => a.prefixLen < 32 && sameSubnet(a.address, ip, a.prefixLen));
    const mode = input.backend === 'auto' ? (onLink ? 'host-gw' : 'vxlan') : input.backend;
    if (mode === 'host-gw') {
      if (!onLink) {
        out.skipped.push({ node: node.name, reason: `host-gw needs ${ip} on a directly connected link (use --flannel-backend vxlan, or the default)` });
        continue;
      }
      for (const dst of cidrs) out.routes.push({ dst, via: ip, node: node.name, mode });
      continue;
    }
    out.needsVxlan = true;
    if (node.vtepMac === undefined) {
      out.skipped.push({ node: node.name, reason: `no VTEP MAC published yet (annotation ${VTEP_MAC_ANNOTATION})` });
      continue;
    }
    const vtep = networkAddress(cidrs[0]!);
    for (const dst of cidrs) out.routes.push({ dst, via: vtep, dev: input.vxlanDev, onlink: true, node: node.name, mode });
    out.neighbours.push({ ip: vtep, mac: node.vtepMac.toLowerCase(), dev: input.vxlanDev });
    out.fdb.push({ mac: node.vtepMac.toLowerCase(), dst: ip, port: node.vtepPort ?? VXLAN_PORT, dev: input.vxlanDev });
  }
  if (input.backend === 'vxlan') out.needsVxlan = true;
  return out;
}

/** The VTEP address of a node: its podCIDR's network address (flannel's choice), with /32 on the device. */
export function vtepAddress(podCidrs: string[]): string | undefined {
  const v4 = podCidrs.find(isIpv4Cidr);
  return v4 === undefined ? undefined : networkAddress(v4);
}

export function isIpv4Cidr(cidr: string): boolean {
  const [ip, bits] = cidr.split('/');
  return isIP(ip ?? '') === 4 && bits !== undefined && /^\d+$/.test(bits) && Number(bits) <= 32;
}

export function ipv4ToNumber(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

export function numberToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function networkAddress(cidr: string): string {
  const [ip, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  return numberToIpv4(Math.floor(ipv4ToNumber(ip!) / size) * size);
}

function sameSubnet(a: string, b: string, prefixLen: number): boolean {
  const size = 2 ** (32 - prefixLen);
  return Math.floor(ipv4ToNumber(a) / size) === Math.floor(ipv4ToNumber(b) / size);
}

/** Whether IPv4 `cidr` lies inside one of `outer` (both CIDR text). */
export function cidrWithin(cidr: string, outer: string[]): boolean {
  if (!isIpv4Cidr(cidr)) return false;
  const [ip, bits] = cidr.split('/');
  return outer.some((o) => {
    if (!isIpv4Cidr(o)) return false;
    const [oip, obits] = o.split('/');
    return Number(bits) >= Number(obits) && sameSubnet(ip!, oip!, Number(obits));
  });
}
