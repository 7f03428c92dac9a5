import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DaemonSet } from 'kubernetes-types/apps/v1.js';
import type { Node, NodeSelectorTerm, PodSpec, Taint, Toleration } from 'kubernetes-types/core/v1.js';
import { nodeShouldRunDaemonPod, nodeSelectorTermMatches, targetNodeName, tolerates } from './node-eligibility.js';

const node = (labels: Record<string, string>, taints: Taint[] = []): Node => ({ metadata: { name: 'n1', labels }, spec: { taints } });
const ds = (spec: Partial<PodSpec>): DaemonSet => ({ spec: { selector: {}, template: { spec: { containers: [], ...spec } } } });

describe('tolerates', () => {
  const taint: Taint = { key: 'k', value: 'v', effect: 'NoSchedule' };
  const cases: { t: Toleration; want: boolean }[] = [
    { t: { key: 'k', operator: 'Equal', value: 'v', effect: 'NoSchedule' }, want: true },
    { t: { key: 'k', value: 'v' }, want: true },
    { t: { key: 'k', value: 'w' }, want: false },
    { t: { key: 'k', operator: 'Exists' }, want: true },
    { t: { operator: 'Exists' }, want: true },
    { t: { key: 'k', operator: 'Exists', effect: 'NoExecute' }, want: false },
    { t: { key: 'other', operator: 'Exists' }, want: false },
  ];
  for (const c of cases) it(JSON.stringify(c.t), () => assert.equal(tolerates(c.t, taint), c.want));
});

describe('nodeSelectorTermMatches', () => {
  const n = node({ zone: 'a', cpus: '8' });
  const cases: { term: NodeSelectorTerm; want: boolean }[] = [
    { term: { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }, want: true },
    { term: { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, want: false },
    { term: { matchExpressions: [{ key: 'gpu', operator: 'NotIn', values: ['x'] }] }, want: true },
    { term: { matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] }, want: true },
    { term: { matchExpressions: [{ key: 'cpus', operator: 'Gt', values: ['4'] }] }, want: true },
    { term: { matchExpressions: [{ key: 'cpus', operator: 'Lt', values: ['4'] }] }, want: false },
    { term: { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] }, want: true },
    { term: { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n2'] }] }, want: false },
    { term: {}, want: false },
  ];
  for (const c of cases) it(JSON.stringify(c.term), () => assert.equal(nodeSelectorTermMatches(c.term, n), c.want));
});

describe('nodeShouldRunDaemonPod', () => {
  const cases: { name: string; node: Node; ds: DaemonSet; want: [boolean, boolean] }[] = [
    { name: 'plain node', node: node({}), ds: ds({}), want: [true, true] },
    { name: 'nodeSelector mismatch', node: node({ disk: 'hdd' }), ds: ds({ nodeSelector: { disk: 'ssd' } }), want: [false, false] },
    {
      name: 'required affinity mismatch',
      node: node({ zone: 'a' }),
      ds: ds({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['b'] }] }] } } } }),
      want: [false, false],
    },
    { name: 'untolerated NoSchedule: no new pod, the old one may stay', node: node({}, [{ key: 'x', effect: 'NoSchedule' }]), ds: ds({}), want: [false, true] },
    { name: 'untolerated NoExecute: must go', node: node({}, [{ key: 'x', effect: 'NoExecute' }]), ds: ds({}), want: [false, false] },
    { name: 'PreferNoSchedule is ignored', node: node({}, [{ key: 'x', effect: 'PreferNoSchedule' }]), ds: ds({}), want: [true, true] },
    { name: 'default toleration: cordoned', node: node({}, [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }]), ds: ds({}), want: [true, true] },
    { name: 'default toleration: unreachable NoExecute', node: node({}, [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }]), ds: ds({}), want: [true, true] },
    { name: 'not-ready NoSchedule is not a default toleration', node: node({}, [{ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }]), ds: ds({}), want: [false, true] },
    { name: 'network-unavailable only for hostNetwork', node: node({}, [{ key: 'node.kubernetes.io/network-unavailable', effect: 'NoSchedule' }]), ds: ds({ hostNetwork: true }), want: [true, true] },
    { name: 'template nodeName elsewhere', node: node({}), ds: ds({ nodeName: 'n9' }), want: [false, false] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = nodeShouldRunDaemonPod(c.node, c.ds);
      assert.deepEqual([r.shouldRun, r.shouldContinueRunning], c.want);
    });
  }
});

describe('targetNodeName', () => {
  it('prefers spec.nodeName, else the metadata.name affinity', () => {
    assert.equal(targetNodeName({ spec: { nodeName: 'a', containers: [] } }), 'a');
    assert.equal(
      targetNodeName({
        spec: { containers: [], affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['b'] }] }] } } } },
      }),
      'b',
    );
    assert.equal(targetNodeName({ spec: { containers: [] } }), undefined);
  });
});
