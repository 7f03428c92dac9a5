import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Node } from 'kubernetes-types/core/v1.js';
import { ensurePki, type Pki } from '../apiserver/auth/pki.js';
import { scrapable, Scraper } from './scraper.js';
import type { Summary } from './summary.js';

const node = (name: string, o: { ready?: boolean; simulated?: boolean; port?: number } = {}): Node => ({
  metadata: { name, ...(o.simulated ? { labels: { 'skiff.dev/simulated': 'true' } } : {}) },
  status: {
    addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
    daemonEndpoints: { kubeletEndpoint: { Port: o.port ?? 10250 } },
    conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
  },
});

const summary = (t: number, cpuNs: number): Summary => {
  const time = new Date(t).toISOString();
  return {
    node: { cpu: { time, usageCoreNanoSeconds: cpuNs * 4 }, memory: { time, workingSetBytes: 1 << 30 } },
    pods: [{ podRef: { namespace: 'ns', name: 'p' }, containers: [{ name: 'c', startTime: new Date(0).toISOString(), cpu: { time, usageCoreNanoSeconds: cpuNs }, memory: { time, workingSetBytes: 1 << 20 } }] }],
  };
};

describe('Scraper', () => {
  it('scrapes Ready nodes that run an agent only', () => {
    assert.equal(scrapable(node('a')), true);
    assert.equal(scrapable(node('b', { ready: false })), false);
    assert.equal(scrapable(node('c', { simulated: true })), false);
    assert.equal(scrapable({ metadata: { name: 'd' } }), false, 'no status yet');
  });

  it('stores each scrape whole: a node that fails has no metrics, the others do', async () => {
    let t = 1_000_000;
    let failB = false;
    const asked: string[] = [];
    const scraper = new Scraper({
      listNodes: async () => [node('a'), node('b'), node('sim', { simulated: true })],
      tls: { ca: '', cert: '', key: '' },
      fetchSummary: async (n) => {
        asked.push(n.metadata!.name!);
        if (n.metadata!.name === 'b' && failB) throw new Error('connection refused');
        return summary(t, (t - 1_000_000) * 1e6 * 0.25);
      },
    });
    await scraper.scrape();
    t += 15_000;
    await scraper.scrape();
    assert.deepEqual([...new Set(asked)].sort(), ['a', 'b']);
    assert.equal(scraper.store.node('a')?.cpuNanoCores, 1e9);
    assert.equal(scraper.store.pod('ns', 'p')?.containers[0]?.cpuNanoCores, 2.5e8);
    assert.ok(scraper.store.node('b'));
    failB = true;
    t += 15_000;
    await scraper.scrape();
    assert.ok(scraper.store.node('a'));
    assert.equal(scraper.store.node('b'), undefined, 'no stale metrics for a node that did not answer');
    await scraper.stop();
  });
});

describe('Scraper over HTTPS', () => {
  let pki: Pki;
  let dir: string;
  let hung: https.Server;
  let good: https.Server;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-scraper-'));
    pki = await ensurePki(dir, { hostnames: [], ips: [] });
    const tls = { cert: pki.servingCertPem, key: pki.servingKeyPem, ca: pki.caCertPem, requestCert: true, rejectUnauthorized: true };
    // Answers the head, then never the body: the scrape must not wait for it past its timeout.
    hung = https.createServer(tls, (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"node":');
    });
    let n = 0;
    good = https.createServer(tls, (req, res) => {
      assert.equal(req.url, '/stats/summary?only_cpu_and_memory=true');
      res.end(JSON.stringify(summary(1_000_000 + 15_000 * n, 15_000 * 1e6 * 0.5 * n++)));
    });
    await Promise.all([hung, good].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
  });
  after(async () => {
    hung.closeAllConnections();
    good.closeAllConnections();
    hung.close();
    good.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("reads agents with the kubelet-client certificate, and gives up on a hung one after the timeout", async () => {
    const port = (s: https.Server) => (s.address() as { port: number }).port;
    const scraper = new Scraper({
      listNodes: async () => [node('good', { port: port(good) }), node('hung', { port: port(hung) })],
      tls: { ca: pki.caCertPem, cert: pki.kubeletClientCertPem, key: pki.kubeletClientKeyPem },
      timeoutMs: 500,
    });
    const started = Date.now();
    await scraper.scrape();
    await scraper.scrape();
    const took = Date.now() - started;
    assert.ok(took < 2500, `two scrapes with a hung agent took ${took} ms`);
    assert.equal(scraper.store.node('good')?.cpuNanoCores, 2e9);
    assert.equal(scraper.store.pod('ns', 'p')?.containers[0]?.cpuNanoCores, 5e8);
    assert.equal(scraper.store.node('hung'), undefined);
    await scraper.stop();
  });
});
