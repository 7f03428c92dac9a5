/**
 * The web console in Debian's chromium (playwright-core), three figures with their baselines from the same run:
 *
 * 1. first load on loopback: a cold browser context opens /console/ of a real `skiff server` (2 simulated nodes)
 *    until the overview shows the nodes (assets, sign-in check, lists and watches), against a bare static page from
 *    a Node HTTPS server with the same certificate (target: ≤ 1 s);
 * 2. compressed asset bytes: what the build serves with brotli and gzip, and what the browser actually received
 *    (target: ≤ 300 KB);
 * 3. 5,000 pods live: a stand-in API (plain Node, same origin as the console's files) lists 5,000 Pending pods, then
 *    writes a burst of 5,000 MODIFIED events (each pod Running); timed from the first byte of the burst until the
 *    overview shows 5000 Running, against a bare page that only reads and JSON-parses the same burst. The longest
 *    animation frame during the burst tells whether the page kept up.
 *
 * Usage: node dist/bench/console.js   (needs /usr/bin/chromium and a console build: npm run build:console)
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ConsoleAssets } from '../src/console/console-assets.js';
import { kubectlFor } from '../test/helpers/kubectl.js';
import { spawnServer, stopChild } from '../test/helpers/server-process.js';

// The functions given to page.evaluate run in the page; the project compiles without the DOM library.
declare const document: any, window: any, performance: any, requestAnimationFrame: any, fetch: any, TextDecoderStream: any;

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const PODS = Number(process.env.CONSOLE_BENCH_PODS ?? 5000);
const LOADS = 5;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number) => Math.round(x * 10) / 10;

/** Chromium reports ERR_NETWORK_CHANGED when another program adds an interface mid-load; such a load is retried. */
async function goto(page: Page, url: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await page.goto(url);
      return;
    } catch (err) {
      if (attempt >= 3 || !/ERR_NETWORK_CHANGED/.test(String(err))) throw err;
    }
  }
}

async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
}

async function firstLoad(browser: Browser): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-bench-console-'));
  const server = await spawnServer(['--data-dir', dir, '--https-listen-port', '0', '--bind-address', '127.0.0.1', '--simulate-nodes', '2'], 60_000);
  const bare = https.createServer(
    { cert: await readFile(join(dir, 'server/tls/serving-kube-apiserver.crt')), key: await readFile(join(dir, 'server/tls/serving-kube-apiserver.key')) },
    (_req, res) => {
      const body = '<!doctype html><html><head><title>bare</title></head><body><p id="ready">ready</p></body></html>';
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    },
  );
  await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
  try {
    const k = kubectlFor(join(dir, 'kubeconfig.yaml'));
    await k(['create', 'serviceaccount', 'bench', '-n', 'kube-system']);
    await k(['create', 'clusterrolebinding', 'bench', '--clusterrole=cluster-admin', '--serviceaccount=kube-system:bench']);
    const token = (await k(['create', 'token', 'bench', '-n', 'kube-system'])).stdout.trim();
    if (!token) throw new Error('kubectl create token gave no token');
    const consoleMs: number[] = [];
    const bareMs: number[] = [];
    let transferred = 0;
    for (let i = 0; i < LOADS + 1; i++) {
      // A fresh context each time: no cache, no connections kept; the token is in sessionStorage as after sign-in.
      const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
      await ctx.addInitScript((t: string) => window.sessionStorage.setItem('skiff.console.token', t), token);
      const page = await ctx.newPage();
      const t0 = performance.now();
      await goto(page, `${server.url}/console/#/overview`);
      await page.waitForFunction(() => document.querySelector('[data-testid=overview-nodes]')?.textContent === '2/2', undefined, { timeout: 20_000, polling: 'raf' });
      const ms = performance.now() - t0;
      transferred = await page.evaluate(() =>
        performance
          .getEntriesByType('resource')
          .concat(performance.getEntriesByType('navigation'))
          .filter((e: { name: string }) => e.name.includes('/console/'))
          .reduce((n: number, e: { transferSize: number }) => n + e.transferSize, 0),
      );
      await ctx.close();
      const bctx = await browser.newContext({ ignoreHTTPSErrors: true });
      const bpage = await bctx.newPage();
      const b0 = performance.now();
      await goto(bpage, `https://127.0.0.1:${(bare.address() as AddressInfo).port}/`);
      await bpage.waitForSelector('#ready');
      const bms = performance.now() - b0;
      await bctx.close();
      // The first round warms the browser process itself (and the server's lazily read files); it is not counted.
      if (i === 0) continue;
      consoleMs.push(ms);
      bareMs.push(bms);
    }
    return {
      firstLoadMs: round(median(consoleMs)),
      firstLoadRuns: consoleMs.map(round),
      bareStaticPageMs: round(median(bareMs)),
      ratio: round(median(consoleMs) / median(bareMs)),
      transferredBytes: transferred,
      targetMs: 1000,
    };
  } finally {
    bare.close();
    await stopChild(server.child);
    await rm(dir, { recursive: true, force: true });
  }
}

function podJson(i: number, phase: 'Pending' | 'Running' | 'Failed', rv: number): string {
  const name = `load-${String(i).padStart(5, '0')}`;
  const running = phase === 'Running';
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `uid-${i}`, resourceVersion: String(rv), creationTimestamp: '2026-01-01T00:00:00Z', labels: { app: 'load', shard: String(i % 50) } },
    spec: { nodeName: `sim-node-${i % 10}`, containers: [{ name: 'app', image: 'nginx:1.27', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] },
    status: {
      phase,
      conditions: [{ type: 'Ready', status: running ? 'True' : 'False' }],
      containerStatuses: [{ name: 'app', image: 'nginx:1.27', imageID: '', ready: running, restartCount: 0, started: running, state: running ? { running: { startedAt: '2026-01-01T00:00:01Z' } } : phase === 'Failed' ? { terminated: { exitCode: 1, reason: 'Error' } } : { waiting: { reason: 'ContainerCreating' } } }],
      podIP: `10.42.${Math.floor(i / 250)}.${i % 250}`,
    },
  });
}

/** A stand-in API for PODS pods on plain HTTP: the console's files, lists, and watches that stay open until a burst. */
async function burst(browser: Browser): Promise<Record<string, unknown>> {
  const assets = new ConsoleAssets();
  const podWatches = new Set<http.ServerResponse>();
  const bareStreams = new Set<http.ServerResponse>();
  let rv = 100;
  const empty = (kind: string) => JSON.stringify({ kind, apiVersion: 'v1', metadata: { resourceVersion: String(rv) }, items: [] });
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (body: string, code = 200) => {
      res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (ConsoleAssets.owns(url.pathname)) return assets.serve(req, res, url.pathname);
    if (url.pathname === '/bare.html') {
      const body = '<!doctype html><html><body><p id="n">0</p></body></html>';
      res.writeHead(200, { 'Content-Type': 'text/html', 'Content-Length': body.length });
      return res.end(body);
    }
    if (url.pathname === '/bare-stream') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      bareStreams.add(res);
      return;
    }
    if (url.pathname === '/apis/authentication.k8s.io/v1/selfsubjectreviews') return json(JSON.stringify({ status: { userInfo: { username: 'bench' } } }), 201);
    const watching = url.searchParams.get('watch') === '1' || url.searchParams.get('watch') === 'true';
    if (url.pathname === '/api/v1/pods') {
      if (watching) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.flushHeaders();
        podWatches.add(res);
        req.on('close', () => podWatches.delete(res));
        return;
      }
      const start = Number(url.searchParams.get('continue') ?? 0);
      const limit = Number(url.searchParams.get('limit') ?? PODS);
      const end = Math.min(PODS, start + limit);
      const items: string[] = [];
      for (let i = start; i < end; i++) items.push(podJson(i, 'Pending', rv));
      return json(`{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"${rv}"${end < PODS ? `,"continue":"${end}"` : ''}},"items":[${items.join(',')}]}`);
    }
    if (url.pathname === '/api/v1/nodes' && !watching) {
      const nodes = Array.from({ length: 10 }, (_, i) => ({ metadata: { name: `sim-node-${i}` }, status: { conditions: [{ type: 'Ready', status: 'True' }], allocatable: { cpu: '32', memory: '64Gi', pods: '1000' } } }));
      return json(JSON.stringify({ kind: 'NodeList', apiVersion: 'v1', metadata: { resourceVersion: String(rv) }, items: nodes }));
    }
    if (watching) {
      // Other watches stay open and quiet.
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      return;
    }
    if (url.pathname.startsWith('/apis/metrics.k8s.io')) return json(JSON.stringify({ kind: 'Status', status: 'Failure', message: 'not here', code: 404 }), 404);
    return json(empty('List'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // One burst: PODS MODIFIED events written as fast as the socket takes them.
  const burstLines = (phase: 'Running' | 'Failed' = 'Running') => {
    const lines: string[] = [];
    for (let i = 0; i < PODS; i++) lines.push(`{"type":"MODIFIED","object":${podJson(i, phase, ++rv)}}\n`);
    return lines.join('');
  };
  try {
    const page = await (await browser.newContext()).newPage();
    await goto(page, `${base}/console/#/overview`);
    await page.waitForFunction((n: number) => document.querySelector('[data-testid=overview-pods]')?.textContent === String(n), PODS, { timeout: 60_000 });
    await new Promise((r) => setTimeout(r, 500));
    if (podWatches.size === 0) throw new Error('the console opened no pod watch');
    // The longest gap between animation frames while the burst is applied.
    await page.evaluate(() => {
      window.benchFrames = { max: 0, last: performance.now(), stop: false };
      const tick = () => {
        const now = performance.now();
        window.benchFrames.max = Math.max(window.benchFrames.max, now - window.benchFrames.last);
        window.benchFrames.last = now;
        if (!window.benchFrames.stop) requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    const payload = burstLines();
    const t0 = performance.now();
    for (const w of podWatches) w.write(payload);
    await page.waitForFunction((n: number) => document.querySelector('[data-testid="phase-Running"]')?.textContent === String(n), PODS, { timeout: 60_000, polling: 'raf' });
    const consoleMs = performance.now() - t0;
    const maxFrameMs = await page.evaluate(() => {
      window.benchFrames.stop = true;
      return window.benchFrames.max;
    });

    // The pods page (a table of the first 300 rows, sorted, filterable): a second burst, every pod Failed (Error),
    // until the first and the 300th row show it.
    await page.evaluate(() => (window.location.hash = '#/pods'));
    await page.waitForFunction((n: number) => document.querySelector('[data-testid=pod-count]')?.textContent === ` ${n} pods`, PODS, { timeout: 60_000 });
    await new Promise((r) => setTimeout(r, 500));
    const failed = burstLines('Failed');
    const p0 = performance.now();
    for (const w of podWatches) w.write(failed);
    await page.waitForFunction(
      () => document.querySelector('[data-testid="pod-status-load-00000"]')?.textContent === 'Error' && document.querySelector('[data-testid="pod-status-load-00299"]')?.textContent === 'Error',
      undefined,
      { timeout: 60_000, polling: 'raf' },
    );
    const podsPageMs = performance.now() - p0;

    // Baseline: a bare page that reads the same burst and parses every line, nothing else.
    const bare = await (await browser.newContext()).newPage();
    await goto(bare, `${base}/bare.html`);
    await bare.evaluate((n: number) => {
      void (async () => {
        const res = await fetch('/bare-stream');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        let count = 0;
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buf += value;
          let nl;
          while ((nl = buf.indexOf('\n')) >= 0) {
            JSON.parse(buf.slice(0, nl));
            buf = buf.slice(nl + 1);
            count++;
          }
          if (count >= n) document.getElementById('n').textContent = String(count);
        }
      })();
    }, PODS);
    while (bareStreams.size === 0) await new Promise((r) => setTimeout(r, 10));
    const bareLines = burstLines();
    const b0 = performance.now();
    for (const s of bareStreams) s.write(bareLines);
    await bare.waitForFunction((n: number) => document.getElementById('n')?.textContent === String(n), PODS, { timeout: 60_000, polling: 'raf' });
    const bareMs = performance.now() - b0;
    for (const s of bareStreams) s.end();
    return {
      pods: PODS,
      burstEvents: PODS,
      burstBytes: Buffer.byteLength(payload),
      applyMs: round(consoleMs),
      bareParseMs: round(bareMs),
      ratio: round(consoleMs / bareMs),
      longestFrameMs: round(maxFrameMs),
      podsPageApplyMs: round(podsPageMs),
      podsPageRatio: round(podsPageMs / bareMs),
    };
  } finally {
    for (const w of podWatches) w.destroy();
    server.closeAllConnections();
    server.close();
  }
}

async function main(): Promise<void> {
  const assets = new ConsoleAssets();
  if (!assets.built) throw new Error('the console is not built: npm run build:console');
  const browser = await launch();
  try {
    const load = await firstLoad(browser);
    const live = await burst(browser);
    const br = assets.compressedBytes('br');
    const gzip = assets.compressedBytes('gzip');
    console.log(
      JSON.stringify(
        {
          benchmark: 'console',
          firstLoad: load,
          assets: { brotliBytes: br, gzipBytes: gzip, targetBytes: 300 * 1024, ratioToTarget: round(gzip / (300 * 1024)) },
          livePods: live,
        },
        null,
        2,
      ),
    );
  } finally {
    await browser.close();
  }
}

await main();
