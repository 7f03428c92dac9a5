/**
 * net.IP and net.CIDR values of the Kubernetes CEL ip and cidr libraries (k8s.io/apiserver/pkg/cel/library/ip.go,
 * cidr.go). Addresses are held as a BigInt and a family; parsing is as strict as upstream's: no IPv4-mapped IPv6,
 * no zones, no leading zeros in IPv4 octets.
 */
import { isIPv4, isIPv6 } from 'node:net';

export class IpValue {
  constructor(readonly family: 4 | 6, readonly value: bigint) {}

  get bits(): number {
    return this.family === 4 ? 32 : 128;
  }

  equals(o: IpValue): boolean {
    return this.family === o.family && this.value === o.value;
  }

  isUnspecified(): boolean {
    return this.value === 0n;
  }

  isLoopback(): boolean {
    return this.family === 4 ? this.value >> 24n === 127n : this.value === 1n;
  }

  isLinkLocalMulticast(): boolean {
    return this.family === 4 ? this.value >> 8n === 0xe00000n : this.value >> 112n === 0xff02n;
  }

  isLinkLocalUnicast(): boolean {
    return this.family === 4 ? this.value >> 16n === 0xa9fen : this.value >> 118n === 0x3fan;
  }

  isGlobalUnicast(): boolean {
    if (this.isUnspecified() || this.isLoopback() || this.isLinkLocalUnicast() || this.isLinkLocalMulticast()) return false;
    if (this.family === 4) return this.value >> 28n !== 0xen && this.value !== 0xffffffffn;
    return this.value >> 120n !== 0xffn;
  }

  toString(): string {
    if (this.family === 4) return [24n, 16n, 8n, 0n].map((s) => String((this.value >> s) & 0xffn)).join('.');
    const groups = Array.from({ length: 8 }, (_, i) => Number((this.value >> BigInt(112 - 16 * i)) & 0xffffn));
    // RFC 5952: the longest run (of at least two) of zero groups becomes '::'.
    let best = -1;
    let bestLen = 1;
    for (let i = 0; i < 8; ) {
      let j = i;
      while (j < 8 && groups[j] === 0) j++;
      if (j - i > bestLen) {
        best = i;
        bestLen = j - i;
      }
      i = j === i ? i + 1 : j;
    }
    const hex = groups.map((g) => g.toString(16));
    if (best < 0) return hex.join(':');
    return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
  }
}

export class CidrValue {
  constructor(readonly ip: IpValue, readonly prefix: number) {}

  private mask(): bigint {
    const host = BigInt(this.ip.bits - this.prefix);
    return ((1n << BigInt(this.ip.bits)) - 1n) ^ ((1n << host) - 1n);
  }

  containsIp(ip: IpValue): boolean {
    return ip.family === this.ip.family && (ip.value & this.mask()) === (this.ip.value & this.mask());
  }

  containsCidr(o: CidrValue): boolean {
    return o.ip.family === this.ip.family && o.prefix >= this.prefix && this.containsIp(o.ip);
  }

  masked(): CidrValue {
    return new CidrValue(new IpValue(this.ip.family, this.ip.value & this.mask()), this.prefix);
  }

  equals(o: CidrValue): boolean {
    return this.prefix === o.prefix && this.ip.equals(o.ip);
  }

  toString(): string {
    return `${this.ip}/${this.prefix}`;
  }
}

export function parseIp(s: string): IpValue {
  if (isIPv4(s)) {
    const parts = s.split('.');
    if (parts.some((p) => p.length > 1 && p.startsWith('0'))) throw new Error(`IP Address "${s}" parse error during conversion from string: ParseAddr("${s}"): IPv4 field has octet with leading zero`);
    return new IpValue(4, parts.reduce((a, p) => (a << 8n) | BigInt(p), 0n));
  }
  if (isIPv6(s) && !s.includes('%')) {
    if (/\d+\.\d+\.\d+\.\d+$/.test(s)) throw new Error(`IPv4-mapped IPv6 address "${s}" is not allowed`);
    const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
    return new IpValue(6, groups.reduce((a, g) => (a << 16n) | BigInt(`0x${g}`), 0n));
  }
  throw new Error(`IP Address "${s}" parse error during conversion from string: ParseAddr("${s}"): unable to parse IP`);
}

export function parseCidr(s: string): CidrValue {
  const slash = s.indexOf('/');
  const prefix = slash < 0 ? NaN : Number(s.slice(slash + 1));
  let ip: IpValue | undefined;
  try {
    ip = slash < 0 ? undefined : parseIp(s.slice(0, slash));
  } catch {
    ip = undefined;
  }
  if (!ip || !/^\d{1,3}$/.test(s.slice(slash + 1)) || prefix > ip.bits) throw new Error(`network address parse error during conversion from string: netip.ParsePrefix("${s}"): bad prefix`);
  return new CidrValue(ip, prefix);
}
