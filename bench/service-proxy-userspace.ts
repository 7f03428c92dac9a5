/**
 * bench/service-proxy-userspace: what the userspace proxy's relay costs, against going to the pod directly in the same
 * run. `skiff server` with its embedded agent (process runtime, --proxy-mode userspace, as root so the ClusterIP is
 * redirected to the relay) runs one pod, a node HTTP server answering "ok", behind a ClusterIP + NodePort Service.
 * From the node, 8 requests at a time, in 1 s slices alternating 6 times (after an unmeasured half slice of each; each
 * round starts with the next target): directly to the pod IP, through the ClusterIP (REDIRECT → the agent's relay →
 * the pod) and through the NodePort (the agent listens on it); once with a new connection per request and once with
 * kept-alive connections. Prints JSON with requests/s, p99 and the ratios
 * relayed / direct (the target is ≥ 0.70), and the relay's CPU per request: the server process's CPU time
 * (/proc/<pid>/stat, all threads) during the relayed slices, less what it spent in as long a time of direct slices
 * (its idle work: probes, informers), over the requests relayed. Far less sensitive than requests/s to other load on
 * the machine, which only changes how fast the cores run it; with the load generator's and the pod's CPU per request,
 * it gives the ratio a run bound by CPU alone would show (CpuBoundRatio). Then the same comparison with the relay alone
 * in a fresh network namespace (the Netns* figures, see relayInFreshNetns).
 *
 * The load generator, the relay (inside the server process) and the pod share the machine's cores, as the direct
 * path's client and pod do.
 */
import http from 'node:http';
import https from 'node:https';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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
const sum = <T>(xs: T[], f: (x: T) => number) => xs.reduce((a, x) => a + f(x), 0);

interface Load {
  rps: number;
  p99: number;
  errors: number;
  requests: number;
  /** CPU time during the slice, µs, of the relaying process, the pod and this process (the load generator). */
  cpuUs: number;
  podCpuUs: number;
  clientCpuUs: number;
  wallMs: number;
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
/** utime + stime of every thread of a process, µs (fields 14 and 15 of /proc/<pid>/stat; the name may hold spaces). */
function processCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1e6) / CLK_TCK;
}
/** The relaying process (the server with its embedded agent) and the pod's. */
let relayPid = 0;
let podPids: number[] = [];
const selfCpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
/** The processes whose command line contains text (the pod: host processes on the process runtime, with any wrapper). */
function pidsOf(text: string): number[] {
  const pids = readdirSync('/proc').filter((d) => {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) return false;
    try {
      return readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(text);
    } catch {
      return false; // Gone meanwhile.
    }
  });
  if (pids.length === 0) throw new Error(`no process runs ${text}`);
  return pids.map(Number);
}
const podCpuUs = () => sum(podPids, processCpuUs);

async function load(host: string, port: number, ms: number, keepAlive: boolean): Promise<Load> {
  const agent = keepAlive ? new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY }) : false;
  const lat: number[] = [];
  let errors = 0;
  const cpu0 = processCpuUs(relayPid);
  const pod0 = podCpuUs();
  const self0 = selfCpuUs();
  const start = performance.now();
  const end = start + ms;
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
  const wallMs = performance.now() - start;
  const cpuUs = processCpuUs(relayPid) - cpu0;
  const podUs = podCpuUs() - pod0;
  const clientCpuUs = selfCpuUs() - self0;
  if (agent) agent.destroy();
  return { rps: lat.length / (ms / 1000), p99: pct(lat, 99), errors, requests: lat.length, cpuUs, podCpuUs: podUs, clientCpuUs, wallMs };
}

/** Direct vs the relayed targets in alternating slices (the machine is shared: its load drifts between slices). */
async function compare(direct: [string, number], relayed: Record<string, [string, number]>, keepAlive: boolean, label: string): Promise<Record<string, number>> {
  const targets: [string, [string, number]][] = [['Direct', direct], ...Object.entries(relayed)];
  const runs: Record<string, Load[]> = {};
  for (const [k] of targets) runs[k] = [];
  // One unmeasured slice per target first: the pod's, the relay's and this process's code paths are compiled and their
  // buffers grown before anything counts (otherwise the first target measured pays the pod's and the load generator's
  // warm-up, and the relay's first slices its own V8 compile threads' CPU).
  for (const [, [h, p]] of targets) await load(h, p, SLICE_MS / 2, keepAlive);
  // Each round starts with the next target, so no path is always measured first (or always right after another).
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < targets.length; i++) {
      const [k, [h, p]] = targets[(r + i) % targets.length]!;
      runs[k]!.push(await load(h, p, SLICE_MS, keepAlive));
    }
  }
  const avg = (xs: Load[], f: (x: Load) => number) => xs.reduce((a, x) => a + f(x), 0) / xs.length;
  const out: Record<string, number> = {};
  for (const [k, xs] of Object.entries(runs)) {
    out[`${label}${k}Rps`] = Math.round(avg(xs, (x) => x.rps));
    out[`${label}${k}P99Ms`] = round(avg(xs, (x) => x.p99));
    out[`${label}${k}Errors`] = xs.reduce((a, x) => a + x.errors, 0);
    // Context for the relay's figure: what the two ends spend per request on each path.
    out[`${label}${k}ClientCpuUsPerRequest`] = Math.round(sum(xs, (x) => x.clientCpuUs) / sum(xs, (x) => x.requests));
    out[`${label}${k}PodCpuUsPerRequest`] = Math.round(sum(xs, (x) => x.podCpuUs) / sum(xs, (x) => x.requests));
  }
  for (const k of Object.keys(relayed)) {
    out[`${label}${k}ToDirectRatio`] = round(avg(runs[k]!, (x) => x.rps) / avg(runs.Direct!, (x) => x.rps));
    // Latency the same way round: direct p99 / relayed p99 (1 = no added tail).
    out[`${label}${k}P99DirectToRelayedRatio`] = round(avg(runs.Direct!, (x) => x.p99) / avg(runs[k]!, (x) => x.p99));
    // The relay's own CPU per request: the process's CPU in these slices less its idle rate (the direct slices).
    const idleUsPerMs = sum(runs.Direct!, (x) => x.cpuUs) / sum(runs.Direct!, (x) => x.wallMs);
    const relayUs = sum(runs[k]!, (x) => x.cpuUs) - idleUsPerMs * sum(runs[k]!, (x) => x.wallMs);
    out[`${label}${k}RelayCpuUsPerRequest`] = Math.round(relayUs / sum(runs[k]!, (x) => x.requests));
    // How much of a core the relaying process used while relaying (1 = the relay's event loop saturated).
    out[`${label}${k}RelayCores`] = round(sum(runs[k]!, (x) => x.cpuUs) / 1000 / sum(runs[k]!, (x) => x.wallMs));
    // The requests/s ratio a run bound by CPU alone would show: CPU per request of the direct path (load generator and
    // pod) over the relayed one's (the same plus the relay). Other load on the machine slows all three alike, so this
    // moves far less between runs than the measured ratio.
    const perRequest = (xs: Load[], f: (x: Load) => number) => sum(xs, f) / sum(xs, (x) => x.requests);
    const directUs = perRequest(runs.Direct!, (x) => x.clientCpuUs + x.podCpuUs);
    const relayedUs = perRequest(runs[k]!, (x) => x.clientCpuUs + x.podCpuUs) + relayUs / sum(runs[k]!, (x) => x.requests);
    out[`${label}${k}CpuBoundRatio`] = round(directUs / relayedUs);
  }
  out[`${label}RelayProcessIdleCores`] = round(sum(runs.Direct!, (x) => x.cpuUs) / 1000 / sum(runs.Direct!, (x) => x.wallMs));
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
  relayPid = server.child.pid!;
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
    podPids = pidsOf(web);
    const relayed = { ClusterIp: [vip, 80] as [string, number], NodePort: [nodeIP, nodePort] as [string, number] };
    const result = {
      bench: 'service-proxy-userspace',
      sliceMs: SLICE_MS,
      rounds: ROUNDS,
      loadAverage: loadavg().map((x) => round(x)),
      concurrency: CONCURRENCY,
      ...(await compare([podIP, 8080], relayed, false, 'NewConn')),
      ...(await compare([podIP, 8080], relayed, true, 'KeepAlive')),
      ...(await relayInFreshNetnsChild()),
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

/**
 * The relay alone, in a fresh network namespace (`unshare -n`: loopback only, no netfilter rules): an HTTP server on
 * 127.0.0.2, the relay (proxy-socket.ts, in a process of its own) on 127.0.0.1, this process as the load generator;
 * the same alternating slices. What the relay's own code costs, apart from the host's rules (every packet the host
 * sends or receives walks its iptables chains, and the relayed path has twice the host's packets).
 */
async function relayInFreshNetns(): Promise<Record<string, number>> {
  const spawnNode = (code: string) => spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const firstLine = (c: ReturnType<typeof spawnNode>) => new Promise<string>((resolve, reject) => {
    c.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
    c.once('exit', (code) => reject(new Error(`exited (${code}) before it was listening`)));
  });
  const backend = spawnNode("import http from 'node:http'; http.createServer((q, s) => s.end('ok')).listen(8080, '127.0.0.2', () => console.log('up'))");
  const proxySocket = new URL('../src/proxy/userspace/proxy-socket.js', import.meta.url).href;
  const relay = spawnNode(
    `const { openProxySocket } = await import(${JSON.stringify(proxySocket)}); const s = await openProxySocket({ protocol: 'TCP', port: 0, bindAddress: '127.0.0.1' }); s.setEndpoints([{ ip: '127.0.0.2', port: 8080 }], undefined); console.log(s.port);`,
  );
  try {
    await firstLine(backend);
    const port = Number(await firstLine(relay));
    relayPid = relay.pid!;
    podPids = [backend.pid!];
    return {
      ...(await compare(['127.0.0.2', 8080], { Relay: ['127.0.0.1', port] }, false, 'NetnsNewConn')),
      ...(await compare(['127.0.0.2', 8080], { Relay: ['127.0.0.1', port] }, true, 'NetnsKeepAlive')),
    };
  } finally {
    backend.kill('SIGKILL');
    relay.kill('SIGKILL');
  }
}

/** Runs relayInFreshNetns in a copy of this script under `unshare -n`; its JSON, or why not. */
async function relayInFreshNetnsChild(): Promise<Record<string, number | string>> {
  const child = spawn('unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, process.argv[1]!], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, USP_BENCH_NETNS: '1' } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const line = out.split('\n').find((l) => l.startsWith('{'));
  if (code !== 0 || !line) return { netnsSkipped: `unshare -n failed (${code}): ${err.trim().slice(-300)}` };
  return JSON.parse(line);
}

if (process.env.USP_BENCH_NETNS === '1') console.log(JSON.stringify(await relayInFreshNetns()));
else await main();
