/**
 * ClusterIP and NodePort allocation reserved against the store (issue 6): the reproductions of the collisions that the
 * cache-only allocator allowed, on a real API server over HTTPS, and on two API servers sharing one real etcd.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensurePki } from '../src/apiserver/auth/pki.js';
import { resources } from '../src/apiserver/registry/index.js';
import { startApiServer, type ApiServer } from '../src/apiserver/server.js';
import { haveEtcd, startTestEtcd, type TestEtcd } from '../src/storage/etcd-store-testing.js';
import { openStore } from '../src/storage/open-store.js';
import type { Store } from '../src/storage/store.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const SERVICES = '/api/v1/namespaces/default/services';
const MERGE = { 'Content-Type': 'application/merge-patch+json' };

function nodePortService(name: string, nodePort?: number) {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { type: 'NodePort', selector: { app: name }, ports: [{ port: 80, ...(nodePort ? { nodePort } : {}) }] } };
}

function assertDistinct(values: unknown[], what: string): void {
  const seen = new Map<unknown, number>();
  for (const v of values) seen.set(v, (seen.get(v) ?? 0) + 1);
  const dups = [...seen].filter(([, n]) => n > 1).map(([v]) => v);
  assert.deepEqual(dups, [], `duplicate ${what}`);
}

describe('Service allocation on one server', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ controlPlane: false });
  });
  after(async () => {
    await s?.stop();
  });

  it('(a) refuses a PATCH that gives Service B the NodePort of Service A, with 422 and upstream words', async () => {
    const a = await s.request('POST', SERVICES, nodePortService('np-a'));
    assert.equal(a.status, 201, a.text);
    const taken = a.json.spec.ports[0].nodePort as number;
    const b = await s.request('POST', SERVICES, nodePortService('np-b'));
    assert.equal(b.status, 201, b.text);
    const patch = await s.request('PATCH', `${SERVICES}/np-b`, JSON.stringify({ spec: { ports: [{ port: 80, nodePort: taken }] } }), MERGE);
    assert.equal(patch.status, 422, patch.text);
    assert.equal(patch.json.reason, 'Invalid');
    assert.match(patch.json.message, new RegExp(`spec\\.ports\\[0\\]\\.nodePort: Invalid value: ${taken}: provided port is already allocated`));
    // The same by strategic merge patch, kubectl's default (ports merge by port number).
    const smp = await s.request('PATCH', `${SERVICES}/np-b`, JSON.stringify({ spec: { ports: [{ port: 80, nodePort: taken }] } }), { 'Content-Type': 'application/strategic-merge-patch+json' });
    assert.equal(smp.status, 422, smp.text);
    assert.match(smp.json.message, /provided port is already allocated/);
    const still = await s.request('GET', `${SERVICES}/np-b`);
    assert.equal(still.json.spec.ports[0].nodePort, b.json.spec.ports[0].nodePort, 'B keeps its own port');
    // A PUT that leaves nodePort and clusterIP out keeps them (patchAllocatedValues).
    const put = await s.request('PUT', `${SERVICES}/np-b`, { ...nodePortService('np-b'), metadata: { name: 'np-b', labels: { x: 'y' } } });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.json.spec.ports[0].nodePort, b.json.spec.ports[0].nodePort);
    assert.equal(put.json.spec.clusterIP, b.json.spec.clusterIP);
    // Changing the ClusterIP is refused (upstream: may not change once set).
    const ipChange = await s.request('PATCH', `${SERVICES}/np-b`, JSON.stringify({ spec: { clusterIP: '10.43.200.200', clusterIPs: ['10.43.200.200'] } }), MERGE);
    assert.equal(ipChange.status, 422, ipChange.text);
    assert.match(ipChange.json.message, /spec\.clusterIPs\[0\]: Invalid value: .*may not change once set/);
    // A create asking for a taken address is refused too.
    const ipTaken = await s.request('POST', SERVICES, { metadata: { name: 'ip-dup' }, spec: { clusterIP: a.json.spec.clusterIP, ports: [{ port: 80 }] } });
    assert.equal(ipTaken.status, 422, ipTaken.text);
    assert.match(ipTaken.json.message, /provided IP is already allocated/);
    const kube = await s.request('POST', SERVICES, { metadata: { name: 'ip-kube' }, spec: { clusterIP: '10.43.0.1', ports: [{ port: 80 }] } });
    assert.equal(kube.status, 422, 'the kubernetes Service holds 10.43.0.1 like any other');
  });

  it('(b) gives 50 concurrent NodePort creates 50 distinct ports and ClusterIPs', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => s.request('POST', SERVICES, nodePortService(`burst-${i}`))));
    for (const r of results) assert.equal(r.status, 201, r.text);
    assertDistinct(results.map((r) => r.json.spec.ports[0].nodePort), 'NodePorts');
    assertDistinct(results.map((r) => r.json.spec.clusterIP), 'ClusterIPs');
    const list = await s.request('GET', SERVICES);
    const items = list.json.items as any[];
    assertDistinct(items.map((i) => i.spec.clusterIP).filter((ip) => ip && ip !== 'None'), 'ClusterIPs in the list');
    assertDistinct(items.flatMap((i) => (i.spec.ports ?? []).map((p: any) => p.nodePort)).filter(Boolean), 'NodePorts in the list');
  });

  it('(d) a delete releases the port and the address for reuse; a type change releases NodePorts', async () => {
    const first = await s.request('POST', SERVICES, nodePortService('reuse-1'));
    assert.equal(first.status, 201, first.text);
    const port = first.json.spec.ports[0].nodePort as number;
    const ip = first.json.spec.clusterIP as string;
    const blocked = await s.request('POST', SERVICES, { ...nodePortService('reuse-2', port), spec: { ...nodePortService('reuse-2', port).spec, clusterIP: ip } });
    assert.equal(blocked.status, 422, blocked.text);
    assert.equal((await s.request('DELETE', `${SERVICES}/reuse-1`)).status, 200);
    const second = await s.request('POST', SERVICES, { ...nodePortService('reuse-2', port), spec: { ...nodePortService('reuse-2', port).spec, clusterIP: ip } });
    assert.equal(second.status, 201, second.text);
    assert.equal(second.json.spec.ports[0].nodePort, port);
    assert.equal(second.json.spec.clusterIP, ip);

    // NodePort -> ClusterIP by a patch that names only the type: the nodePort is dropped and released.
    const toClusterIP = await s.request('PATCH', `${SERVICES}/reuse-2`, JSON.stringify({ spec: { type: 'ClusterIP' } }), MERGE);
    assert.equal(toClusterIP.status, 200, toClusterIP.text);
    assert.equal(toClusterIP.json.spec.ports[0].nodePort, undefined);
    assert.equal(toClusterIP.json.spec.clusterIP, ip, 'the ClusterIP stays');
    const takesPort = await s.request('POST', SERVICES, nodePortService('reuse-3', port));
    assert.equal(takesPort.status, 201, takesPort.text);

    // ClusterIP -> ExternalName releases the address; ExternalName -> ClusterIP allocates one.
    const toExternal = await s.request('PATCH', `${SERVICES}/reuse-2`, JSON.stringify({ spec: { type: 'ExternalName', externalName: 'example.com' } }), MERGE);
    assert.equal(toExternal.status, 200, toExternal.text);
    assert.equal(toExternal.json.spec.clusterIP, undefined);
    const takesIP = await s.request('POST', SERVICES, { metadata: { name: 'reuse-4' }, spec: { clusterIP: ip, ports: [{ port: 80 }] } });
    assert.equal(takesIP.status, 201, takesIP.text);
    const back = await s.request('PATCH', `${SERVICES}/reuse-2`, JSON.stringify({ spec: { type: 'ClusterIP', externalName: null } }), MERGE);
    assert.equal(back.status, 200, back.text);
    assert.match(back.json.spec.clusterIP, /^10\.43\./);
    assert.notEqual(back.json.spec.clusterIP, ip);
  });

  it('a Service held by a finalizer keeps its port until the update that removes the finalizer deletes it', async () => {
    const held = await s.request('POST', SERVICES, { ...nodePortService('held'), metadata: { name: 'held', finalizers: ['example.com/hold'] } });
    assert.equal(held.status, 201, held.text);
    const port = held.json.spec.ports[0].nodePort as number;
    const del = await s.request('DELETE', `${SERVICES}/held`);
    assert.equal(del.status, 202, del.text);
    assert.ok(del.json.metadata.deletionTimestamp, 'only marked');
    assert.equal((await s.request('POST', SERVICES, nodePortService('held-2', port))).status, 422);
    const done = await s.request('PATCH', `${SERVICES}/held`, JSON.stringify({ metadata: { finalizers: null } }), MERGE);
    assert.equal(done.status, 200, done.text);
    // A consistent read right after the release: the cache must see the reservation writes to know the revision.
    assert.equal((await s.request('GET', `${SERVICES}/held`)).status, 404);
    const reuse = await s.request('POST', SERVICES, nodePortService('held-2', port));
    assert.equal(reuse.status, 201, reuse.text);
  });

  it('a restart on the same data starts (the bootstrap finds its Service) and keeps every reservation', async () => {
    const before = await s.request('GET', `${SERVICES}/reuse-3`);
    assert.equal(before.status, 200);
    const dataDir = s.dataDir;
    await s.running.stop();
    s = await startTestServer({ controlPlane: false, dataDir });
    const owned = s.stop.bind(s);
    // This server does not own the dir; the first one's stop removes it at the end.
    s.stop = async () => {
      await owned();
      await rm(dataDir, { recursive: true, force: true });
    };
    const again = await s.request('POST', SERVICES, nodePortService('after-restart', before.json.spec.ports[0].nodePort));
    assert.equal(again.status, 422, again.text);
  });

  it('a dry-run create reserves nothing', async () => {
    const dry = await s.request('POST', `${SERVICES}?dryRun=All`, nodePortService('dry', 31999));
    assert.equal(dry.status, 201, dry.text);
    const real = await s.request('POST', SERVICES, { ...nodePortService('wet', 31999), spec: { ...nodePortService('wet', 31999).spec, clusterIP: dry.json.spec.clusterIP } });
    assert.equal(real.status, 201, real.text);
  });
});

describe('Service allocation on two API servers sharing one etcd', { skip: haveEtcd() ? false : process.env.CI === 'true' ? undefined : 'etcd is not installed' }, () => {
  let etcd: TestEtcd | undefined;
  const stores: Store[] = [];
  const servers: ApiServer[] = [];
  let dir: string;
  let agent: https.Agent;

  before(async () => {
    if (!haveEtcd()) throw new Error('etcd is not installed, and CI=true forbids skipping this test');
    etcd = await startTestEtcd();
    dir = await mkdtemp(join(tmpdir(), 'skiff-alloc-'));
    const pki = await ensurePki(dir);
    agent = new https.Agent({ ca: pki.caCertPem, keepAlive: true, maxSockets: 16 });
    const admin = { username: 'system:admin', groups: ['system:masters', 'system:authenticated'] };
    for (let i = 0; i < 2; i++) stores.push(await openStore(`etcd://${etcd.endpoint}/alloc`));
    // A Service written before reservations existed (an upgraded cluster): the repair pass at start must reserve it.
    const legacy = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'legacy', namespace: 'default', uid: 'legacy-uid', creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { type: 'NodePort', clusterIP: '10.43.77.77', clusterIPs: ['10.43.77.77'], ports: [{ port: 80, protocol: 'TCP', targetPort: 80, nodePort: 31777 }] } };
    await stores[0].create('/registry/core/services/default/legacy', JSON.stringify(legacy));
    // Both servers start at once: both bootstrap the `kubernetes` Service, which holds 10.43.0.1.
    servers.push(
      ...(await Promise.all(
        stores.map((store) =>
          startApiServer({
            store,
            resources,
            authenticator: { authenticate: async () => admin },
            tls: { cert: pki.servingCertPem, key: pki.servingKeyPem, ca: pki.caCertPem },
            port: 0,
            host: '127.0.0.1',
          }),
        ),
      )),
    );
  });
  after(async () => {
    agent?.destroy();
    for (const s of servers) await s.close();
    for (const s of stores) await s.close();
    await etcd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const post = (server: ApiServer, body: unknown) =>
    new Promise<{ status: number; json: any }>((resolve, reject) => {
      const payload = JSON.stringify(body);
      const req = https.request(
        { host: '127.0.0.1', port: server.port, method: 'POST', path: SERVICES, agent, headers: { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.end(payload);
    });

  it('(c) concurrent creates through both servers never share a ClusterIP or a NodePort', async () => {
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => post(servers[i % 2], nodePortService(`ha-${i}`))));
    for (const r of results) assert.equal(r.status, 201, JSON.stringify(r.json));
    assertDistinct(results.map((r) => r.json.spec.ports[0].nodePort), 'NodePorts');
    assertDistinct(results.map((r) => r.json.spec.clusterIP), 'ClusterIPs');
  });

  it('reserved at start what a Service stored before reservations holds', async () => {
    for (const server of servers) {
      const port = await post(server, nodePortService(`steal-port-${server.port}`, 31777));
      assert.equal(port.status, 422, JSON.stringify(port.json));
      const ip = await post(server, { metadata: { name: `steal-ip-${server.port}` }, spec: { clusterIP: '10.43.77.77', ports: [{ port: 80 }] } });
      assert.equal(ip.status, 422, JSON.stringify(ip.json));
      const kube = await post(server, { metadata: { name: `steal-kube-${server.port}` }, spec: { clusterIP: '10.43.0.1', ports: [{ port: 80 }] } });
      assert.equal(kube.status, 422, JSON.stringify(kube.json));
    }
  });

  /** The NodePorts the Services stored so far hold (the earlier cases drew 40 of them at random). */
  const heldNodePorts = () =>
    new Promise<Set<number>>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port: servers[0]!.port, path: SERVICES, agent }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve(new Set(JSON.parse(text).items.flatMap((svc: any) => (svc.spec.ports ?? []).map((p: any) => p.nodePort)))));
        })
        .on('error', reject);
    });

  it('(c) the same explicit NodePort asked of both servers at once goes to exactly one Service', async () => {
    // Free ports only: one the earlier cases drew at random would (rightly) refuse both creates.
    const held = await heldNodePorts();
    const free = Array.from({ length: 100 }, (_, i) => 32000 + i).filter((p) => !held.has(p));
    for (let round = 0; round < 5; round++) {
      const port = free[round]!;
      const [x, y] = await Promise.all([post(servers[0], nodePortService(`race-a-${round}`, port)), post(servers[1], nodePortService(`race-b-${round}`, port))]);
      assert.deepEqual([x.status, y.status].sort(), [201, 422], `round ${round}: ${JSON.stringify([x.json.message, y.json.message])}`);
    }
  });
});
