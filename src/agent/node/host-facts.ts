/**
 * What the host says about itself for the Node's nodeInfo and addresses (kubelet gets these from cAdvisor's machine
 * info): kernel, OS image, architecture in Go's naming, and the machine, system and boot IDs where the files exist.
 */
import { readFile } from 'node:fs/promises';
import { hostname, networkInterfaces, release, type NetworkInterfaceInfo } from 'node:os';

export interface HostFacts {
  hostname: string;
  kernelVersion: string;
  /** /etc/os-release PRETTY_NAME, as kubectl get nodes -o wide shows it. */
  osImage: string;
  /** GOOS naming: linux, darwin, windows. */
  operatingSystem: string;
  /** GOARCH naming: amd64, arm64, arm, 386, ppc64le, s390x, riscv64. */
  architecture: string;
  machineID: string;
  systemUUID: string;
  bootID: string;
  interfaces: Record<string, NetworkInterfaceInfo[] | undefined>;
}

const GO_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64' };

/** Node's process.arch in the Go naming Kubernetes uses (kubernetes.io/arch, nodeInfo.architecture). */
export function goArch(arch: string = process.arch): string {
  return GO_ARCH[arch] ?? arch;
}

export function goOS(platform: string = process.platform): string {
  return platform === 'win32' ? 'windows' : platform;
}

/** PRETTY_NAME from an os-release file's text; undefined when absent. */
export function parseOsRelease(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const m = /^PRETTY_NAME=(.*)$/.exec(line.trim());
    if (!m) continue;
    const raw = m[1]!;
    return raw.startsWith('"') || raw.startsWith("'") ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
  }
  return undefined;
}

/** Reads the host's facts; files that are missing or unreadable (product_uuid is root-only) leave their field empty. */
export async function readHostFacts(): Promise<HostFacts> {
  const [osRelease, machineID, productUUID, bootID] = await Promise.all([
    readOptional('/etc/os-release').then(async (t) => t ?? (await readOptional('/usr/lib/os-release'))),
    readOptional('/etc/machine-id'),
    readOptional('/sys/class/dmi/id/product_uuid'),
    readOptional('/proc/sys/kernel/random/boot_id'),
  ]);
  return {
    hostname: hostname(),
    kernelVersion: release(),
    osImage: (osRelease && parseOsRelease(osRelease)) ?? `${goOS()} ${release()}`,
    operatingSystem: goOS(),
    architecture: goArch(),
    machineID: machineID?.trim() ?? '',
    systemUUID: productUUID?.trim() ?? '',
    bootID: bootID?.trim() ?? '',
    interfaces: networkInterfaces(),
  };
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}
