import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Deployment } from 'kubernetes-types/apps/v1.js';
import type { KubeObject } from '../../api/object.js';
import {
  deploymentTimedOut,
  maxSurge,
  maxUnavailable,
  resolveFenceposts,
  setNewReplicaSetAnnotations,
  type MutableReplicaSet,
} from './deployment-util.js';
import { computePodTemplateHash } from './pod-template-hash.js';

function d(replicas: number, maxSurgeV?: number | string, maxUnavailableV?: number | string, type = 'RollingUpdate'): Deployment {
  return {
    metadata: { name: 'web', annotations: { 'kubernetes.io/change-cause': 'v2', 'kubectl.kubernetes.io/last-applied-configuration': '{}', 'deployment.kubernetes.io/revision': '9' } },
    spec: {
      replicas,
      selector: {},
      template: {},
      strategy: type === 'Recreate' ? { type } : { type, rollingUpdate: { maxSurge: maxSurgeV, maxUnavailable: maxUnavailableV } },
      progressDeadlineSeconds: 600,
    },
  };
}

describe('resolveFenceposts / maxSurge / maxUnavailable', () => {
  const cases: { name: string; dep: Deployment; surge: number; unavailable: number }[] = [
    { name: '25%/25% of 10: surge rounds up, unavailable down', dep: d(10, '25%', '25%'), surge: 3, unavailable: 2 },
    { name: '25%/25% of 3', dep: d(3, '25%', '25%'), surge: 1, unavailable: 0 },
    { name: '25%/25% of 1', dep: d(1, '25%', '25%'), surge: 1, unavailable: 0 },
    { name: 'absolute numbers', dep: d(5, 2, 1), surge: 2, unavailable: 1 },
    { name: 'both resolve to 0: unavailable becomes 1', dep: d(5, 0, '10%'), surge: 0, unavailable: 1 },
    { name: 'unavailable is capped at replicas', dep: d(2, 0, 5), surge: 0, unavailable: 2 },
    { name: '0 replicas: nothing may be unavailable', dep: d(0, '25%', '25%'), surge: 0, unavailable: 0 },
    { name: 'Recreate has neither', dep: d(4, undefined, undefined, 'Recreate'), surge: 0, unavailable: 0 },
    { name: '100% of 7', dep: d(7, '100%', '100%'), surge: 7, unavailable: 7 },
  ];
  for (const tc of cases) {
    it(tc.name, () => {
      assert.deepEqual([maxSurge(tc.dep), maxUnavailable(tc.dep)], [tc.surge, tc.unavailable]);
    });
  }
  it('refuses a string that is not a percentage', () => {
    assert.throws(() => resolveFenceposts('3', 0, 10), /string is not a percentage/);
  });
});

describe('setNewReplicaSetAnnotations', () => {
  const rs = (annotations?: Record<string, string>): MutableReplicaSet => ({ metadata: { name: 'web-abc', ...(annotations ? { annotations } : {}) } }) as MutableReplicaSet;

  it('a new ReplicaSet gets the revision, the replica annotations and the Deployment annotations that are not the controller\'s', () => {
    const r = rs();
    assert.equal(setNewReplicaSetAnnotations(d(10, '25%', '25%'), r, 4, false), true);
    assert.deepEqual(r.metadata.annotations, {
      'kubernetes.io/change-cause': 'v2',
      'deployment.kubernetes.io/revision': '4',
      'deployment.kubernetes.io/desired-replicas': '10',
      'deployment.kubernetes.io/max-replicas': '13',
    });
  });

  it('a ReplicaSet brought back by a rollback records the revisions it had', () => {
    const r = rs({ 'deployment.kubernetes.io/revision': '1', 'kubernetes.io/change-cause': 'v2' });
    assert.equal(setNewReplicaSetAnnotations(d(1), r, 3, true), true);
    assert.equal(r.metadata.annotations!['deployment.kubernetes.io/revision'], '3');
    assert.equal(r.metadata.annotations!['deployment.kubernetes.io/revision-history'], '1');
    setNewReplicaSetAnnotations(d(1), r, 5, true);
    assert.equal(r.metadata.annotations!['deployment.kubernetes.io/revision-history'], '1,3');
    // Replica annotations are only set on creation; scaling maintains them.
    assert.equal(r.metadata.annotations!['deployment.kubernetes.io/desired-replicas'], undefined);
  });

  it('never lowers a revision and reports no change when all is current', () => {
    const r = rs({ 'deployment.kubernetes.io/revision': '7', 'kubernetes.io/change-cause': 'v2' });
    assert.equal(setNewReplicaSetAnnotations(d(1), r, 3, true), false);
    assert.equal(r.metadata.annotations!['deployment.kubernetes.io/revision'], '7');
    assert.equal(r.metadata.annotations!['deployment.kubernetes.io/revision-history'], undefined);
  });
});

describe('computePodTemplateHash', () => {
  const template = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'nginx:1.26' }] } };

  it('is stable, looks like upstream (10 characters at most, the SafeEncodeString alphabet) and depends on the template', () => {
    const h = computePodTemplateHash(template);
    assert.match(h, /^[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
    assert.equal(computePodTemplateHash(structuredClone(template)), h);
    const other = structuredClone(template);
    other.spec.containers[0]!.image = 'nginx:1.27';
    assert.notEqual(computePodTemplateHash(other), h);
  });

  it('ignores key order and empty values, so semantically equal templates share a ReplicaSet name', () => {
    const reordered = { spec: { containers: [{ image: 'nginx:1.26', name: 'app', env: [] }] }, metadata: { annotations: {}, labels: { app: 'web' } } };
    assert.equal(computePodTemplateHash(reordered), computePodTemplateHash(template));
  });

  it('a collision count gives another name', () => {
    assert.notEqual(computePodTemplateHash(template, 1), computePodTemplateHash(template));
    assert.notEqual(computePodTemplateHash(template, 1), computePodTemplateHash(template, 2));
  });
});

describe('deploymentTimedOut', () => {
  const now = new Date(Date.UTC(2025, 0, 1, 0, 10, 0));
  const withCond = (reason: string, lastUpdate: string): Deployment => ({
    ...d(1),
    spec: { ...d(1).spec!, progressDeadlineSeconds: 60 },
    status: { conditions: [{ type: 'Progressing', status: 'True', reason, lastUpdateTime: lastUpdate }] },
  });
  const cases: [string, string, string, boolean][] = [
    ['within the deadline', 'ReplicaSetUpdated', '2025-01-01T00:09:30Z', false],
    ['exactly at the deadline is not yet past it', 'ReplicaSetUpdated', '2025-01-01T00:09:00Z', false],
    ['past the deadline', 'ReplicaSetUpdated', '2025-01-01T00:08:59Z', true],
    ['a completed rollout never times out', 'NewReplicaSetAvailable', '2025-01-01T00:00:00Z', false],
    ['already timed out stays timed out', 'ProgressDeadlineExceeded', '2025-01-01T00:09:59Z', true],
  ];
  for (const [name, reason, t, want] of cases) {
    it(name, () => {
      const dep = withCond(reason, t);
      assert.equal(deploymentTimedOut(dep, dep.status!, now), want);
    });
  }
  it('no deadline, no timeout', () => {
    const dep = withCond('ReplicaSetUpdated', '2020-01-01T00:00:00Z') as Deployment & KubeObject;
    const noDeadline = { ...dep, spec: { ...dep.spec!, progressDeadlineSeconds: 2 ** 31 - 1 } };
    assert.equal(deploymentTimedOut(noDeadline, noDeadline.status!, now), false);
  });
});
