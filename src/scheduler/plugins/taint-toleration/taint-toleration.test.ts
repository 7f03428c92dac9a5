import assert from 'node:assert/strict';
import { describe as group, it } from 'node:test';
import type { Taint, Toleration } from 'kubernetes-types/core/v1.js';
import { describe, frameworkFor, makeNode, makePod, runFilter, scoreNodes, snapshotOf } from '../../testing/wrappers.js';

group('TaintToleration Filter', () => {
  const cases: { name: string; taints: Taint[]; tolerations?: Toleration[]; want: string[] }[] = [
    { name: 'no taints', taints: [], want: ['Success'] },
    { name: 'untolerated NoSchedule', taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }], want: ['UnschedulableAndUnresolvable', 'node(s) had untolerated taint {dedicated: gpu}'] },
    { name: 'control-plane taint without value', taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }], want: ['UnschedulableAndUnresolvable', 'node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }'] },
    { name: 'untolerated NoExecute', taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }], want: ['UnschedulableAndUnresolvable', 'node(s) had untolerated taint {node.kubernetes.io/unreachable: }'] },
    { name: 'PreferNoSchedule does not filter', taints: [{ key: 'soft', value: 'x', effect: 'PreferNoSchedule' }], want: ['Success'] },
    { name: 'Equal toleration with the value', taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }], tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }], want: ['Success'] },
    { name: 'empty operator means Equal', taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }], tolerations: [{ key: 'dedicated', value: 'cpu' }], want: ['UnschedulableAndUnresolvable', 'node(s) had untolerated taint {dedicated: gpu}'] },
    { name: 'Exists toleration for the key, any effect', taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoExecute' }], tolerations: [{ key: 'dedicated', operator: 'Exists' }], want: ['Success'] },
    { name: 'toleration for another effect', taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }], tolerations: [{ key: 'dedicated', operator: 'Exists', effect: 'NoExecute' }], want: ['UnschedulableAndUnresolvable', 'node(s) had untolerated taint {dedicated: gpu}'] },
    {
      name: 'the first untolerated taint is reported',
      taints: [{ key: 'a', value: '1', effect: 'NoSchedule' }, { key: 'b', value: '2', effect: 'NoSchedule' }],
      tolerations: [{ key: 'a', operator: 'Exists' }],
      want: ['UnschedulableAndUnresolvable', 'node(s) had untolerated taint {b: 2}'],
    },
  ];
  for (const tc of cases) {
    it(tc.name, () => {
      const snap = snapshotOf([makeNode('n1', { taints: tc.taints })]);
      const fwk = frameworkFor(['TaintToleration'], snap);
      assert.deepEqual(describe(runFilter(fwk, makePod('p', { tolerations: tc.tolerations }), snap.get('n1')!)), tc.want);
    });
  }
});

group('TaintToleration Score', () => {
  it('fewer untolerated PreferNoSchedule taints score higher (reverse-normalized)', () => {
    const soft = (key: string): Taint => ({ key, value: 'v', effect: 'PreferNoSchedule' });
    const snap = snapshotOf([
      makeNode('clean'),
      makeNode('one', { taints: [soft('a')] }),
      makeNode('two', { taints: [soft('a'), soft('b')] }),
      makeNode('tolerated', { taints: [soft('c')] }),
    ]);
    const fwk = frameworkFor([{ name: 'TaintToleration', weight: 3 }], snap);
    const scores = scoreNodes(fwk, makePod('p', { tolerations: [{ key: 'c', operator: 'Exists', effect: 'PreferNoSchedule' }] }));
    // counts 0,1,2,0 -> 100 - 100*count/2.
    assert.deepEqual(Object.fromEntries([...scores].map(([n, s]) => [n, s.TaintToleration])), { clean: 100, one: 50, two: 0, tolerated: 100 });
    assert.equal(scores.get('one')!.total, 150, 'weight 3 applies to the normalized score');
  });
});
