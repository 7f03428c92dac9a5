/**
 * Makes the host's routes, VTEP neighbours and FDB entries match a DesiredNodeNetwork (node-routes.ts): reads
 * `ip -j route` / `ip -j neigh` / `bridge -j fdb`, and changes only what differs. skiff's pod routes carry their own
 * route protocol number (`proto 92`), so routes of anyone else are never touched; routes to a podCIDR outside the
 * cluster CIDR are never removed either (another cluster's agent in the same namespace). The vxlan device is the
 * agent's own: every neighbour and FDB entry on it that is not wanted goes.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createLogger } from '../../log/logger.js';
import { cidrWithin, VXLAN_PORT, VXLAN_VNI, type DesiredNodeNetwork, type LocalAddress } from './node-routes.js';

const log = createLogger('node-routes');
const run = promisify(execFile);
const TIMEOUT_MS = 10_000;

/** The route protocol number marking skiff's pod routes (unassigned in /etc/iproute2/rt_protos). */
export const SKIFF_ROUTE_PROTO = '92';

const ip = async (...args: string[]): Promise<string> => (await run('ip', args, { timeout: TIMEOUT_MS })).stdout;
const bridge = async (...args: string[]): Promise<string> => (await run('bridge', args, { timeout: TIMEOUT_MS })).stdout;
const json = <T>(text: string): T[] => (text.trim() === '' ? [] : (JSON.parse(text) as T[]));

/**
 * Runs iproute2 commands in one exec (`ip -batch -`, `bridge -batch -`): 200 nodes' routes cost one process instead of
 * 200 (a first sync of 200 nodes took 2.1 s one exec at a time). `-force` goes on past a failing line, as each line
 * is independent; the failures come back in the error.
 */
async function batch(tool: 'ip' | 'bridge', lines: string[][]): Promise<void> {
  if (lines.length === 0) return;
  await new Promise<void>((resolve, reject) => {
    const child = execFile(tool, ['-force', '-batch', '-'], { timeout: TIMEOUT_MS * 3 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`${tool} -batch failed: ${String(stderr).trim() || err.message}`));
      else resolve();
    });
    child.stdin!.end(lines.map((l) => l.join(' ')).join('\n') + '\n');
  });
}

/** IPv4 addresses of this network namespace, except on loopback and on `excludeDevs` (the pod bridge, the vxlan). */
export async function readLocalAddresses(excludeDevs: string[]): Promise<LocalAddress[]> {
  const links = json<{ ifname: string; addr_info?: Array<{ family: string; local: string; prefixlen: number }> }>(await ip('-j', '-4', 'addr', 'show'));
  const out: LocalAddress[] = [];
  for (const l of links) {
    if (l.ifname === 'lo' || excludeDevs.includes(l.ifname)) continue;
    for (const a of l.addr_info ?? []) if (a.family === 'inet') out.push({ address: a.local, prefixLen: a.prefixlen, dev: l.ifname });
  }
  return out;
}

export interface VxlanDevice {
  name: string;
  mac: string;
  port: number;
}

/**
 * The agent's vxlan device, made or fixed: VNI 1, `local <nodeIp>`, no learning (entries come from the Node objects),
 * the VTEP address `<vtepIp>/32`, up. Port 8472 unless another device in this namespace holds VNI 1 there (a second
 * agent on this host): then the next free one, published in the Node annotation.
 */
export async function ensureVxlanDevice(name: string, nodeIp: string, vtepIp: string, lowerDev?: string): Promise<VxlanDevice> {
  let current = await readVxlan(name);
  if (current !== undefined && current.local !== nodeIp) {
    log.info('vxlan device has another local address: making it again', { dev: name, local: current.local, nodeIp });
    await ip('link', 'del', name);
    current = undefined;
  }
  if (current === undefined) {
    let lastErr: unknown;
    for (let port = VXLAN_PORT; port < VXLAN_PORT + 16 && current === undefined; port++) {
      try {
        // With its lower device the kernel gives the device that device's MTU less vxlan's 50 bytes (as flannel's
        // 1450 on a 1500 link), so pods' full-size packets get path-MTU feedback instead of fragmented outer packets.
        await ip('link', 'add', name, 'type', 'vxlan', 'id', String(VXLAN_VNI), 'local', nodeIp, ...(lowerDev ? ['dev', lowerDev] : []), 'dstport', String(port), 'nolearning');
        current = await readVxlan(name);
      } catch (err) {
        lastErr = err;
        if (!/already exists/i.test(String((err as { stderr?: string }).stderr ?? ''))) throw err;
      }
    }
    if (current === undefined) throw new Error(`vxlan device ${name}: no free UDP port from ${VXLAN_PORT}: ${String((lastErr as { stderr?: string })?.stderr ?? lastErr)}`);
    log.info('made vxlan device', { dev: name, local: nodeIp, port: current.port, vtep: vtepIp });
  }
  const addrs = json<{ addr_info?: Array<{ local: string; prefixlen: number }> }>(await ip('-j', '-4', 'addr', 'show', 'dev', name)).flatMap((l) => l.addr_info ?? []);
  for (const a of addrs) if (a.local !== vtepIp || a.prefixlen !== 32) await ip('addr', 'del', `${a.local}/${a.prefixlen}`, 'dev', name);
  if (!addrs.some((a) => a.local === vtepIp && a.prefixlen === 32)) await ip('addr', 'add', `${vtepIp}/32`, 'dev', name);
  await ip('link', 'set', name, 'up');
  return { name, mac: current.mac, port: current.port };
}

async function readVxlan(name: string): Promise<{ mac: string; local?: string; port: number } | undefined> {
  let text: string;
  try {
    text = await ip('-j', '-d', 'link', 'show', 'dev', name);
  } catch {
    return undefined;
  }
  const link = json<{ address: string; linkinfo?: { info_kind?: string; info_data?: { local?: string; port?: number } } }>(text)[0];
  if (link === undefined || link.linkinfo?.info_kind !== 'vxlan') return undefined;
  return { mac: link.address, ...(link.linkinfo.info_data?.local ? { local: link.linkinfo.info_data.local } : {}), port: link.linkinfo.info_data?.port ?? VXLAN_PORT };
}

/** Removes the vxlan device (uninstall, tests); absent is fine. */
export async function removeVxlanDevice(name: string): Promise<void> {
  if ((await readVxlan(name)) !== undefined) await ip('link', 'del', name);
}

export interface ApplyResult {
  added: number;
  removed: number;
}

/**
 * Routes: skiff's (proto 92) inside `clusterCidrs` that are not wanted are removed; wanted ones missing or different
 * are replaced. Neighbours and FDB entries on the vxlan device likewise (skipped when the device does not exist).
 */
export async function applyNodeNetwork(desired: DesiredNodeNetwork, o: { clusterCidrs: string[]; vxlanDev: string }): Promise<ApplyResult> {
  const result: ApplyResult = { added: 0, removed: 0 };
  const ipLines: string[][] = [];
  const bridgeLines: string[][] = [];
  const have = json<{ dst: string; gateway?: string; dev?: string; flags?: string[] }>(await ip('-j', '-4', 'route', 'show', 'proto', SKIFF_ROUTE_PROTO));
  const key = (r: { dst: string; via?: string; gateway?: string; dev?: string }, withDev: boolean) => `${r.dst} ${r.via ?? r.gateway} ${withDev ? (r.dev ?? '') : ''}`;
  const wanted = new Map(desired.routes.map((r) => [r.dst, r]));
  for (const r of have) {
    const w = wanted.get(r.dst);
    if (w !== undefined && key(w, w.dev !== undefined) === key(r, w.dev !== undefined)) {
      wanted.delete(r.dst);
      continue;
    }
    if (w !== undefined) continue; // replaced below
    if (!cidrWithin(r.dst, o.clusterCidrs)) continue;
    ipLines.push(['route', 'del', r.dst, 'proto', SKIFF_ROUTE_PROTO]);
    log.debug('removing pod route', { dst: r.dst, via: r.gateway, dev: r.dev });
    result.removed++;
  }
  for (const r of wanted.values()) {
    ipLines.push(['route', 'replace', r.dst, 'via', r.via, ...(r.dev ? ['dev', r.dev] : []), ...(r.onlink ? ['onlink'] : []), 'proto', SKIFF_ROUTE_PROTO]);
    log.debug('programming pod route', { node: r.node, dst: r.dst, via: r.via, mode: r.mode, ...(r.dev ? { dev: r.dev } : {}) });
    result.added++;
  }

  let neighText: string;
  try {
    neighText = await ip('-j', 'neigh', 'show', 'dev', o.vxlanDev);
  } catch {
    await batch('ip', ipLines);
    return result; // no vxlan device: no entries to keep in step
  }
  const neigh = json<{ dst: string; lladdr?: string; state?: string[] }>(neighText).filter((n) => n.state?.includes('PERMANENT'));
  const wantNeigh = new Map(desired.neighbours.map((n) => [n.ip, n]));
  for (const n of neigh) {
    const w = wantNeigh.get(n.dst);
    if (w !== undefined && w.mac === n.lladdr?.toLowerCase()) {
      wantNeigh.delete(n.dst);
      continue;
    }
    if (w === undefined) {
      ipLines.push(['neigh', 'del', n.dst, 'dev', o.vxlanDev]);
      result.removed++;
    }
  }
  for (const n of wantNeigh.values()) {
    ipLines.push(['neigh', 'replace', n.ip, 'lladdr', n.mac, 'dev', n.dev, 'nud', 'permanent']);
    result.added++;
  }

  const fdb = json<{ mac: string; dst?: string; port?: number; state?: string }>(await bridge('-j', 'fdb', 'show', 'dev', o.vxlanDev)).filter((f) => f.dst !== undefined);
  const fdbKey = (mac: string, dst: string) => `${mac.toLowerCase()} ${dst}`;
  const wantFdb = new Map(desired.fdb.map((f) => [fdbKey(f.mac, f.dst), f]));
  const devPort = (await readVxlan(o.vxlanDev))?.port ?? VXLAN_PORT;
  for (const f of fdb) {
    const k = fdbKey(f.mac, f.dst!);
    const w = wantFdb.get(k);
    if (w !== undefined && (f.port ?? devPort) === w.port) {
      wantFdb.delete(k);
      continue;
    }
    bridgeLines.push(['fdb', 'del', f.mac, 'dev', o.vxlanDev, 'dst', f.dst!]);
    result.removed++;
  }
  for (const f of wantFdb.values()) {
    bridgeLines.push(['fdb', 'replace', f.mac, 'dev', f.dev, 'dst', f.dst, 'port', String(f.port), 'self', 'permanent']);
    result.added++;
  }
  // FDB entries first: a route and neighbour entry are only useful once the device knows where to send.
  await batch('bridge', bridgeLines);
  await batch('ip', ipLines);
  return result;
}
