/**
 * Parsers for flag values. Each takes the text as written and where it was written (so the message points at
 * the flag, the `SKIFF_*` variable or the config-file key the user must fix), and throws FlagError quoting it.
 */
import { isIP } from 'node:net';
import { FlagError } from './flag-error.js';

/** The flag a value belongs to, and how to name its source in a message. */
export interface Where {
  /** `--name` */
  flag: string;
  /** `--name`, `SKIFF_NAME (--name)` or `name in /etc/skiff/config.yaml` */
  text: string;
}

export type ValueParser<T> = (text: string, where: Where) => T;

export function fail(where: Where, value: string, why: string): never {
  throw new FlagError(`invalid value ${JSON.stringify(value)} for ${where.text}: ${why}`, where.flag, value);
}

export const text: ValueParser<string> = (value) => value;

export const port: ValueParser<number> = (value, where) => {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) fail(where, value, 'must be a port number from 0 to 65535');
  return Number(value);
};

export const count: ValueParser<number> = (value, where) => {
  if (!/^\d{1,9}$/.test(value)) fail(where, value, 'must be a whole number');
  return Number(value);
};

/** Go-style durations as kube-controller-manager takes them: 40s, 500ms, 1m30s, 2h. Milliseconds. */
export const duration: ValueParser<number> = (value, where) => {
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== value) fail(where, value, 'must be a duration like 40s, 500ms or 1m30s');
  return Math.round(parts.reduce((ms, p) => ms + Number(p[1]) * unit[p[2]!]!, 0));
};

/** `cpu=32,memory=256Gi,pods=110`: resource names and quantities. */
export const capacity: ValueParser<Record<string, string>> = (value, where) => {
  const out: Record<string, string> = {};
  for (const item of value.split(',')) {
    const m = /^([a-z0-9./-]+)=([0-9.]+[a-zA-Z]*)$/.exec(item.trim());
    if (!m) fail(where, value, 'must be a list like cpu=32,memory=256Gi,pods=110');
    out[m[1]!] = m[2]!;
  }
  return out;
};

/** k3s takes the mode as octal text ("644"); a leading 0 ("0644") is accepted too. */
export const fileMode: ValueParser<number> = (value, where) => {
  if (!/^0?[0-7]{3}$/.test(value)) fail(where, value, 'must be an octal file mode like 600 or 644');
  return parseInt(value, 8);
};

export const ip: ValueParser<string> = (value, where) => {
  if (isIP(value) === 0) fail(where, value, 'must be an IPv4 or IPv6 address');
  return value;
};

/**
 * k3s's --cluster-cidr: one CIDR, or two of different IP families for dual-stack (`10.42.0.0/16,2001:cafe:42::/56`).
 * Each must hold whole node CIDRs (/24 for IPv4, /64 for IPv6), at most 65,536 of them (kube-controller-manager
 * refuses node masks more than 16 bits longer than the cluster CIDR's): IPv4 /8 to /24, IPv6 /48 to /64.
 */
export const cidrList: ValueParser<string[]> = (value, where) => {
  const cidrs = splitList(value);
  if (cidrs.length === 0 || cidrs.length > 2) fail(where, value, 'must be one CIDR, or two (IPv4 and IPv6) separated by a comma');
  const families = cidrs.map((c) => {
    const m = /^([^/]+)\/(\d{1,3})$/.exec(c);
    const family = m ? isIP(m[1]!) : 0;
    if (!m || family === 0) fail(where, value, `${JSON.stringify(c)} is not a CIDR like 10.42.0.0/16`);
    const [lo, hi] = family === 4 ? [8, 24] : [48, 64];
    const prefix = Number(m[2]);
    if (prefix < lo || prefix > hi) fail(where, value, `${JSON.stringify(c)}: an IPv${family} cluster CIDR must be a /${lo} to /${hi} (nodes get a /${hi} each, 65,536 at most)`);
    return family;
  });
  if (families.length === 2 && families[0] === families[1]) fail(where, value, 'two CIDRs must be of different IP families (dual-stack)');
  return cidrs;
};

/**
 * k3s's --service-cidr: one IPv4 CIDR of /12 to /28 (kube-apiserver refuses service ranges of more than 2^20
 * addresses); its first address is the `kubernetes` Service's ClusterIP, its tenth the cluster DNS (10.43.0.10).
 */
export const serviceCidr: ValueParser<string> = (value, where) => {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(value);
  if (!m || isIP(m[1]!) !== 4) fail(where, value, 'must be an IPv4 CIDR like 10.43.0.0/16');
  const prefix = Number(m![2]);
  if (prefix < 12 || prefix > 28) fail(where, value, 'must be a /12 to /28');
  const base = m![1]!.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  if (base % 2 ** (32 - prefix) !== 0) fail(where, value, `${m![1]} is not the first address of a /${prefix}`);
  return value;
};

/** kubelet's --cluster-domain: a DNS domain of lower-case labels (cluster.local); a trailing dot is dropped. */
export const dnsDomain: ValueParser<string> = (value, where) => {
  const domain = value.replace(/\.$/, '');
  if (domain.length > 253 || !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/.test(domain)) fail(where, value, 'must be a DNS domain of lower-case labels like cluster.local');
  return domain;
};

/** k3s's --service-node-port-range: `30000-32767`, within 1-65535. */
export const portRange: ValueParser<[number, number]> = (value, where) => {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(value);
  const lo = m ? Number(m[1]) : 0;
  const hi = m ? Number(m[2]) : 0;
  if (!m || lo < 1 || hi > 65535 || lo > hi) fail(where, value, 'must be a port range like 30000-32767');
  return [lo, hi];
};

export const storeUrl: ValueParser<string> = (value, where) => {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) fail(where, value, 'must be a URL such as sqlite:///path/state.db, memory:// or etcd://host:2379');
  return value;
};

/** The server an agent joins; trailing slashes dropped so paths join cleanly. */
export const httpsUrl: ValueParser<string> = (value, where) => {
  if (!/^https:\/\/[^/\s]+/.test(value)) fail(where, value, 'must be the https:// URL of a skiff server, e.g. https://10.0.0.1:6443');
  return value.replace(/\/+$/, '');
};

/** Node names are DNS subdomains (RFC 1123), as the API server validates them. */
export const nodeName: ValueParser<string> = (value, where) => {
  if (value.length > 253 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(value)) {
    fail(where, value, 'must be a lower-case DNS subdomain (letters, digits, "-" and ".")');
  }
  return value;
};

export function oneOf<T extends string>(choices: readonly T[]): ValueParser<T> {
  return (value, where) => {
    if (!(choices as readonly string[]).includes(value)) fail(where, value, `must be one of ${choices.join(', ')}`);
    return value as T;
  };
}

/** Accepts what Go's strconv.ParseBool accepts, since k3s users write those. */
export const bool: ValueParser<boolean> = (value, where) => {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(value)) return false;
  return fail(where, value, 'must be true or false');
};

export function splitList(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}
