/**
 * bench/service-proxy: the service proxy's costs in both modes (iptables, nftables; `MODES=iptables` for one), each
 * beside a baseline measured in the same run.
 *
 * 1. Rendering: the model and the rule text for 1,000 Services with 10 endpoints each (10,000 endpoints; every tenth
 *    Service a NodePort), full and partial (one Service changed), in-process.
 * 2. Programming (root): the same rules written into the kernel by the proxier's own backend (iptables-restore
 *    --noflush under a chain prefix of the bench's own; nft -f into a table of its own): a full sync, then 30
 *    partial syncs (one Service's endpoints changed each time), p50/p99 of the write.
 * 3. Change to programmed (root), through a real cluster: `skiff server` with its embedded agent (process runtime,
 *    --proxy-mode MODE) gets the 1,000 Services and 10,000 endpoints through the API (selector-less Services and
 *    their EndpointSlices, endpoints on nodes that do not run here); one more Service points at a server on the
 *    node's address. Its EndpointSlice is switched 30 times between two ports (servers answering A and B), 1.2 s
 *    apart; the time from the update's request to the new server's first answer through the ClusterIP is the
 *    change → forwarding latency (API write, watch, informer, bounded-frequency runner, partial sync, kernel).
 *    Then a real pod (a node HTTP server, process runtime) behind a ClusterIP whose rule sorts last: requests/s and
 *    p99 of GETs from the node (8 at a time, 2 × 3 s each way alternating; FORWARD_ROUNDS=N for N) directly to the
 *    pod IP (a second port of the pod) and through the ClusterIP, with a new connection per request (every one
 *    NATed) and with kept-alive connections; then new connections again with the direct ones on the ClusterIP's own
 *    target port (`SharedPort`: the two paths' connections collide in the pod's TIME_WAIT, see below). `E2E=0`
 *    skips it.
 *
 * The e2e (test/service-proxy.e2e.test.ts) covers forwarding to pods; this bench measures the rules' own cost.
 * Everything it adds is removed at the end.
 */
import http from 'node:http';
import https from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { hardCleanAgent } from '../test/helpers/agent-cleanup.js';
import { spawnServer, waitExit } from '../test/helpers/server-process.js';
import { networkInterfaces } from 'node:os';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { computeServicePorts, servicePortsOf } from '../src/proxy/service-model.js';
import { chainPrefixFor, renderRestore, type IptablesRenderOptions, type RenderedServicePort } from '../src/proxy/iptables/render-iptables.js';
import { IptablesBackend } from '../src/proxy/iptables/iptables-proxier.js';
import { NftablesBackend } from '../src/proxy/nftables/nftables-proxier.js';
import { renderNftables, type RenderedNftPort } from '../src/proxy/nftables/render-nftables.js';
import type { ProxyBackend } from '../src/proxy/service-proxier.js';

const run = promisify(execFile);
const SERVICES = Number(process.env.SERVICES ?? 1000);
const ENDPOINTS = Number(process.env.ENDPOINTS ?? 10);
/** Alternating rounds (3 s direct, 3 s through the ClusterIP) per forwarding measurement: more on a busy machine. */
const FORWARD_ROUNDS = Math.max(1, Number(process.env.FORWARD_ROUNDS ?? 2));
const prefix = chainPrefixFor(`bench-${process.pid}`);
const options: IptablesRenderOptions = { prefix, clusterCIDRs: ['10.71.0.0/16'], masqueradeMark: '0x4000' };

const ip = (base: number, i: number) => `10.${base}.${(i >> 8) & 255}.${i & 255}`;
function service(i: number): Service {
  return { metadata: { namespace: 'bench', name: `svc-${i}` }, spec: i % 10 === 0 ? { type: 'NodePort', clusterIP: ip(81, i + 2), ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 31100 + (i / 10) }] } : { clusterIP: ip(81, i + 2), ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } };
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
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const round = (x: number) => Math.round(x * 100) / 100;


/** A request slower than this waited for a SYN retransmit (the first comes after 1 s). */
const STALL_MS = 900;

async function load(host: string, port: number, ms: number, keepAlive = false): Promise<{ rps: number; p99: number; errors: number; stalls: number }> {
  const agent = keepAlive ? new http.Agent({ keepAlive: true, maxSockets: 8 }) : false;
  const lat: number[] = [];
  let errors = 0;
  const end = performance.now() + ms;
  const worker = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      await new Promise<void>((resolve) => {
        const req = http.get({ host, port, path: '/', agent }, (res) => {
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
  if (agent) agent.destroy();
  return { rps: lat.length / (ms / 1000), p99: pct(lat, 99), errors, stalls: lat.filter((x) => x > STALL_MS).length };
}

type Mode = 'iptables' | 'nftables';
const MODES = (process.env.MODES?.split(',') ?? ['iptables', 'nftables']) as Mode[];

function backendFor(mode: Mode, clusterCIDRs = options.clusterCIDRs): ProxyBackend<{ key: string }> {
  return mode === 'iptables' ? new IptablesBackend({ prefix, clusterCIDRs }) : new NftablesBackend({ table: `skiff-bench${process.pid}`, clusterCIDRs });
}

/** Render times (pure) of the full rule set and of a partial sync, per mode. */
function renderTimes(mode: Mode, services: Service[], slices: EndpointSlice[]): Record<string, number> {
  const backend = backendFor(mode);
  const text = (ports: Array<{ key: string }>, changed?: Set<string>) =>
    mode === 'iptables' ? renderRestore({ ports: ports as RenderedServicePort[], ...(changed ? { changed } : {}) }, options) : renderNftables({ ports: ports as RenderedNftPort[], ...(changed ? { changed } : {}) }, { table: 'skiff-bench', clusterCIDRs: options.clusterCIDRs, masqueradeMark: '0x4000' });
  const full: number[] = [];
  let rendered: Array<{ key: string }> = [];
  let lines = 0;
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    rendered = computeServicePorts(services, slices, 'n0').map((sp) => backend.render(sp));
    lines = text(rendered).split('\n').length;
    full.push(performance.now() - t);
  }
  const partial: number[] = [];
  for (let r = 0; r < 30; r++) {
    const t = performance.now();
    const changed = servicePortsOf(services[r % services.length]!, [slice(r % services.length, r % services.length + 1)], 'n0').map((sp) => backend.render(sp));
    text(rendered.map((p) => changed.find((c) => c.key === p.key) ?? p), new Set(changed.map((c) => c.key)));
    partial.push(performance.now() - t);
  }
  return { [`${mode}Lines`]: lines, [`${mode}RenderFullMs`]: round(pct(full, 50)), [`${mode}RenderPartialP99Ms`]: round(pct(partial, 99)) };
}

/** Programming times: the rules written by the proxier's own backend, a full sync then 30 partial ones. */
async function program(mode: Mode, services: Service[], slices: EndpointSlice[]): Promise<Record<string, number>> {
  const backend = backendFor(mode);
  const result: Record<string, number> = {};
  try {
    let all = computeServicePorts(services, slices, 'n0').map((sp) => backend.render(sp));
    let t = performance.now();
    await backend.apply(all, undefined);
    result[`${mode}ProgramFullMs`] = round(performance.now() - t);
    const partial: number[] = [];
    for (let r = 0; r < 30; r++) {
      t = performance.now();
      const changed = servicePortsOf(services[r % services.length]!, [slice(r % services.length, r % services.length + 1)], 'n0').map((sp) => backend.render(sp));
      all = all.map((p) => changed.find((c) => c.key === p.key) ?? p);
      await backend.apply(all, new Set(changed.map((c) => c.key)));
      partial.push(performance.now() - t);
    }
    result[`${mode}ProgramPartialP50Ms`] = round(pct(partial, 50));
    result[`${mode}ProgramPartialP99Ms`] = round(pct(partial, 99));
  } finally {
    await backend.remove();
  }
  return result;
}

async function main(): Promise<void> {
  const services = Array.from({ length: SERVICES }, (_, i) => service(i));
  const slices = Array.from({ length: SERVICES }, (_, i) => slice(i));
  const result: Record<string, unknown> = { bench: 'service-proxy', services: SERVICES, endpoints: SERVICES * ENDPOINTS };
  for (const mode of MODES) Object.assign(result, renderTimes(mode, services, slices));
  if (process.getuid?.() !== 0) {
    result.skipped = 'programming and forwarding need root';
    console.log(JSON.stringify(result));
    return;
  }
  for (const mode of MODES) Object.assign(result, await program(mode, services, slices));
  if (process.env.E2E !== '0') for (const mode of MODES) Object.assign(result, await changeToProgrammed(mode));
  console.log(JSON.stringify(result));
}

/**
 * Requests/s and p99 directly (pod IP, `port`) and through the ClusterIP (port 80), alternating FORWARD_ROUNDS times, 3 s each;
 * `label` names the rule set. `…Stalls`: requests that waited for a SYN retransmit.
 */
async function forwarding(podIp: string, port: number, vip: string, label: string, keepAlive = false): Promise<Record<string, number>> {
  const direct: Array<{ rps: number; p99: number; errors: number; stalls: number }> = [];
  const viaVip: Array<{ rps: number; p99: number; errors: number; stalls: number }> = [];
  for (let r = 0; r < FORWARD_ROUNDS; r++) {
    // Which goes first alternates, so an order effect stays out of the ratio (direct, always first, came out below the
    // ClusterIP in 6 of 7 runs at load 8-25).
    if (r % 2 === 1) viaVip.push(await load(vip, 80, 3000, keepAlive));
    direct.push(await load(podIp, port, 3000, keepAlive));
    if (r % 2 === 0) viaVip.push(await load(vip, 80, 3000, keepAlive));
  }
  const avg = (xs: typeof direct, f: (x: (typeof direct)[0]) => number) => xs.reduce((a, x) => a + f(x), 0) / xs.length;
  return {
    [`${label}DirectRps`]: Math.round(avg(direct, (x) => x.rps)),
    [`${label}ClusterIpRps`]: Math.round(avg(viaVip, (x) => x.rps)),
    [`${label}DirectP99Ms`]: round(avg(direct, (x) => x.p99)),
    [`${label}ClusterIpP99Ms`]: round(avg(viaVip, (x) => x.p99)),
    [`${label}Errors`]: [...direct, ...viaVip].reduce((a, x) => a + x.errors, 0),
    [`${label}DirectStalls`]: direct.reduce((a, x) => a + x.stalls, 0),
    [`${label}ClusterIpStalls`]: viaVip.reduce((a, x) => a + x.stalls, 0),
    [`${label}ClusterIpToDirectRatio`]: round(avg(viaVip, (x) => x.rps) / avg(direct, (x) => x.rps)),
    // Each round's pair (adjacent in time) compared: less moved by load that comes and goes than the ratio of means.
    [`${label}ClusterIpToDirectRatioMedian`]: round(median(direct.map((d, i) => viaVip[i]!.rps / d.rps))),
  };
}

interface Api {
  port: number;
  tls: { ca: string; cert: string; key: string };
  agent: https.Agent;
}
function api(a: Api, method: string, path: string, body?: unknown): Promise<any> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request({ host: '127.0.0.1', port: a.port, method, path, agent: a.agent, ...a.tls, headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => ((res.statusCode ?? 500) < 300 ? resolve(text ? JSON.parse(text) : undefined) : reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`))));
    });
    req.on('error', reject);
    req.end(data);
  });
}
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}
function getBody(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: '/', agent: false, timeout: 500 }, (res) => {
      let b = '';
      res.on('data', (c) => (b += c));
      res.on('end', () => resolve(b));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/**
 * Deletes the conntrack entries to and from a pod address of the bench's (an earlier run's pod may have had it): its
 * entries would move source ports of the next run's connections (see the shared-port run). No tool: nothing done.
 */
async function forgetConnections(podIp: string): Promise<void> {
  // conntrack prints every entry it deletes (tens of thousands here): more than execFile's buffer holds.
  for (const args of [['--orig-dst', podIp], ['--reply-src', podIp]]) {
    await new Promise<void>((resolve) => spawn('conntrack', ['-D', '-p', 'tcp', ...args], { stdio: 'ignore' }).on('error', () => resolve()).on('close', () => resolve()));
  }
}

async function changeToProgrammed(mode: Mode): Promise<Record<string, unknown>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'skiff-bench-svc-'));
  const nodeIp = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)!.address;
  const servers = ['A', 'B'].map((id) => http.createServer((_q, s) => s.end(id)).listen(0, nodeIp));
  await Promise.all(servers.map((s) => new Promise((r) => s.once('listening', r))));
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  const server = await spawnServer(
    ['--data-dir', dataDir, '--node-name', `bench-svc-${process.pid}`, '--runtime', 'process', '--kubelet-port', '0', '--https-listen-port', '0', '--bind-address', '127.0.0.1', '--cluster-cidr', '10.71.0.0/16', '--service-cidr', '10.81.0.0/16', '--service-node-port-range', '31100-31199', '--proxy-mode', mode],
    60_000,
    {},
    { agent: true },
  );
  try {
    const deadline = Date.now() + 60_000;
    while (!new RegExp(`service proxy: ${mode}`).test(server.output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const kc = parseYaml(readFileSync(join(dataDir, 'kubeconfig.yaml'), 'utf8'));
    const b64 = (x: string) => Buffer.from(x, 'base64').toString();
    const a: Api = { port: server.port, agent: new https.Agent({ keepAlive: true, maxSockets: 16 }), tls: { ca: b64(kc.clusters[0].cluster['certificate-authority-data']), cert: b64(kc.users[0].user['client-certificate-data']), key: b64(kc.users[0].user['client-key-data']) } };
    await api(a, 'POST', '/api/v1/namespaces', { metadata: { name: 'bench' } });
    const t0 = performance.now();
    const indices = Array.from({ length: SERVICES }, (_, i) => i);
    await pool(indices, 16, async (i) => {
      await api(a, 'POST', '/api/v1/namespaces/bench/services', { metadata: { name: `svc-${i}` }, spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } });
      const sl = slice(i);
      await api(a, 'POST', '/apis/discovery.k8s.io/v1/namespaces/bench/endpointslices', { ...sl, apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { ...sl.metadata, namespace: undefined } });
    });
    const createMs = performance.now() - t0;
    const probe = await api(a, 'POST', '/api/v1/namespaces/bench/services', { metadata: { name: 'probe' }, spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } });
    const vip: string = probe.spec.clusterIP;
    const probeSlice = (port: number) => ({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'probe-x', labels: { 'kubernetes.io/service-name': 'probe' } }, addressType: 'IPv4', ports: [{ name: 'http', port, protocol: 'TCP' }], endpoints: [{ addresses: [nodeIp], conditions: { ready: true } }] });
    await api(a, 'POST', '/apis/discovery.k8s.io/v1/namespaces/bench/endpointslices', probeSlice(ports[0]!));
    const t1 = performance.now();
    while ((await getBody(vip, 80)) !== 'A') {
      if (performance.now() - t1 > 120_000) throw new Error(`the probe Service never answered; server output:\n${server.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const firstProgrammedMs = performance.now() - t1;
    const lat: number[] = [];
    for (let r = 0; r < 30; r++) {
      await new Promise((res) => setTimeout(res, 1200));
      const want = r % 2 === 0 ? 'B' : 'A';
      const current = await api(a, 'GET', '/apis/discovery.k8s.io/v1/namespaces/bench/endpointslices/probe-x');
      const t = performance.now();
      await api(a, 'PUT', '/apis/discovery.k8s.io/v1/namespaces/bench/endpointslices/probe-x', { ...probeSlice(ports[want === 'A' ? 0 : 1]!), metadata: { ...current.metadata } });
      while ((await getBody(vip, 80)) !== want) {
        if (performance.now() - t > 30_000) throw new Error('a change was not programmed in 30 s');
        await new Promise((res) => setTimeout(res, 2));
      }
      lat.push(performance.now() - t);
    }
    // A real pod behind a ClusterIP (named to sort last: in iptables mode its rule comes after the 1,000 others):
    // requests from the node (its source, the bridge address, is in the cluster CIDR as a pod's is) directly to the
    // pod IP and through the ClusterIP. The direct requests go to a second port of the pod (8081; the Service targets
    // 8080): on one port the two paths collide. The pod holds each closed connection in TIME_WAIT for 60 s and
    // conntrack its entry for 120 s; this kernel gives each connection its own TCP timestamp offset, hashed from the
    // client's 4-tuple (pod IP:8080 directly, ClusterIP:80 through the Service). A direct connection and a ClusterIP one
    // from the same client port meet the same pod-side 4-tuple with unrelated timestamps: the pod rejects the newer
    // SYN as an old duplicate (PAWS, TcpExtPAWSTimewait) and the client resends it 1 s later. The DNAT also finds the
    // reply tuple taken by the other path's conntrack entry and moves the source port, which then collides with later
    // connections from that port: ClusterIP-only traffic keeps stalling long after. kube-proxy's rules (the same DNAT)
    // and a single hand-written DNAT rule do the same; the shared-port run below reports it (`…SharedPort…`).
    const web = "const h = (q, s) => s.end('ok'); for (const p of [8080, 8081]) require('http').createServer(h).listen(p)";
    await api(a, 'POST', '/api/v1/namespaces/bench/pods', { metadata: { name: 'echo', labels: { app: 'echo' } }, spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'echo', image: 'node', command: ['node', '-e', web], readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 } }] } });
    const echoSvc = await api(a, 'POST', '/api/v1/namespaces/bench/services', { metadata: { name: 'zz-echo' }, spec: { selector: { app: 'echo' }, ports: [{ port: 80, targetPort: 8080 }] } });
    let podIP = '';
    const t2 = performance.now();
    for (;;) {
      const pod = await api(a, 'GET', '/api/v1/namespaces/bench/pods/echo');
      podIP = pod.status?.podIP ?? '';
      if (podIP && pod.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True') && (await getBody(echoSvc.spec.clusterIP, 80)) === 'ok') break;
      if (performance.now() - t2 > 60_000) throw new Error(`the echo pod did not answer through its Service; server output:\n${server.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // A new connection per request (each one NATed), then kept-alive connections (NAT only on their first packet),
    // then new connections with the direct ones on the Service's own target port (last: it leaves colliding entries).
    await forgetConnections(podIP);
    const pod = {
      ...(await forwarding(podIP, 8081, echoSvc.spec.clusterIP, `${mode}Pod`)),
      ...(await forwarding(podIP, 8081, echoSvc.spec.clusterIP, `${mode}PodKeepAlive`, true)),
      ...(await forwarding(podIP, 8080, echoSvc.spec.clusterIP, `${mode}PodSharedPort`)),
    };
    await forgetConnections(podIP);
    await api(a, 'DELETE', '/api/v1/namespaces/bench/pods/echo?gracePeriodSeconds=0').catch(() => undefined);
    return { ...pod, [`${mode}E2eCreateObjectsMs`]: Math.round(createMs), [`${mode}E2eFirstProgrammedMs`]: Math.round(firstProgrammedMs), [`${mode}E2eChangeToProgrammedP50Ms`]: round(pct(lat, 50)), [`${mode}E2eChangeToProgrammedP99Ms`]: round(pct(lat, 99)), [`${mode}E2eChangeToProgrammedMaxMs`]: round(Math.max(...lat)) };
  } finally {
    servers.forEach((s) => s.close());
    server.child.kill('SIGTERM');
    const timer = setTimeout(() => server.child.kill('SIGKILL'), 20_000);
    await waitExit(server.child);
    clearTimeout(timer);
    await hardCleanAgent({ dataDir }).catch(() => []);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
