/**
 * bench/prometheus-metrics: what the Prometheus instrumentation (src/observability) costs on the API server's create
 * path, measured in this run against the same server without it (SKIFF_INSTRUMENTATION=off), plus the per-request cost
 * of the label cells against prom-client's own children. Prints one JSON object.
 *   - creates/s, 64 keep-alive clients (closed loop, ConfigMaps, real TLS + client certificates, SQLite), `skiff server`
 *     run as a child process, alternately off / on, `--rounds` times each; ratio = on / off (target: cost < 3 %);
 *   - the server's CPU time per create (utime + stime from /proc over the measured phase): steadier than creates/s
 *     when other work shares the machine, so the cost figure is taken from it;
 *   - ns per request for one apiserver_request_total inc + one apiserver_request_duration_seconds observe, with
 *     (a) the cached cells skiff uses and (b) prom-client Counter/Histogram children resolved once (`labels(...)`);
 *   - the /metrics scrape after the load: its size, wall time and server CPU per scrape (ten on one connection).
 * Usage: npx tsc -p tsconfig.json && node dist/bench/prometheus-metrics.js [--seconds 5] [--rounds 2]
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Counter, Histogram, Registry } from 'prom-client';
import { parse as parseYaml } from 'yaml';
import { REQUEST_DURATION_BUCKETS, requestCell } from '../src/observability/apiserver-metrics.js';
import { spawnServer, stopChild } from '../test/helpers/server-process.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) || dflt : dflt;
};
const seconds = arg('--seconds', 5);
const rounds = arg('--rounds', 2);
const CONCURRENCY = 64;

interface Tls {
  ca: string;
  cert: string;
  key: string;
}

function request(port: number, tls: Tls, agent: https.Agent, method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, method, path, agent, ...tls, headers: body ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

/** CPU seconds (user + system) the process has used, from /proc (clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

let seq = 0;
async function closedLoopCreates(port: number, pid: number, tls: Tls, durationMs: number): Promise<{ creates_per_s: number; cpu_ms_per_create: number; errors: number }> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let done = 0;
  let errors = 0;
  const path = '/api/v1/namespaces/default/configmaps';
  // One second of warm-up opens the connections (TLS handshakes are not what is measured).
  const warmEnd = performance.now() + 1000;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (performance.now() < warmEnd) await request(port, tls, agent, 'POST', path, JSON.stringify({ metadata: { name: `w-${seq++}` }, data: { k: 'v' } })).catch(() => undefined);
  }));
  const start = performance.now();
  const cpuStart = cpuSeconds(pid);
  const end = start + durationMs;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (performance.now() < end) {
      const r = await request(port, tls, agent, 'POST', path, JSON.stringify({ metadata: { name: `c-${seq++}`, labels: { app: 'bench' } }, data: { key: 'value' } })).catch(() => undefined);
      if (r?.status === 201) done++;
      else errors++;
    }
  }));
  const cpu = cpuSeconds(pid) - cpuStart;
  agent.destroy();
  return { creates_per_s: Math.round(done / ((performance.now() - start) / 1000)), cpu_ms_per_create: Math.round((cpu * 1000 * 1000) / Math.max(1, done)) / 1000, errors };
}

async function serverRound(instrumented: boolean): Promise<{ creates_per_s: number; cpu_ms_per_create: number; errors: number; scrape?: { bytes: number; ms: number; server_cpu_ms: number; series_request_total: number } }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'skiff-bench-prom-'));
  const server = await spawnServer(['--data-dir', dataDir, '--https-listen-port', '0', '--bind-address', '127.0.0.1', '--disable', 'ingress,servicelb,coredns,metrics-server'], 30_000, instrumented ? {} : { SKIFF_INSTRUMENTATION: 'off' });
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const kc = parseYaml(await readFile(join(dataDir, 'kubeconfig.yaml'), 'utf8'));
    const b64 = (s: string) => Buffer.from(s, 'base64').toString();
    const tls: Tls = { ca: b64(kc.clusters[0].cluster['certificate-authority-data']), cert: b64(kc.users[0].user['client-certificate-data']), key: b64(kc.users[0].user['client-key-data']) };
    const result = await closedLoopCreates(server.port, server.child.pid!, tls, seconds * 1000);
    if (!instrumented) return result;
    // Ten scrapes on one kept-alive connection (as Prometheus scrapes): wall time and the server's CPU for each.
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    let scrape = await request(server.port, tls, agent, 'GET', '/metrics');
    const cpu0 = cpuSeconds(server.child.pid!);
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) scrape = await request(server.port, tls, agent, 'GET', '/metrics');
    const ms = Math.round((performance.now() - t0) / 10 * 10) / 10;
    const cpuMs = Math.round(((cpuSeconds(server.child.pid!) - cpu0) * 1000) / 10 * 10) / 10;
    agent.destroy();
    if (scrape.status !== 200) throw new Error(`/metrics answered ${scrape.status}: ${scrape.text.slice(0, 200)}`);
    return { ...result, scrape: { bytes: scrape.text.length, ms, server_cpu_ms: cpuMs, series_request_total: scrape.text.split('\n').filter((l) => l.startsWith('apiserver_request_total{')).length } };
  } finally {
    await stopChild(server.child);
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** ns per call of fn, best of 5 runs of n calls. */
function nsPerCall(n: number, fn: (i: number) => void): number {
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn(i);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / n);
  }
  return Math.round(best);
}

function labelCost() {
  const n = 200_000;
  const started = performance.now() - 3;
  // The front door's work per request: resolve the cell from the request's labels, record code and duration.
  const input = { method: 'POST', verb: 'create', apiGroup: '', apiVersion: 'v1', resource: 'configmaps', subresource: '', namespace: 'default', name: '', contentType: 'application/json', dryRun: [] as string[] };
  const cells = nsPerCall(n, () => requestCell(input).record(201, started));
  // prom-client with its children resolved once (the cheapest way to use it): it still hashes the labels per call.
  const registry = new Registry();
  const labels = ['verb', 'dry_run', 'group', 'version', 'resource', 'subresource', 'scope', 'component'];
  const counter = new Counter({ name: 'b_request_total', help: 'x', labelNames: [...labels, 'code'], registers: [registry] });
  const histogram = new Histogram({ name: 'b_request_duration_seconds', help: 'x', labelNames: labels, buckets: REQUEST_DURATION_BUCKETS, registers: [registry] });
  const values = ['POST', '', '', 'v1', 'configmaps', '', 'resource', 'apiserver'];
  const c = counter.labels(...values, '201');
  const h = histogram.labels(...values);
  const promClient = nsPerCall(n, () => {
    c.inc();
    h.observe((performance.now() - started) / 1000);
  });
  const baseline = nsPerCall(n, () => void ((performance.now() - started) / 1000));
  return { cached_cells_ns: cells, prom_client_children_ns: promClient, timing_only_baseline_ns: baseline, ratio_prom_client_over_cells: Math.round((promClient / cells) * 100) / 100 };
}

async function main() {
  const perRequest = labelCost();
  const off: number[] = [];
  const on: number[] = [];
  const cpuOff: number[] = [];
  const cpuOn: number[] = [];
  let scrape: unknown;
  let errors = 0;
  for (let r = 0; r < rounds; r++) {
    const a = await serverRound(false);
    const b = await serverRound(true);
    off.push(a.creates_per_s);
    on.push(b.creates_per_s);
    cpuOff.push(a.cpu_ms_per_create);
    cpuOn.push(b.cpu_ms_per_create);
    errors += a.errors + b.errors;
    scrape = b.scrape;
  }
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const ratio = mean(on) / mean(off);
  const cpuRatio = mean(cpuOn) / mean(cpuOff);
  const round3 = (x: number) => Math.round(x * 1000) / 1000;
  console.log(
    JSON.stringify(
      {
        bench: 'prometheus-metrics',
        seconds_per_round: seconds,
        rounds,
        creates_per_s: { instrumentation_off: off, instrumentation_on: on, mean_off: Math.round(mean(off)), mean_on: Math.round(mean(on)), ratio_on_over_off: round3(ratio) },
        server_cpu_ms_per_create: { instrumentation_off: cpuOff, instrumentation_on: cpuOn, mean_off: round3(mean(cpuOff)), mean_on: round3(mean(cpuOn)), ratio_on_over_off: round3(cpuRatio) },
        cost_percent: Math.round((cpuRatio - 1) * 1000) / 10,
        load_average_1m: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
        errors,
        per_request: perRequest,
        scrape_after_load: scrape,
        target: { cost_percent: '< 3' },
      },
      null,
      2,
    ),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
