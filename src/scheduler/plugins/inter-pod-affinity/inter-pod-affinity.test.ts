import assert from 'node:assert/strict';
import { describe as group, it } from 'node:test';
import type { Affinity, PodAffinityTerm } from 'kubernetes-types/core/v1.js';
import { ObjectCache } from '../../../client/object-cache.js';
import type { Namespace, Pod } from '../../framework/types.js';
import { describe, frameworkFor, makeNode, makePod, runFilter, scoreNodes, snapshotOf } from '../../testing/wrappers.js';

const zone = 'topology.kubernetes.io/zone';
const host = 'kubernetes.io/hostname';
const term = (labels: Record<string, string>, topologyKey: string, extra: Partial<PodAffinityTerm> = {}): PodAffinityTerm => ({ labelSelector: { matchLabels: labels }, topologyKey, ...extra });

// Two zones of two nodes; a database in zone a (namespace data), a web pod with hostname anti-affinity on b1.
const nodes = [
  makeNode('a1', { labels: { [zone]: 'a' } }),
  makeNode('a2', { labels: { [zone]: 'a' } }),
  makeNode('b1', { labels: { [zone]: 'b' } }),
  makeNode('b2', { labels: { [zone]: 'b' } }),
];
const db = makePod('db-0', { namespace: 'data', nodeName: 'a1', labels: { app: 'db' } });
const web0 = makePod('web-0', { nodeName: 'b1', labels: { app: 'web' }, affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term({ app: 'web' }, host)] } } });

function namespaces(): ObjectCache<Namespace> {
  const c = new ObjectCache<Namespace>();
  c.upsert({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'data', labels: { team: 'data', 'kubernetes.io/metadata.name': 'data' } } });
  c.upsert({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default', labels: { 'kubernetes.io/metadata.name': 'default' } } });
  return c;
}

function filterAll(pod: Pod, existing: Pod[] = [db, web0], extraNodes = nodes): Record<string, string[]> {
  const snap = snapshotOf(extraNodes, existing);
  const fwk = frameworkFor(['InterPodAffinity'], snap, { namespaceLister: namespaces() });
  return Object.fromEntries(snap.list().map((n) => [n.name, describe(runFilter(fwk, pod, n))]));
}

const ok = ['Success'];
const noAffinity = ['UnschedulableAndUnresolvable', "node(s) didn't match pod affinity rules"];
const noAnti = ['Unschedulable', "node(s) didn't match pod anti-affinity rules"];
const existingAnti = ['Unschedulable', "node(s) didn't satisfy existing pods anti-affinity rules"];
const affinity = (...terms: PodAffinityTerm[]): Affinity => ({ podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: terms } });
const anti = (...terms: PodAffinityTerm[]): Affinity => ({ podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: terms } });

group('InterPodAffinity Filter', () => {
  const cases: { name: string; pod: Pod; existing?: Pod[]; want: Record<string, string[]> }[] = [
    { name: 'no terms and no anti-affinity around', pod: makePod('p'), existing: [db], want: { a1: ok, a2: ok, b1: ok, b2: ok } },
    {
      name: 'affinity to the database zone (namespaces listed)',
      pod: makePod('p', { affinity: affinity(term({ app: 'db' }, zone, { namespaces: ['data'] })) }),
      want: { a1: ok, a2: ok, b1: noAffinity, b2: noAffinity },
    },
    {
      name: "a term without namespaces only looks in the pod's own namespace",
      pod: makePod('p', { affinity: affinity(term({ app: 'db' }, zone)) }),
      want: { a1: noAffinity, a2: noAffinity, b1: noAffinity, b2: noAffinity },
    },
    {
      name: 'namespaceSelector picks namespaces by label',
      pod: makePod('p', { affinity: affinity(term({ app: 'db' }, zone, { namespaceSelector: { matchLabels: { team: 'data' } } })) }),
      want: { a1: ok, a2: ok, b1: noAffinity, b2: noAffinity },
    },
    {
      name: 'an empty namespaceSelector means all namespaces',
      pod: makePod('p', { affinity: affinity(term({ app: 'db' }, host, { namespaceSelector: {} })) }),
      want: { a1: ok, a2: noAffinity, b1: noAffinity, b2: noAffinity },
    },
    {
      name: 'nothing matches and the pod does not match itself',
      pod: makePod('p', { labels: { app: 'api' }, affinity: affinity(term({ app: 'cache' }, zone)) }),
      want: { a1: noAffinity, a2: noAffinity, b1: noAffinity, b2: noAffinity },
    },
    {
      name: 'the first pod of a group with affinity to itself may go anywhere',
      pod: makePod('p', { labels: { app: 'cache' }, affinity: affinity(term({ app: 'cache' }, zone)) }),
      want: { a1: ok, a2: ok, b1: ok, b2: ok },
    },
    {
      name: 'anti-affinity by hostname',
      pod: makePod('p', { affinity: anti(term({ app: 'db' }, host, { namespaces: ['data'] })) }),
      want: { a1: noAnti, a2: ok, b1: ok, b2: ok },
    },
    {
      name: 'anti-affinity by zone',
      pod: makePod('p', { affinity: anti(term({ app: 'db' }, zone, { namespaces: ['data'] })) }),
      want: { a1: noAnti, a2: noAnti, b1: ok, b2: ok },
    },
    {
      name: "an existing pod's anti-affinity keeps matching pods off its node",
      pod: makePod('web-1', { labels: { app: 'web' } }),
      want: { a1: ok, a2: ok, b1: existingAnti, b2: ok },
    },
  ];
  for (const tc of cases) {
    it(tc.name, () => assert.deepEqual(filterAll(tc.pod, tc.existing), tc.want));
  }

  it('a node without the topology label fails required affinity', () => {
    const got = filterAll(makePod('p', { affinity: affinity(term({ app: 'db' }, 'rack', { namespaces: ['data'] })) }), [db, makePod('db-1', { namespace: 'data', nodeName: 'r1', labels: { app: 'db' } })], [
      ...nodes,
      makeNode('r1', { labels: { rack: 'r1' } }),
    ]);
    assert.deepEqual(got, { a1: noAffinity, a2: noAffinity, b1: noAffinity, b2: noAffinity, r1: ok });
  });

  it('a selector that does not parse makes the pod unresolvable', () => {
    const bad = makePod('p', { affinity: affinity({ labelSelector: { matchExpressions: [{ key: 'app', operator: 'Near', values: ['x'] }] }, topologyKey: zone }) });
    assert.match(filterAll(bad).a1!.join(' '), /^UnschedulableAndUnresolvable parsing pod: /);
  });
});

group('InterPodAffinity Score', () => {
  it('preferred affinity and anti-affinity, scaled between the worst and best node', () => {
    const snap = snapshotOf(nodes, [db, web0]);
    const fwk = frameworkFor([{ name: 'InterPodAffinity', weight: 2 }], snap, { namespaceLister: namespaces() });
    const pod = makePod('p', {
      affinity: {
        podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 5, podAffinityTerm: term({ app: 'db' }, zone, { namespaces: ['data'] }) }] },
        podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 10, podAffinityTerm: term({ app: 'web' }, host) }] },
      },
    });
    // raw: a1 5, a2 5, b1 -10, b2 0 -> (raw - min) / (max - min) * 100.
    const scores = scoreNodes(fwk, pod);
    assert.deepEqual(Object.fromEntries([...scores].map(([n, s]) => [n, s.InterPodAffinity])), { a1: 100, a2: 100, b1: 0, b2: 66 });
  });

  it("existing pods' preferred terms and required affinity attract the incoming pod", () => {
    const fan = makePod('fan', {
      nodeName: 'b2',
      affinity: { podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 30, podAffinityTerm: term({ app: 'api' }, host) }] } },
    });
    const friend = makePod('friend', { nodeName: 'a2', affinity: affinity(term({ app: 'api' }, zone)) });
    const snap = snapshotOf(nodes, [fan, friend]);
    const fwk = frameworkFor(['InterPodAffinity'], snap, { namespaceLister: namespaces() });
    // b2: +30 (fan's preferred term); zone a: +1 (friend's required term, hardPodAffinityWeight 1).
    const scores = scoreNodes(fwk, makePod('api-0', { labels: { app: 'api' } }));
    assert.deepEqual(Object.fromEntries([...scores].map(([n, s]) => [n, s.InterPodAffinity])), { a1: 3, a2: 3, b1: 0, b2: 100 });
  });
});
