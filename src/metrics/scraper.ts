/**
 * The scraper: every resolution (15 s, metrics-server's --metric-resolution), GET /stats/summary from the agent of
 * every Ready node that runs one, at once, each with a timeout, and store the whole scrape (metrics-store.ts). It runs in
 * every server (no leader): each serves the metrics API from its own samples, as several metrics-server replicas do.
 * The agents are reached as pods/log and exec reach them (apiserver/node-proxy): TLS with the API server's
 * kubelet-client certificate, the agents' serving certificates checked against the cluster CA.
 */
import https from 'node:https';
import { isIP } from 'node:net';
import type { Node } from 'kubernetes-types/core/v1.js';
import { nodeAddress } from '../apiserver/node-proxy/locations.js';
import { createLogger } from '../log/logger.js';
import { MetricsStore, type MetricsBatch } from './metrics-store.js';
import { addSummary, type Summary } from './summary.js';

const log = createLogger('metrics');
/** A Summary of 1,000 pods is under 1 MiB; an agent answering far more is broken, not busy. */
const MAX_SUMMARY_BYTES = 64 * 1024 * 1024;

export interface ScraperOptions {
  /** Every Node (the scraper picks the Ready ones with an agent). */
  listNodes(): Promise<Node[]>;
  /** TLS towards agents: the cluster CA and the API server's kubelet-client certificate. */
  tls: { ca: string; cert: string; key: string };
  /** Time between scrapes (default 15 s). */
  resolutionMs?: number;
  /** Time for one node's answer (default: the resolution, at most 10 s: metrics-server's --kubelet-request-timeout). */
  timeoutMs?: number;
  /** Fetches a node's Summary (tests; default HTTPS to the node's agent). */
  fetchSummary?(node: Node): Promise<Summary>;
}

/** Simulated nodes (agent/simulated) register an address but run no agent API. */
export function scrapable(node: Node): boolean {
  if (node.metadata?.labels?.['skiff.dev/simulated'] === 'true') return false;
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

export class Scraper {
  readonly store = new MetricsStore();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly agent: https.Agent;
  private stopped = false;
  /** Nodes whose last scrape failed, so a failure is logged once, not every 15 s. */
  private readonly failing = new Set<string>();

  constructor(private readonly opts: ScraperOptions) {
    // One kept-alive connection per agent: a TLS handshake every 15 s per node would cost more than the scrape.
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: opts.tls.ca, cert: opts.tls.cert, key: opts.tls.key });
  }

  get resolutionMs(): number {
    return this.opts.resolutionMs ?? 15_000;
  }

  start(): void {
    const tick = () => {
      this.running = this.scrape()
        .catch((err: unknown) => log.error('scrape failed', { err }))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.resolutionMs);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    this.agent.destroy();
  }

  /** One scrape of every node, stored as a whole. */
  async scrape(): Promise<void> {
    const nodes = (await this.opts.listNodes()).filter(scrapable);
    const batch: MetricsBatch = { nodes: new Map(), pods: new Map() };
    const summaries = await Promise.all(
      nodes.map((node) => {
        const name = node.metadata?.name ?? '';
        return (this.opts.fetchSummary ?? ((n: Node) => this.fetch(n)))(node).then(
          (s) => {
            if (this.failing.delete(name)) log.info('scraping the node works again', { node: name });
            return { name, s };
          },
          (err: unknown) => {
            if (!this.failing.has(name)) log.warn('cannot scrape the node', { node: name, err: (err as Error).message });
            this.failing.add(name);
            return undefined;
          },
        );
      }),
    );
    for (const r of summaries) if (r) addSummary(batch, r.name, r.s);
    this.store.store(batch);
  }

  private fetch(node: Node): Promise<Summary> {
    const { host, port } = nodeAddress(node);
    const timeoutMs = this.opts.timeoutMs ?? Math.min(10_000, this.resolutionMs);
    return new Promise((resolve, reject) => {
      const req = https.request(
        { host, port, path: '/stats/summary?only_cpu_and_memory=true', method: 'GET', agent: this.agent, timeout: timeoutMs, ...(isIP(host) === 0 ? { servername: host } : {}) },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_SUMMARY_BYTES) req.destroy(new Error(`GET /stats/summary from ${host}:${port}: answer over ${MAX_SUMMARY_BYTES} bytes`));
            else chunks.push(c);
          });
          res.on('error', reject);
          res.on('end', () => {
            clearTimeout(deadline);
            const text = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode !== 200) return reject(new Error(`GET /stats/summary from ${host}:${port}: ${res.statusCode} ${text.slice(0, 200)}`));
            try {
              resolve(JSON.parse(text) as Summary);
            } catch (err) {
              reject(new Error(`GET /stats/summary from ${host}:${port}: not JSON: ${(err as Error).message}`));
            }
          });
        },
      );
      // The whole answer within the timeout, not only each idle gap.
      const deadline = setTimeout(() => req.destroy(new Error(`GET /stats/summary from ${host}:${port} timed out after ${timeoutMs} ms`)), timeoutMs);
      req.on('timeout', () => req.destroy(new Error(`GET /stats/summary from ${host}:${port} timed out after ${timeoutMs} ms`)));
      req.on('error', (err) => {
        clearTimeout(deadline);
        reject(err);
      });
      req.end();
    });
  }
}
