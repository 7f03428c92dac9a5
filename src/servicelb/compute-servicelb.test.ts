import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Node, Service } from 'kubernetes-types/core/v1.js';
import { computeListeners, computeServiceLBStatus, lbNodes, readyEndpoints, SERVICELB_FINALIZER, SERVICELB_PORTS_ANNOTATION, servedByServiceLB, wantsServiceLB } from './compute-servicelb.js';

const svc = (name: string, extra: Partial<Service['spec']> = {}, finalizers = [SERVICELB_FINALIZER]): Service => ({
  metadata: { namespace: 'ns', name, finalizers },
  spec: { type: 'LoadBalancer', ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP' }, { name: 's', port: 9, protocol: 'SCTP' }], ...extra },
});
const node = (name: string, ip: string, labels: Record<string, string> = {}, report?: object): Node => ({
  metadata: { name, labels, annotations: report ? { [SERVICELB_PORTS_ANNOTATION]: JSON.stringify(report) } : {} },
  status: { addresses: [{ type: 'InternalIP', address: ip }, { type: 'Hostname', address: name }] },
});

test('which Services: LoadBalancer without a foreign class, claimed, not deleting', () => {
  assert.equal(wantsServiceLB(svc('a')), true);
  assert.equal(wantsServiceLB(svc('a', { type: 'ClusterIP' })), false);
  assert.equal(wantsServiceLB(svc('a', { loadBalancerClass: 'metallb.io/x' })), false);
  assert.equal(wantsServiceLB(svc('a', { loadBalancerClass: 'skiff.dev/servicelb' })), true);
  assert.equal(servedByServiceLB(svc('a', {}, [])), false);
  assert.equal(servedByServiceLB({ ...svc('a'), metadata: { ...svc('a').metadata, deletionTimestamp: '2024-01-01T00:00:00Z' as never } }), false);
});

test('which nodes: all, or only the enablelb=true ones once any node has that label', () => {
  const a = node('a', '10.0.0.1');
  const b = node('b', '10.0.0.2', { 'svccontroller.k3s.cattle.io/enablelb': 'true' });
  const c = node('c', '10.0.0.3', { 'svccontroller.k3s.cattle.io/enablelb': 'false' });
  assert.deepEqual(lbNodes([a, c]).map((n) => n.metadata?.name), ['a']);
  assert.deepEqual(lbNodes([a, b, c]).map((n) => n.metadata?.name), ['b']);
  assert.deepEqual(computeListeners([svc('x')], a, [a, b]), []);
  assert.deepEqual(computeListeners([svc('x'), svc('y', {}, [])], b, [a, b]).map((l) => `${l.service} ${l.portKey} ${l.portName}`), ['ns/x 80/TCP http', 'ns/x 53/UDP dns']);
  assert.deepEqual(computeListeners([svc('x', { externalTrafficPolicy: 'Local' })], b, [a, b]).map((l) => l.local), [true, true]);
});

test('ready endpoints of a named port', () => {
  const slices = [{ addressType: 'IPv4', metadata: {}, ports: [{ name: 'http', port: 8080, protocol: 'TCP' }], endpoints: [{ addresses: ['10.1.0.2'], conditions: { ready: true } }, { addresses: ['10.1.0.3'], conditions: { ready: false } }, { addresses: ['10.1.0.1'] }] }];
  assert.deepEqual(readyEndpoints(slices, 'http', 'TCP'), ['10.1.0.1:8080', '10.1.0.2:8080']);
  assert.deepEqual(readyEndpoints(slices, 'other', 'TCP'), []);
  const spread = [{ addressType: 'IPv4', metadata: {}, ports: [{ name: 'http', port: 8080, protocol: 'TCP' }], endpoints: [{ addresses: ['10.1.0.2'], nodeName: 'a' }, { addresses: ['10.1.0.3'], nodeName: 'b' }, { addresses: ['10.1.0.4'], nodeName: 'b', conditions: { ready: false } }] }];
  assert.deepEqual(readyEndpoints(spread, 'http', 'TCP', 'b'), ['10.1.0.3:8080'], 'externalTrafficPolicy Local: this node\'s ready endpoints only');
  assert.deepEqual(readyEndpoints(spread, 'http', 'TCP', 'c'), []);
});

test('status: nodes listening on every port; pending with the reason when every node failed; waiting while some have not reported', () => {
  const ok = { 'ns/x': { '80/TCP': 'ok', '53/UDP': 'ok' } };
  const taken = { 'ns/x': { '80/TCP': '10.0.0.2:80 is already in use', '53/UDP': 'ok' } };
  assert.deepEqual(computeServiceLBStatus(svc('x'), [node('a', '10.0.0.1', {}, ok), node('b', '10.0.0.2', {}, taken)]), { ips: ['10.0.0.1'] });
  assert.deepEqual(computeServiceLBStatus(svc('x'), [node('a', '10.0.0.1', {}, ok), node('b', '10.0.0.2')]), { ips: ['10.0.0.1'] });
  assert.deepEqual(computeServiceLBStatus(svc('x'), [node('b', '10.0.0.2')]), { ips: [] });
  const pending = computeServiceLBStatus(svc('x'), [node('b', '10.0.0.2', {}, taken)]);
  assert.deepEqual(pending.ips, []);
  assert.equal(pending.pending, "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports (b port 80/TCP: 10.0.0.2:80 is already in use)");
});
