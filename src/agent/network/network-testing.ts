/**
 * Test helpers for real pod networking on a shared machine: whether the test can run here, a random pod subnet that
 * overlaps nothing routed, unique names, and a FORWARD guard so test pod traffic never leaves the machine.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { access, constants } from 'node:fs/promises';
import { promisify } from 'node:util';

export const run = promisify(execFile);

/**
 * Why a real-network test cannot run here, or undefined. Under CI=true it is always undefined: there the prerequisites
 * are installed, and a missing one must fail the test rather than skip it.
 */
export async function realNetworkSkipReason(pluginDir = '/usr/lib/cni'): Promise<string | undefined> {
  if (process.env.CI === 'true') return undefined;
  if (process.geteuid?.() !== 0) return 'needs root (network namespaces, bridges, iptables)';
  for (const plugin of ['bridge', 'host-local', 'portmap', 'loopback']) {
    try {
      await access(`${pluginDir}/${plugin}`, constants.X_OK);
    } catch {
      return `needs the CNI plugin ${pluginDir}/${plugin} (Debian: containernetworking-plugins)`;
    }
  }
  for (const tool of ['unshare', 'nsenter', 'iptables', 'ip', 'curl', 'busybox']) {
    try {
      await run('sh', ['-c', `command -v ${tool}`]);
    } catch {
      return `needs ${tool} on PATH`;
    }
  }
  return undefined;
}

export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** IPv4 address as a 32-bit unsigned number. */
export function ipv4ToNumber(ip: string): number {
  return ip.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

export function numberToIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/** Every IPv4 prefix the host routes or has as an address, as [first, last] numbers. */
async function usedIpv4Ranges(): Promise<Array<[number, number]>> {
  const ranges: Array<[number, number]> = [];
  const add = (cidr: string) => {
    const [address, bits = '32'] = cidr.split('/');
    if (address === undefined || !/^\d+\.\d+\.\d+\.\d+$/.test(address)) return;
    const size = 2 ** (32 - Number(bits));
    const first = Math.floor(ipv4ToNumber(address) / size) * size;
    ranges.push([first, first + size - 1]);
  };
  const routes = JSON.parse((await run('ip', ['-j', '-4', 'route', 'show', 'table', 'all'])).stdout) as Array<{ dst: string }>;
  for (const r of routes) if (r.dst !== 'default') add(r.dst);
  const links = JSON.parse((await run('ip', ['-j', '-4', 'addr'])).stdout) as Array<{ addr_info?: Array<{ local: string; prefixlen: number }> }>;
  for (const l of links) for (const a of l.addr_info ?? []) add(`${a.local}/${a.prefixlen}`);
  return ranges;
}

/**
 * A random IPv4 subnet of the given prefix length inside a random 10.244.x.0/24 or 10.42.x.0/24 that overlaps no
 * route or address on this machine.
 */
export async function pickFreeSubnet(prefixLen = 24): Promise<string> {
  const used = await usedIpv4Ranges();
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = ipv4ToNumber(randomInt(2) === 0 ? '10.244.0.0' : '10.42.0.0') + randomInt(256) * 256;
    const overlaps = used.some(([first, last]) => first <= base + 255 && base <= last);
    if (overlaps) continue;
    const size = 2 ** (32 - prefixLen);
    const offset = size >= 256 ? 0 : randomInt(256 / size) * size;
    return `${numberToIpv4(base + offset)}/${prefixLen}`;
  }
  throw new Error('no free test subnet in 10.244.0.0/16 or 10.42.0.0/16');
}

/**
 * Drops forwarded packets from `subnet` that would leave through anything but `bridge` (pods default-route via the
 * host, and ip_forward is on). Returns the function that removes the rule.
 */
export async function guardSubnet(subnet: string, bridge: string): Promise<() => Promise<void>> {
  const rule = ['-s', subnet, '!', '-o', bridge, '-m', 'comment', '--comment', `skiff test guard ${bridge}`, '-j', 'DROP'];
  await run('iptables', ['-w', '5', '-I', 'FORWARD', '1', ...rule]);
  return async () => {
    await run('iptables', ['-w', '5', '-D', 'FORWARD', ...rule]);
  };
}

/** Runs a command inside a network namespace. */
export function inNetns(netnsPath: string, command: string[], timeoutMs = 10_000): Promise<{ stdout: string; stderr: string }> {
  return run('nsenter', [`--net=${netnsPath}`, ...command], { timeout: timeoutMs });
}

/** The iptables rules (all tables, IPv4) as `iptables-save` prints them (a service proxy's benchmark can make megabytes). */
export async function iptablesSave(): Promise<string> {
  return (await run('iptables-save', [], { maxBuffer: 256 * 1024 * 1024 })).stdout;
}
