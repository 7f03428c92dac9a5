/**
 * The CEL extension libraries Kubernetes adds to its environments (k8s.io/apiserver/pkg/cel/library and the cel-go
 * extensions it enables), registered on a @marcbachmann/cel-js Environment: strings (charAt, replace, reverse,
 * strings.quote; the
 * library has indexOf, lastIndexOf, lowerAscii, upperAscii, split, substring, trim and join), sets (contains,
 * equivalent, intersects), lists (isSorted, sum,
 * min, max, indexOf, lastIndexOf, slice, flatten), regex (find, findAll), url, quantity, ip and cidr, and the authorizer
 * (authorizer-library.ts).
 *
 * Function names, receivers and error wording follow the Kubernetes CEL docs
 * (kubernetes.io/docs/reference/using-api/cel/#kubernetes-list-library and the sections after it).
 */
import type { Environment } from '@marcbachmann/cel-js';
import { compareQuantities, formatQuantity, parseQuantity, tryParseQuantity, type Quantity } from '../../api/quantity.js';
import { compileRegex } from './regex.js';
import { CidrValue, IpValue, parseCidr, parseIp } from './ip-values.js';
import { registerAuthorizerLibrary } from './authorizer-library.js';

/** A kubernetes.URL value: what url(string) returns. */
export class UrlValue {
  constructor(readonly url: URL, readonly raw: string) {}
}

/** A kubernetes.Quantity value: what quantity(string) returns. */
export class QuantityValue {
  constructor(readonly q: Quantity) {}
  toString(): string {
    return formatQuantity(this.q);
  }
}

/** The receivers of namespaced functions (`sets.contains(...)`, `strings.quote(...)`): constants named sets/strings. */
class SetsLibrary {}
class StringsLibrary {}

/** A runtime error of a library function; its message is what Kubernetes reports. */
export class CelLibraryError extends Error {}

type Sortable = bigint | number | string | boolean;

function compareValues(a: unknown, b: unknown): number {
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number')) {
    // int, uint and double compare by value across types (CEL's heterogeneous numeric ordering).
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (typeof a === typeof b && (typeof a === 'string' || typeof a === 'boolean')) return (a as Sortable) < (b as Sortable) ? -1 : (a as Sortable) > (b as Sortable) ? 1 : 0;
  if (a instanceof QuantityValue && b instanceof QuantityValue) return compareQuantities(a.q, b.q);
  throw new CelLibraryError(`no such overload: comparing ${typeName(a)} and ${typeName(b)}`);
}

function typeName(v: unknown): string {
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'number') return 'double';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return 'list';
  if (v === null) return 'null_type';
  if (v instanceof QuantityValue) return 'kubernetes.Quantity';
  return 'map';
}

function celEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number')) return a == b; // eslint-disable-line eqeqeq
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => celEquals(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    if (a instanceof QuantityValue && b instanceof QuantityValue) return compareQuantities(a.q, b.q) === 0;
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => Object.hasOwn(b, k) && celEquals((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}

function quantityOf(s: string): QuantityValue {
  const q = tryParseQuantity(s);
  if (!q) throw new CelLibraryError(`quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`);
  return new QuantityValue(q);
}

const NANO = 10n ** 9n;

function checkedInt(v: bigint): bigint {
  if (v > 9223372036854775807n || v < -9223372036854775808n) throw new CelLibraryError('integer overflow');
  return v;
}

/** url(): Kubernetes accepts absolute URIs and absolute paths (Go's url.ParseRequestURI). */
function urlOf(s: string): UrlValue {
  const u = tryUrl(s);
  if (!u) throw new CelLibraryError(`URL parse error during conversion from string: parse "${s}": invalid URI for request`);
  return u;
}

function tryUrl(s: string): UrlValue | undefined {
  if (s.startsWith('/')) {
    try {
      return new UrlValue(new URL(s, 'relative:///'), s);
    } catch {
      return undefined;
    }
  }
  if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(s)) return undefined;
  try {
    return new UrlValue(new URL(s), s);
  } catch {
    return undefined;
  }
}

/** Registers the Kubernetes libraries on env (mutates and returns it). */
export function registerKubernetesLibrary(env: Environment): Environment {
  env
    .registerType('kubernetes.URL', UrlValue)
    .registerType('kubernetes.Quantity', QuantityValue)
    .registerType('net.IP', IpValue)
    .registerType('net.CIDR', CidrValue);

  // strings (cel-go ext.Strings as Kubernetes enables it)
  env
    .registerFunction('string.charAt(int): string', (s: string, i: bigint) => {
      const chars = [...s];
      if (i < 0n || i > BigInt(chars.length)) throw new CelLibraryError(`index out of range: ${i}`);
      return chars[Number(i)] ?? '';
    })
    .registerFunction('string.replace(string, string): string', (s: string, from: string, to: string) => s.split(from).join(to))
    .registerFunction('string.replace(string, string, int): string', (s: string, from: string, to: string, n: bigint) => {
      if (n < 0n) return s.split(from).join(to);
      let out = '';
      let rest = s;
      for (let i = 0n; i < n; i++) {
        const at = rest.indexOf(from);
        if (at < 0) break;
        out += rest.slice(0, at) + to;
        rest = rest.slice(at + from.length);
        if (from === '') {
          out += rest.slice(0, 1);
          rest = rest.slice(1);
        }
      }
      return out + rest;
    })
    .registerFunction('string.reverse(): string', (s: string) => [...s].reverse().join(''))
    .registerType('kubernetes.StringsLibrary', StringsLibrary)
    .registerConstant('strings', 'kubernetes.StringsLibrary', new StringsLibrary())
    .registerFunction('kubernetes.StringsLibrary.quote(string): string', (_: StringsLibrary, s: string) => JSON.stringify(s));

  // sets (library/sets.go): lists as sets, compared with CEL equality
  env
    .registerType('kubernetes.SetsLibrary', SetsLibrary)
    .registerConstant('sets', 'kubernetes.SetsLibrary', new SetsLibrary())
    .registerFunction('kubernetes.SetsLibrary.contains(list, list): bool', (_: SetsLibrary, a: unknown[], b: unknown[]) => b.every((x) => a.some((y) => celEquals(x, y))))
    .registerFunction('kubernetes.SetsLibrary.equivalent(list, list): bool', (_: SetsLibrary, a: unknown[], b: unknown[]) => b.every((x) => a.some((y) => celEquals(x, y))) && a.every((x) => b.some((y) => celEquals(x, y))))
    .registerFunction('kubernetes.SetsLibrary.intersects(list, list): bool', (_: SetsLibrary, a: unknown[], b: unknown[]) => b.some((x) => a.some((y) => celEquals(x, y))));

  // lists (k8s.io/apiserver/pkg/cel/library/lists.go, and cel-go ext.Lists)
  env
    .registerFunction('list.isSorted(): bool', (l: unknown[]) => {
      for (let i = 1; i < l.length; i++) if (compareValues(l[i - 1], l[i]) > 0) return false;
      return true;
    })
    .registerFunction('list.sum(): dyn', (l: unknown[]) => {
      if (l.length === 0) return 0n;
      if (l.every((x) => typeof x === 'bigint')) return checkedInt((l as bigint[]).reduce((a, b) => a + b, 0n));
      if (l.every((x) => typeof x === 'number')) return (l as number[]).reduce((a, b) => a + b, 0);
      if (l.every((x) => x instanceof QuantityValue)) return new QuantityValue({ nanos: (l as QuantityValue[]).reduce((a, b) => a + b.q.nanos, 0n), format: (l[0] as QuantityValue).q.format });
      throw new CelLibraryError('no such overload: sum of mixed or non-numeric list');
    })
    .registerFunction('list.min(): dyn', (l: unknown[]) => {
      if (l.length === 0) throw new CelLibraryError('min called on empty list');
      return l.reduce((a, b) => (compareValues(b, a) < 0 ? b : a));
    })
    .registerFunction('list.max(): dyn', (l: unknown[]) => {
      if (l.length === 0) throw new CelLibraryError('max called on empty list');
      return l.reduce((a, b) => (compareValues(b, a) > 0 ? b : a));
    })
    .registerFunction('list.indexOf(dyn): int', (l: unknown[], v: unknown) => BigInt(l.findIndex((x) => celEquals(x, v))))
    .registerFunction('list.lastIndexOf(dyn): int', (l: unknown[], v: unknown) => {
      for (let i = l.length - 1; i >= 0; i--) if (celEquals(l[i], v)) return BigInt(i);
      return -1n;
    })
    .registerFunction('list.slice(int, int): list', (l: unknown[], from: bigint, to: bigint) => {
      if (from < 0n || to < 0n) throw new CelLibraryError(`cannot slice(${from}, ${to}), negative indexes not supported`);
      if (from > to) throw new CelLibraryError(`cannot slice(${from}, ${to}), start index must be less than or equal to end index`);
      if (to > BigInt(l.length)) throw new CelLibraryError(`cannot slice(${from}, ${to}), list is length ${l.length}`);
      return l.slice(Number(from), Number(to));
    })
    .registerFunction('list.flatten(): list', (l: unknown[]) => l.flatMap((x) => (Array.isArray(x) ? x : [x])));

  // regex (k8s.io/apiserver/pkg/cel/library/regex.go); RE2 syntax, linear-time matching (regex.ts)
  env
    .registerFunction('string.find(string): string', (s: string, re: string) => compileRegex(re).exec(s)?.[0] ?? '')
    .registerFunction('string.findAll(string): list<string>', (s: string, re: string) => findAll(s, re, -1n))
    .registerFunction('string.findAll(string, int): list<string>', (s: string, re: string, n: bigint) => findAll(s, re, n));

  // url (library/urls.go)
  env
    .registerFunction('url(string): kubernetes.URL', (s: string) => urlOf(s))
    .registerFunction('isURL(string): bool', (s: string) => tryUrl(s) !== undefined)
    .registerFunction('kubernetes.URL.getScheme(): string', (u: UrlValue) => (u.raw.startsWith('/') ? '' : u.url.protocol.replace(/:$/, '')))
    .registerFunction('kubernetes.URL.getHost(): string', (u: UrlValue) => (u.raw.startsWith('/') ? '' : u.url.host))
    .registerFunction('kubernetes.URL.getHostname(): string', (u: UrlValue) => (u.raw.startsWith('/') ? '' : u.url.hostname.replace(/^\[(.*)\]$/, '$1')))
    .registerFunction('kubernetes.URL.getPort(): string', (u: UrlValue) => (u.raw.startsWith('/') ? '' : u.url.port))
    .registerFunction('kubernetes.URL.getEscapedPath(): string', (u: UrlValue) => u.url.pathname)
    .registerFunction('kubernetes.URL.getQuery(): map<string, list<string>>', (u: UrlValue) => {
      const out: Record<string, string[]> = {};
      for (const [k, v] of u.url.searchParams) (out[k] ??= []).push(v);
      return out;
    });

  // quantity (library/quantity.go)
  env
    .registerFunction('quantity(string): kubernetes.Quantity', (s: string) => quantityOf(s))
    .registerFunction('isQuantity(string): bool', (s: string) => tryParseQuantity(s) !== undefined)
    .registerFunction('kubernetes.Quantity.isInteger(): bool', (q: QuantityValue) => q.q.nanos % NANO === 0n && q.q.nanos / NANO <= 9223372036854775807n && q.q.nanos / NANO >= -9223372036854775808n)
    .registerFunction('kubernetes.Quantity.asInteger(): int', (q: QuantityValue) => {
      if (q.q.nanos % NANO !== 0n) throw new CelLibraryError('cannot convert value to integer');
      return checkedInt(q.q.nanos / NANO);
    })
    .registerFunction('kubernetes.Quantity.asApproximateFloat(): double', (q: QuantityValue) => Number(q.q.nanos) / 1e9)
    .registerFunction('kubernetes.Quantity.sign(): int', (q: QuantityValue) => (q.q.nanos > 0n ? 1n : q.q.nanos < 0n ? -1n : 0n))
    .registerFunction('kubernetes.Quantity.add(kubernetes.Quantity): kubernetes.Quantity', (a: QuantityValue, b: QuantityValue) => new QuantityValue({ nanos: a.q.nanos + b.q.nanos, format: a.q.format }))
    .registerFunction('kubernetes.Quantity.add(int): kubernetes.Quantity', (a: QuantityValue, b: bigint) => new QuantityValue({ nanos: a.q.nanos + b * NANO, format: a.q.format }))
    .registerFunction('kubernetes.Quantity.sub(kubernetes.Quantity): kubernetes.Quantity', (a: QuantityValue, b: QuantityValue) => new QuantityValue({ nanos: a.q.nanos - b.q.nanos, format: a.q.format }))
    .registerFunction('kubernetes.Quantity.sub(int): kubernetes.Quantity', (a: QuantityValue, b: bigint) => new QuantityValue({ nanos: a.q.nanos - b * NANO, format: a.q.format }))
    .registerFunction('kubernetes.Quantity.compareTo(kubernetes.Quantity): int', (a: QuantityValue, b: QuantityValue) => BigInt(compareQuantities(a.q, b.q)))
    .registerFunction('kubernetes.Quantity.isGreaterThan(kubernetes.Quantity): bool', (a: QuantityValue, b: QuantityValue) => compareQuantities(a.q, b.q) > 0)
    .registerFunction('kubernetes.Quantity.isLessThan(kubernetes.Quantity): bool', (a: QuantityValue, b: QuantityValue) => compareQuantities(a.q, b.q) < 0)
    .registerOperator('kubernetes.Quantity == kubernetes.Quantity', (a: QuantityValue, b: QuantityValue) => compareQuantities(a.q, b.q) === 0)
    .registerFunction('string(kubernetes.Quantity): string', (q: QuantityValue) => formatQuantity(q.q));

  // ip and cidr (library/ip.go, library/cidr.go)
  env
    .registerFunction('ip(string): net.IP', (s: string) => parseIp(s))
    .registerFunction('isIP(string): bool', (s: string) => {
      try {
        parseIp(s);
        return true;
      } catch {
        return false;
      }
    })
    .registerFunction('net.IP.family(): int', (ip: IpValue) => BigInt(ip.family))
    .registerFunction('net.IP.isUnspecified(): bool', (ip: IpValue) => ip.isUnspecified())
    .registerFunction('net.IP.isLoopback(): bool', (ip: IpValue) => ip.isLoopback())
    .registerFunction('net.IP.isLinkLocalMulticast(): bool', (ip: IpValue) => ip.isLinkLocalMulticast())
    .registerFunction('net.IP.isLinkLocalUnicast(): bool', (ip: IpValue) => ip.isLinkLocalUnicast())
    .registerFunction('net.IP.isGlobalUnicast(): bool', (ip: IpValue) => ip.isGlobalUnicast())
    .registerFunction('string(net.IP): string', (ip: IpValue) => ip.toString())
    .registerOperator('net.IP == net.IP', (a: IpValue, b: IpValue) => a.equals(b))
    .registerFunction('cidr(string): net.CIDR', (s: string) => parseCidr(s))
    .registerFunction('isCIDR(string): bool', (s: string) => {
      try {
        parseCidr(s);
        return true;
      } catch {
        return false;
      }
    })
    .registerFunction('net.CIDR.containsIP(net.IP): bool', (c: CidrValue, ip: IpValue) => c.containsIp(ip))
    .registerFunction('net.CIDR.containsIP(string): bool', (c: CidrValue, ip: string) => c.containsIp(parseIp(ip)))
    .registerFunction('net.CIDR.containsCIDR(net.CIDR): bool', (c: CidrValue, o: CidrValue) => c.containsCidr(o))
    .registerFunction('net.CIDR.containsCIDR(string): bool', (c: CidrValue, o: string) => c.containsCidr(parseCidr(o)))
    .registerFunction('net.CIDR.ip(): net.IP', (c: CidrValue) => c.ip)
    .registerFunction('net.CIDR.masked(): net.CIDR', (c: CidrValue) => c.masked())
    .registerFunction('net.CIDR.prefixLength(): int', (c: CidrValue) => BigInt(c.prefix))
    .registerFunction('string(net.CIDR): string', (c: CidrValue) => c.toString())
    .registerOperator('net.CIDR == net.CIDR', (a: CidrValue, b: CidrValue) => a.equals(b));
  return registerAuthorizerLibrary(env);
}

function findAll(s: string, pattern: string, limit: bigint): string[] {
  if (limit === 0n) return [];
  const re = compileRegex(pattern, true);
  const out: string[] = [];
  re.lastIndex = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    out.push(m[0]);
    if (limit > 0n && BigInt(out.length) >= limit) break;
    if (m[0] === '') re.lastIndex++;
  }
  return out;
}

export { parseQuantity };
