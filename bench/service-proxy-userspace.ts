/**
 * bench/service-proxy-userspace: what the userspace proxy's relay costs, against going to the pod directly in the same
 * run. `skiff server` with its embedded agent (process runtime, --proxy-mode userspace, as root so the ClusterIP is
 * redirected to the relay) runs one pod, a node HTTP server answering "ok", behind a ClusterIP + NodePort Service.
 * From the node, 8 requests at a time, in 1 s slices alternating 6 times: directly to the pod IP, through the ClusterIP
 * (REDIRECT → the agent's relay → the pod) and through the NodePort (the agent listens on it); once with a new
 * connection per request and once with kept-alive connections. Prints JSON with requests/s, p99 and the ratios
 * relayed / direct (the target is ≥ 0.70).
 *
 * The load generator, the relay (inside the server process) and the pod share the machine's cores, as the direct
 * path's client and pod do.
 */
import http from 'node:http';
import https from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { hardCleanAgent } from '../test/helpers/agent-cleanup.js';
import { spawnServer, waitExit } from '../test/helpers/server-process.js';

const SLICE_MS = Number(process.env.SLICE_MS ?? 1000);
const ROUNDS = Number(process.env.ROUNDS ?? 6);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const round = (x: number) => Math.round(x * 100) / 100;

interface Load {
  rps: number;
  p99: number;
  errors: number;
}

async function load(host: string, port: number, ms: number, keepAlive: boolean): Promise<Load> {
  const agent = keepAlive ? new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY }) : false;
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
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  if (agent) agent.destroy();
  return { rps: lat.length / (ms / 1000), p99: pct(lat, 99), errors };
}

/** Direct vs the relayed targets in alternating slices (the machine is shared: its load drifts between slices). */
async function compare(direct: [string, number], relayed: Record<string, [string, number]>, keepAlive: boolean, label: string): Promise<Record<string, number>> {
  const runs: Record<string, Load[]> = { Direct: [] };
  for (const k of Object.keys(relayed)) runs[k] = [];
  for (let r = 0; r < ROUNDS; r++) {
    runs.Direct!.push(await load(direct[0], direct[1], SLICE_MS, keepAlive));
    for (const [k, [h, p]] of Object.entries(relayed)) runs[k]!.push(await load(h, p, SLICE_MS, keepAlive));
  }
  const avg = (xs: Load[], f: (x: Load) => number) => xs.reduce((a, x) => a + f(x), 0) / xs.length;
  const out: Record<string, number> = {};
  for (const [k, xs] of Object.entries(runs)) {
    out[`${label}${k}Rps`] = Math.round(avg(xs, (x) => x.rps));
    out[`${label}${k}P99Ms`] = round(avg(xs, (x) => x.p99));
    out[`${label}${k}Errors`] = xs.reduce((a, x) => a + x.errors, 0);
  }
  for (const k of Object.keys(relayed)) {
    out[`${label}${k}ToDirectRatio`] = round(avg(runs[k]!, (x) => x.rps) / avg(runs.Direct!, (x) => x.rps));
    // Latency the same way round: direct p99 / relayed p99 (1 = no added tail).
    out[`${label}${k}P99DirectToRelayedRatio`] = round(avg(runs.Direct!, (x) => x.p99) / avg(runs[k]!, (x) => x.p99));
  }
  return out;
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

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log(JSON.stringify({ bench: 'service-proxy-userspace', skipped: 'needs root (the pod network and the ClusterIP portals)' }));
    return;
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'skiff-bench-usp-'));
  const nodePort = 31590;
  const server = await spawnServer(
    ['--data-dir', dataDir, '--node-name', `bench-usp-${process.pid}`, '--runtime', 'process', '--kubelet-port', '0', '--https-listen-port', '0', '--bind-address', '127.0.0.1', '--cluster-cidr', '10.93.0.0/16', '--service-cidr', '10.94.0.0/16', '--service-node-port-range', '31500-31599', '--proxy-mode', 'userspace'],
    60_000,
    {},
    { agent: true },
  );
  try {
    const deadline = Date.now() + 60_000;
    while (!/skiff node ready/.test(server.output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const kc = parseYaml(readFileSync(join(dataDir, 'kubeconfig.yaml'), 'utf8'));
    const b64 = (x: string) => Buffer.from(x, 'base64').toString();
    const a: Api = { port: server.port, agent: new https.Agent({ keepAlive: true, maxSockets: 4 }), tls: { ca: b64(kc.clusters[0].cluster['certificate-authority-data']), cert: b64(kc.users[0].user['client-certificate-data']), key: b64(kc.users[0].user['client-key-data']) } };
    await api(a, 'POST', '/api/v1/namespaces', { metadata: { name: 'bench' } });
    for (let i = 0; ; i++) {
      try {
        await api(a, 'GET', '/api/v1/namespaces/bench/serviceaccounts/default');
        break;
      } catch (err) {
        if (i > 100) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    const web = "require('http').createServer((q, s) => s.end('ok')).listen(8080)";
    await api(a, 'POST', '/api/v1/namespaces/bench/pods', { metadata: { name: 'echo', labels: { app: 'echo' } }, spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'echo', image: 'node', command: ['node', '-e', web], readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 } }] } });
    const svc = await api(a, 'POST', '/api/v1/namespaces/bench/services', { metadata: { name: 'echo' }, spec: { type: 'NodePort', selector: { app: 'echo' }, ports: [{ port: 80, targetPort: 8080, nodePort }] } });
    const node = await api(a, 'GET', `/api/v1/nodes/bench-usp-${process.pid}`);
    const nodeIP: string = node.status.addresses.find((x: { type: string }) => x.type === 'InternalIP').address;
    const vip: string = svc.spec.clusterIP;
    let podIP = '';
    const t0 = performance.now();
    for (;;) {
      const pod = await api(a, 'GET', '/api/v1/namespaces/bench/pods/echo');
      podIP = pod.status?.podIP ?? '';
      if (podIP && (await getBody(vip, 80)) === 'ok' && (await getBody(nodeIP, nodePort)) === 'ok') break;
      if (performance.now() - t0 > 60_000) throw new Error(`the echo pod did not answer through its Service; server output:\n${server.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const relayed = { ClusterIp: [vip, 80] as [string, number], NodePort: [nodeIP, nodePort] as [string, number] };
    const result = {
      bench: 'service-proxy-userspace',
      sliceMs: SLICE_MS,
      rounds: ROUNDS,
      loadAverage: loadavg().map((x) => round(x)),
      concurrency: CONCURRENCY,
      ...(await compare([podIP, 8080], relayed, false, 'NewConn')),
      ...(await compare([podIP, 8080], relayed, true, 'KeepAlive')),
    };
    console.log(JSON.stringify(result));
  } finally {
    server.child.kill('SIGTERM');
    const timer = setTimeout(() => server.child.kill('SIGKILL'), 20_000);
    await waitExit(server.child);
    clearTimeout(timer);
    await hardCleanAgent({ dataDir }).catch(() => []);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
