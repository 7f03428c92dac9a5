/**
 * The ranges allocators draw from: a Service CIDR (IPv4) and a NodePort range. Items are strings, the way they are
 * spelled in reservation keys and in Service specs ("10.43.0.12", "30080").
 */

export interface AllocationRange {
  /** Number of allocatable items. */
  readonly size: number;
  /** The i-th item, 0 <= i < size. */
  at(i: number): string;
  /** True when value is an allocatable item of this range. */
  contains(value: string): boolean;
  /** How the range is named in messages: `10.43.0.0/16`, `30000-32767`. */
  readonly description: string;
}

function ipToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/**
 * The addresses of an IPv4 CIDR without its network and broadcast addresses, as upstream's bitmap allocator.
 * The first of them (10.43.0.1) is the `kubernetes` Service's, reserved by the bootstrap like any other request.
 */
export function ipv4Range(cidr: string): AllocationRange {
  const [ip, bits, extra] = cidr.split('/');
  const addr = ip === undefined ? undefined : ipToInt(ip);
  const prefix = Number(bits);
  if (addr === undefined || extra !== undefined || !/^\d+$/.test(bits ?? '') || prefix < 8 || prefix > 30) {
    throw new Error(`invalid service CIDR ${JSON.stringify(cidr)}: want an IPv4 CIDR with a prefix of 8 to 30 bits`);
  }
  const total = 2 ** (32 - prefix);
  const base = addr - (addr % total);
  return {
    size: total - 2,
    description: cidr,
    at: (i) => intToIp(base + 1 + i),
    contains(value) {
      const n = ipToInt(value);
      return n !== undefined && intToIp(n) === value && n > base && n < base + total - 1;
    },
  };
}

/** The ports lo..hi inclusive (kube-apiserver --service-node-port-range, default 30000-32767). */
export function portRange(lo: number, hi: number): AllocationRange {
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 1 || hi > 65535 || lo > hi) {
    throw new Error(`invalid node port range ${lo}-${hi}`);
  }
  return {
    size: hi - lo + 1,
    description: `${lo}-${hi}`,
    at: (i) => String(lo + i),
    contains(value) {
      if (!/^[1-9]\d{0,4}$/.test(value)) return false;
      const n = Number(value);
      return n >= lo && n <= hi;
    },
  };
}
