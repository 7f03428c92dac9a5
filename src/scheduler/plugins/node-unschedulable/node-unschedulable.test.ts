import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describe, frameworkFor, makeNode, makePod, runFilter, snapshotOf } from '../../testing/wrappers.js';
import type { Toleration } from 'kubernetes-types/core/v1.js';

const cases: { name: string; unschedulable: boolean; tolerations?: Toleration[]; want: string[] }[] = [
  { name: 'schedulable node', unschedulable: false, want: ['Success'] },
  { name: 'cordoned node', unschedulable: true, want: ['UnschedulableAndUnresolvable', 'node(s) were unschedulable'] },
  { name: 'cordoned node, pod tolerates the unschedulable taint', unschedulable: true, tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }], want: ['Success'] },
  { name: 'cordoned node, toleration of another effect', unschedulable: true, tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoExecute' }], want: ['UnschedulableAndUnresolvable', 'node(s) were unschedulable'] },
  { name: 'cordoned node, tolerate-everything toleration (DaemonSet style)', unschedulable: true, tolerations: [{ operator: 'Exists' }], want: ['Success'] },
];
for (const tc of cases) {
  it(`NodeUnschedulable: ${tc.name}`, () => {
    const snap = snapshotOf([makeNode('n1', { unschedulable: tc.unschedulable })]);
    const fwk = frameworkFor(['NodeUnschedulable'], snap);
    assert.deepEqual(describe(runFilter(fwk, makePod('p', { tolerations: tc.tolerations }), snap.get('n1')!)), tc.want);
  });
}
