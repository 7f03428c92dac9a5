/**
 * The network configuration list the agent writes to `<conf dir>/10-skiff.conflist`. skiff's own pods (process
 * runtime) run it through CniClient; containerd's CRI plugin reads the same file and calls the same plugins, so a pod
 * gets the same network under either runtime. Loopback is not in the list: runtimes bring `lo` up on their own
 * (containerd does, and CniNetwork calls the loopback plugin separately).
 */
import { isIP } from 'node:net';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CniNetworkConfigList } from './cni-client.js';

export const SKIFF_CONFLIST_FILE = '10-skiff.conflist';

export interface SkiffConflistOptions {
  /** The network's name: part of host-local's lease directory and of the plugins' iptables chain names. */
  networkName: string;
  /** Linux bridge name, at most 15 characters; unique per agent on a machine. */
  bridgeName: string;
  /** The node's spec.podCIDRs, primary first (one IPv4 and optionally one IPv6 for dual stack). */
  podCidrs: string[];
  /** host-local's dataDir: its leases, under the agent's data dir. */
  ipamDataDir: string;
  /** Bridge and veth MTU; omitted = the plugin's default (the host's). */
  mtu?: number;
}

/** Pure: options in, conflist out. Throws an Error naming the field when an option is unusable. */
export function renderSkiffConflist(options: SkiffConflistOptions): CniNetworkConfigList {
  validate(options);
  const families = options.podCidrs.map((cidr) => isIP(cidr.split('/')[0]!));
  const bridge: Record<string, unknown> = {
    type: 'bridge',
    bridge: options.bridgeName,
    isGateway: true,
    // Masquerading is one node-wide chain (pod-masquerade.ts), not a chain per pod made on the pod's start path.
    ipMasq: false,
    hairpinMode: true,
  };
  if (options.mtu !== undefined) bridge.mtu = options.mtu;
  bridge.ipam = {
    type: 'host-local',
    dataDir: options.ipamDataDir,
    ranges: options.podCidrs.map((subnet) => [{ subnet }]),
    routes: [...new Set(families)].map((family) => ({ dst: family === 6 ? '::/0' : '0.0.0.0/0' })),
  };
  return {
    cniVersion: '1.0.0',
    name: options.networkName,
    plugins: [
      bridge as CniNetworkConfigList['plugins'][number],
      // snat: hostPort connections from the node itself (127.0.0.1, the node's IP) are masqueraded so replies return.
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    ],
  };
}

/** The file's bytes: stable key order and a trailing newline, so unchanged options mean an unchanged file. */
export function formatConflist(list: CniNetworkConfigList): string {
  return `${JSON.stringify(list, null, 2)}\n`;
}

/**
 * Writes `content` to `path` only when it differs from what is there, through a temporary file and a rename so a
 * reader (containerd watches the directory) never sees half a file. Returns whether it wrote.
 */
export async function writeFileIfChanged(path: string, content: string, mode = 0o644): Promise<boolean> {
  try {
    if ((await readFile(path, 'utf8')) === content) return false;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  // A name containerd's loader ignores (it reads *.conf, *.conflist, *.json).
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`;
  await writeFile(tmp, content, { mode });
  await rename(tmp, path);
  return true;
}

const BRIDGE_NAME = /^[A-Za-z0-9_.-]{1,15}$/;

function validate(options: SkiffConflistOptions): void {
  const bad = (field: string, value: unknown, why: string) =>
    new Error(`skiff CNI config: ${field}: Invalid value: ${JSON.stringify(value)}: ${why}`);
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(options.networkName)) {
    throw bad('networkName', options.networkName, 'letters, digits, "_", "." and "-", starting with a letter or digit');
  }
  if (!BRIDGE_NAME.test(options.bridgeName) || options.bridgeName === '.' || options.bridgeName === '..') {
    throw bad('bridgeName', options.bridgeName, 'a Linux interface name: 1-15 letters, digits, "_", "." or "-"');
  }
  if (options.podCidrs.length === 0 || options.podCidrs.length > 2) throw bad('podCidrs', options.podCidrs, 'one CIDR, or two of different families');
  const families = new Set<number>();
  options.podCidrs.forEach((cidr, i) => {
    const [address, prefix, extra] = cidr.split('/');
    const family = isIP(address ?? '');
    const bits = Number(prefix);
    if (family === 0 || extra !== undefined || prefix === undefined || !/^\d+$/.test(prefix) || bits > (family === 4 ? 30 : 126)) {
      throw bad(`podCidrs[${i}]`, cidr, `a CIDR such as 10.42.0.0/24 (IPv4 prefix at most /30, IPv6 at most /126)`);
    }
    families.add(family);
  });
  if (families.size !== options.podCidrs.length) throw bad('podCidrs', options.podCidrs, 'two CIDRs must be of different families');
  if (options.ipamDataDir === '' || !options.ipamDataDir.startsWith('/')) throw bad('ipamDataDir', options.ipamDataDir, 'an absolute path');
  if (options.mtu !== undefined && (!Number.isInteger(options.mtu) || options.mtu < 576 || options.mtu > 65535)) {
    throw bad('mtu', options.mtu, 'an integer from 576 to 65535');
  }
}
