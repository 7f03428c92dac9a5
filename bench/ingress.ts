/**
 * bench/ingress: requests/s and latency through the built-in ingress vs directly to the pod, in the same run, on one
 * real node (`skiff server` with its embedded agent, --runtime process, in its own process).
 *
 * One pod (a one-line node HTTP server answering `ok`) behind a ClusterIP Service and an Ingress rule for bench.test.
 * The load generator (this process) keeps --connections keep-alive connections busy for --seconds per round, in
 * alternating rounds (direct, ingress HTTP, ingress HTTPS, ... --rounds times) so drift on the shared machine touches
 * each the same; each target's figures are the median of its rounds. Direct = the pod IP:8080 from the host (what a
 * client inside the cluster gets without any proxy); ingress = 127.0.0.1:<ingress port> with Host: bench.test.
 *
 * The ingress serves plain HTTP through its fast path (fast-http.ts); the same node also serves it through the http
 * module alone on a third port (SKIFF_INGRESS_BASELINE_HTTP_PORT), measured in the same rounds as `ingressHttpModule`
 * (the two swap places every round). Per round the server process's CPU time per request (user + system, from
 * /proc) is reported too: under a loaded machine it is steadier than requests/s.
 *
 * Target (issue 8): ingress requests/s >= 50 % of direct. The generator, the ingress (the server process) and the pod
 * share the machine's cores, so the ratio includes the ingress's CPU cost, which is what a one-node cluster pays.
 * Needs root (pod network namespaces). Prints one JSON object.
 * Usage: npm run build && node dist/bench/ingress.js [--connections 32] [--seconds 4] [--rounds 3] [--cpu-prof DIR]
 *   [--cluster-cidr 10.74.64.0/18]
 * (--cpu-prof: the server process runs under node --cpu-prof and writes its profile to DIR when it stops).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hardCleanAgent } from '../test/helpers/agent-cleanup.js';
import { spawnServer, waitExit } from '../test/helpers/server-process.js';
import { docs, nodeDeployment } from '../test/helpers/workloads.js';

const arg = (name: string, dflt: string) => (process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1]! : dflt);
const CONNECTIONS = Number(arg('connections', '32'));
const SECONDS = Number(arg('seconds', '4'));
const ROUNDS = Number(arg('rounds', '3'));
const CPU_PROF = arg('cpu-prof', '');
const CLUSTER_CIDR = arg('cluster-cidr', '10.74.64.0/18');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Target {
  name: string;
  request: (agent: http.Agent) => http.ClientRequest;
  agent: () => http.Agent;
}
interface Result {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** The server process's CPU time per request in this round, µs (it also runs the API server, idle meanwhile). */
  serverCpuUsPerRequest?: number;
}

function quantile(sorted: number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : NaN;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Closed-loop load: CONNECTIONS workers, each one request at a time on its own keep-alive connection. */
async function load(t: Target, seconds: number): Promise<Result> {
  const agent = t.agent();
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const start = performance.now();
      const req = t.request(agent);
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) latencies.push(performance.now() - start);
          else errors++;
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });
  const worker = async () => {
    while (performance.now() < end) await one();
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { rps: Math.round(latencies.length / elapsed), p50Ms: +quantile(latencies, 0.5).toFixed(2), p99Ms: +quantile(latencies, 0.99).toFixed(2), errors };
}

/** A process's CPU time so far (user + system, all threads), µs, from /proc (clock ticks of 10 ms). */
function cpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10_000;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench/ingress needs root (the process runtime puts pods in network namespaces)');
  const suffix = randomBytes(3).toString('hex');
  const dataDir = await mkdtemp(join(tmpdir(), 'skiff-bench-ingress-'));
  const httpPort = 27000 + (randomBytes(2).readUInt16BE(0) % 1000) * 2;
  const server = await spawnServer(
    ['--data-dir', dataDir, '--node-name', `bench-ing-${suffix}`, '--runtime', 'process', '--kubelet-port', '0', '--https-listen-port', '0', '--bind-address', '127.0.0.1',
      '--cluster-cidr', CLUSTER_CIDR, '--service-cidr', '10.84.64.0/18', '--service-node-port-range', '31240-31249',
      '--ingress-http-port', String(httpPort), '--ingress-https-port', String(httpPort + 1)],
    30_000, { SKIFF_INGRESS_BASELINE_HTTP_PORT: String(httpPort + 2) }, { agent: true, ...(CPU_PROF ? { prefix: ['sh', '-c', `exec "$0" --cpu-prof --cpu-prof-dir=${CPU_PROF} "$@"`] } : {}) },
  );
  const kubectl = async (args: string[], input?: string) => {
    const p = execFile('kubectl', ['--kubeconfig', join(dataDir, 'kubeconfig.yaml'), ...args]);
    if (input !== undefined) p.stdin!.end(input);
    return new Promise<string>((resolve, reject) => {
      let out = '';
      let err = '';
      p.stdout!.on('data', (c) => (out += c));
      p.stderr!.on('data', (c) => (err += c));
      p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`kubectl ${args.join(' ')}: ${err}`))));
    });
  };
  const NS = 'bench-ingress';
  try {
    const deadline = Date.now() + 30_000;
    while (!/skiff node ready/.test(server.output())) {
      if (Date.now() > deadline || server.child.exitCode !== null) throw new Error(`the node agent is not ready:\n${server.output()}`);
      await sleep(100);
    }
    await kubectl(['create', 'namespace', NS]);
    while (!(await kubectl(['-n', NS, 'get', 'serviceaccount', 'default']).then(() => true, () => false))) await sleep(200);
    const web = `require('http').createServer((q, s) => s.end('ok')).listen(8080)`;
    await kubectl(['apply', '-f', '-'], docs(nodeDeployment(NS, 'web', 1, [{ name: 'web', script: web, readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 } }]), `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ${NS}}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: ${NS}}
spec:
  rules:
  - host: bench.test
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}`));
    await kubectl(['-n', NS, 'wait', '--for=condition=available', 'deployment/web', '--timeout=60s']);
    const pods = JSON.parse(await kubectl(['-n', NS, 'get', 'pods', '-o', 'json']));
    const podIP: string = pods.items[0].status.podIP;

    const direct: Target = { name: 'direct', agent: () => new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS }), request: (agent) => http.request({ host: podIP, port: 8080, path: '/', agent }) };
    const ingress: Target = { name: 'ingress', agent: () => new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS }), request: (agent) => http.request({ host: '127.0.0.1', port: httpPort, path: '/', headers: { host: 'bench.test' }, agent }) };
    const ingressHttpModule: Target = { name: 'ingressHttpModule', agent: () => new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS }), request: (agent) => http.request({ host: '127.0.0.1', port: httpPort + 2, path: '/', headers: { host: 'bench.test' }, agent }) };
    const ingressTls: Target = {
      name: 'ingressHttps',
      agent: () => new https.Agent({ keepAlive: true, maxSockets: CONNECTIONS, rejectUnauthorized: false, servername: 'bench.test' }),
      request: (agent) => https.request({ host: '127.0.0.1', port: httpPort + 1, path: '/', headers: { host: 'bench.test' }, agent, servername: 'bench.test', rejectUnauthorized: false }),
    };
    // The ingress answers once it has the route.
    for (let i = 0; ; i++) {
      const r = await load(ingress, 0.2);
      if (r.rps > 0 && r.errors === 0) break;
      if (i > 100) throw new Error('the ingress never routed bench.test');
      await sleep(200);
    }
    for (const t of [direct, ingress, ingressHttpModule, ingressTls]) await load(t, 1); // warm-up: JIT, connection pools
    const rounds: Record<string, Result[]> = { direct: [], ingress: [], ingressHttpModule: [], ingressHttps: [] };
    const pid = server.child.pid!;
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? [direct, ingress, ingressHttpModule, ingressTls] : [direct, ingressHttpModule, ingress, ingressTls];
      for (const t of order) {
        const before = cpuUs(pid);
        const result = await load(t, SECONDS);
        result.serverCpuUsPerRequest = Math.round((cpuUs(pid) - before) / Math.max(1, result.rps * SECONDS));
        rounds[t.name]!.push(result);
      }
    }
    const summary = (xs: Result[]): Result => ({
      rps: median(xs.map((x) => x.rps)), p50Ms: median(xs.map((x) => x.p50Ms)), p99Ms: median(xs.map((x) => x.p99Ms)), errors: xs.reduce((n, x) => n + x.errors, 0),
      serverCpuUsPerRequest: median(xs.map((x) => x.serverCpuUsPerRequest!)),
    });
    const d = summary(rounds.direct!);
    const i = summary(rounds.ingress!);
    const h = summary(rounds.ingressHttpModule!);
    const s = summary(rounds.ingressHttps!);
    const roundRatio = (name: string) => +median(rounds[name]!.map((x, k) => x.rps / rounds.direct![k]!.rps)).toFixed(3);
    console.log(
      JSON.stringify(
        {
          bench: 'ingress',
          connections: CONNECTIONS,
          secondsPerRound: SECONDS,
          rounds: ROUNDS,
          direct: d,
          ingress: i,
          ingressHttpModule: h,
          ingressHttps: s,
          loadAverage: (await import('node:os')).loadavg().map((x) => +x.toFixed(1)),
          ratio: {
            rps: +(i.rps / d.rps).toFixed(3), rpsHttpModule: +(h.rps / d.rps).toFixed(3), rpsHttps: +(s.rps / d.rps).toFixed(3), p99: +(i.p99Ms / d.p99Ms).toFixed(2),
            medianOfRounds: { ingress: roundRatio('ingress'), ingressHttpModule: roundRatio('ingressHttpModule'), ingressHttps: roundRatio('ingressHttps') },
          },
          target: 'ingress rps >= 0.5 x direct',
          met: i.rps / d.rps >= 0.5,
          perRound: rounds,
        },
        null,
        2,
      ),
    );
  } finally {
    await kubectl(['delete', 'namespace', NS, '--timeout=40s']).catch(() => undefined);
    server.child.kill('SIGTERM');
    const timer = setTimeout(() => server.child.kill('SIGKILL'), 15_000);
    await waitExit(server.child);
    clearTimeout(timer);
    const report = await hardCleanAgent({ dataDir });
    if (report.length) await writeFile(join(tmpdir(), `skiff-bench-ingress-${suffix}.cleanup.txt`), report.join('\n'));
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

