/**
 * bench/ingress-proxy: the ingress data path alone, without a cluster. Three processes: a backend (a one-line node
 * HTTP server answering `ok`, as bench/ingress's pod), the IngressProxy with a one-rule table (its own process, so its
 * CPU is its own and can be profiled), and this load generator. Requests/s straight to the backend vs through the
 * proxy, in alternating rounds; medians. What bench/ingress measures on a real node, minus the node (no API server,
 * no controllers, no pod network), so changes to ingress-proxy.ts show here first. Two proxies run side by side: the
 * fast path (fast-http.ts, the default) and the http-module path alone (fastPath: false, the baseline), and each round
 * measures direct, baseline and fast one after the other, so all three see the same machine load.
 *
 * Usage: npm run build && node dist/bench/ingress-proxy.js [--connections 32] [--seconds 3] [--rounds 5] [--cpu-prof DIR] [--https]
 * Prints one JSON object.
 */
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import { fileURLToPath } from 'node:url';

const arg = (name: string, dflt: string) => (process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1]! : dflt);
const CONNECTIONS = Number(arg('connections', '32'));
const SECONDS = Number(arg('seconds', '3'));
const ROUNDS = Number(arg('rounds', '5'));
const CPU_PROF = arg('cpu-prof', '');
/** --https: the proxies are measured through their TLS port (keep-alive connections, so mostly the data path). */
const HTTPS = process.argv.includes('--https');

interface Result {
  rps: number;
  /** The proxy process's CPU time per request (user + system), when a proxy is measured: steadier than rps under load. */
  cpuUsPerRequest?: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const quantile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : NaN);

/** Closed loop: CONNECTIONS workers, one request at a time each, on keep-alive connections (bench/ingress's load). */
async function load(port: number, seconds: number, tls = false): Promise<Result> {
  const agent = tls ? new https.Agent({ keepAlive: true, maxSockets: CONNECTIONS, rejectUnauthorized: false }) : new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const start = performance.now();
      const req = (tls ? https : http).request({ host: '127.0.0.1', port, path: '/', headers: { host: 'bench.test' }, agent, servername: 'bench.test' });
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

/** Child roles: `backend` answers ok; `proxy <backendPort>` runs IngressProxy; each prints its port. */
async function child(role: string): Promise<void> {
  if (role === 'backend') {
    const s = http.createServer((_q, r) => r.end('ok')).listen(0, '127.0.0.1', () => process.send!((s.address() as { port: number }).port));
    return;
  }
  const { IngressProxy } = await import('../src/ingress/ingress-proxy.js');
  const { createDefaultCertificate } = await import('../src/ingress/default-certificate.js');
  const backendPort = Number(process.argv[4]);
  const fastPath = process.argv[5] !== 'http';
  const proxy = new IngressProxy({ bindAddress: '127.0.0.1', httpPort: 0, httpsPort: 0, defaultCertificate: await createDefaultCertificate(), fastPath });
  await proxy.listen();
  const backend = { name: 'bench/web:80', endpoints: [`127.0.0.1:${backendPort}`] };
  proxy.setTable({ hosts: new Map([['bench.test', [{ pathType: 'Prefix', path: '/', backend }]]]), wildcards: new Map(), anyHost: [], certificates: new Map(), warnings: [], ingressWarnings: [] });
  process.send!(HTTPS ? proxy.httpsPort : proxy.httpPort);
  // Exit normally on the parent's word, so --cpu-prof writes its profile.
  process.on('message', async (m) => {
    if (m === 'cpu') {
      const u = process.cpuUsage();
      return process.send!({ cpuUs: u.user + u.system });
    }
    await proxy.close();
    process.exit(0);
  });
}

/** The CPU time (µs) a proxy child has used so far. */
function cpuOf(c: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    c.once('message', (m: { cpuUs: number }) => resolve(m.cpuUs));
    c.send('cpu');
  });
}

/** A load round through a proxy child, with its CPU time per request. */
async function loadThrough(p: { child: ChildProcess; port: number }, seconds: number): Promise<Result> {
  const before = await cpuOf(p.child);
  const r = await load(p.port, seconds, HTTPS);
  const requests = r.rps * seconds;
  return { ...r, cpuUsPerRequest: Math.round(((await cpuOf(p.child)) - before) / Math.max(1, requests)) };
}

function start(role: string, extra: string[] = [], execArgv: string[] = []): Promise<{ child: ChildProcess; port: number }> {
  const c = fork(fileURLToPath(import.meta.url), ['child', role, ...extra], { execArgv: [...process.execArgv, ...execArgv] });
  return new Promise((resolve, reject) => {
    c.once('message', (port) => resolve({ child: c, port: Number(port) }));
    c.once('exit', (code) => reject(new Error(`${role} exited (${code})`)));
  });
}

async function main(): Promise<void> {
  const backend = await start('backend');
  const prof = CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`] : [];
  const tlsArg = HTTPS ? ['--https'] : [];
  const proxy = await start('proxy', [String(backend.port), 'fast', ...tlsArg], prof);
  const baseline = await start('proxy', [String(backend.port), 'http', ...tlsArg], prof);
  try {
    for (const [port, tls] of [[backend.port, false], [baseline.port, HTTPS], [proxy.port, HTTPS]] as const) await load(port, 1, tls); // warm-up: JIT, pools
    const rounds: Record<'direct' | 'httpModule' | 'proxy', Result[]> = { direct: [], httpModule: [], proxy: [] };
    for (let r = 0; r < ROUNDS; r++) {
      rounds.direct.push(await load(backend.port, SECONDS));
      // Alternate which proxy goes first, so neither always follows the direct round.
      if (r % 2 === 0) {
        rounds.httpModule.push(await loadThrough(baseline, SECONDS));
        rounds.proxy.push(await loadThrough(proxy, SECONDS));
      } else {
        rounds.proxy.push(await loadThrough(proxy, SECONDS));
        rounds.httpModule.push(await loadThrough(baseline, SECONDS));
      }
    }
    const summary = (xs: Result[]): Result => ({ rps: median(xs.map((x) => x.rps)), p50Ms: median(xs.map((x) => x.p50Ms)), p99Ms: median(xs.map((x) => x.p99Ms)), errors: xs.reduce((n, x) => n + x.errors, 0), ...(xs[0]?.cpuUsPerRequest !== undefined ? { cpuUsPerRequest: median(xs.map((x) => x.cpuUsPerRequest!)) } : {}) });
    const d = summary(rounds.direct);
    const p = summary(rounds.proxy);
    const h = summary(rounds.httpModule);
    const load1 = (await import('node:os')).loadavg()[0]!;
    // Per-round ratios (each proxy round over the direct round just before it), then their median.
    const perRoundRatio = (xs: Result[]) => median(xs.map((x, i) => x.rps / rounds.direct[i]!.rps));
    console.log(
      JSON.stringify(
        {
          bench: 'ingress-proxy', https: HTTPS, connections: CONNECTIONS, secondsPerRound: SECONDS, rounds: ROUNDS, loadAverage: +load1.toFixed(1),
          direct: d, proxy: p, httpModule: h,
          ratio: +(p.rps / d.rps).toFixed(3), httpModuleRatio: +(h.rps / d.rps).toFixed(3),
          medianRoundRatio: +perRoundRatio(rounds.proxy).toFixed(3), medianRoundHttpModuleRatio: +perRoundRatio(rounds.httpModule).toFixed(3),
          perRound: rounds,
        },
        null,
        2,
      ),
    );
  } finally {
    for (const c of [proxy, baseline]) {
      const exited = new Promise((r) => c.child.once('exit', r));
      c.child.send('stop');
      await exited;
    }
    backend.child.kill();
  }
}

if (process.argv[2] === 'child') void child(process.argv[3]!);
else
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
