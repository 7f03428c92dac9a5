/**
 * bench/metrics: what the built-in metrics-server costs the server at 1,000 pods (issue 10: under 5 % of one core).
 * A child process plays the agents (10 HTTPS agent APIs by default, 100 pods each with 2 containers; a fresh Summary
 * on every request, so each scrape sees new counters); this process runs the real Scraper against them, over TLS with
 * a kubelet-client certificate from a real PKI, and measures its own CPU time (process.cpuUsage, user + system) per
 * scrape: fetch, parse, decode and store. Then the serving side: one list of every PodMetrics (what `kubectl top pods
 * -A` asks for) built from the store. Figures: median CPU ms per scrape, the share of one core that makes at the
 * resolution (15 s), and its ratio to the 5 % budget (target <= 1).
 * Usage: npm run build && node dist/bench/metrics.js [--nodes 10] [--pods 1000] [--scrapes 12]
 */
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { ensurePki } from '../src/apiserver/auth/pki.js';
import { MetricsApi } from '../src/metrics/metrics-api.js';
import { Scraper } from '../src/metrics/scraper.js';

const arg = (name: string, dflt: number) => Number(process.argv[process.argv.indexOf(name) + 1]) || dflt;
const NODES = arg('--nodes', 10);
const PODS = arg('--pods', 1000);
const SCRAPES = arg('--scrapes', 12);
const RESOLUTION_MS = 15_000;
const BUDGET = 0.05;

/** The agents: one HTTPS server per node answering /stats/summary with fresh counters. */
async function runAgents(pkiDir: string): Promise<void> {
  const pki = await ensurePki(pkiDir, { hostnames: [], ips: [] });
  const started = new Date(Date.now() - 3600_000).toISOString();
  const perNode = Math.ceil(PODS / NODES);
  let calls = 0;
  const summary = (node: number) => {
    const now = new Date().toISOString();
    const t = Date.now() * 1e6 + calls++;
    const stats = (scale: number) => ({ cpu: { time: now, usageCoreNanoSeconds: Math.floor(t / scale) }, memory: { time: now, workingSetBytes: 50_000_000 + (calls % 1000), usageBytes: 60_000_000, rssBytes: 40_000_000 } });
    return JSON.stringify({
      node: { nodeName: `node-${node}`, startTime: started, ...stats(1e3) },
      pods: Array.from({ length: perNode }, (_, i) => ({
        podRef: { name: `pod-${node}-${i}`, namespace: `ns-${i % 20}`, uid: `uid-${node}-${i}` },
        startTime: started,
        containers: ['app', 'sidecar'].map((name) => ({ name, startTime: started, ...stats(1e4) })),
        ...stats(5e3),
      })),
    });
  };
  const ports: number[] = [];
  for (let n = 0; n < NODES; n++) {
    const server = https.createServer({ cert: pki.servingCertPem, key: pki.servingKeyPem, ca: pki.caCertPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const body = summary(n);
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    ports.push((server.address() as { port: number }).port);
  }
  process.send!({ ports });
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-bench-metrics-'));
  const pki = await ensurePki(dir, { hostnames: [], ips: [] });
  const child = fork(fileURLToPath(import.meta.url), ['--agents', dir, '--nodes', String(NODES), '--pods', String(PODS)]);
  try {
    const ports = await new Promise<number[]>((resolve, reject) => {
      child.once('message', (m: { ports: number[] }) => resolve(m.ports));
      child.once('exit', (code) => reject(new Error(`the agents exited (${code})`)));
    });
    const nodes: Node[] = ports.map((port, n) => ({
      metadata: { name: `node-${n}` },
      status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: port } }, conditions: [{ type: 'Ready', status: 'True' }] },
    }));
    const scraper = new Scraper({ listNodes: async () => nodes, tls: { ca: pki.caCertPem, cert: pki.kubeletClientCertPem, key: pki.kubeletClientKeyPem }, resolutionMs: RESOLUTION_MS });
    const cpuMs: number[] = [];
    const wallMs: number[] = [];
    // The first scrape opens the TLS connections (kept alive after); it is measured apart.
    let firstCpuMs = 0;
    for (let i = 0; i <= SCRAPES; i++) {
      const c0 = process.cpuUsage();
      const w0 = performance.now();
      await scraper.scrape();
      const c = process.cpuUsage(c0);
      const ms = (c.user + c.system) / 1000;
      if (i === 0) firstCpuMs = ms;
      else {
        cpuMs.push(ms);
        wallMs.push(performance.now() - w0);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    // Serving: every PodMetrics (kubectl top pods -A), from pods as the API would list them.
    const pods: Pod[] = [];
    const perNode = Math.ceil(PODS / NODES);
    for (let n = 0; n < NODES; n++) for (let i = 0; i < perNode; i++) pods.push({ metadata: { name: `pod-${n}-${i}`, namespace: `ns-${i % 20}`, labels: { app: 'x' } } });
    const api = new MetricsApi({ store: scraper.store, listNodes: async () => nodes, listPods: async () => pods });
    const served = pods.map((p) => api.podMetrics(p)).filter((m) => m !== undefined).length;
    const l0 = process.cpuUsage();
    const rounds = 10;
    for (let i = 0; i < rounds; i++) JSON.stringify({ kind: 'PodMetricsList', items: pods.map((p) => api.podMetrics(p)).filter((m) => m !== undefined) });
    const l = process.cpuUsage(l0);
    await scraper.stop();
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const perScrape = median(cpuMs);
    const coreFraction = perScrape / RESOLUTION_MS;
    console.log(
      JSON.stringify(
        {
          bench: 'metrics',
          nodes: NODES,
          pods: perNode * NODES,
          containers: perNode * NODES * 2,
          scrapes: cpuMs.length,
          resolutionMs: RESOLUTION_MS,
          podMetricsServed: served,
          firstScrapeCpuMs: Math.round(firstCpuMs * 10) / 10,
          cpuMsPerScrape: { p50: Math.round(perScrape * 10) / 10, max: Math.round(Math.max(...cpuMs) * 10) / 10 },
          wallMsPerScrape: { p50: Math.round(median(wallMs) * 10) / 10 },
          coreFraction: Math.round(coreFraction * 1e5) / 1e5,
          budgetCoreFraction: BUDGET,
          ratioToBudget: Math.round((coreFraction / BUDGET) * 1000) / 1000,
          listAllPodMetricsCpuMs: Math.round(((l.user + l.system) / 1000 / rounds) * 10) / 10,
        },
        null,
        2,
      ),
    );
    if (served !== perNode * NODES) throw new Error(`expected metrics of every pod after ${SCRAPES} scrapes, got ${served}`);
  } finally {
    child.kill();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--agents')) await runAgents(process.argv[process.argv.indexOf('--agents') + 1]!);
else await main();
