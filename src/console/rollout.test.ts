import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Deployment, ReplicaSet } from 'kubernetes-types/apps/v1.js';
import { computeRollout, resolveFenceposts } from './rollout.js';

const deployment = (status: Deployment['status'], over: Partial<NonNullable<Deployment['spec']>> = {}): Deployment => ({
  metadata: { name: 'web', namespace: 'default', uid: 'd1', generation: 2, annotations: { 'deployment.kubernetes.io/revision': '2' } },
  spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: {}, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } }, ...over },
  status: { observedGeneration: 2, ...status },
});
const rs = (name: string, revision: number, desired: number, current: number, ready: number, owner = 'd1'): ReplicaSet => ({
  metadata: { name, annotations: { 'deployment.kubernetes.io/revision': String(revision) }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: owner, controller: true }] },
  spec: { replicas: desired, selector: {}, template: { spec: { containers: [{ name: 'web', image: `nginx:1.${26 + revision}` }] } } },
  status: { replicas: current, readyReplicas: ready, availableReplicas: ready },
});

describe('rollout view', () => {
  it('resolves maxSurge and maxUnavailable as upstream rounds them', () => {
    assert.deepEqual(resolveFenceposts('25%', '25%', 10), [3, 2]);
    assert.deepEqual(resolveFenceposts(undefined, undefined, 1), [1, 0]);
    assert.deepEqual(resolveFenceposts(0, 0, 5), [0, 1]);
    assert.deepEqual(resolveFenceposts(2, '50%', 3), [2, 1]);
  });

  it('mid-rollout: marks the new ReplicaSet, counts old pods and says what the controller does', () => {
    const v = computeRollout(deployment({ replicas: 4, updatedReplicas: 2, readyReplicas: 3, availableReplicas: 3 }), [rs('web-old', 1, 2, 2, 2), rs('web-new', 2, 2, 2, 1), rs('other', 3, 1, 1, 1, 'someone-else')]);
    assert.deepEqual(v.replicaSets.map((r) => [r.name, r.isNew, r.desired, r.current, r.ready]), [
      ['web-new', true, 2, 2, 1],
      ['web-old', false, 2, 2, 2],
    ]);
    assert.equal(v.complete, false);
    assert.equal(v.maxSurge, 1);
    assert.equal(v.maxUnavailable, 0);
    assert.match(v.summary, /^Rolling update: new ReplicaSet web-new has 1 of 3 ready; 2 old pod\(s\) left to scale down\. At most 4 pods in total and at least 3 available/);
  });

  it('complete once every pod runs the new template and the old ReplicaSets are empty', () => {
    const v = computeRollout(deployment({ replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3 }), [rs('web-old', 1, 0, 0, 0), rs('web-new', 2, 3, 3, 3)]);
    assert.equal(v.complete, true);
    assert.match(v.summary, /^Rolled out: 3 of 3 pods run the current template \(ReplicaSet web-new, revision 2\)/);
  });

  it('says when the status is behind the spec, or the Deployment is paused', () => {
    const behind = deployment({ observedGeneration: 1, replicas: 3, updatedReplicas: 3, availableReplicas: 3 });
    assert.equal(computeRollout(behind, []).observed, false);
    assert.match(computeRollout(behind, []).summary, /not yet seen the newest spec/);
    assert.match(computeRollout(deployment({}, { paused: true }), []).summary, /^Paused/);
  });
});
