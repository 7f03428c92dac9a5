import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { namespaces } from './namespaces.js';
import { podBinding, podDeletion } from './pod-rules.js';

const pod = (spec: Record<string, unknown>, phase?: string): KubeObject => ({ metadata: { name: 'p' }, spec, ...(phase ? { status: { phase } } : {}) });

test('pod graceful deletion: bound, unfinished pods get their grace period', () => {
  const cases: [KubeObject, number | undefined, number][] = [
    [pod({}), undefined, 0],
    [pod({ nodeName: 'n1' }), undefined, 30],
    [pod({ nodeName: 'n1', terminationGracePeriodSeconds: 5 }), undefined, 5],
    [pod({ nodeName: 'n1', terminationGracePeriodSeconds: 5 }), 0, 0],
    [pod({ nodeName: 'n1' }), 7, 7],
    [pod({ nodeName: 'n1' }), -3, 0],
    [pod({ nodeName: 'n1' }, 'Succeeded'), undefined, 0],
    [pod({ nodeName: 'n1' }, 'Failed'), 10, 0],
    [pod({ nodeName: 'n1' }, 'Running'), undefined, 30],
  ];
  for (const [obj, requested, want] of cases) assert.equal(podDeletion.gracePeriodSeconds!(obj, requested), want, JSON.stringify([obj, requested]));
  assert.equal(podDeletion.returnsObject, true);
});

test('pods/binding sets the node once and PodScheduled=True', () => {
  const now = new Date('2026-12-07T10:00:00.123Z');
  const bound = podBinding.mutation!.apply(pod({}), { target: { kind: 'Node', name: 'n1' }, metadata: { annotations: { a: 'b' } } }, { name: 'p', now });
  assert.equal((bound.spec as { nodeName: string }).nodeName, 'n1');
  assert.deepEqual(bound.metadata.annotations, { a: 'b' });
  assert.deepEqual((bound.status as { conditions: unknown[] }).conditions, [{ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: '2026-12-07T10:00:00Z' }]);
  const refusals: [KubeObject, Record<string, unknown>, number][] = [
    [pod({}), { target: {} }, 422],
    [pod({}), { target: { kind: 'Pod', name: 'x' } }, 422],
    [pod({ nodeName: 'n0' }), { target: { name: 'n1' } }, 409],
    [{ ...pod({}), metadata: { name: 'p', deletionTimestamp: '2026-12-07T00:00:00Z' } }, { target: { name: 'n1' } }, 409],
  ];
  for (const [obj, body, code] of refusals) {
    assert.throws(() => podBinding.mutation!.apply(obj, body, { name: 'p', now }), (err: { code?: number }) => err.code === code, JSON.stringify(body));
  }
});

test('namespaces: finalization holds deletion, marking sets Terminating, finalize replaces spec.finalizers', () => {
  const ns: KubeObject = { metadata: { name: 'team' }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } };
  const rules = namespaces.deletion!;
  assert.equal(rules.finalizationPending!(ns), true);
  assert.equal(rules.finalizationPending!({ metadata: {}, spec: {} }), false);
  const marked = structuredClone(ns);
  rules.markDeleting!(marked);
  assert.equal((marked.status as { phase: string }).phase, 'Terminating');
  const finalize = namespaces.subresources!.find((s) => s.name === 'finalize')!.mutation!;
  const cleared = finalize.apply(structuredClone(ns), { spec: { finalizers: [] } }, { name: 'team', now: new Date() });
  assert.deepEqual(cleared.spec, {});
  const set = finalize.apply(structuredClone(ns), { spec: { finalizers: ['a', 'b'] }, metadata: { resourceVersion: '7' } }, { name: 'team', now: new Date() });
  assert.deepEqual(set.spec, { finalizers: ['a', 'b'] });
  assert.equal(set.metadata.resourceVersion, '7', 'a resourceVersion in the body is a precondition');
});
