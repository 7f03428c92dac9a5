/**
 * Simulated nodes against a real API server (in-process transport, real request pipeline and store): what kubectl
 * would see. Informers here are StaticInformers fed by the real client's watches, the way an informer is fed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../../../test/helpers/test-server.js';
import { FakeInformerFactory } from '../../client/testing/fake-informer-factory.js';
import { Nodes, Pods } from '../../client/resources.js';
import { RestClient } from '../../client/rest-client.js';
import type { ResourceType, Watcher } from '../../client/types.js';
import type { Node, Pod } from './objects.js';
import { SimulatedNodes } from './simulated-nodes.js';

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('SimulatedNodes against a real API server', () => {
  let server: TestServer;
  let sim: SimulatedNodes;
  const watchers: Watcher[] = [];
  const logs: string[] = [];

  before(async () => {
    server = await startTestServer({ datastore: 'memory' });
    const client = new RestClient(server.running.api.inProcessTransport());
    const informers = new FakeInformerFactory({ freeze: true });
    const feed = (rt: ResourceType) => {
      const inf = informers.informerFor(rt);
      watchers.push(
        client.watch(
          rt,
          '',
          { resourceVersion: '0' },
          (ev) => {
            if (ev.type === 'ADDED' || ev.type === 'MODIFIED') inf.update(ev.object);
            else if (ev.type === 'DELETED') inf.delete(ev.object);
          },
          (err) => err && logs.push(`watch ${rt.resource} closed: ${err.message}`),
        ),
      );
    };
    feed(Pods);
    feed(Nodes);
    sim = new SimulatedNodes({ client, informers, count: 3, podReadyDelayMs: 50, leaseRenewIntervalMs: 200, log: (m) => logs.push(m) });
    sim.start();
    await sim.waitForRegistration();
  });

  after(async () => {
    sim?.stop();
    for (const w of watchers) w.stop();
    await server?.stop();
  });

  it('registers 3 nodes that the API reports Ready, with renewed Leases', async () => {
    const list = await server.request('GET', '/api/v1/nodes?labelSelector=skiff.dev%2Fsimulated%3Dtrue');
    assert.equal(list.status, 200, list.text);
    const nodes = list.json.items as Node[];
    assert.deepEqual(nodes.map((n) => n.metadata.name).sort(), ['sim-node-0', 'sim-node-1', 'sim-node-2']);
    for (const n of nodes) {
      const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
      assert.equal(ready?.status, 'True', `${n.metadata.name} Ready`);
      assert.equal(n.status?.capacity?.pods, '110');
    }
    // The node IPAM controller of the server gives each node its own /24 of the cluster CIDR 10.42.0.0/16.
    const cidrs = await eventually('a podCIDR on every node', async () => {
      const r = await server.request('GET', '/api/v1/nodes?labelSelector=skiff.dev%2Fsimulated%3Dtrue');
      const all = (r.json.items as Node[]).map((n) => n.spec?.podCIDR);
      return all.every((c) => c) ? all : undefined;
    });
    for (const c of cidrs) assert.match(c ?? '', /^10\.42\.\d+\.0\/24$/);
    assert.equal(new Set(cidrs).size, 3, `distinct pod CIDRs: ${cidrs.join(' ')}`);
    const lease = await server.request('GET', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/sim-node-1');
    assert.equal(lease.status, 200, lease.text);
    assert.equal(lease.json.spec.holderIdentity, 'sim-node-1');
    const first = lease.json.spec.renewTime as string;
    await eventually('a lease renewal', async () => {
      const again = await server.request('GET', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/sim-node-1');
      return again.json.spec.renewTime !== first ? true : undefined;
    });
  });

  it('runs a bound pod to Running/Ready and finishes its deletion', async () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'sim-web', namespace: 'default' },
      spec: { nodeName: 'sim-node-1', containers: [{ name: 'web', image: 'nginx:1.25' }] },
    };
    const created = await server.request('POST', '/api/v1/namespaces/default/pods', pod);
    assert.equal(created.status, 201, created.text);
    const running = await eventually('the pod to run', async () => {
      const r = await server.request('GET', '/api/v1/namespaces/default/pods/sim-web');
      return r.json.status?.phase === 'Running' ? (r.json as Pod) : undefined;
    });
    // The server's node IPAM controller gave sim-node-1 a /24 of the cluster CIDR; the pod's address comes from it.
    const node = (await server.request('GET', '/api/v1/nodes/sim-node-1')).json as Node;
    assert.match(node.spec?.podCIDR ?? '', /^10\.42\.\d+\.0\/24$/);
    assert.equal(running.status?.podIP, node.spec!.podCIDR!.replace(/0\/24$/, '2'));
    assert.equal(running.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    assert.equal(running.status?.containerStatuses?.[0]?.ready, true);

    // A graceful delete leaves the pod Terminating until the (simulated) kubelet's final delete.
    const del = await server.request('DELETE', '/api/v1/namespaces/default/pods/sim-web');
    assert.equal(del.status, 202, `202 Accepted: the deletion waits for the kubelet; ${del.text}`);
    assert.ok(del.json.metadata?.deletionTimestamp, 'graceful deletion of a bound pod sets deletionTimestamp');
    await eventually('the final delete', async () => {
      const r = await server.request('GET', '/api/v1/namespaces/default/pods/sim-web');
      return r.status === 404 ? true : undefined;
    });
    assert.deepEqual(logs, []);
  });
});
