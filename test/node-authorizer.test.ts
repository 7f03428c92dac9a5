/**
 * The Node authorizer and its graph, table-driven: what a node may reach through pods bound to it (and nothing of
 * another node's), the static kubelet rules, skiff's agent components, and no opinion about users that are not nodes.
 *   node --import tsx --test test/node-authorizer.test.ts
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AuthorizationAttributes } from '../src/apiserver/auth/authorizer.js';
import { firstDecision, forbiddenError } from '../src/apiserver/auth/authorizer.js';
import { NodeAuthorizer, nodeNameOf } from '../src/apiserver/auth/node/node-authorizer.js';
import { NodeGraph, podReferences } from '../src/apiserver/auth/node/node-graph.js';

const node = (name: string) => ({ username: `system:node:${name}`, groups: ['system:nodes', 'system:authenticated'] });

function attrs(user: { username: string; groups: string[] }, verb: string, resource: string, namespace = '', name = '', apiGroup = '', subresource = ''): AuthorizationAttributes {
  return { user, verb, isResourceRequest: true, path: '', apiGroup, apiVersion: 'v1', resource, subresource, namespace, name };
}

function pod(ns: string, name: string, nodeName: string | undefined, spec: Record<string, unknown> = {}) {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { namespace: ns, name }, spec: { ...(nodeName ? { nodeName } : {}), containers: [{ name: 'c', image: 'busybox' }], ...spec } };
}

function fixture() {
  const g = new NodeGraph();
  g.setPod(
    pod('app', 'web', 'n1', {
      serviceAccountName: 'web-sa',
      imagePullSecrets: [{ name: 'pull' }],
      containers: [{ name: 'c', image: 'x', env: [{ name: 'A', valueFrom: { secretKeyRef: { name: 'env-secret', key: 'k' } } }, { name: 'B', valueFrom: { configMapKeyRef: { name: 'env-cm', key: 'k' } } }], envFrom: [{ configMapRef: { name: 'from-cm' } }] }],
      volumes: [
        { name: 'tls', secret: { secretName: 'only-n1' } },
        { name: 'proj', projected: { sources: [{ secret: { name: 'proj-secret' } }, { configMap: { name: 'proj-cm' } }] } },
        { name: 'data', persistentVolumeClaim: { claimName: 'data' } },
        { name: 'scratch', ephemeral: { volumeClaimTemplate: { spec: {} } } },
      ],
    }),
  );
  g.setPod(pod('app', 'api', 'n2', { volumes: [{ name: 's', secret: { secretName: 'only-n2' } }, { name: 'shared', secret: { secretName: 'shared' } }] }));
  g.setPod(pod('app', 'worker', 'n1', { volumes: [{ name: 'shared', secret: { secretName: 'shared' } }] }));
  g.setPod(pod('app', 'pending', undefined, { volumes: [{ name: 's', secret: { secretName: 'unbound-secret' } }] }));
  g.setPersistentVolume({ metadata: { name: 'pv-data' }, spec: { claimRef: { namespace: 'app', name: 'data' }, csi: { driver: 'd', volumeHandle: 'h', nodePublishSecretRef: { namespace: 'storage', name: 'csi-creds' } } } });
  g.setPersistentVolume({
    metadata: { name: 'pv-local', annotations: { 'pv.kubernetes.io/provisioned-by': 'skiff.dev/local-path' } },
    spec: { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['n2'] }] }] } } },
  });
  g.setVolumeAttachment({ metadata: { name: 'csi-abc' }, spec: { nodeName: 'n1', attacher: 'x', source: {} } });
  return g;
}

describe('NodeGraph', () => {
  test('a pod bound to a node makes what it references reachable from that node only', () => {
    const g = fixture();
    const cases: [string, Parameters<NodeGraph['reaches']>, boolean][] = [
      ['secret volume, own pod', ['n1', 'secret', 'app', 'only-n1'], true],
      ['secret volume of another node', ['n2', 'secret', 'app', 'only-n1'], false],
      ['own secret of n2', ['n2', 'secret', 'app', 'only-n2'], true],
      ['secret used on both nodes', ['n1', 'secret', 'app', 'shared'], true],
      ['secret used on both nodes (n2)', ['n2', 'secret', 'app', 'shared'], true],
      ['imagePullSecret', ['n1', 'secret', 'app', 'pull'], true],
      ['env secretKeyRef', ['n1', 'secret', 'app', 'env-secret'], true],
      ['projected secret', ['n1', 'secret', 'app', 'proj-secret'], true],
      ['env configMapKeyRef', ['n1', 'configmap', 'app', 'env-cm'], true],
      ['envFrom configMap', ['n1', 'configmap', 'app', 'from-cm'], true],
      ['projected configMap', ['n1', 'configmap', 'app', 'proj-cm'], true],
      ['pvc', ['n1', 'pvc', 'app', 'data'], true],
      ['ephemeral volume claim <pod>-<volume>', ['n1', 'pvc', 'app', 'web-scratch'], true],
      ['pvc of another node', ['n2', 'pvc', 'app', 'data'], false],
      ['pv bound to a reachable pvc', ['n1', 'pv', '', 'pv-data'], true],
      ['pv of another node', ['n2', 'pv', '', 'pv-data'], false],
      ['secret of a reachable pv', ['n1', 'secret', 'storage', 'csi-creds'], true],
      ['secret of an unreachable pv', ['n2', 'secret', 'storage', 'csi-creds'], false],
      ['local-path pv on n2', ['n2', 'pv', '', 'pv-local'], true],
      ['local-path pv not on n1', ['n1', 'pv', '', 'pv-local'], false],
      ['service account of own pod', ['n1', 'serviceaccount', 'app', 'web-sa'], true],
      ['service account of another node', ['n2', 'serviceaccount', 'app', 'web-sa'], false],
      ['own pod', ['n1', 'pod', 'app', 'web'], true],
      ['pod of another node', ['n2', 'pod', 'app', 'web'], false],
      ['secret of an unscheduled pod', ['n1', 'secret', 'app', 'unbound-secret'], false],
      ['same name in another namespace', ['n1', 'secret', 'other', 'only-n1'], false],
      ['unknown node', ['n9', 'secret', 'app', 'shared'], false],
    ];
    for (const [what, args, want] of cases) assert.equal(g.reaches(...args), want, what);
    assert.equal(g.localVolumeNode('pv-local'), 'n2');
  });

  test('edges follow updates and deletions (reference counts per node)', () => {
    const g = fixture();
    g.deletePod('app', 'worker');
    assert.equal(g.reaches('n1', 'secret', 'app', 'shared'), false, 'n1 lost shared with its last pod using it');
    assert.equal(g.reaches('n2', 'secret', 'app', 'shared'), true);
    // The pod is bound later (scheduler): its references follow.
    g.setPod(pod('app', 'pending', 'n2', { volumes: [{ name: 's', secret: { secretName: 'unbound-secret' } }] }));
    assert.equal(g.reaches('n2', 'secret', 'app', 'unbound-secret'), true);
    // An update that drops a reference drops the edge.
    g.setPod(pod('app', 'pending', 'n2', {}));
    assert.equal(g.reaches('n2', 'secret', 'app', 'unbound-secret'), false);
    g.deletePersistentVolume('pv-data');
    assert.equal(g.reaches('n1', 'secret', 'storage', 'csi-creds'), false);
    assert.equal(g.reaches('n1', 'pv', '', 'pv-data'), false);
    g.clear();
    assert.equal(g.reaches('n1', 'secret', 'app', 'only-n1'), false);
    assert.equal(g.knowsNode('n1'), false);
  });

  test("ingress TLS secrets are reachable from every node only while skiff's class serves the Ingress", () => {
    const g = new NodeGraph();
    const ing = (cls?: string) => ({ metadata: { namespace: 'web', name: 'site' }, spec: { ...(cls ? { ingressClassName: cls } : {}), tls: [{ hosts: ['a'], secretName: 'site-tls' }] } });
    g.setIngress(ing());
    assert.equal(g.reaches('n1', 'secret', 'web', 'site-tls'), false, 'no class known yet');
    g.setIngressClass({ metadata: { name: 'skiff', annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } }, spec: { controller: 'skiff.dev/ingress' } });
    assert.equal(g.reaches('n1', 'secret', 'web', 'site-tls'), true, 'default class serves class-less Ingresses');
    assert.equal(g.reaches('n7', 'secret', 'web', 'site-tls'), true, 'every node serves ingress');
    g.setIngress(ing('nginx'));
    assert.equal(g.reaches('n1', 'secret', 'web', 'site-tls'), false, 'another controller’s Ingress');
    g.setIngress(ing('skiff'));
    assert.equal(g.reaches('n1', 'secret', 'web', 'site-tls'), true);
    g.deleteIngressClass('skiff');
    assert.equal(g.reaches('n1', 'secret', 'web', 'site-tls'), false, 'class removed');
    g.setIngressClass({ metadata: { name: 'skiff' }, spec: { controller: 'skiff.dev/ingress' } });
    g.deleteIngress('web', 'site');
    assert.equal(g.reaches('n1', 'secret', 'web', 'site-tls'), false);
    assert.equal(g.reaches('n1', 'secret', 'web', 'other'), false);
  });

  test('podReferences lists each reference once', () => {
    const refs = podReferences(pod('a', 'p', 'n', { volumes: [{ name: 'x', secret: { secretName: 's' } }, { name: 'y', secret: { secretName: 's' } }] }));
    assert.deepEqual(refs, ['secret/a/s']);
  });
});

describe('NodeAuthorizer', () => {
  const authz = new NodeAuthorizer(fixture());
  const n1 = node('n1');
  const n2 = node('n2');
  const cases: [string, AuthorizationAttributes, 'allow' | 'noOpinion', string?][] = [
    ['get own pod’s secret', attrs(n1, 'get', 'secrets', 'app', 'only-n1'), 'allow'],
    ['watch one named secret (kubelet’s secret manager)', attrs(n1, 'watch', 'secrets', 'app', 'only-n1'), 'allow'],
    ['get another node’s secret', attrs(n2, 'get', 'secrets', 'app', 'only-n1'), 'noOpinion', "no relationship found between node 'n2' and this object"],
    ['list all secrets', attrs(n1, 'list', 'secrets', 'app'), 'noOpinion', 'No Object name found'],
    ['list secrets across namespaces', attrs(n1, 'list', 'secrets'), 'noOpinion', 'can only read namespaced object of this type'],
    ['update a reachable secret', attrs(n1, 'update', 'secrets', 'app', 'only-n1'), 'noOpinion', 'can only read resources of this type'],
    ['get configmap', attrs(n1, 'get', 'configmaps', 'app', 'env-cm'), 'allow'],
    ['get unrelated configmap', attrs(n1, 'get', 'configmaps', 'kube-system', 'cluster-info'), 'noOpinion', "no relationship found between node 'n1' and this object"],
    ['get pvc', attrs(n1, 'get', 'persistentvolumeclaims', 'app', 'data'), 'allow'],
    ['list pvcs', attrs(n1, 'list', 'persistentvolumeclaims', 'app'), 'noOpinion', 'can only get individual resources of this type'],
    ['update pvc status', attrs(n1, 'patch', 'persistentvolumeclaims', 'app', 'data', '', 'status'), 'allow'],
    ['get pv', attrs(n1, 'get', 'persistentvolumes', '', 'pv-data'), 'allow'],
    ['get pv of another node', attrs(n2, 'get', 'persistentvolumes', '', 'pv-data'), 'noOpinion', "no relationship found between node 'n2' and this object"],
    ['delete own local-path pv', attrs(n2, 'delete', 'persistentvolumes', '', 'pv-local'), 'allow'],
    ['delete another node’s local-path pv', attrs(n1, 'delete', 'persistentvolumes', '', 'pv-local'), 'noOpinion', "no relationship found between node 'n1' and this object"],
    ['delete a pv that is not local-path', attrs(n1, 'delete', 'persistentvolumes', '', 'pv-data'), 'noOpinion'],
    ['get own volume attachment', attrs(n1, 'get', 'volumeattachments', '', 'csi-abc', 'storage.k8s.io'), 'allow'],
    ['get another node’s volume attachment', attrs(n2, 'get', 'volumeattachments', '', 'csi-abc', 'storage.k8s.io'), 'noOpinion', "no relationship found between node 'n2' and this object"],
    ['list volume attachments', attrs(n1, 'list', 'volumeattachments', '', '', 'storage.k8s.io'), 'noOpinion', 'can only get individual resources of this type'],
    ['watch pvs (local-path reclaimer)', attrs(n1, 'watch', 'persistentvolumes'), 'allow'],
    ['token for own pod’s service account', attrs(n1, 'create', 'serviceaccounts', 'app', 'web-sa', '', 'token'), 'allow'],
    ['token for another node’s service account', attrs(n2, 'create', 'serviceaccounts', 'app', 'web-sa', '', 'token'), 'noOpinion', "no relationship found between node 'n2' and this object"],
    ['get a service account', attrs(n1, 'get', 'serviceaccounts', 'app', 'web-sa'), 'noOpinion', 'can only create tokens for individual service accounts'],
    ['own lease', attrs(n1, 'update', 'leases', 'kube-node-lease', 'n1', 'coordination.k8s.io'), 'allow'],
    ['create lease (name checked by NodeRestriction)', attrs(n1, 'create', 'leases', 'kube-node-lease', '', 'coordination.k8s.io'), 'allow'],
    ['another node’s lease', attrs(n1, 'update', 'leases', 'kube-node-lease', 'n2', 'coordination.k8s.io'), 'noOpinion', 'can only access node lease with the same name as the requesting node'],
    ['lease elsewhere', attrs(n1, 'get', 'leases', 'kube-system', 'n1', 'coordination.k8s.io'), 'noOpinion', 'can only access leases in the "kube-node-lease" system namespace'],
    ['list leases', attrs(n1, 'list', 'leases', 'kube-node-lease', '', 'coordination.k8s.io'), 'noOpinion', 'can only get, create, update, patch, or delete a node lease'],
    ['own CSINode', attrs(n1, 'update', 'csinodes', '', 'n1', 'storage.k8s.io'), 'allow'],
    ['another node’s CSINode', attrs(n1, 'get', 'csinodes', '', 'n2', 'storage.k8s.io'), 'noOpinion', 'can only access CSINode with the same name as the requesting node'],
    ['list CSINodes', attrs(n1, 'list', 'csinodes', '', '', 'storage.k8s.io'), 'noOpinion', 'can only get, create, update, patch, or delete a CSINode'],
    ['create node', attrs(n1, 'create', 'nodes'), 'allow'],
    ['patch node status', attrs(n1, 'patch', 'nodes', '', 'n1', '', 'status'), 'allow'],
    ['delete a node', attrs(n1, 'delete', 'nodes', '', 'n2'), 'noOpinion'],
    ['pod status', attrs(n1, 'update', 'pods', 'app', 'web', '', 'status'), 'allow'],
    ['mirror pod create', attrs(n1, 'create', 'pods', 'app'), 'allow'],
    ['evict', attrs(n1, 'create', 'pods', 'app', 'web', '', 'eviction'), 'allow'],
    ['update a pod spec', attrs(n1, 'update', 'pods', 'app', 'web'), 'noOpinion'],
    ['exec into a pod', attrs(n1, 'create', 'pods', 'app', 'web', '', 'exec'), 'noOpinion'],
    ['events', attrs(n1, 'create', 'events', 'app'), 'allow'],
    ['services (kubelet env, service proxy)', attrs(n1, 'watch', 'services'), 'allow'],
    ['endpointslices (service proxy)', attrs(n1, 'list', 'endpointslices', '', '', 'discovery.k8s.io'), 'allow'],
    ['write endpointslices', attrs(n1, 'create', 'endpointslices', 'app', '', 'discovery.k8s.io'), 'noOpinion'],
    ['ingresses (node ingress)', attrs(n1, 'watch', 'ingresses', '', '', 'networking.k8s.io'), 'allow'],
    ['ingress status is the server’s', attrs(n1, 'update', 'ingresses', 'app', 'x', 'networking.k8s.io', 'status'), 'noOpinion'],
    ['rbac', attrs(n1, 'create', 'clusterrolebindings', '', '', 'rbac.authorization.k8s.io'), 'noOpinion'],
    ['delete a namespace', attrs(n1, 'delete', 'namespaces', '', 'app'), 'noOpinion'],
    ['watch namespaces (network policy)', attrs(n1, 'watch', 'namespaces'), 'allow'],
    ['watch network policies', attrs(n1, 'watch', 'networkpolicies', '', '', 'networking.k8s.io'), 'allow'],
    ['write network policies', attrs(n1, 'create', 'networkpolicies', 'app', '', 'networking.k8s.io'), 'noOpinion'],
  ];
  for (const [what, a, want, reason] of cases) {
    test(what, () => {
      const d = authz.authorize(a);
      assert.equal(d.decision, want);
      if (reason !== undefined) assert.equal((d as { reason?: string }).reason, reason);
    });
  }

  test('users that are not nodes get no opinion, whatever they ask', () => {
    for (const user of [
      { username: 'alice', groups: ['system:authenticated'] },
      { username: 'system:node:n1', groups: ['system:authenticated'] },
      { username: 'n1', groups: ['system:nodes'] },
      { username: 'system:admin', groups: ['system:masters'] },
    ]) {
      const d = authz.authorize(attrs(user, 'get', 'secrets', 'app', 'only-n1'));
      assert.deepEqual(d, { decision: 'noOpinion' }, user.username);
    }
    assert.equal(nodeNameOf(node('a.b')), 'a.b');
    assert.deepEqual(authz.authorize(attrs(node(''), 'get', 'nodes', '', 'x')), { decision: 'noOpinion', reason: 'unknown node for user "system:node:"' });
  });

  test('in a chain the 403 carries the node authorizer’s reason in kube-apiserver’s words', async () => {
    const chain = firstDecision(authz, { authorize: () => ({ decision: 'noOpinion' }) });
    const a = attrs(n2, 'get', 'secrets', 'app', 'only-n1');
    const d = await chain.authorize(a);
    assert.equal(d.decision, 'noOpinion');
    const err = forbiddenError(a, (d as { reason?: string }).reason);
    assert.equal(err.status.message, `secrets "only-n1" is forbidden: User "system:node:n2" cannot get resource "secrets" in API group "" in the namespace "app": no relationship found between node 'n2' and this object`);
    assert.equal((await chain.authorize(attrs(n1, 'get', 'secrets', 'app', 'only-n1'))).decision, 'allow');
  });
});
