/**
 * CNI results as plugins print them (spec 1.0.0 "Success"; 0.3.x and 0.4.0 have the same shape with a `version`
 * field per IP; 0.1.0 and 0.2.0 had `ip4`/`ip6`), and the pod addresses a runtime reads from them.
 */

export interface CniInterface {
  name: string;
  mac?: string;
  /** The netns path for interfaces inside the container; absent or empty for host-side ones (bridge, veth peer). */
  sandbox?: string;
}

export interface CniIpConfig {
  /** CIDR notation: the address and its prefix length, e.g. 10.42.0.5/24. */
  address: string;
  gateway?: string;
  /** Index into `interfaces`. */
  interface?: number;
  /** 0.3.x/0.4.0 only: "4" or "6". */
  version?: string;
}

export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIpConfig[];
  routes?: Array<{ dst: string; gw?: string }>;
  dns?: { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] };
  /** 0.1.0/0.2.0 results. */
  ip4?: { ip: string; gateway?: string };
  ip6?: { ip: string; gateway?: string };
}

export function isCniResult(value: unknown): value is CniResult {
  return typeof value === 'object' && value !== null && typeof (value as CniResult).cniVersion === 'string';
}

/**
 * The addresses (without prefix length) a result gives the interface `ifName` inside the sandbox, in the plugin's
 * order, and the first gateway. An IP that names no interface counts as the container's (IPAM-only results).
 */
export function podIpsFromResult(result: CniResult, ifName: string): { ips: string[]; gateway?: string } {
  const configs: CniIpConfig[] = [];
  if (result.ips !== undefined) {
    for (const ip of result.ips) {
      if (ip.interface === undefined || result.interfaces === undefined) {
        configs.push(ip);
        continue;
      }
      const iface = result.interfaces[ip.interface];
      if (iface !== undefined && iface.sandbox !== undefined && iface.sandbox !== '' && iface.name === ifName) configs.push(ip);
    }
  } else {
    if (result.ip4 !== undefined) configs.push({ address: result.ip4.ip, gateway: result.ip4.gateway });
    if (result.ip6 !== undefined) configs.push({ address: result.ip6.ip, gateway: result.ip6.gateway });
  }
  const ips = configs.map((c) => stripPrefix(c.address));
  const gateway = configs.find((c) => c.gateway !== undefined && c.gateway !== '')?.gateway;
  return gateway === undefined ? { ips } : { ips, gateway };
}

function stripPrefix(cidr: string): string {
  const slash = cidr.indexOf('/');
  return slash === -1 ? cidr : cidr.slice(0, slash);
}

/** Compares dotted CNI versions: negative, zero or positive like a sort comparator. */
export function compareCniVersions(a: string, b: string): number {
  const pa = a.split('.').map((n) => Number.parseInt(n, 10) || 0);
  const pb = b.split('.').map((n) => Number.parseInt(n, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
