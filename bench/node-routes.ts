/**
 * bench/node-routes: what the agent's flannel (src/agent/network/node-network.ts) costs per sync, with N other nodes
 * (--nodes, default 200): half on this node's link (host-gw routes), half on other subnets (vxlan: route, neighbour and
 * FDB entry each). Measured in a scratch network namespace made and removed by the bench (the bench re-runs itself
 * inside it with nsenter), so nothing on the host changes:
 *
 *   compute      computeNodeRoutes (pure) over the N nodes
 *   first        the first sync: vxlan device, N routes, N/2 neighbours and FDB entries
 *   steady       a sync that changes nothing (the minute's repair, or a Node status update that passed the filter)
 *   oneRemoved   a sync after one node went away (its entries removed)
 *
 * Baseline, same run: one `ip -j -4 route show` (the floor of any sync: one exec of iproute2). Ratios are sync time
 * over that. Prints one JSON object. Needs root: `npx tsc -p tsconfig.json && node dist/bench/node-routes.js`.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { applyNodeNetwork, ensureVxlanDevice, readLocalAddresses } from '../src/agent/network/node-route-applier.js';
import { computeNodeRoutes, numberToIpv4, type NodeNetInfo } from '../src/agent/network/node-routes.js';

const run = promisify(execFile);
const argNodes = process.argv.indexOf('--nodes');
const N = argNodes > 0 ? Number(process.argv[argNodes + 1]) : 200;
const CLUSTER = ['10.72.0.0/16'];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.floor(s.length / 2)]! * 100) / 100;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function inside(): Promise<void> {
  await run('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1']);
  await run('ip', ['addr', 'add', '10.231.0.2/16', 'dev', 'eth0']);
  await run('ip', ['link', 'set', 'eth0', 'up']);
  await run('ip', ['link', 'set', 'eth1', 'up']);
  await run('ip', ['link', 'set', 'lo', 'up']);
  const nodes: NodeNetInfo[] = [{ name: 'self', podCidrs: ['10.72.0.0/24'], internalIp: '10.231.0.2' }];
  for (let i = 1; i <= N; i++) {
    const onLink = i % 2 === 0;
    const mac = `02:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
    nodes.push({ name: `n${i}`, podCidrs: [`10.72.${i}.0/24`], internalIp: onLink ? numberToIpv4(0x0ae70000 + 2 + i) : `10.${100 + (i >> 8)}.${i & 255}.2`, vtepMac: mac });
  }
  const dev = 'skvbench';
  const addresses = await readLocalAddresses([dev]);
  const compute = (ns: NodeNetInfo[]) => computeNodeRoutes({ self: 'self', nodes: ns, backend: 'auto', addresses, vxlanDev: dev });
  const computeMs: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    compute(nodes);
    computeMs.push(performance.now() - t);
  }
  const first = await timed(async () => {
    await ensureVxlanDevice(dev, '10.231.0.2', '10.72.0.0');
    await applyNodeNetwork(compute(nodes), { clusterCidrs: CLUSTER, vxlanDev: dev });
  });
  const steady: number[] = [];
  for (let i = 0; i < 5; i++) steady.push(await timed(() => applyNodeNetwork(compute(nodes), { clusterCidrs: CLUSTER, vxlanDev: dev })));
  const oneRemoved: number[] = [];
  for (let i = 0; i < 5; i++) {
    const gone = nodes.splice(nodes.length - 1, 1);
    oneRemoved.push(await timed(() => applyNodeNetwork(compute(nodes), { clusterCidrs: CLUSTER, vxlanDev: dev })));
    void gone;
  }
  const baseline: number[] = [];
  for (let i = 0; i < 10; i++) baseline.push(await timed(() => run('ip', ['-j', '-4', 'route', 'show'])));
  const routes = JSON.parse((await run('ip', ['-j', '-4', 'route', 'show', 'proto', '92'])).stdout).length;
  const base = median(baseline);
  console.log(
    JSON.stringify({
      bench: 'node-routes',
      nodes: N,
      routesProgrammed: routes,
      computeMsMedian: median(computeMs),
      firstSyncMs: Math.round(first),
      steadySyncMsMedian: median(steady),
      oneRemovedSyncMsMedian: median(oneRemoved),
      baselineIpExecMsMedian: base,
      ratios: { firstSync: Math.round((first / base) * 10) / 10, steadySync: Math.round((median(steady) / base) * 10) / 10, oneRemovedSync: Math.round((median(oneRemoved) / base) * 10) / 10 },
    }),
  );
}

async function main(): Promise<void> {
  if (process.env.SKIFF_BENCH_INSIDE === '1') return inside();
  if (process.getuid?.() !== 0) throw new Error('bench/node-routes needs root (a scratch network namespace)');
  const ns = `skbench-${randomBytes(3).toString('hex')}`;
  await run('ip', ['netns', 'add', ns]);
  try {
    const self = fileURLToPath(import.meta.url);
    const child = spawn('nsenter', [`--net=/run/netns/${ns}`, '--', process.execPath, ...process.execArgv, self, ...process.argv.slice(2)], { stdio: 'inherit', env: { ...process.env, SKIFF_BENCH_INSIDE: '1' } });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) process.exitCode = 1;
  } finally {
    await run('ip', ['netns', 'del', ns]);
  }
}

await main();
