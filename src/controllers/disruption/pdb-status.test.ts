import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { OwnerReference } from 'kubernetes-types/meta/v1.js';
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import { computeExpectedPodCount, type ControllerScale } from './expected-pod-count.js';
import { computePdbStatus, conditionsAreUpToDate, DELETION_TIMEOUT_MS, failSafePdbStatus, pdbStatusNeedsWrite } from './pdb-status.js';

const NOW = new Date('2025-01-01T12:00:00Z');
const T = (msAgo: number) => new Date(NOW.getTime() - msAgo).toISOString().replace(/\.\d{3}Z$/, 'Z');

function pdb(spec: Record<string, unknown>, status?: Record<string, unknown>, generation = 1): PodDisruptionBudget {
  return { metadata: { name: 'pdb', namespace: 'default', generation }, spec: { selector: { matchLabels: { app: 'web' } }, ...spec }, ...(status ? { status } : {}) } as PodDisruptionBudget;
}

interface PodOpts {
  ready?: boolean;
  deleting?: boolean;
  owner?: { kind: string; name: string; uid: string; apiVersion?: string };
}

function pod(name: string, o: PodOpts = {}): Pod {
  const ownerReferences: OwnerReference[] | undefined = o.owner
    ? [{ apiVersion: o.owner.apiVersion ?? 'apps/v1', kind: o.owner.kind, name: o.owner.name, uid: o.owner.uid, controller: true }]
    : undefined;
  return {
    metadata: { name, namespace: 'default', labels: { app: 'web' }, ...(ownerReferences ? { ownerReferences } : {}), ...(o.deleting ? { deletionTimestamp: T(1000) } : {}) },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }] },
  };
}

const pods = (n: number, o: PodOpts = {}) => Array.from({ length: n }, (_, i) => pod(`p${i}`, o));

/** Controllers by the uid of the reference pointing at them (a ReplicaSet of a Deployment resolves to the Deployment). */
const scales =
  (table: Record<string, ControllerScale>) =>
  (ref: OwnerReference): ControllerScale | undefined =>
    table[ref.uid];

const rs1 = { kind: 'ReplicaSet', name: 'web-1', uid: 'rs-1' };
const rs2 = { kind: 'ReplicaSet', name: 'web-2', uid: 'rs-2' };
const ss = { kind: 'StatefulSet', name: 'db', uid: 'ss-1' };

describe('computeExpectedPodCount + computePdbStatus (upstream disruption_test cases)', () => {
  const cases: {
    name: string;
    pdb: PodDisruptionBudget;
    pods: Pod[];
    scales?: Record<string, ControllerScale>;
    want: { expectedPods: number; desiredHealthy: number; currentHealthy: number; disruptionsAllowed: number };
    unmanaged?: string[];
  }[] = [
    {
      name: 'integer minAvailable counts the matched pods',
      pdb: pdb({ minAvailable: 3 }),
      pods: pods(4),
      want: { expectedPods: 4, desiredHealthy: 3, currentHealthy: 4, disruptionsAllowed: 1 },
    },
    {
      name: 'integer minAvailable with exactly enough healthy pods allows nothing',
      pdb: pdb({ minAvailable: 3 }),
      pods: pods(3),
      want: { expectedPods: 3, desiredHealthy: 3, currentHealthy: 3, disruptionsAllowed: 0 },
    },
    {
      name: 'no pods: nothing allowed even with minAvailable 0 (expectedPods must be positive)',
      pdb: pdb({ minAvailable: 0 }),
      pods: [],
      want: { expectedPods: 0, desiredHealthy: 0, currentHealthy: 0, disruptionsAllowed: 0 },
    },
    {
      name: 'unready and terminating pods are not healthy but are expected',
      pdb: pdb({ minAvailable: 1 }),
      pods: [pod('a'), pod('b', { ready: false }), pod('c', { deleting: true }), pod('d')],
      want: { expectedPods: 4, desiredHealthy: 1, currentHealthy: 2, disruptionsAllowed: 1 },
    },
    {
      name: 'percentage minAvailable with a naked pod: unmanaged, nothing expected',
      pdb: pdb({ minAvailable: '28%' }),
      pods: [pod('naked')],
      want: { expectedPods: 0, desiredHealthy: 0, currentHealthy: 1, disruptionsAllowed: 0 },
      unmanaged: ['naked'],
    },
    {
      name: 'percentage minAvailable rounds up against the controller scale, not the pod count',
      pdb: pdb({ minAvailable: '28%' }),
      pods: pods(3, { owner: rs1 }),
      scales: { 'rs-1': { uid: 'rs-1', scale: 10 } },
      want: { expectedPods: 10, desiredHealthy: 3, currentHealthy: 3, disruptionsAllowed: 0 },
    },
    {
      name: 'integer maxUnavailable uses the Deployment scale once for both of its ReplicaSets',
      pdb: pdb({ maxUnavailable: 1 }),
      pods: [pod('a', { owner: rs1 }), pod('b', { owner: rs1 }), pod('c', { owner: rs2 })],
      scales: { 'rs-1': { uid: 'deploy-1', scale: 3 }, 'rs-2': { uid: 'deploy-1', scale: 3 } },
      want: { expectedPods: 3, desiredHealthy: 2, currentHealthy: 3, disruptionsAllowed: 1 },
    },
    {
      name: 'percentage maxUnavailable rounds the unavailable count up',
      pdb: pdb({ maxUnavailable: '50%' }),
      pods: pods(3, { owner: ss }),
      scales: { 'ss-1': { uid: 'ss-1', scale: 3 } },
      want: { expectedPods: 3, desiredHealthy: 1, currentHealthy: 3, disruptionsAllowed: 2 },
    },
    {
      name: 'maxUnavailable 0 never allows a disruption',
      pdb: pdb({ maxUnavailable: 0 }),
      pods: pods(2, { owner: ss }),
      scales: { 'ss-1': { uid: 'ss-1', scale: 2 } },
      want: { expectedPods: 2, desiredHealthy: 2, currentHealthy: 2, disruptionsAllowed: 0 },
    },
    {
      name: 'two controllers add up',
      pdb: pdb({ minAvailable: '50%' }),
      pods: [pod('a', { owner: rs1 }), pod('b', { owner: ss })],
      scales: { 'rs-1': { uid: 'rs-1', scale: 2 }, 'ss-1': { uid: 'ss-1', scale: 4 } },
      want: { expectedPods: 6, desiredHealthy: 3, currentHealthy: 2, disruptionsAllowed: 0 },
    },
    {
      name: 'maxUnavailable larger than the scale: desiredHealthy is not negative',
      pdb: pdb({ maxUnavailable: 5 }),
      pods: pods(2, { owner: ss }),
      scales: { 'ss-1': { uid: 'ss-1', scale: 2 } },
      want: { expectedPods: 2, desiredHealthy: 0, currentHealthy: 2, disruptionsAllowed: 2 },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const counts = computeExpectedPodCount(c.pdb, c.pods, scales(c.scales ?? {}));
      assert.deepEqual(counts.unmanagedPods, c.unmanaged ?? []);
      const { status } = computePdbStatus(c.pdb, c.pods, counts.expectedCount, counts.desiredHealthy, NOW);
      const { expectedPods, desiredHealthy, currentHealthy, disruptionsAllowed } = status;
      assert.deepEqual({ expectedPods, desiredHealthy, currentHealthy, disruptionsAllowed }, c.want);
      assert.equal(status.observedGeneration, 1);
      const cond = status.conditions?.find((x) => x.type === 'DisruptionAllowed');
      assert.deepEqual(
        cond && { status: cond.status, reason: cond.reason },
        c.want.disruptionsAllowed > 0 ? { status: 'True', reason: 'SufficientPods' } : { status: 'False', reason: 'InsufficientPods' },
      );
    });
  }

  it('a pod whose controller cannot be found fails the count', () => {
    assert.throws(() => computeExpectedPodCount(pdb({ maxUnavailable: 1 }), [pod('orphaned', { owner: rs1 })], scales({})), /found no controllers for pod "orphaned"/);
  });
});

describe('disruptedPods', () => {
  it('keeps fresh entries (not healthy meanwhile), drops expired, deleted and vanished ones, and asks for a recheck', () => {
    const p = pdb({ minAvailable: 1 }, { disruptedPods: { fresh: T(30_000), expired: T(DELETION_TIMEOUT_MS + 1000), deleting: T(1000), gone: T(1000) } });
    const list = [pod('fresh'), pod('expired'), pod('deleting', { deleting: true }), pod('other')];
    const { status, recheckAtMs, notDeleted } = computePdbStatus(p, list, 4, 1, NOW);
    assert.deepEqual(status.disruptedPods, { fresh: T(30_000) });
    // fresh is about to go, deleting is going: expired and other are the healthy ones.
    assert.equal(status.currentHealthy, 2);
    assert.equal(status.disruptionsAllowed, 1);
    assert.equal(recheckAtMs, NOW.getTime() - 30_000 + DELETION_TIMEOUT_MS);
    assert.deepEqual(
      notDeleted.map((x) => x.metadata?.name),
      ['expired'],
    );
  });

  it('no entries: no disruptedPods field and no recheck', () => {
    const { status, recheckAtMs } = computePdbStatus(pdb({ minAvailable: 1 }), pods(2), 2, 1, NOW);
    assert.equal(status.disruptedPods, undefined);
    assert.equal(recheckAtMs, undefined);
  });
});

describe('DisruptionAllowed condition and when to write', () => {
  it('a status change moves lastTransitionTime; an unchanged status keeps it', () => {
    const before = T(60_000);
    const p = pdb({ minAvailable: 1 }, { disruptionsAllowed: 1, conditions: [{ type: 'DisruptionAllowed', status: 'True', reason: 'SufficientPods', message: '', lastTransitionTime: before, observedGeneration: 1 }] });
    const same = computePdbStatus(p, pods(2), 2, 1, NOW).status.conditions![0]!;
    assert.equal(same.lastTransitionTime, before);
    const flipped = computePdbStatus(p, pods(1), 1, 1, NOW).status.conditions![0]!;
    assert.deepEqual(flipped, { type: 'DisruptionAllowed', status: 'False', reason: 'InsufficientPods', message: '', lastTransitionTime: T(0), observedGeneration: 1 });
  });

  it('writes only when something upstream compares differs', () => {
    const p = pdb({ minAvailable: 1 });
    const first = computePdbStatus(p, pods(2), 2, 1, NOW).status;
    assert.equal(pdbStatusNeedsWrite(p, first), true, 'no status yet');
    const stored = { ...p, status: first };
    assert.equal(conditionsAreUpToDate(stored), true);
    assert.equal(pdbStatusNeedsWrite(stored, computePdbStatus(stored, pods(2), 2, 1, NOW).status), false, 'nothing changed');
    assert.equal(pdbStatusNeedsWrite(stored, computePdbStatus(stored, pods(3), 3, 1, NOW).status), true, 'a pod more');
    const newGeneration = { ...stored, metadata: { ...stored.metadata, generation: 2 } };
    assert.equal(pdbStatusNeedsWrite(newGeneration, computePdbStatus(newGeneration, pods(2), 2, 1, NOW).status), true, 'spec changed');
    const wrongCondition = { ...stored, status: { ...first, conditions: [{ ...first.conditions![0]!, status: 'False', reason: 'SyncFailed' }] } };
    assert.equal(pdbStatusNeedsWrite(wrongCondition, computePdbStatus(wrongCondition, pods(2), 2, 1, NOW).status), true, 'condition disagrees');
  });

  it('fail-safe: no disruption allowed, SyncFailed with the error, observed generation unchanged', () => {
    const p = pdb({ maxUnavailable: 1 }, { disruptionsAllowed: 2, currentHealthy: 3, desiredHealthy: 1, expectedPods: 3, observedGeneration: 1 }, 2);
    const status = failSafePdbStatus(p, 'found no controllers for pod "x"', NOW);
    assert.equal(status.disruptionsAllowed, 0);
    assert.equal(status.observedGeneration, 1);
    assert.equal(status.currentHealthy, 3);
    assert.deepEqual(status.conditions, [
      { type: 'DisruptionAllowed', status: 'False', reason: 'SyncFailed', message: 'found no controllers for pod "x"', lastTransitionTime: T(0), observedGeneration: 1 },
    ]);
  });
});
