/**
 * The two kernel switches pod networking on a bridge depends on:
 * - net.ipv4.ip_forward: pods reach beyond the node (egress, masqueraded by the agent's SKIFF-MASQ chain) only when the
 *   node forwards. The bridge plugin with isGateway sets it too, silently; skiff sets it first and says so.
 * - net.bridge.bridge-nf-call-iptables: bridged pod-to-pod packets pass iptables, which Service DNAT replies on the same
 *   bridge need (Kubernetes' network plugin requirements). skiff checks it and warns; it does not change it.
 */
import { readFile, writeFile } from 'node:fs/promises';

export const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';
export const BRIDGE_NF_CALL_IPTABLES = '/proc/sys/net/bridge/bridge-nf-call-iptables';

/** Sets net.ipv4.ip_forward to 1 if it is not; returns the value it found. */
export async function ensureIpForward(path = IP_FORWARD): Promise<{ before: string; changed: boolean }> {
  const before = (await readFile(path, 'utf8')).trim();
  if (before === '1') return { before, changed: false };
  await writeFile(path, '1\n');
  return { before, changed: true };
}

/**
 * net.bridge.bridge-nf-call-iptables: '1' as needed, '0', or 'missing' when br_netfilter is not loaded (then the file
 * does not exist, and bridged traffic bypasses iptables).
 */
export async function readBridgeNfCallIptables(path = BRIDGE_NF_CALL_IPTABLES): Promise<'1' | '0' | 'missing'> {
  try {
    return (await readFile(path, 'utf8')).trim() === '1' ? '1' : '0';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw err;
  }
}
