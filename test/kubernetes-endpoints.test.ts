/**
 * The kubernetes Service's endpoints: each server keeps a lease and writes the Endpoints and EndpointSlice
 * `kubernetes` from the live leases (kube-apiserver's lease reconciler), so pods reach the API at its ClusterIP.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { kubernetesEndpoints, startKubernetesEndpoints, ADDRESS_ANNOTATION, IDENTITY_LABEL } from '../src/cli/kubernetes-endpoints.js';
import { EndpointSlices, Endpoints, Leases } from '../src/client/resources.js';
import { RestClient } from '../src/client/rest-client.js';
import { eventually } from './helpers/eventually.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

describe('kubernetesEndpoints (pure)', () => {
  it('one subset per port with sorted addresses; the slice holds the servers on this server\'s port', () => {
    const { subsets, slice } = kubernetesEndpoints([{ ip: '10.0.0.2', port: 6443 }, { ip: '10.0.0.1', port: 6443 }, { ip: '10.0.0.9', port: 7443 }], 6443);
    assert.deepEqual(subsets, [
      { addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }], ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] },
      { addresses: [{ ip: '10.0.0.9' }], ports: [{ name: 'https', port: 7443, protocol: 'TCP' }] },
    ]);
    assert.equal(slice.metadata.labels?.['kubernetes.io/service-name'], 'kubernetes');
    assert.equal(slice.addressType, 'IPv4');
    assert.deepEqual(slice.endpoints.map((e) => e.addresses[0]), ['10.0.0.1', '10.0.0.2']);
    assert.deepEqual(slice.ports, [{ name: 'https', port: 6443, protocol: 'TCP' }]);
    assert.deepEqual(kubernetesEndpoints([], 6443).subsets, []);
  });
});

describe('the kubernetes Service endpoints of a running server', () => {
  let server: TestServer;
  let client: RestClient;
  before(async () => {
    server = await startTestServer({ controlPlane: false });
    client = new RestClient(server.running.api.inProcessTransport({ username: 'system:admin', groups: ['system:masters', 'system:authenticated'] }));
  });
  after(() => server?.stop());

  it('lists this server at its address and port, with a live identity lease', async () => {
    const slice = await eventually('the kubernetes EndpointSlice', async () => {
      try {
        return await client.get<any>(EndpointSlices, 'default', 'kubernetes');
      } catch {
        return undefined;
      }
    }, 10_000);
    assert.equal(slice.ports[0].port, server.port);
    assert.equal(slice.endpoints.length, 1);
    const endpoints = await client.get<any>(Endpoints, 'default', 'kubernetes');
    assert.deepEqual(endpoints.subsets[0].ports, [{ name: 'https', port: server.port, protocol: 'TCP' }]);
    assert.equal(endpoints.subsets[0].addresses[0].ip, slice.endpoints[0].addresses[0]);
    const leases = await client.list<any>(Leases, 'kube-system', { labelSelector: `${IDENTITY_LABEL}=kube-apiserver` });
    assert.equal(leases.items.length, 1);
    assert.equal(leases.items[0].metadata.annotations[ADDRESS_ANNOTATION], `${slice.endpoints[0].addresses[0]}:${server.port}`);
  });

  it('a second server joins the endpoints; its expired lease drops it; a stopped one removes itself', async () => {
    let clock = Date.now();
    const other = startKubernetesEndpoints({ client, identity: 'server-b', address: '192.0.2.77', port: server.port, intervalMs: 3_600_000, leaseSeconds: 30, now: () => new Date(clock) });
    await other.sync();
    const ips = async () => (await client.get<any>(EndpointSlices, 'default', 'kubernetes')).endpoints.map((e: any) => e.addresses[0]);
    assert.ok((await ips()).includes('192.0.2.77'));
    // server-b is silent for longer than its lease; the next sync of a live server (here: b's clock runs ahead) drops it.
    const stale = startKubernetesEndpoints({ client, identity: 'server-c', address: '192.0.2.78', port: server.port, intervalMs: 3_600_000, leaseSeconds: 30, now: () => new Date(clock + 60_000) });
    await stale.sync();
    assert.ok(!(await ips()).includes('192.0.2.77'), 'an expired lease is left out');
    await stale.stop();
    assert.ok(!(await ips()).includes('192.0.2.78'), 'a stopped server removes itself');
    clock = Date.now();
    await other.stop();
  });
});
