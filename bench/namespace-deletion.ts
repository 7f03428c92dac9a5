/**
 * bench/namespace-deletion: what the namespace controller's discovery-driven deletion costs, against a baseline in the
 * same run. A real skiff server with its controllers (in this process, SQLite store, TLS) and a CRD; each round fills
 * two namespaces with the same content (ConfigMaps and custom objects), then
 *   baseline: a client deletes every object one by one over HTTPS (32 in flight), until both kinds list empty
 *   measured: DELETE of the other namespace, until the namespace is gone (discovery, deletecollection per resource,
 *             conditions, finalize: the whole controller path, built-in and custom resources alike)
 * and times one discovery pass (the controller's per-sync overhead) against one LIST of ConfigMaps.
 * Prints one JSON object: per-round and median milliseconds and the ratios baseline/measured (above 1: namespace
 * deletion is faster than deleting the objects by hand).
 * Usage: npm run build && node dist/bench/namespace-deletion.js [--objects 300] [--rounds 3]
 */
import { loadavg } from 'node:os';
import { HttpsTransport, loadKubeconfig } from '../src/client/https-transport.js';
import { RestClient } from '../src/client/rest-client.js';
import { ConfigMaps } from '../src/client/resources.js';
import { discoverDeletableNamespacedResources } from '../src/controllers/namespace/resource-discovery.js';
import { startTestServer, type TestServer } from '../test/helpers/test-server.js';

const arg = (name: string, dflt: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : dflt);
const OBJECTS = arg('--objects', 300);
const ROUNDS = arg('--rounds', 3);

const CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.bench.skiff.dev' },
  spec: {
    group: 'bench.skiff.dev',
    scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
    versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
  },
};

const paths = (ns: string) => ({ configmaps: `/api/v1/namespaces/${ns}/configmaps`, widgets: `/apis/bench.skiff.dev/v1/namespaces/${ns}/widgets` });

async function inBatches<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += 32) await Promise.all(items.slice(i, i + 32).map(fn));
}

async function fill(s: TestServer, ns: string): Promise<void> {
  const created = await s.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  if (created.status !== 201) throw new Error(`namespace ${ns}: ${created.status} ${created.text}`);
  const p = paths(ns);
  await inBatches([...Array(OBJECTS).keys()], async (i) => {
    const cm = await s.request('POST', p.configmaps, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i}`, labels: { bench: 'ns' } }, data: { i: String(i) } });
    const w = await s.request('POST', p.widgets, { apiVersion: 'bench.skiff.dev/v1', kind: 'Widget', metadata: { name: `w-${i}`, labels: { bench: 'ns' } }, spec: { i } });
    if (cm.status !== 201 || w.status !== 201) throw new Error(`create in ${ns}: ${cm.status} ${w.status}`);
  });
}

async function until(what: string, fn: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round1 = (x: number) => Math.round(x * 10) / 10;

async function main(): Promise<void> {
  const s = await startTestServer();
  let transport: HttpsTransport | undefined;
  try {
    const crd = await s.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', CRD);
    if (crd.status !== 201) throw new Error(`CRD: ${crd.status} ${crd.text}`);
    await until('the CRD served', async () => (await s.request('GET', paths('default').widgets)).status === 200);
    transport = new HttpsTransport(await loadKubeconfig(s.kubeconfig));
    const client = new RestClient(transport);

    const byHand: number[] = [];
    const byNamespace: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      await fill(s, `hand-${r}`);
      await fill(s, `ns-${r}`);
      const p = paths(`hand-${r}`);
      let t0 = performance.now();
      await inBatches([...Array(OBJECTS).keys()], async (i) => {
        await s.request('DELETE', `${p.configmaps}/cm-${i}`);
        await s.request('DELETE', `${p.widgets}/w-${i}`);
      });
      // (kube-root-ca.crt and the default ServiceAccount stay: only the bench's objects are counted.)
      await until('hand-deleted objects gone', async () => (await s.request('GET', `${p.configmaps}?labelSelector=bench`)).json.items.length === 0 && (await s.request('GET', `${p.widgets}?labelSelector=bench`)).json.items.length === 0);
      byHand.push(performance.now() - t0);
      t0 = performance.now();
      const del = await s.request('DELETE', `/api/v1/namespaces/ns-${r}`);
      if (del.status !== 200 && del.status !== 202) throw new Error(`delete namespace: ${del.status} ${del.text}`);
      await until('the namespace gone', async () => (await s.request('GET', `/api/v1/namespaces/ns-${r}`)).status === 404);
      byNamespace.push(performance.now() - t0);
    }

    const discovery: number[] = [];
    const list: number[] = [];
    for (let i = 0; i < 30; i++) {
      let t0 = performance.now();
      await client.list(ConfigMaps, 'default');
      list.push(performance.now() - t0);
      t0 = performance.now();
      const found = await discoverDeletableNamespacedResources(client);
      discovery.push(performance.now() - t0);
      if (!found.resources.some((x) => x.rt.resource === 'widgets')) throw new Error('discovery did not find the custom resource');
    }

    console.log(
      JSON.stringify({
        bench: 'namespace-deletion',
        objectsPerKind: OBJECTS,
        rounds: ROUNDS,
        loadavg: loadavg().map(round1),
        byHandMs: byHand.map(Math.round),
        namespaceDeletionMs: byNamespace.map(Math.round),
        medianByHandMs: Math.round(median(byHand)),
        medianNamespaceDeletionMs: Math.round(median(byNamespace)),
        ratioByHandOverNamespace: round1(median(byHand) / median(byNamespace)),
        discoveryPassP50Ms: round1(median(discovery)),
        configMapListP50Ms: round1(median(list)),
        ratioDiscoveryOverList: round1(median(discovery) / median(list)),
      }),
    );
  } finally {
    transport?.close();
    await s.stop();
  }
}

await main();
