/**
 * A cluster CIDR cut into equal node CIDRs, each free or used (upstream pkg/controller/nodeipam/ipam/cidrset): the
 * range allocator hands out the next free one, round-robin from the last one handed out, so a CIDR released by a
 * deleted node is not given to the next node at once. IPv4 and IPv6; addresses are bigints so one code path does both.
 */
import { isIP } from 'node:net';

/** Upstream refuses a node mask more than 16 bits longer than the cluster CIDR's (65,536 node CIDRs at most). */
export const MAX_PREFIX_DIFFERENCE = 16;

export interface ParsedCidr {
  family: 4 | 6;
  /** The network address (host bits cleared). */
  base: bigint;
  prefix: number;
}

export class CidrSet {
  readonly clusterCIDR: string;
  readonly nodeMaskSize: number;
  readonly family: 4 | 6;
  /** How many node CIDRs the cluster CIDR holds. */
  readonly size: number;
  private readonly cluster: ParsedCidr;
  private readonly bits: number;
  private readonly used: Uint8Array;
  private usedCount = 0;
  private nextCandidate = 0;

  /** Throws, naming the value, when the CIDR does not parse or the mask sizes do not fit. */
  constructor(clusterCIDR: string, nodeMaskSize: number) {
    const cluster = parseCidr(clusterCIDR);
    this.bits = cluster.family === 4 ? 32 : 128;
    if (!Number.isInteger(nodeMaskSize) || nodeMaskSize < cluster.prefix || nodeMaskSize > this.bits) {
      throw new Error(`node CIDR mask size ${nodeMaskSize} does not fit cluster CIDR ${clusterCIDR}: it must be from ${cluster.prefix} to ${this.bits}`);
    }
    if (nodeMaskSize - cluster.prefix > MAX_PREFIX_DIFFERENCE) {
      throw new Error(`cluster CIDR ${clusterCIDR} with node mask /${nodeMaskSize} would hold ${2 ** (nodeMaskSize - cluster.prefix)} node CIDRs; the mask sizes may differ by at most ${MAX_PREFIX_DIFFERENCE}`);
    }
    this.cluster = cluster;
    this.clusterCIDR = formatCidr(cluster);
    this.family = cluster.family;
    this.nodeMaskSize = nodeMaskSize;
    this.size = 2 ** (nodeMaskSize - cluster.prefix);
    this.used = new Uint8Array(this.size);
  }

  get free(): number {
    return this.size - this.usedCount;
  }

  /** The next free node CIDR, now marked used; undefined when every one is in use. */
  allocateNext(): string | undefined {
    if (this.usedCount >= this.size) return undefined;
    let i = this.nextCandidate;
    while (this.used[i]) i = (i + 1) % this.size;
    this.mark(i, i, 1);
    this.nextCandidate = (i + 1) % this.size;
    return this.cidrAt(i);
  }

  /**
   * Marks the node CIDRs a given CIDR covers as used (a node whose podCIDR was set before this allocator saw it):
   * a bigger CIDR occupies every node CIDR inside it, a smaller one the node CIDR it lies in. Throws when it is of
   * the other family or outside the cluster CIDR.
   */
  occupy(cidr: string): void {
    const [first, last] = this.indexRange(cidr);
    this.mark(first, last, 1);
  }

  /** Marks the node CIDRs a CIDR covers as free again; throws like occupy. */
  release(cidr: string): void {
    const [first, last] = this.indexRange(cidr);
    this.mark(first, last, 0);
  }

  /** Whether a CIDR (of this family, inside the cluster CIDR) is marked used. */
  isUsed(cidr: string): boolean {
    const [first, last] = this.indexRange(cidr);
    for (let i = first; i <= last; i++) if (this.used[i]) return true;
    return false;
  }

  /** Whether the CIDR parses, has this set's family and lies inside the cluster CIDR. */
  contains(cidr: string): boolean {
    try {
      this.indexRange(cidr);
      return true;
    } catch {
      return false;
    }
  }

  private mark(first: number, last: number, value: 0 | 1): void {
    for (let i = first; i <= last; i++) {
      if (this.used[i] === value) continue;
      this.used[i] = value;
      this.usedCount += value ? 1 : -1;
    }
  }

  private cidrAt(index: number): string {
    const base = this.cluster.base + (BigInt(index) << BigInt(this.bits - this.nodeMaskSize));
    return formatCidr({ family: this.family, base, prefix: this.nodeMaskSize });
  }

  private indexRange(cidr: string): [number, number] {
    const c = parseCidr(cidr);
    if (c.family !== this.family) throw new Error(`CIDR ${cidr} is not an IPv${this.family} CIDR like the cluster CIDR ${this.clusterCIDR}`);
    const hostBits = BigInt(this.bits - c.prefix);
    const lastAddress = c.base + (1n << hostBits) - 1n;
    const clusterLast = this.cluster.base + (1n << BigInt(this.bits - this.cluster.prefix)) - 1n;
    if (c.base < this.cluster.base || lastAddress > clusterLast) {
      // A CIDR that holds the cluster CIDR is not "inside" it either: upstream refuses both.
      throw new Error(`CIDR ${cidr} is outside the cluster CIDR ${this.clusterCIDR}`);
    }
    const shift = BigInt(this.bits - this.nodeMaskSize);
    return [Number((c.base - this.cluster.base) >> shift), Number((lastAddress - this.cluster.base) >> shift)];
  }
}

/** Parses `a.b.c.d/n` or `x:y::/n`; host bits are cleared (as Go's net.ParseCIDR returns the network). */
export function parseCidr(cidr: string): ParsedCidr {
  const slash = cidr.indexOf('/');
  const ip = slash < 0 ? '' : cidr.slice(0, slash);
  const prefixText = slash < 0 ? '' : cidr.slice(slash + 1);
  const family = isIP(ip);
  const bits = family === 4 ? 32 : 128;
  if ((family !== 4 && family !== 6) || !/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) {
    throw new Error(`invalid CIDR address: ${JSON.stringify(cidr)}`);
  }
  const prefix = Number(prefixText);
  const hostBits = BigInt(bits - prefix);
  const base = (ipToBigInt(ip, family) >> hostBits) << hostBits;
  return { family, base, prefix };
}

export function formatCidr(c: ParsedCidr): string {
  return `${bigIntToIp(c.base, c.family)}/${c.prefix}`;
}

function ipToBigInt(ip: string, family: 4 | 6): bigint {
  if (family === 4) return ip.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
  // Expand `::` and a trailing dotted quad, then read eight 16-bit groups.
  let text = ip;
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const v4 = ipToBigInt(quad[1]!, 4);
    text = `${text.slice(0, quad.index)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function bigIntToIp(value: bigint, family: 4 | 6): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => Number((value >> s) & 0xffn)).join('.');
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((value >> s) & 0xffffn).toString(16));
  // The WHATWG URL parser prints the canonical (RFC 5952) compressed form.
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}
