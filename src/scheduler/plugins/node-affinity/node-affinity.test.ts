import assert from 'node:assert/strict';
import { describe as group, it } from 'node:test';
import type { Affinity } from 'kubernetes-types/core/v1.js';
import { CycleState } from '../../framework/cycle-state.js';
import { describe, frameworkFor, makeNode, makePod, runFilter, scoreNodes, snapshotOf } from '../../testing/wrappers.js';

const reason = "node(s) didn't match Pod's node affinity/selector";
const required = (...terms: NonNullable<NonNullable<Affinity['nodeAffinity']>['requiredDuringSchedulingIgnoredDuringExecution']>['nodeSelectorTerms']): Affinity => ({
  nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } },
});

group('NodeAffinity Filter', () => {
  const node = makeNode('n1', { labels: { 'topology.kubernetes.io/zone': 'zone-a', disktype: 'ssd', 'gpu-count': '4' } });
  const cases: { name: string; nodeSelector?: Record<string, string>; affinity?: Affinity; want: string[] }[] = [
    { name: 'no constraints', want: ['Success'] },
    { name: 'nodeSelector matches', nodeSelector: { disktype: 'ssd' }, want: ['Success'] },
    { name: 'nodeSelector value differs', nodeSelector: { disktype: 'hdd' }, want: ['UnschedulableAndUnresolvable', reason] },
    { name: 'nodeSelector label missing', nodeSelector: { team: 'a' }, want: ['UnschedulableAndUnresolvable', reason] },
    { name: 'In matches', affinity: required({ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['zone-a', 'zone-b'] }] }), want: ['Success'] },
    { name: 'NotIn excludes', affinity: required({ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'NotIn', values: ['zone-a'] }] }), want: ['UnschedulableAndUnresolvable', reason] },
    { name: 'DoesNotExist', affinity: required({ matchExpressions: [{ key: 'spot', operator: 'DoesNotExist' }] }), want: ['Success'] },
    { name: 'Gt compares integers', affinity: required({ matchExpressions: [{ key: 'gpu-count', operator: 'Gt', values: ['3'] }] }), want: ['Success'] },
    { name: 'Lt compares integers', affinity: required({ matchExpressions: [{ key: 'gpu-count', operator: 'Lt', values: ['4'] }] }), want: ['UnschedulableAndUnresolvable', reason] },
    {
      name: 'terms are ORed',
      affinity: required({ matchExpressions: [{ key: 'disktype', operator: 'In', values: ['hdd'] }] }, { matchExpressions: [{ key: 'disktype', operator: 'In', values: ['ssd'] }] }),
      want: ['Success'],
    },
    {
      name: 'requirements of a term are ANDed',
      affinity: required({ matchExpressions: [{ key: 'disktype', operator: 'In', values: ['ssd'] }, { key: 'topology.kubernetes.io/zone', operator: 'In', values: ['zone-b'] }] }),
      want: ['UnschedulableAndUnresolvable', reason],
    },
    { name: 'an empty term matches nothing', affinity: required({}), want: ['UnschedulableAndUnresolvable', reason] },
    {
      name: 'nodeSelector and affinity must both match',
      nodeSelector: { disktype: 'hdd' },
      affinity: required({ matchExpressions: [{ key: 'disktype', operator: 'Exists' }] }),
      want: ['UnschedulableAndUnresolvable', reason],
    },
    { name: 'matchFields on metadata.name', affinity: required({ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] }), want: ['Success'] },
    { name: 'matchFields naming other nodes', affinity: required({ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n2'] }] }), want: ['UnschedulableAndUnresolvable', 'not in PreFilterResult'] },
  ];
  for (const tc of cases) {
    it(tc.name, () => {
      const snap = snapshotOf([node]);
      const fwk = frameworkFor(['NodeAffinity'], snap);
      assert.deepEqual(describe(runFilter(fwk, makePod('p', { nodeSelector: tc.nodeSelector, affinity: tc.affinity }), snap.get('n1')!)), tc.want);
    });
  }

  it('PreFilter narrows the nodes to those named in every term, and reports a conflict', () => {
    const snap = snapshotOf([makeNode('n1'), makeNode('n2'), makeNode('n3')]);
    const fwk = frameworkFor(['NodeAffinity'], snap);
    const names = (a: Affinity) => {
      const r = fwk.runPreFilterPlugins(new CycleState(), makePod('p', { affinity: a }), snap.list());
      return r.status ? describe(r.status) : r.nodeNames ? [...r.nodeNames].sort() : 'all';
    };
    assert.deepEqual(
      names(required({ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] }, { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n3'] }] })),
      ['n1', 'n3'],
    );
    assert.equal(names(required({ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] }, { matchExpressions: [{ key: 'a', operator: 'Exists' }] })), 'all');
    assert.deepEqual(
      names(required({ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }, { key: 'metadata.name', operator: 'In', values: ['n2'] }] })),
      ['UnschedulableAndUnresolvable', 'pod affinity terms conflict'],
    );
  });
});

group('NodeAffinity Score', () => {
  it('sums the weights of matching preferred terms, normalized to the best node', () => {
    const snap = snapshotOf([
      makeNode('ssd-a', { labels: { disktype: 'ssd', 'topology.kubernetes.io/zone': 'a' } }),
      makeNode('ssd-b', { labels: { disktype: 'ssd', 'topology.kubernetes.io/zone': 'b' } }),
      makeNode('hdd-a', { labels: { disktype: 'hdd', 'topology.kubernetes.io/zone': 'a' } }),
      makeNode('none'),
    ]);
    const fwk = frameworkFor([{ name: 'NodeAffinity', weight: 2 }], snap);
    const pod = makePod('p', {
      affinity: {
        nodeAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 80, preference: { matchExpressions: [{ key: 'disktype', operator: 'In', values: ['ssd'] }] } },
            { weight: 20, preference: { matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['a'] }] } },
          ],
        },
      },
    });
    const scores = scoreNodes(fwk, pod);
    // raw 100, 80, 20, 0; max 100.
    assert.deepEqual(Object.fromEntries([...scores].map(([n, s]) => [n, s.NodeAffinity])), { 'ssd-a': 100, 'ssd-b': 80, 'hdd-a': 20, none: 0 });
    assert.equal(scores.get('ssd-b')!.total, 160);
  });

  it('is skipped for pods without preferred terms', () => {
    const snap = snapshotOf([makeNode('n1')]);
    const scores = scoreNodes(frameworkFor(['NodeAffinity'], snap), makePod('p', { nodeSelector: { a: 'b' } }));
    assert.equal(scores.get('n1')!.NodeAffinity, undefined);
  });
});
