/**
 * bench/api: skiff's API server (SQLite store, real TLS and client-certificate auth, run as `skiff server`) beside a
 * bare Node HTTPS server that keeps JSON in a Map (bench/bare-server.ts), both measured in this run.
 * Prints one JSON object. Figures: creates/s with 64 keep-alive clients (closed loop); create p99 at 500/s and
 * GET p99 at 1,000/s (open loop); LIST of 1,000 objects; watch delivery p99 with 1,000 watchers; server RSS.
 * Usage: npm run build && node dist/bench/api.js [--seconds 5]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { spawnServer } from '../test/helpers/server-process.js';

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1]) || 5;

interface Target {
  name: string;
  port: number;
  tls: { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean };
  pid: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function stats(lat: number[]) {
  const s = [...lat].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 100) / 100;
  return { n: s.length, p50_ms: r(percentile(s, 50)), p99_ms: r(percentile(s, 99)), max_ms: r(s[s.length - 1]) };
}

function request(t: Target, agent: https.Agent, method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port: t.port, method, path, agent, ...t.tls, headers: body ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } : {} },
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

let seq = 0;
const cmBody = (prefix: string, extra: Record<string, string> = {}) =>
  JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${prefix}-${seq++}`, labels: { app: 'bench' } }, data: { key: 'value', ...extra } });
const COLLECTION = '/api/v1/namespaces/default/configmaps';

async function closedLoopCreates(t: Target, concurrency: number, durationMs: number) {
  const agent = new https.Agent({ keepAlive: true, maxSockets: concurrency });
  let done = 0;
  let errors = 0;
  const end = performance.now() + durationMs;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const r = await request(t, agent, 'POST', COLLECTION, cmBody('cl')).catch(() => undefined);
        if (r?.status === 201) done++;
        else errors++;
      }
    }),
  );
  agent.destroy();
  const secs = (performance.now() - start) / 1000;
  return { creates_per_s: Math.round(done / secs), errors };
}

/**
 * Open loop: requests are sent on a fixed schedule whether or not earlier ones finished. A one-second warm-up at the
 * same rate (not recorded) opens the keep-alive connections first, so the figures are steady-state latency rather
 * than the cost of a burst of TLS handshakes (which the client, on the same two cores, pays too).
 */
async function openLoop(t: Target, rate: number, durationMs: number, make: () => { method: string; path: string; body?: string }) {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 256 });
  await openLoopRun(t, agent, rate, 1000, make);
  const result = await openLoopRun(t, agent, rate, durationMs, make);
  agent.destroy();
  return result;
}

async function openLoopRun(t: Target, agent: https.Agent, rate: number, durationMs: number, make: () => { method: string; path: string; body?: string }) {
  const lat: number[] = [];
  let errors = 0;
  const total = Math.floor((rate * durationMs) / 1000);
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const op = make();
    // Latency from when the request was due (or sent, if the timer fired early), so a stalled server cannot hide
    // queueing behind a slow sender (no coordinated omission).
    const base = Math.min(due, performance.now());
    pending.push(
      request(t, agent, op.method, op.path, op.body).then(
        (r) => {
          lat.push(performance.now() - base);
          if (r.status >= 300) errors++;
        },
        () => {
          errors++;
        },
      ),
    );
  }
  await Promise.all(pending);
  return { rate_per_s: rate, ...stats(lat), errors };
}

async function listLatency(t: Target, n: number) {
  const agent = new https.Agent({ keepAlive: true });
  const lat: number[] = [];
  let items = 0;
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    const r = await request(t, agent, 'GET', `${COLLECTION}?labelSelector=app%3Dlist`);
    lat.push(performance.now() - s);
    items = JSON.parse(r.text).items.length;
  }
  agent.destroy();
  return { items, ...stats(lat) };
}

async function watchDelivery(t: Target, watchers: number, events: number) {
  const sockets: https.Agent[] = [];
  const lat: number[] = [];
  const sentAt = new Map<string, number>();
  let ready = 0;
  const reqs: ReturnType<typeof https.request>[] = [];
  const rv = JSON.parse((await request(t, new https.Agent(), 'GET', `${COLLECTION}?limit=1`)).text).metadata?.resourceVersion ?? '0';
  await new Promise<void>((resolveAll) => {
    for (let i = 0; i < watchers; i++) {
      const agent = new https.Agent({ keepAlive: false });
      sockets.push(agent);
      const req = https.request(
        { host: '127.0.0.1', port: t.port, method: 'GET', path: `${COLLECTION}?watch=true&resourceVersion=${rv}&labelSelector=app%3Dwatch`, agent, ...t.tls },
        (res) => {
          if (++ready === watchers) resolveAll();
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buf += chunk;
            let nl;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              const m = /"name":"(watch-\d+)"/.exec(line);
              const sent = m && sentAt.get(m[1]);
              if (sent) lat.push(performance.now() - sent);
            }
          });
          res.on('error', () => {});
        },
      );
      req.on('error', () => {});
      req.end();
      reqs.push(req);
    }
  });
  const agent = new https.Agent({ keepAlive: true });
  for (let i = 0; i < events; i++) {
    const name = `watch-${seq++}`;
    sentAt.set(name, performance.now());
    await request(t, agent, 'POST', COLLECTION, JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels: { app: 'watch' } }, data: { k: 'v' } }));
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 1000));
  for (const r of reqs) r.destroy();
  for (const a of sockets) a.destroy();
  agent.destroy();
  return { watchers, events, deliveries: lat.length, expected: watchers * events, ...stats(lat) };
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024);
}

async function measure(t: Target) {
  const out: Record<string, unknown> = {};
  out.throughput_64_clients = await closedLoopCreates(t, 64, seconds * 1000);
  out.create_open_loop_500 = await openLoop(t, 500, seconds * 1000, () => ({ method: 'POST', path: COLLECTION, body: cmBody('ol') }));
  // Seed a name to GET.
  const agent = new https.Agent({ keepAlive: true });
  await request(t, agent, 'POST', COLLECTION, JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'get-target' }, data: { a: 'b' } }));
  out.get_open_loop_1000 = await openLoop(t, 1000, seconds * 1000, () => ({ method: 'GET', path: `${COLLECTION}/get-target` }));
  // LIST: 1,000 objects selected by label (the bare server ignores selectors, so give it exactly those 1,000).
  await Promise.all(
    Array.from({ length: 8 }, async (_, w) => {
      for (let i = w; i < 1000; i += 8) await request(t, agent, 'POST', COLLECTION, JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `list-${i}`, labels: { app: 'list' } }, data: { k: 'v'.repeat(200) } }));
    }),
  );
  agent.destroy();
  out.list_1000 = await listLatency(t, 30);
  out.watch_1000_watchers = await watchDelivery(t, 1000, 40);
  out.rss_mb_after = await rssMb(t.pid);
  return out;
}

async function main() {
  const dataDir = await mkdtemp(join(tmpdir(), 'skiff-bench-api-'));
  let bare: ChildProcess | undefined;
  let skiffChild: ChildProcess | undefined;
  try {
    const skiff = await spawnServer(['--data-dir', dataDir, '--https-listen-port', '0', '--bind-address', '127.0.0.1']);
    skiffChild = skiff.child;
    await new Promise((r) => setTimeout(r, 1000));
    const idleRss = await rssMb(skiff.child.pid!);
    const kc = parseYaml(await readFile(join(dataDir, 'kubeconfig.yaml'), 'utf8'));
    const b64 = (s: string) => Buffer.from(s, 'base64').toString();
    const skiffTarget: Target = {
      name: 'skiff',
      port: skiff.port,
      pid: skiff.child.pid!,
      tls: { ca: b64(kc.clusters[0].cluster['certificate-authority-data']), cert: b64(kc.users[0].user['client-certificate-data']), key: b64(kc.users[0].user['client-key-data']) },
    };
    const tlsDir = join(dataDir, 'server', 'tls');
    bare = spawn(process.execPath, [fileURLToPath(new URL('./bare-server.js', import.meta.url)), join(tlsDir, 'serving-kube-apiserver.crt'), join(tlsDir, 'serving-kube-apiserver.key')], { stdio: ['ignore', 'pipe', 'inherit'] });
    const barePort = await new Promise<number>((resolve) => bare!.stdout!.once('data', (d) => resolve(Number(/port (\d+)/.exec(String(d))![1]))));
    const bareTarget: Target = { name: 'bare', port: barePort, pid: bare.pid!, tls: { ca: skiffTarget.tls.ca } };

    const skiffResult = await measure(skiffTarget);
    const bareResult = await measure(bareTarget);
    const get = (r: any, path: string) => path.split('.').reduce((o, k) => o?.[k], r);
    const ratio = (path: string) => Math.round((get(skiffResult, path) / get(bareResult, path)) * 100) / 100;
    console.log(
      JSON.stringify(
        {
          bench: 'api',
          seconds_per_phase: seconds,
          store: 'sqlite (WAL, batched)',
          skiff: { startup_ready_ms: Math.round(skiff.readyMs), idle_rss_mb: idleRss, ...skiffResult },
          baseline_bare_node_https_map: bareResult,
          ratios_skiff_over_bare: {
            creates_per_s: ratio('throughput_64_clients.creates_per_s'),
            create_p99_at_500: ratio('create_open_loop_500.p99_ms'),
            get_p99_at_1000: ratio('get_open_loop_1000.p99_ms'),
            list_1000_p50: ratio('list_1000.p50_ms'),
            watch_delivery_p99: ratio('watch_1000_watchers.p99_ms'),
          },
          targets: { creates_per_s: '>= 1500', create_p99_at_500_ms: '<= 50', get_p99_at_1000: '<= 2x bare', watch_delivery_p99_ms: '<= 50', idle_rss_mb: '<= 100' },
        },
        null,
        2,
      ),
    );
  } finally {
    bare?.kill();
    skiffChild?.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
