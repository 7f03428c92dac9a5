/**
 * The Node authorizer and NodeRestriction on a real API server's request path (authentication of the in-process
 * identity → Node authorizer → a chain end that grants nothing else → admission), with two nodes n1 and n2: each
 * reads the secrets its own pods use and nothing of the other's, writes only its own Node, Lease and pods' status,
 * in kube-apiserver's words.
 *   node --import tsx --test test/node-authorizer-restriction.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KubeObject } from '../src/api/object.js';
import type { StatusError } from '../src/api/status.js';
import { Leases, Namespaces, Nodes, Pods, Secrets } from '../src/client/resources.js';
import { RestClient } from '../src/client/rest-client.js';
import { startBareApiServer, type BareApiServer } from './helpers/api-server.js';
import { eventually } from './helpers/eventually.js';

const asNode = (s: BareApiServer, name: string) => new RestClient(s.api.inProcessTransport({ username: `system:node:${name}`, groups: ['system:nodes', 'system:authenticated'] }));

/** Rejects with a StatusError: its code and message. */
async function refusal(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as StatusError;
    return { code: e.code, message: e.status?.message ?? String(err) };
  }
  assert.fail('the request was allowed');
}

function node(name: string, extra: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name }, ...extra } };
}

function pod(name: string, nodeName: string, secret: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'app', labels: { app: name } },
    spec: { nodeName, containers: [{ name: 'c', image: 'busybox' }], volumes: [{ name: 's', secret: { secretName: secret } }] },
  };
}

describe('Node authorizer and NodeRestriction on the request path', () => {
  let s: BareApiServer;
  let admin: RestClient;
  let n1: RestClient;
  let n2: RestClient;

  before(async () => {
    // As --authorization-mode=Node,RBAC with no RBAC binding for nodes: only the Node authorizer grants them anything.
    s = await startBareApiServer({ server: { authorizer: { authorize: (a) => (a.user.groups.includes('system:masters') ? { decision: 'allow' } : { decision: 'noOpinion' }) } } });
    admin = new RestClient(s.api.inProcessTransport());
    n1 = asNode(s, 'n1');
    n2 = asNode(s, 'n2');
    await admin.create(Namespaces, '', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'app' } });
    for (const name of ['s1', 's2', 'unused']) await admin.create(Secrets, 'app', { apiVersion: 'v1', kind: 'Secret', metadata: { name }, data: { k: 'dg==' } });
    await n1.create(Nodes, '', node('n1'));
    await n2.create(Nodes, '', node('n2'));
    await admin.create(Pods, 'app', pod('p1', 'n1', 's1'));
    await admin.create(Pods, 'app', pod('p2', 'n2', 's2'));
  });

  after(async () => {
    await s?.stop();
  });

  test("a node reads the secret its pod uses, not another node's (403 in kube-apiserver's words)", async () => {
    const own = await eventually('n2 reads s2', () => n2.get(Secrets, 'app', 's2').catch(() => undefined), 5000);
    assert.equal(own.metadata.name, 's2');
    const other = await refusal(n2.get(Secrets, 'app', 's1'));
    assert.equal(other.code, 403);
    assert.equal(other.message, `secrets "s1" is forbidden: User "system:node:n2" cannot get resource "secrets" in API group "" in the namespace "app": no relationship found between node 'n2' and this object`);
    const unused = await refusal(n1.get(Secrets, 'app', 'unused'));
    assert.equal(unused.code, 403);
    const list = await refusal(n2.list(Secrets, 'app'));
    assert.equal(list.message, `secrets is forbidden: User "system:node:n2" cannot list resource "secrets" in API group "" in the namespace "app": No Object name found`);
    // One object by fieldSelector=metadata.name is authorized as that name (kube-apiserver's RequestInfo does so).
    const one = await n2.list(Secrets, 'app', { fieldSelector: 'metadata.name=s2' });
    assert.deepEqual(one.items.map((i) => i.metadata.name), ['s2']);
    const notMine = await refusal(n2.list(Secrets, 'app', { fieldSelector: 'metadata.name=s1' }));
    assert.equal(notMine.message, `secrets "s1" is forbidden: User "system:node:n2" cannot list resource "secrets" in API group "" in the namespace "app": no relationship found between node 'n2' and this object`);
  });

  test('the graph follows pods: a deleted pod takes its secrets away from the node', async () => {
    await admin.create(Pods, 'app', pod('p3', 'n1', 'unused'));
    await eventually('n1 reads unused through p3', () => n1.get(Secrets, 'app', 'unused').catch(() => undefined), 5000);
    await admin.delete(Pods, 'app', 'p3', { gracePeriodSeconds: 0 });
    await eventually('n1 no longer reads unused', () => n1.get(Secrets, 'app', 'unused').then(() => undefined, (e: StatusError) => (e.code === 403 ? true : undefined)), 5000);
  });

  test('a node may not modify another node', async () => {
    const r = await refusal(n2.patch(Nodes, '', 'n1', 'merge', { metadata: { annotations: { by: 'n2' } } }));
    assert.equal(r.code, 403);
    assert.equal(r.message, 'nodes "n1" is forbidden: node "n2" is not allowed to modify node "n1"');
    const del = await refusal(n2.delete(Nodes, '', 'n1'));
    assert.equal(del.code, 403, del.message);
    const status = await refusal(n2.patch(Nodes, '', 'n1', 'merge', { status: { conditions: [] } }, { subresource: 'status' }));
    assert.equal(status.message, 'nodes "n1" is forbidden: node "n2" is not allowed to modify node "n1"');
    // Its own Node: annotations and kubelet labels yes; restricted labels and taints no.
    await n2.patch(Nodes, '', 'n2', 'merge', { metadata: { annotations: { by: 'n2' }, labels: { 'node.kubernetes.io/exclude-from-external-load-balancers': 'true', 'example.com/team': 'a' } } });
    const restricted = await refusal(n2.patch(Nodes, '', 'n2', 'merge', { metadata: { labels: { 'node-restriction.kubernetes.io/secure': 'true', 'node-role.kubernetes.io/control-plane': 'true' } } }));
    assert.equal(restricted.message, 'nodes "n2" is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/secure, node-role.kubernetes.io/control-plane');
    const taint = await refusal(n2.patch(Nodes, '', 'n2', 'merge', { spec: { taints: [{ key: 'k', effect: 'NoSchedule' }] } }));
    assert.equal(taint.message, 'nodes "n2" is forbidden: node "n2" is not allowed to modify taints');
    const create = await refusal(asNode(s, 'n3').create(Nodes, '', node('n3', { labels: { 'node-role.kubernetes.io/worker': 'true' } })));
    assert.equal(create.message, 'nodes "n3" is forbidden: node "n3" is not allowed to set the following labels: node-role.kubernetes.io/worker');
    const impostor = await refusal(n2.create(Nodes, '', node('n4')));
    assert.equal(impostor.message, 'nodes "n4" is forbidden: node "n2" is not allowed to modify node "n4"');
  });

  test("a node writes the status of its own pods only, deletes only them, and creates only mirror pods", async () => {
    await n2.patch(Pods, 'app', 'p2', 'merge', { status: { phase: 'Running' } }, { subresource: 'status' });
    const other = await refusal(n2.patch(Pods, 'app', 'p1', 'merge', { status: { phase: 'Failed' } }, { subresource: 'status' }));
    assert.equal(other.message, 'pods "p1" is forbidden: node "n2" can only update pod status for pods with spec.nodeName set to itself');
    // Labels cannot change through pods/status here (skiff's status strategy keeps metadata; upstream's NodeRestriction
    // refuses it instead): the node's label change is dropped.
    await n2.patch(Pods, 'app', 'p2', 'merge', { metadata: { labels: { app: 'x' } }, status: { phase: 'Running' } }, { subresource: 'status' });
    assert.equal((await admin.get(Pods, 'app', 'p2')).metadata.labels?.app, 'p2');
    const del = await refusal(n2.delete(Pods, 'app', 'p1'));
    assert.equal(del.message, 'pods "p1" is forbidden: node "n2" can only delete pods with spec.nodeName set to itself');
    const create = await refusal(n2.create(Pods, 'app', { ...pod('p9', 'n2', 's2') }));
    assert.equal(create.message, 'pods "p9" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "n2" can only create mirror pods');
    const spec = await refusal(n2.patch(Pods, 'app', 'p2', 'merge', { spec: { activeDeadlineSeconds: 5 } }));
    assert.equal(spec.code, 403);
    assert.match(spec.message, /cannot patch resource "pods"/);
  });

  test('mirror pods: bound to the node, owned by its Node (uid checked), referencing no secret', async () => {
    const n2obj = await admin.get(Nodes, '', 'n2');
    const owner = (over: Record<string, unknown> = {}) => ({ apiVersion: 'v1', kind: 'Node', name: 'n2', uid: n2obj.metadata.uid ?? '', controller: true, ...over });
    const mirror = (name: string, extra: Record<string, unknown> = {}, spec: Record<string, unknown> = {}): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'app', annotations: { 'kubernetes.io/config.mirror': 'hash' }, ownerReferences: [owner()], ...extra },
      spec: { nodeName: 'n2', containers: [{ name: 'c', image: 'busybox' }], ...spec },
    });
    const created = await n2.create(Pods, 'app', mirror('static-web'));
    assert.equal(created.metadata.name, 'static-web');
    const cases: [string, KubeObject, string][] = [
      ['bound to another node', mirror('m1', {}, { nodeName: 'n1' }), 'node "n2" can only create pods with spec.nodeName set to itself'],
      ['owned by another node', mirror('m2', { ownerReferences: [owner({ name: 'n1' })] }), 'node "n2" can only create pods with an owner reference set to itself'],
      ['an old uid', mirror('m3', { ownerReferences: [owner({ uid: 'not-the-uid' })] }), `node n2 UID mismatch: expected not-the-uid got ${n2obj.metadata.uid}`],
      ['not a controller reference', mirror('m4', { ownerReferences: [owner({ controller: false })] }), 'node "n2" can only create pods with a controller owner reference set to itself'],
      ['a secret volume', mirror('m5', {}, { volumes: [{ name: 's', secret: { secretName: 's1' } }] }), 'node "n2" can not create pods that reference secrets'],
      ['a service account', mirror('m6', {}, { serviceAccountName: 'default' }), 'node "n2" can not create pods that reference a service account'],
    ];
    for (const [what, obj, reason] of cases) {
      const r = await refusal(n2.create(Pods, 'app', obj));
      assert.equal(r.message, `pods "${obj.metadata.name}" is forbidden: ${reason}`, what);
    }
  });

  test('a node evicts only pods bound to itself (pods/eviction is admitted as a create of the subresource)', async () => {
    const send = async (nodeName: string, pod: string) => {
      const t = s.api.inProcessTransport({ username: `system:node:${nodeName}`, groups: ['system:nodes', 'system:authenticated'] });
      return t.request('POST', `/api/v1/namespaces/app/pods/${pod}/eviction`, new URLSearchParams(), { contentType: 'application/json', data: JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod, namespace: 'app' } }) });
    };
    await admin.create(Pods, 'app', pod('evict-me', 'n1', 's1'));
    const other = await send('n2', 'evict-me');
    assert.equal(other.status, 403);
    assert.equal(JSON.parse(other.body).message, 'pods "evict-me" is forbidden: node n2 can only evict pods with spec.nodeName set to itself');
    const own = await send('n1', 'evict-me');
    assert.equal(own.status, 201, own.body);
  });

  test("a node's TokenRequest must be bound to a pod scheduled on it", async () => {
    const { nodeRestriction } = await import('../src/apiserver/admission/node-restriction.js');
    const plugin = nodeRestriction();
    const p1 = await admin.get(Pods, 'app', 'p1');
    const ctx = { list: () => [], cached: () => undefined, get: async (_g: string, _p: string, ns: string, name: string) => (ns === 'app' && name === 'p1' ? p1 : undefined) };
    const attrs = (user: string, boundObjectRef: unknown) => ({
      operation: 'CREATE' as const,
      resource: { group: '', plural: 'serviceaccounts' } as never,
      subresource: 'token',
      namespace: 'app',
      name: 'default',
      object: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', metadata: {}, spec: { boundObjectRef } },
      user: { username: `system:node:${user}`, groups: ['system:nodes'] },
      dryRun: false,
      onFinish: () => {},
      warn: () => {},
    });
    const ref = { apiVersion: 'v1', kind: 'Pod', name: 'p1', uid: p1.metadata.uid };
    await plugin.admit(attrs('n1', ref) as never, ctx as never);
    const cases: [string, unknown, string][] = [
      ['another node', ref, 'node requested token bound to a pod scheduled on a different node'],
      ['no binding', undefined, 'node requested token not bound to a pod'],
      ['bound to a secret', { apiVersion: 'v1', kind: 'Secret', name: 's1', uid: 'x' }, 'node requested token not bound to a pod'],
      ['no uid', { apiVersion: 'v1', kind: 'Pod', name: 'p1' }, 'node requested token with a pod binding without a uid'],
      ['an old uid', { ...ref, uid: 'old' }, 'the UID in the bound object reference (old) does not match the UID in record. The object might have been deleted and then recreated'],
    ];
    for (const [what, r, reason] of cases) {
      await assert.rejects(Promise.resolve().then(() => plugin.admit(attrs(what === 'another node' ? 'n2' : 'n1', r) as never, ctx as never)), { message: `serviceaccounts "default" is forbidden: ${reason}` }, what);
    }
  });

  test('a node keeps only its own Lease', async () => {
    const lease = (name: string): KubeObject => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: 'kube-node-lease' }, spec: { holderIdentity: name } });
    await n2.create(Leases, 'kube-node-lease', lease('n2'));
    const impostor = await refusal(n2.create(Leases, 'kube-node-lease', lease('n1')));
    assert.equal(impostor.message, 'leases.coordination.k8s.io "n1" is forbidden: can only access node lease with the same name as the requesting node');
    await n1.create(Leases, 'kube-node-lease', lease('n1'));
    const other = await refusal(n2.get(Leases, 'kube-node-lease', 'n1'));
    assert.equal(other.message, `leases.coordination.k8s.io "n1" is forbidden: User "system:node:n2" cannot get resource "leases" in API group "coordination.k8s.io" in the namespace "kube-node-lease": can only access node lease with the same name as the requesting node`);
  });

  test('others are not nodes: a user named like one but outside system:nodes gets nothing from the Node authorizer', async () => {
    const fake = new RestClient(s.api.inProcessTransport({ username: 'system:node:n2', groups: ['system:authenticated'] }));
    const r = await refusal(fake.get(Secrets, 'app', 's2'));
    assert.equal(r.message, `secrets "s2" is forbidden: User "system:node:n2" cannot get resource "secrets" in API group "" in the namespace "app"`);
  });
});
