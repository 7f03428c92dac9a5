import assert from 'node:assert/strict';
import { describe as group, it } from 'node:test';
import type { TopologySpreadConstraint } from 'kubernetes-types/core/v1.js';
import { ObjectCache } from '../../../client/object-cache.js';
import type { Pod } from '../../framework/types.js';
import { describe, frameworkFor, makeNode, makePod, runFilter, scoreNodes, snapshotOf } from '../../testing/wrappers.js';

const zone = 'topology.kubernetes.io/zone';
const host = 'kubernetes.io/hostname';
const nodes = [
  makeNode('a1', { labels: { [zone]: 'a' } }),
  makeNode('a2', { labels: { [zone]: 'a' } }),
  makeNode('b1', { labels: { [zone]: 'b' } }),
  makeNode('b2', { labels: { [zone]: 'b' } }),
];
// Zone a holds two web pods, zone b one.
const web = (name: string, node: string, extra = {}) => makePod(name, { nodeName: node, labels: { app: 'web' }, ...extra });
const existing = [web('w1', 'a1'), web('w2', 'a1'), web('w3', 'b1')];
const spread = (topologyKey: string, extra: Partial<TopologySpreadConstraint> = {}): TopologySpreadConstraint => ({
  maxSkew: 1,
  topologyKey,
  whenUnsatisfiable: 'DoNotSchedule',
  labelSelector: { matchLabels: { app: 'web' } },
  ...extra,
});

const ok = ['Success'];
const skewed = ['Unschedulable', "node(s) didn't match pod topology spread constraints"];
const missing = ['UnschedulableAndUnresolvable', "node(s) didn't match pod topology spread constraints (missing required label)"];

function filterAll(pod: Pod, pods: Pod[] = existing, ns = nodes): Record<string, string[]> {
  const snap = snapshotOf(ns, pods);
  const fwk = frameworkFor(['PodTopologySpread'], snap);
  return Object.fromEntries(snap.list().map((n) => [n.name, describe(runFilter(fwk, pod, n))]));
}

group('PodTopologySpread Filter', () => {
  const cases: { name: string; pod: Pod; pods?: Pod[]; nodes?: typeof nodes; want: Record<string, string[]> }[] = [
    // zone a: 2 + 1 - min(1) = 2 > 1; zone b: 1 + 1 - 1 = 1.
    { name: 'maxSkew 1 across zones', pod: makePod('p', { labels: { app: 'web' }, topologySpreadConstraints: [spread(zone)] }), want: { a1: skewed, a2: skewed, b1: ok, b2: ok } },
    { name: 'maxSkew 2 allows the fuller zone', pod: makePod('p', { labels: { app: 'web' }, topologySpreadConstraints: [spread(zone, { maxSkew: 2 })] }), want: { a1: ok, a2: ok, b1: ok, b2: ok } },
    // hostname domains: a1 2, a2 0, b1 1, b2 0 -> min 0; b1: 1 + 1 - 0 = 2 > 1.
    { name: 'by hostname', pod: makePod('p', { labels: { app: 'web' }, topologySpreadConstraints: [spread(host)] }), want: { a1: skewed, a2: ok, b1: skewed, b2: ok } },
    // A pod outside its own selector adds nothing to the domain it lands in: zone a 2 + 0 - 1 = 1.
    { name: 'a pod not matching its own selector', pod: makePod('p', { labels: { app: 'other' }, topologySpreadConstraints: [spread(zone)] }), want: { a1: ok, a2: ok, b1: ok, b2: ok } },
    // minDomains 3 with two zones: the global minimum counts as 0, so zone b: 1 + 1 - 0 = 2 > 1.
    { name: 'fewer domains than minDomains', pod: makePod('p', { labels: { app: 'web' }, topologySpreadConstraints: [spread(zone, { minDomains: 3 })] }), want: { a1: skewed, a2: skewed, b1: skewed, b2: skewed } },
    {
      name: 'terminating pods are not counted',
      pod: makePod('p', { labels: { app: 'web' }, topologySpreadConstraints: [spread(zone)] }),
      pods: [web('w1', 'a1'), web('w2', 'a1', { deletionTimestamp: '2025-01-01T00:00:00Z' }), web('w3', 'b1')],
      want: { a1: ok, a2: ok, b1: ok, b2: ok },
    },
    {
      name: 'pods in other namespaces are not counted',
      pod: makePod('p', { namespace: 'other', labels: { app: 'web' }, topologySpreadConstraints: [spread(zone)] }),
      want: { a1: ok, a2: ok, b1: ok, b2: ok },
    },
    {
      // nodeAffinityPolicy Honor (default): only zone a counts as a domain, min 2, so 2 + 1 - 2 = 1 fits there
      // (without the selector zone a is skewed, see the first case). Zone b is no domain: this plugin lets it
      // pass and leaves it to NodeAffinity, as upstream does.
      name: "domains come from nodes that pass the pod's node selector",
      pod: makePod('p', { labels: { app: 'web' }, nodeSelector: { [zone]: 'a' }, topologySpreadConstraints: [spread(zone)] }),
      want: { a1: ok, a2: ok, b1: ok, b2: ok },
    },
    {
      name: 'a node without the topology key',
      pod: makePod('p', { labels: { app: 'web' }, topologySpreadConstraints: [spread(zone)] }),
      nodes: [...nodes, makeNode('bare')],
      want: { a1: skewed, a2: skewed, b1: ok, b2: ok, bare: missing },
    },
    {
      // matchLabelKeys adds the pod's own value of the key: only pods of the same revision are counted.
      name: 'matchLabelKeys narrows the selector to the pod revision',
      pod: makePod('p', { labels: { app: 'web', rev: '2' }, topologySpreadConstraints: [spread(zone, { matchLabelKeys: ['rev'] })] }),
      pods: [web('w1', 'a1', { labels: { app: 'web', rev: '1' } }), web('w2', 'a1', { labels: { app: 'web', rev: '1' } }), web('w3', 'b1', { labels: { app: 'web', rev: '2' } })],
      want: { a1: ok, a2: ok, b1: skewed, b2: skewed },
    },
  ];
  for (const tc of cases) {
    it(tc.name, () => assert.deepEqual(filterAll(tc.pod, tc.pods, tc.nodes), tc.want));
  }
});

group('PodTopologySpread Score', () => {
  it('ScheduleAnyway prefers the emptiest domains', () => {
    const snap = snapshotOf(nodes, existing);
    const fwk = frameworkFor([{ name: 'PodTopologySpread', weight: 2 }], snap);
    const pod = makePod('p', { labels: { app: 'web' }, topologySpreadConstraints: [spread(host, { whenUnsatisfiable: 'ScheduleAnyway' })] });
    // counts a1 2, a2 0, b1 1, b2 0, weight ln(4 + 2): raw 4, 0, 2, 0 -> 100 * (max + min - raw) / max.
    const scores = scoreNodes(fwk, pod);
    assert.deepEqual(Object.fromEntries([...scores].map(([n, s]) => [n, s.PodTopologySpread])), { a1: 0, a2: 100, b1: 50, b2: 100 });
  });

  it('counts follow pods placed between cycles (the per-node count cache is invalidated)', () => {
    const snap = snapshotOf(nodes, existing);
    const fwk = frameworkFor(['PodTopologySpread'], snap);
    const pod = makePod('p', { labels: { app: 'web' }, topologySpreadConstraints: [spread(host, { whenUnsatisfiable: 'ScheduleAnyway' })] });
    const byNode = () => Object.fromEntries([...scoreNodes(fwk, pod)].map(([n, s]) => [n, s.PodTopologySpread]));
    assert.deepEqual(byNode(), { a1: 0, a2: 100, b1: 50, b2: 100 });
    // Two more on a2 and b2: raw a1 4, a2 4, b1 2, b2 4 (rounded from 3.58) -> b1 is now the emptiest.
    snap.assumePod(web('w4', 'a2'));
    snap.addPod(web('w5', 'a2'));
    snap.addPod(web('w6', 'b2'));
    snap.addPod(web('w7', 'b2'));
    assert.deepEqual(byNode(), { a1: 50, a2: 50, b1: 100, b2: 50 });
    // And filtering sees them too.
    snap.removePod(web('w1', 'a1'));
    snap.removePod(web('w2', 'a1'));
    const hard = makePod('q', { labels: { app: 'web' }, topologySpreadConstraints: [spread(host)] });
    assert.deepEqual(filterAll(hard, [web('w3', 'b1'), web('w4', 'a2'), web('w5', 'a2')]), { a1: ok, a2: skewed, b1: skewed, b2: ok });
    assert.deepEqual(Object.fromEntries(snap.list().map((n) => [n.name, describe(runFilter(fwk, hard, n))])), { a1: ok, a2: skewed, b1: skewed, b2: skewed });
  });

  it("pods of a ReplicaSet get the system default constraints from its selector", () => {
    const rs = new ObjectCache();
    rs.upsert({ apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'web-abc', namespace: 'default' }, spec: { selector: { matchLabels: { app: 'web' } } } });
    const snap = snapshotOf(nodes, existing);
    const fwk = frameworkFor(['PodTopologySpread'], snap, { ownerListers: { replicaSets: rs, services: undefined, statefulSets: undefined, replicationControllers: undefined } });
    const owned = makePod('web-abc-x', { labels: { app: 'web' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc', uid: 'u1', controller: true }] });
    const byNode = (p: Pod) => Object.fromEntries([...scoreNodes(fwk, p)].map(([n, s]) => [n, s.PodTopologySpread]));
    // hostname (maxSkew 3, weight ln 6) + zone (maxSkew 5, weight ln 4), per node: count * weight + maxSkew - 1.
    // a1: 2*1.79+2 + 2*1.39+4 = 12.4 -> 12; a2: 2 + 6.77 -> 9; b1: 3.79 + 5.39 -> 9; b2: 2 + 5.39 -> 7.
    // Normalized 100 * (12 + 7 - raw) / 12.
    assert.deepEqual(byNode(owned), { a1: 58, a2: 83, b1: 83, b2: 100 });
    // Without an owner or Service there is no selector, so no default constraint applies.
    assert.deepEqual(byNode(makePod('lonely', { labels: { app: 'web' } })), { a1: undefined, a2: undefined, b1: undefined, b2: undefined });
  });
});
