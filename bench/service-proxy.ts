/**
 * bench/service-proxy: the iptables service proxy's costs, each beside a baseline measured in the same run.
 *
 * 1. Rendering: the model and the restore text for 1,000 Services with 10 endpoints each (10,000 endpoints), full and
 *    partial (one Service changed), in-process.
 * 2. Programming (root): the same rules written into the kernel with `iptables-restore --noflush` under a prefix of the
 *    bench's own: a full sync, then 30 partial syncs (one Service's endpoints changed each time), the time from the
 *    change to the restore's return: p50/p99 — the sync the proxier runs after an EndpointSlice event.
 * 3. Forwarding (root): requests/s and p99 of HTTP GETs (a new connection each, 8 at a time) to a server on the
 *    node's address directly, and through a ClusterIP DNATed to it by the rendered rules (nat OUTPUT), alternating.
 *
 * The e2e (test/service-proxy.e2e.test.ts) covers forwarding to pods; this bench measures the rules' own cost.
 * Everything it adds is removed at the end.
 */
import http from 'node:http';
import { networkInterfaces } from 'node:os';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { computeServicePorts, servicePortsOf } from '../src/proxy/service-model.js';
import { chainPrefixFor, jumpRules, renderRestore, renderServicePort, type IptablesRenderOptions } from '../src/proxy/iptables/render-iptables.js';
import { removeIptablesRules } from '../src/proxy/iptables/iptables-proxier.js';

const run = promisify(execFile);
const SERVICES = Number(process.env.SERVICES ?? 1000);
const ENDPOINTS = Number(process.env.ENDPOINTS ?? 10);
const prefix = chainPrefixFor(`bench-${process.pid}`);
const options: IptablesRenderOptions = { prefix, clusterCIDRs: ['10.71.0.0/16'], masqueradeMark: '0x4000' };

const ip = (base: number, i: number) => `10.${base}.${(i >> 8) & 255}.${i & 255}`;
function service(i: number): Service {
  return { metadata: { namespace: 'bench', name: `svc-${i}` }, spec: { type: 'NodePort', clusterIP: ip(81, i + 2), ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 31100 + (i % 100) }] } };
}
function slice(i: number, generation = 0, target?: { ip: string; port: number }): EndpointSlice {
  return {
    metadata: { namespace: 'bench', name: `svc-${i}-x`, labels: { 'kubernetes.io/service-name': `svc-${i}` } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: target?.port ?? 8080, protocol: 'TCP' }],
    endpoints: target ? [{ addresses: [target.ip], conditions: { ready: true }, nodeName: 'n' }] : Array.from({ length: ENDPOINTS }, (_, e) => ({ addresses: [ip(71, i * ENDPOINTS + e + generation)], conditions: { ready: true }, nodeName: `n${e % 3}` })),
  };
}
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const round = (x: number) => Math.round(x * 100) / 100;

function restore(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('iptables-restore', ['-w', '5', '--noflush'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(err))));
    child.stdin.end(text);
  });
}

async function load(host: string, port: number, ms: number): Promise<{ rps: number; p99: number; errors: number }> {
  const lat: number[] = [];
  let errors = 0;
  const end = performance.now() + ms;
  const worker = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      await new Promise<void>((resolve) => {
        const req = http.get({ host, port, path: '/', agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve());
        });
        req.on('error', () => {
          errors++;
          resolve();
        });
      });
      lat.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return { rps: lat.length / (ms / 1000), p99: pct(lat, 99), errors };
}

async function main(): Promise<void> {
  const services = Array.from({ length: SERVICES }, (_, i) => service(i));
  const slices = Array.from({ length: SERVICES }, (_, i) => slice(i));
  const renderRuns: number[] = [];
  let text = '';
  let rendered = computeServicePorts(services, slices, 'n0').map((sp) => renderServicePort(sp, options));
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    rendered = computeServicePorts(services, slices, 'n0').map((sp) => renderServicePort(sp, options));
    text = renderRestore({ ports: rendered }, options);
    renderRuns.push(performance.now() - t);
  }
  const partialRender: number[] = [];
  for (let r = 0; r < 30; r++) {
    const t = performance.now();
    const changed = servicePortsOf(services[r]!, [slice(r, r + 1)], 'n0').map((sp) => renderServicePort(sp, options));
    const ports = rendered.map((p) => changed.find((c) => c.key === p.key) ?? p);
    renderRestore({ ports, changed: new Set(changed.map((c) => c.key)) }, options);
    partialRender.push(performance.now() - t);
  }
  const result: Record<string, unknown> = {
    bench: 'service-proxy',
    services: SERVICES,
    endpoints: SERVICES * ENDPOINTS,
    restoreLines: text.split('\n').length,
    renderFullMs: round(pct(renderRuns, 50)),
    renderPartialP99Ms: round(pct(partialRender, 99)),
  };
  if (process.getuid?.() !== 0) {
    result.skipped = 'programming and forwarding need root';
    console.log(JSON.stringify(result));
    return;
  }
  const nodeIp = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)!.address;
  const server = http.createServer((_q, s) => s.end('ok')).listen(0, nodeIp);
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as { port: number }).port;
  try {
    // One more Service, DNATed to the local server: the forwarding path.
    const vip = '10.81.255.250';
    const fwdSvc: Service = { metadata: { namespace: 'bench', name: 'fwd' }, spec: { clusterIP: vip, ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } };
    const fwd = servicePortsOf(fwdSvc, [{ ...slice(0, 0, { ip: nodeIp, port }), metadata: { namespace: 'bench', name: 'fwd-x', labels: { 'kubernetes.io/service-name': 'fwd' } } }], 'n').map((sp) => renderServicePort(sp, options));
    let all = [...rendered, ...fwd];
    let t = performance.now();
    await restore(renderRestore({ ports: all }, options));
    result.programFullMs = round(performance.now() - t);
    const partial: number[] = [];
    for (let r = 0; r < 30; r++) {
      t = performance.now();
      const changed = servicePortsOf(services[r]!, [slice(r, r + 1)], 'n0').map((sp) => renderServicePort(sp, options));
      const before = all.find((p) => p.key === changed[0]!.key)!;
      all = all.map((p) => changed.find((c) => c.key === p.key) ?? p);
      const keep = new Set(changed.flatMap((c) => c.natChains));
      await restore(renderRestore({ ports: all, changed: new Set(changed.map((c) => c.key)), staleNatChains: before.natChains.filter((c) => !keep.has(c)) }, options));
      partial.push(performance.now() - t);
    }
    result.programPartialP50Ms = round(pct(partial, 50));
    result.programPartialP99Ms = round(pct(partial, 99));
    const out = jumpRules(prefix).find((j) => j.table === 'nat' && j.chain === 'OUTPUT')!;
    await run('iptables', ['-w', '5', '-t', 'nat', '-I', 'OUTPUT', '1', ...out.args]);
    const direct: Array<{ rps: number; p99: number; errors: number }> = [];
    const viaVip: Array<{ rps: number; p99: number; errors: number }> = [];
    for (let r = 0; r < 2; r++) {
      direct.push(await load(nodeIp, port, 3000));
      viaVip.push(await load(vip, 80, 3000));
    }
    const sum = (xs: typeof direct, f: (x: (typeof direct)[0]) => number) => xs.reduce((a, x) => a + f(x), 0) / xs.length;
    result.directRps = Math.round(sum(direct, (x) => x.rps));
    result.clusterIpRps = Math.round(sum(viaVip, (x) => x.rps));
    result.directP99Ms = round(sum(direct, (x) => x.p99));
    result.clusterIpP99Ms = round(sum(viaVip, (x) => x.p99));
    result.errors = [...direct, ...viaVip].reduce((a, x) => a + x.errors, 0);
    result.clusterIpToDirectRatio = round(sum(viaVip, (x) => x.rps) / sum(direct, (x) => x.rps));
  } finally {
    server.close();
    await removeIptablesRules(prefix);
  }
  console.log(JSON.stringify(result));
}

await main();
