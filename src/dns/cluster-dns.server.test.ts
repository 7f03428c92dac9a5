/** startClusterDns against a real API server (in process): the kube-dns Service and slice, records from informers. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../../test/helpers/test-server.js';
import { queryUdp } from '../../test/helpers/dns-query.js';
import { eventually } from '../../test/helpers/eventually.js';
import { SharedInformerFactory } from '../client/informer.js';
import { EndpointSlices, Nodes, Services } from '../client/resources.js';
import { RestClient } from '../client/rest-client.js';
import { isNotFound } from '../api/status.js';
import { startClusterDns, type RunningClusterDns } from './cluster-dns.js';
import { readClusterDns } from './kube-dns-service.js';

describe('cluster DNS against a real API server', () => {
  let server: TestServer;
  let client: RestClient;
  let informers: SharedInformerFactory;
  let dns: RunningClusterDns;

  before(async () => {
    server = await startTestServer({ datastore: 'memory' });
    client = new RestClient(server.running.api.inProcessTransport());
    informers = new SharedInformerFactory(client);
    dns = await startClusterDns({ client, informers, clusterIP: '10.43.0.10', clusterDomain: 'corp.example', listenAddress: '127.0.0.1', port: 0, nodeName: 'dns-test-node', upstreams: [] });
  });
  after(async () => {
    await dns?.stop();
    informers?.stop();
    await server?.stop();
  });

  it('creates kube-dns (no selector, --cluster-dns, the domain recorded) and its own EndpointSlice at the listening port', async () => {
    const slice = await eventually('the slice', () => client.get(EndpointSlices, 'kube-system', 'kube-dns-dns-test-node').catch(() => undefined), 10_000);
    const svc = await client.get(Services, 'kube-system', 'kube-dns');
    assert.equal((svc as any).spec.clusterIP, '10.43.0.10');
    assert.equal((svc as any).spec.selector, undefined);
    assert.deepEqual((slice as any).endpoints[0].addresses, ['127.0.0.1']);
    assert.deepEqual((slice as any).ports.map((p: any) => `${p.name}/${p.protocol}/${p.port}`), [`dns/UDP/${dns.port}`, `dns-tcp/TCP/${dns.port}`]);
    assert.equal((slice as any).metadata.ownerReferences[0].uid, svc.metadata.uid);
    // What a joining agent's kubelet is given.
    assert.deepEqual(await readClusterDns(client), { clusterDNS: ['10.43.0.10'], clusterDomain: 'corp.example' });
  });

  it('answers a Service created through the API, and its own kube-dns name', async () => {
    await client.create(Services, 'default', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } } as any);
    const svc = await client.get(Services, 'default', 'web');
    const ip = (svc as any).spec.clusterIP;
    await eventually('web resolves', async () => (await queryUdp(dns.port, 'web.default.svc.corp.example', 'A')).answers?.some((a: any) => a.data === ip), 10_000);
    const kubeDns = await queryUdp(dns.port, 'kube-dns.kube-system.svc.corp.example', 'A');
    assert.deepEqual(kubeDns.answers?.map((a: any) => a.data), ['10.43.0.10']);
    await client.delete(Services, 'default', 'web');
    await eventually('web gone', async () => (await queryUdp(dns.port, 'web.default.svc.corp.example', 'A')).rcode === 'NXDOMAIN', 10_000);
  });

  it('puts back a deleted or edited slice, removes the slices of servers whose Node is gone, and stop() removes its own', async () => {
    await client.delete(EndpointSlices, 'kube-system', 'kube-dns-dns-test-node');
    await eventually('recreated', () => client.get(EndpointSlices, 'kube-system', 'kube-dns-dns-test-node').catch(() => undefined), 10_000);
    const slice = (await client.get(EndpointSlices, 'kube-system', 'kube-dns-dns-test-node')) as any;
    await client.update(EndpointSlices, 'kube-system', { ...slice, ports: [{ name: 'dns', port: 1, protocol: 'UDP' }] });
    await eventually('repaired', async () => ((await client.get(EndpointSlices, 'kube-system', 'kube-dns-dns-test-node')) as any).ports.length === 2, 10_000);
    // A slice of another server whose Node is gone (killed for good) is removed; one whose Node exists stays.
    const other = (nodeName: string) => ({ ...slice, metadata: { name: `kube-dns-${nodeName}`, namespace: 'kube-system', labels: slice.metadata.labels }, endpoints: [{ addresses: ['127.0.0.2'], nodeName }], ports: slice.ports });
    await client.create(Nodes, '', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'alive-server' } } as any);
    await client.create(EndpointSlices, 'kube-system', other('alive-server') as any);
    await client.create(EndpointSlices, 'kube-system', other('dead-server') as any);
    // Any change of this server's slice runs a sync.
    await client.delete(EndpointSlices, 'kube-system', 'kube-dns-dns-test-node');
    await eventually('the dead server’s slice removed', () => client.get(EndpointSlices, 'kube-system', 'kube-dns-dead-server').then(() => false, (err) => isNotFound(err)), 10_000);
    assert.ok(await client.get(EndpointSlices, 'kube-system', 'kube-dns-alive-server'));
    await dns.stop();
    await assert.rejects(client.get(EndpointSlices, 'kube-system', 'kube-dns-dns-test-node'), (err) => isNotFound(err));
  });
});
