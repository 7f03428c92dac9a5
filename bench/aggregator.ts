/**
 * bench/aggregator: what the aggregation layer adds to a read. A real skiff API server (in this process, TLS, client
 * certificate auth) proxies GETs of an aggregated group version to an HTTPS extension server in this process, through
 * an APIService, a Service and an EndpointSlice. Phases, interleaved in rounds in the same run: the same GET sent to
 * the extension server directly (baseline: one TLS hop), through skiff's proxy (two hops plus authentication,
 * authorization and the proxy), and a GET of a ConfigMap served by skiff itself (the API server's own cost for a
 * read). Prints one JSON object: p50/p99 in ms per phase and the ratios of the proxied read to both baselines.
 * Usage: npm run build && node dist/bench/aggregator.js [--gets 2000]
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { rm } from 'node:fs/promises';
import { ensurePki } from '../src/apiserver/auth/pki.js';
import { startTestServer } from '../test/helpers/test-server.js';
import { selfSignedServingCert } from '../test/helpers/serving-cert.js';
import { percentile } from './stats.js';

const arg = (name: string, dflt: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : dflt);

const servingCert = (dnsName: string) => selfSignedServingCert(dnsName, '01');

function get(agent: https.Agent, port: number, path: string, servername?: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path, agent, ...(servername ? { servername } : {}) }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error(`GET ${path}: ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

const gets = arg('--gets', 2000);
const tls = await servingCert('bench-api.default.svc');
const flunder = JSON.stringify({ apiVersion: 'bench.example.com/v1', kind: 'Flunder', metadata: { name: 'f', namespace: 'default' }, spec: { size: 1 } });
const backend = https.createServer({ ...tls, requestCert: true, rejectUnauthorized: false }, (req, res) => {
  const body = req.url === '/apis/bench.example.com/v1'
    ? JSON.stringify({ kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'bench.example.com/v1', resources: [{ name: 'flunders', singularName: 'flunder', namespaced: true, kind: 'Flunder', verbs: ['get'] }] })
    : flunder;
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
});
await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
const backendPort = (backend.address() as AddressInfo).port;
const s = await startTestServer({ controlPlane: false, datastore: 'memory' });
try {
  const must = async (path: string, body: unknown) => {
    const r = await s.request('POST', path, body);
    if (r.status !== 201) throw new Error(`POST ${path}: ${r.status} ${r.text}`);
  };
  await must('/api/v1/namespaces/default/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'bench-api' }, spec: { ports: [{ name: 'https', port: 443, targetPort: backendPort }] } });
  await must('/apis/discovery.k8s.io/v1/namespaces/default/endpointslices', { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'bench-api', labels: { 'kubernetes.io/service-name': 'bench-api' } }, addressType: 'IPv4', endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }], ports: [{ name: 'https', port: backendPort, protocol: 'TCP' }] });
  await must('/apis/apiregistration.k8s.io/v1/apiservices', { apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService', metadata: { name: 'v1.bench.example.com' }, spec: { group: 'bench.example.com', version: 'v1', service: { namespace: 'default', name: 'bench-api' }, caBundle: Buffer.from(tls.cert).toString('base64'), groupPriorityMinimum: 1000, versionPriority: 15 } });
  await must('/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { size: '1' } });
  const proxied = '/apis/bench.example.com/v1/namespaces/default/flunders/f';
  for (let i = 0; ; i++) {
    if ((await s.request('GET', proxied)).status === 200) break;
    if (i > 100) throw new Error('the APIService never became available');
    await new Promise((r) => setTimeout(r, 100));
  }
  const pki = await ensurePki(s.dataDir);
  const toSkiff = new https.Agent({ ca: pki.caCertPem, cert: pki.adminCertPem, key: pki.adminKeyPem, keepAlive: true, maxSockets: 1 });
  const toBackend = new https.Agent({ ca: tls.cert, keepAlive: true, maxSockets: 1 });
  const phases = {
    direct: () => get(toBackend, backendPort, proxied, 'bench-api.default.svc'),
    proxied: () => get(toSkiff, s.port, proxied),
    configmap: () => get(toSkiff, s.port, '/api/v1/namespaces/default/configmaps/c'),
  };
  const samples: Record<keyof typeof phases, number[]> = { direct: [], proxied: [], configmap: [] };
  // Warm-up, then rounds of 100 per phase in turn, so drift on a busy machine hits all phases alike.
  for (const f of Object.values(phases)) for (let i = 0; i < 100; i++) await f();
  for (let done = 0; done < gets; done += 100) {
    for (const [name, f] of Object.entries(phases) as Array<[keyof typeof phases, () => Promise<number>]>) {
      for (let i = 0; i < Math.min(100, gets - done); i++) samples[name].push(await f());
    }
  }
  const stat = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return { p50: +percentile(sorted, 50).toFixed(3), p99: +percentile(sorted, 99).toFixed(3) };
  };
  const out = { direct: stat(samples.direct), proxied: stat(samples.proxied), configmap: stat(samples.configmap) };
  console.log(
    JSON.stringify({
      bench: 'aggregator',
      gets,
      ms: out,
      addedP50Ms: +(out.proxied.p50 - out.direct.p50).toFixed(3),
      ratioProxiedToDirectP50: +(out.proxied.p50 / out.direct.p50).toFixed(2),
      ratioProxiedToConfigMapP50: +(out.proxied.p50 / out.configmap.p50).toFixed(2),
      loadavg1: +loadavg()[0]!.toFixed(2),
    }),
  );
  toSkiff.destroy();
  toBackend.destroy();
} finally {
  await s.stop();
  backend.closeAllConnections();
  backend.close();
  await rm(s.dataDir, { recursive: true, force: true });
}
