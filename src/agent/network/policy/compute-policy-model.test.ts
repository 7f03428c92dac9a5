/** The policy model: which pods are isolated, and which (peer, port) pairs each policy allows, case by case. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { clusterDnsPeers } from './cluster-dns-peers.js';
import { computePolicyModel, parseIpBlock, policyTypesOf, type AllowEntry } from './compute-policy-model.js';
import { cases, inputsOf, NODE, pod, policy, world } from './policy-golden-cases.js';

const modelOf = (name: string) => computePolicyModel(inputsOf(cases.find((c) => c.name === name)!));
const show = (e: AllowEntry) => [e.peer ? `${e.peer.cidr}${e.peer.except.length ? ` except ${e.peer.except.join(',')}` : ''}` : 'any', e.podIP ? `to ${e.podIP}` : '', e.port ? `${e.port.protocol}${e.port.port !== undefined ? `:${e.port.port}${e.port.endPort !== undefined ? `-${e.port.endPort}` : ''}` : ''}` : 'all'].filter(Boolean).join(' ');

describe('computePolicyModel', () => {
  it('no policy: nothing is isolated', () => {
    const m = modelOf('no-policies');
    assert.deepEqual(m.pods, []);
    assert.equal(m.policies.size, 0);
  });

  it("a default deny isolates the namespace's pods of this node only, and allows nothing", () => {
    const m = modelOf('default-deny-ingress');
    // shop's pods on node-a with an address: web-1, web-2, client (not hostnet, not the Succeeded pod, not other's).
    assert.deepEqual(
      m.pods.map((p) => [p.pod, p.ip, p.ingress?.length, p.egress]),
      [
        ['shop/client', '10.91.0.20', 1, undefined],
        ['shop/web-1', '10.91.0.10', 1, undefined],
        ['shop/web-2', '10.91.0.11', 1, undefined],
      ],
    );
    assert.deepEqual(m.policies.get('ingress/shop/deny')!.entries, []);
  });

  it('a podSelector peer is the matching pods of the policy namespace, with their addresses', () => {
    const m = modelOf('allow-from-pod-selector');
    assert.deepEqual(m.policies.get('ingress/shop/web-from-clients')!.entries.map(show), ['10.91.0.20/32 TCP:8080']);
    const web = m.pods.find((p) => p.pod === 'shop/web-1')!;
    assert.deepEqual(web.ingress, ['ingress/shop/deny', 'ingress/shop/web-from-clients']);
  });

  it('namespaceSelector alone takes every pod of the namespaces; with a podSelector only the matching ones', () => {
    const m = modelOf('namespace-selectors');
    assert.deepEqual(m.policies.get('ingress/shop/from-team-other')!.entries.map(show), ['10.91.0.30/32 all', '10.91.1.10/32 all', '10.91.0.30/32 UDP:53', '10.91.0.20/32 UDP:53']);
    assert.deepEqual(
      m.pods.map((p) => p.pod),
      ['shop/web-1', 'shop/web-2'],
    );
  });

  it('ipBlock with except, port ranges, and a cidr with host bits masked', () => {
    const m = modelOf('egress-ipblock-except-and-ranges');
    assert.deepEqual(m.policies.get('egress/shop/client-out')!.entries.map(show), [
      '10.0.0.0/8 except 10.91.1.0/24,10.92.0.0/16 TCP:8000-8100',
      '10.0.0.0/8 except 10.91.1.0/24,10.92.0.0/16 UDP:53',
      '192.168.7.0/24 all',
    ]);
    assert.deepEqual(m.pods.map((p) => [p.pod, p.ingress, p.egress?.length]), [['shop/client', undefined, 1]]);
  });

  it('named ports resolve per destination pod: ingress on the selected pod, egress on each peer (or every pod)', () => {
    const m = modelOf('named-ports');
    assert.deepEqual(m.policies.get('ingress/shop/web-http')!.entries.map(show), ['any to 10.91.0.10 TCP:8080', 'any to 10.91.0.11 TCP:9090', 'any to 10.91.0.11 UDP:53']);
    assert.deepEqual(m.policies.get('egress/shop/client-to-http')!.entries.map(show), ['10.91.1.10/32 TCP:7070', '10.91.0.10/32 TCP:8080', '10.91.0.11/32 TCP:9090', '10.91.0.11/32 UDP:53']);
  });

  it('policyTypes default to Ingress, plus Egress when egress rules exist; an empty rule allows everything', () => {
    assert.deepEqual([...policyTypesOf(policy('a', 'b', { podSelector: {} }))], ['Ingress']);
    assert.deepEqual([...policyTypesOf(policy('a', 'b', { podSelector: {}, egress: [{}] }))], ['Ingress', 'Egress']);
    assert.deepEqual([...policyTypesOf(policy('a', 'b', { podSelector: {}, policyTypes: ['Egress'], ingress: [{}] }))], ['Egress']);
    const m = modelOf('allow-all-and-defaulted-types');
    assert.deepEqual(m.policies.get('ingress/shop/allow-all-in')!.entries.map(show), ['any all']);
    assert.deepEqual(m.policies.get('ingress/other/both')!.entries, [], 'ingress isolated with no rules: deny');
    assert.deepEqual(m.policies.get('egress/other/both')!.entries.map(show), ['10.91.0.30/32 all', '10.91.1.10/32 all']);
    assert.deepEqual(m.pods.find((p) => p.pod === 'other/client'), { pod: 'other/client', ip: '10.91.0.30', ingress: ['ingress/other/both'], egress: ['egress/other/both'] });
  });

  it('what cannot be honoured allows nothing and is reported', () => {
    const m = modelOf('unenforceable-parts');
    assert.deepEqual(m.policies.get('ingress/shop/odd')!.entries, [], 'IPv6, a bad prefix, an empty peer and an except outside its block all allow nothing');
    assert.deepEqual(m.policies.get('egress/shop/odd')!.entries, []);
    const messages = m.warnings.map((w) => `${w.policy}: ${w.message}`);
    assert.equal(messages.length, 5, messages.join('\n'));
    assert.match(messages[0]!, /spec\.ingress\[0\]\.from\[0\]\.ipBlock: the IPv6 block "fd00::\/64" is not enforced/);
    assert.match(messages[1]!, /from\[1\]\.ipBlock: "10\.5\.0\.0\/33" is not a CIDR/);
    assert.match(messages[2]!, /from\[2\]: a peer needs a podSelector, a namespaceSelector or an ipBlock/);
    assert.match(messages[3]!, /from\[3\]\.ipBlock: except "10\.7\.0\.0\/24" is not inside "10\.6\.0\.0\/16"/);
    assert.match(messages[4]!, /spec\.egress\[0\]\.ports\[0\]: the named port "http" cannot be resolved for the ipBlock 10\.8\.0\.0\/16/);
  });

  it('a pod that gets its address later, moves nodes or ends changes the model', () => {
    const deny = [policy('shop', 'deny', { podSelector: {} })];
    const base = { nodeName: NODE, policies: deny, namespaces: world.namespaces };
    assert.deepEqual(computePolicyModel({ ...base, pods: [pod('shop', 'p', undefined)] }).pods, []);
    assert.equal(computePolicyModel({ ...base, pods: [pod('shop', 'p', '10.91.0.5')] }).pods.length, 1);
    assert.deepEqual(computePolicyModel({ ...base, pods: [pod('shop', 'p', '10.91.0.5', {}, { node: 'node-b' })] }).pods, []);
    assert.deepEqual(computePolicyModel({ ...base, pods: [pod('shop', 'p', '10.91.0.5', {}, { phase: 'Failed' })] }).pods, []);
  });
});

describe('parseIpBlock', () => {
  it('normalizes and refuses', () => {
    assert.deepEqual(parseIpBlock('10.1.2.3/16', ['10.1.128.7/17']), { cidr: '10.1.0.0/16', except: ['10.1.128.0/17'] });
    assert.deepEqual(parseIpBlock('0.0.0.0/0', ['10.0.0.0/8']), { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] });
    assert.equal(typeof parseIpBlock('10.0.0.0', []), 'string');
    assert.equal(typeof parseIpBlock('10.0.0.0/8', ['10.0.0.0/7']), 'string');
    assert.equal(typeof parseIpBlock('300.0.0.0/8', []), 'string');
  });
});

describe('cluster DNS as kube-dns pods (cluster-dns-peers.ts)', () => {
  const slice = (labels: Record<string, string>, addresses: string[], ready = true): EndpointSlice => ({
    addressType: 'IPv4',
    metadata: { namespace: 'kube-system', name: `kube-dns-${addresses[0]}`, labels },
    endpoints: [{ addresses, conditions: { ready } }],
    ports: [
      { name: 'dns', port: 53, protocol: 'UDP' },
      { name: 'dns-tcp', port: 53, protocol: 'TCP' },
    ],
  });
  const mine = { 'kubernetes.io/service-name': 'kube-dns', 'endpointslice.kubernetes.io/managed-by': 'cluster-dns.skiff.io' };

  it("the usual 'DNS to the kube-dns pods' egress rule allows the servers' DNS addresses, by number and by port name", () => {
    const dns = clusterDnsPeers([
      slice(mine, ['192.0.2.2']),
      slice(mine, ['192.0.2.3'], false),
      slice({ ...mine, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' }, ['10.91.5.5']),
    ]);
    assert.deepEqual(dns.map((p) => [p.metadata?.namespace, p.metadata?.labels, p.status?.podIP]), [['kube-system', { 'k8s-app': 'kube-dns' }, '192.0.2.2']], 'ready addresses of skiff-managed slices only');
    const egress = policy('shop', 'dns-only', {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [
        { to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }], ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 'dns-tcp' }] },
      ],
    });
    const m = computePolicyModel({ nodeName: NODE, policies: [egress], pods: [...world.pods, ...dns], namespaces: [...world.namespaces, { metadata: { name: 'kube-system' } }] });
    assert.deepEqual(m.policies.get('egress/shop/dns-only')!.entries.map(show), ['192.0.2.2/32 UDP:53', '192.0.2.2/32 TCP:53']);
    assert.ok(!m.pods.some((p) => p.ip === '192.0.2.2'), 'the DNS stand-in is never isolated itself');
  });
});
