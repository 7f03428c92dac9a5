/**
 * The capability set of a container, computed the way containerd's CRI plugin does (pkg/cri/opts/spec_linux.go
 * WithCapabilities over oci.defaultUnixCaps), so that a pod sees under the process runtime what it sees under runc:
 *
 * - not privileged: containerd's default set, then `add: [ALL]` (every capability), `drop: [ALL]` (none), then the
 *   single names added, then the single names dropped; names with or without `CAP_`, any case;
 * - privileged: every capability (the caller then leaves the set alone).
 *
 * The result is the bounding set; for a container running as root it is also the effective and permitted set (runc
 * sets them all to it; after execve a uid 0 process gets its bounding set as permitted and effective). A non-root
 * container ends with empty effective and permitted sets, as under containerd (no ambient capabilities).
 */
import type { Capabilities } from '../types.js';

/** Linux capabilities by number (capability.h), without the CAP_ prefix. */
export const ALL_CAPABILITIES = [
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'SETPCAP',
  'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_ADMIN',
  'NET_RAW',
  'IPC_LOCK',
  'IPC_OWNER',
  'SYS_MODULE',
  'SYS_RAWIO',
  'SYS_CHROOT',
  'SYS_PTRACE',
  'SYS_PACCT',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_NICE',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'MKNOD',
  'LEASE',
  'AUDIT_WRITE',
  'AUDIT_CONTROL',
  'SETFCAP',
  'MAC_OVERRIDE',
  'MAC_ADMIN',
  'SYSLOG',
  'WAKE_ALARM',
  'BLOCK_SUSPEND',
  'AUDIT_READ',
  'PERFMON',
  'BPF',
  'CHECKPOINT_RESTORE',
] as const;

/** containerd's default set for a non-privileged container (oci/spec.go defaultUnixCaps), the same as Docker's. */
export const DEFAULT_CAPABILITIES = [
  'CHOWN',
  'DAC_OVERRIDE',
  'FSETID',
  'FOWNER',
  'MKNOD',
  'NET_RAW',
  'SETGID',
  'SETUID',
  'SETFCAP',
  'SETPCAP',
  'NET_BIND_SERVICE',
  'SYS_CHROOT',
  'KILL',
  'AUDIT_WRITE',
] as const;

const KNOWN = new Set<string>(ALL_CAPABILITIES);

/** `net_admin`, `CAP_NET_ADMIN` and `Cap_Net_Admin` all name NET_ADMIN; ALL stays ALL. */
export function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  return upper.startsWith('CAP_') ? upper.slice(4) : upper;
}

/**
 * The container's capabilities, in capability-number order. Throws an Error naming the first unknown capability
 * (containerd refuses those at CreateContainer too).
 */
export function containerCapabilities(caps: Capabilities | undefined): string[] {
  const add = (caps?.add ?? []).map(normalizeCapability);
  const drop = (caps?.drop ?? []).map(normalizeCapability);
  for (const name of [...add, ...drop]) {
    if (name !== 'ALL' && !KNOWN.has(name)) throw new Error(`unknown capability ${JSON.stringify(name)} (known: ALL, ${ALL_CAPABILITIES.join(', ')})`);
  }
  const set = new Set<string>(DEFAULT_CAPABILITIES);
  if (add.includes('ALL')) for (const c of ALL_CAPABILITIES) set.add(c);
  if (drop.includes('ALL')) set.clear();
  for (const c of add) if (c !== 'ALL') set.add(c);
  for (const c of drop) if (c !== 'ALL') set.delete(c);
  return ALL_CAPABILITIES.filter((c) => set.has(c));
}

/** The /proc/<pid>/status CapBnd/CapEff mask of a set, as a hex string of 16 digits. */
export function capabilityMask(names: readonly string[]): string {
  let mask = 0n;
  for (const name of names) {
    const bit = ALL_CAPABILITIES.indexOf(name as (typeof ALL_CAPABILITIES)[number]);
    if (bit >= 0) mask |= 1n << BigInt(bit);
  }
  return mask.toString(16).padStart(16, '0');
}
