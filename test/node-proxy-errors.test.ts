/**
 * The node proxy's answers when it cannot reach a container, and nodes/proxy, over plain HTTPS requests.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startNodeProxyCluster, type NodeProxyCluster } from './node-proxy-harness.js';

describe('node proxy refusals and nodes/proxy', () => {
  let c: NodeProxyCluster;
  before(async () => {
    c = await startNodeProxyCluster();
    await c.addPod({ metadata: { name: 'web' }, spec: { containers: [{ name: 'main', image: 'x', command: ['sh', '-c', 'echo up; exec sleep 3600'] }] } });
  });
  after(async () => {
    await c?.stop();
  });

  it('exec without an upgrade is a 400, as upstream (upgradeRequired)', async () => {
    const r = await c.bare.send('POST', '/api/v1/namespaces/default/pods/web/exec?command=true&stdout=true');
    assert.equal(r.status, 400);
    assert.equal(r.json.message, 'Upgrade request required');
  });

  it('a pod without a node: exec is refused in upstream words, logs are empty', async () => {
    const p = await c.bare.send('POST', '/api/v1/namespaces/default/pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pending' }, spec: { containers: [{ name: 'a', image: 'x' }] } });
    assert.equal(p.status, 201);
    const exec = await c.bare.send('POST', '/api/v1/namespaces/default/pods/pending/exec?command=true&stdout=true');
    assert.equal(exec.status, 400);
    const logs = await c.bare.send('GET', '/api/v1/namespaces/default/pods/pending/log');
    assert.deepEqual([logs.status, logs.text], [200, '']);
  });

  it('logs: the agent answer streams through; its refusals become a Status with its words', async () => {
    const ok = await c.bare.send('GET', '/api/v1/namespaces/default/pods/web/log');
    assert.deepEqual([ok.status, ok.text], [200, 'up\n']);
    const prev = await c.bare.send('GET', '/api/v1/namespaces/default/pods/web/log?previous=true');
    assert.equal(prev.status, 400);
    assert.equal(prev.json.reason, 'BadRequest');
    assert.equal(prev.json.message, 'previous terminated container "main" in pod "web" not found');
  });

  it('nodes/proxy reaches the agent API', async () => {
    const healthz = await c.bare.send('GET', `/api/v1/nodes/${c.nodeName}/proxy/healthz`);
    assert.deepEqual([healthz.status, healthz.text], [200, 'ok']);
    const pods = await c.bare.send('GET', `/api/v1/nodes/${c.nodeName}/proxy/pods`);
    assert.equal(pods.json.items[0].metadata.name, 'web');
    const missing = await c.bare.send('GET', `/api/v1/nodes/${c.nodeName}/proxy/nope`);
    assert.equal(missing.status, 404);
  });

  it('a node without an address is a 503; an agent that is down, a dial error', async () => {
    const n = await c.bare.send('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'bare-node' } });
    assert.equal(n.status, 201);
    const r = await c.bare.send('GET', '/api/v1/nodes/bare-node/proxy/healthz');
    assert.equal(r.status, 503);
    assert.equal(r.json.message, 'no preferred addresses found; known addresses: []');
    const node = (await c.bare.send('GET', '/api/v1/nodes/bare-node')).json;
    node.status = { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: 1 } } };
    assert.equal((await c.bare.send('PUT', '/api/v1/nodes/bare-node/status', node)).status, 200);
    const down = await c.bare.send('GET', '/api/v1/nodes/bare-node/proxy/healthz');
    assert.equal(down.status, 500);
    assert.match(down.json.message, /^error dialing backend: .*ECONNREFUSED/);
  });
});
