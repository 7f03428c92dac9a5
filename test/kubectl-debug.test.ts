/**
 * End-to-end with the real kubectl: `kubectl debug` adds an ephemeral container through pods/ephemeralcontainers
 * (a strategic merge patch of the pod through the subresource); existing ephemeral containers cannot be changed,
 * and the main resource cannot add them. `kubectl logs` reaches the pods/log connect subresource, which answers a
 * Status that says no node agent serves it yet (simulated nodes run no containers).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from './helpers/eventually.js';
import { kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const skip = kubectlSkip();

describe('kubectl debug and logs (simulated nodes)', { skip }, () => {
  let s: TestServer;
  let k: Kubectl;

  before(async () => {
    s = await startTestServer({ simulateNodes: 1 });
    k = kubectlFor(s.kubeconfig);
    await s.running.controlPlane.simulatedNodes!.waitForRegistration();
    const r = await k(['run', 'web', '--image=nginx:1.27']);
    assert.equal(r.code, 0, r.stderr);
    await eventually('the pod runs', async () => (await s.request('GET', '/api/v1/namespaces/default/pods/web')).json?.status?.phase === 'Running');
  });
  after(async () => {
    await s?.stop();
  });

  it('kubectl debug adds an ephemeral container with container defaults', async () => {
    const r = await k(['debug', 'web', '--image=busybox:1.36', '--target=web', '--container=dbg', '--', 'sleep', '3600']);
    assert.equal(r.code, 0, r.stderr);
    const pod = (await s.request('GET', '/api/v1/namespaces/default/pods/web')).json;
    const ec = pod.spec.ephemeralContainers;
    assert.equal(ec.length, 1);
    assert.equal(ec[0].name, 'dbg');
    assert.equal(ec[0].image, 'busybox:1.36');
    assert.equal(ec[0].targetContainerName, 'web');
    assert.equal(ec[0].terminationMessagePolicy, 'File');
    assert.deepEqual(pod.spec.containers.map((c: { name: string }) => c.name), ['web'], 'the rest of the spec is untouched');
  });

  it('an existing ephemeral container cannot be changed or removed; the main resource cannot add one', async () => {
    const pod = (await s.request('GET', '/api/v1/namespaces/default/pods/web/ephemeralcontainers')).json;
    assert.equal(pod.kind, 'Pod');
    const changed = structuredClone(pod);
    changed.spec.ephemeralContainers[0].image = 'busybox:1.37';
    const r1 = await s.request('PUT', '/api/v1/namespaces/default/pods/web/ephemeralcontainers', changed);
    assert.equal(r1.status, 422, r1.text);
    assert.match(r1.json.message, /existing ephemeral containers "dbg" may not be changed/);
    const removed = structuredClone(pod);
    removed.spec.ephemeralContainers = [];
    const r2 = await s.request('PUT', '/api/v1/namespaces/default/pods/web/ephemeralcontainers', removed);
    assert.equal(r2.status, 422, r2.text);
    const viaMain = structuredClone(pod);
    viaMain.spec.ephemeralContainers.push({ name: 'sneaky', image: 'busybox' });
    const r3 = await s.request('PUT', '/api/v1/namespaces/default/pods/web', viaMain);
    assert.equal(r3.status, 422, r3.text);
    const withPorts = await s.request('PATCH', '/api/v1/namespaces/default/pods/web/ephemeralcontainers', { spec: { ephemeralContainers: [...pod.spec.ephemeralContainers, { name: 'p', image: 'busybox', ports: [{ containerPort: 80 }] }] } }, { 'Content-Type': 'application/merge-patch+json' });
    assert.equal(withPorts.status, 422, withPorts.text);
    assert.match(withPorts.json.message, /ports: Forbidden: cannot be set for an Ephemeral Container/);
  });

  it('kubectl logs reaches pods/log, which says why a simulated node cannot serve it', async () => {
    const r = await k(['logs', 'web']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /node "sim-node-\d+" is a simulated node: it runs no containers, so there are no logs, exec, attach or port-forward/);
    const missing = await k(['logs', 'nope']);
    assert.match(missing.stderr, /pods "nope" not found/);
  });
});
