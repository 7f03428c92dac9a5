import assert from 'node:assert/strict';
import { describe as group, it } from 'node:test';
import { FakeClock } from '../../client/testing/fake-clock.js';
import { ActionType, type QueuedPodInfo } from '../framework/interface.js';
import { PodInfo } from '../framework/pod-info.js';
import type { Pod } from '../framework/types.js';
import { defaultProfile } from '../plugins/registry.js';
import { frameworkFor, makeNode, makePod, snapshotOf } from '../testing/wrappers.js';
import { SchedulingQueue } from './scheduling-queue.js';

function newQueue(clock = new FakeClock()) {
  const fwk = frameworkFor(defaultProfile().plugins, snapshotOf([]), { clock });
  const q = new SchedulingQueue({
    clock,
    less: (a, b) => fwk.less(a, b),
    preEnqueue: (p) => fwk.runPreEnqueuePlugins(p),
    pluginEvents: fwk.enqueueExtensions,
  });
  return { q, clock };
}

/** Pops a pod and fails it as the scheduler would, rejected by `plugins` (none = an error). */
function popAndFail(q: SchedulingQueue, ...plugins: string[]): QueuedPodInfo {
  const qpi = q.tryPop();
  assert.ok(qpi, 'a pod to pop');
  const cycle = q.schedulingCycle;
  qpi.unschedulablePlugins = new Set(plugins);
  q.addUnschedulableIfNotPresent(qpi, cycle);
  return qpi;
}

const names = (q: SchedulingQueue) => {
  const out: string[] = [];
  for (let p = q.tryPop(); p; p = q.tryPop()) out.push(p.podInfo.pod.metadata.name!);
  return out;
};

const nodeAdd = { resource: 'Node' as const, actionType: ActionType.Add, label: 'NodeAdd' };
const podDelete = { resource: 'AssignedPod' as const, actionType: ActionType.Delete, label: 'AssignedPodDelete' };

group('SchedulingQueue', () => {
  it('pops by priority, then first in first out', () => {
    const { q, clock } = newQueue();
    q.add(makePod('low-1', { priority: 0 }));
    clock.advance(1);
    q.add(makePod('high', { priority: 1000 }));
    clock.advance(1);
    q.add(makePod('low-2', { priority: 0 }));
    clock.advance(1);
    q.add(makePod('mid', { priority: 10 }));
    assert.deepEqual(names(q), ['high', 'mid', 'low-1', 'low-2']);
  });

  it('backs off 1s, 2s, 4s, 8s, then 10s at most', () => {
    const { q } = newQueue();
    const qpi: QueuedPodInfo = { podInfo: PodInfo.of(makePod('p')), timestamp: 0, attempts: 0, initialAttemptTimestamp: undefined, unschedulablePlugins: new Set(), gatingPlugin: undefined };
    const got = [1, 2, 3, 4, 5, 6].map((attempts) => q.backoffDuration({ ...qpi, attempts }));
    assert.deepEqual(got, [1000, 2000, 4000, 8000, 10000, 10000]);
  });

  it('an error sends the pod to backoffQ, and the clock brings it back', () => {
    const { q, clock } = newQueue();
    const pod = makePod('p');
    q.add(pod);
    popAndFail(q);
    assert.equal(q.whereIs(pod), 'backoffQ');
    clock.advance(999);
    assert.equal(q.whereIs(pod), 'backoffQ');
    clock.advance(1);
    assert.equal(q.whereIs(pod), 'activeQ');
    popAndFail(q);
    clock.advance(1999);
    assert.equal(q.whereIs(pod), 'backoffQ', 'second failure: 2s');
    clock.advance(1);
    assert.equal(q.whereIs(pod), 'activeQ');
  });

  it('an unschedulable pod waits for an event its rejecting plugin registered', () => {
    const { q, clock } = newQueue();
    const pod = makePod('p', { cpu: '2' });
    q.add(pod);
    popAndFail(q, 'NodeResourcesFit');
    assert.equal(q.whereIs(pod), 'unschedulablePods');
    // A node too small for the pod does not help (NodeResourcesFit's queueing hint).
    q.moveAllToActiveOrBackoffQueue(nodeAdd, undefined, makeNode('tiny', { cpu: '1' }));
    assert.equal(q.whereIs(pod), 'unschedulablePods');
    // An event no rejecting plugin registered for does nothing.
    q.moveAllToActiveOrBackoffQueue({ resource: 'Node', actionType: ActionType.UpdateNodeLabel, label: 'NodeUpdate' }, makeNode('a'), makeNode('a'));
    assert.equal(q.whereIs(pod), 'unschedulablePods');
    // Still within its 1s backoff: a helpful event moves it to backoffQ first.
    q.moveAllToActiveOrBackoffQueue(podDelete, makePod('gone', { nodeName: 'n1', cpu: '2' }), undefined);
    assert.equal(q.whereIs(pod), 'backoffQ');
    clock.advance(1000);
    assert.equal(q.whereIs(pod), 'activeQ');
  });

  it('an event only visits pods whose rejecting plugins registered for it', () => {
    const { q, clock } = newQueue();
    const byAffinity = makePod('by-affinity');
    const byResources = makePod('by-resources');
    const byBoth = makePod('by-both');
    for (const p of [byAffinity, byResources, byBoth]) {
      q.add(p);
      clock.advance(1);
    }
    popAndFail(q, 'InterPodAffinity');
    popAndFail(q, 'NodeResourcesFit');
    popAndFail(q, 'NodeResourcesFit', 'InterPodAffinity');
    clock.advance(5000);
    // A pod was bound somewhere: pod affinity may now be satisfied, resources are not freed.
    q.moveAllToActiveOrBackoffQueue({ resource: 'AssignedPod', actionType: ActionType.Add, label: 'AssignedPodAdd' }, undefined, makePod('new', { nodeName: 'n1' }));
    assert.deepEqual([q.whereIs(byAffinity), q.whereIs(byResources), q.whereIs(byBoth)], ['activeQ', 'unschedulablePods', 'activeQ']);
    assert.deepEqual(names(q).sort(), ['by-affinity', 'by-both']);
  });

  it('a helpful event after the backoff moves the pod straight to activeQ', () => {
    const { q, clock } = newQueue();
    const pod = makePod('p', { nodeSelector: { disktype: 'ssd' } });
    q.add(pod);
    popAndFail(q, 'NodeAffinity');
    clock.advance(5000);
    q.moveAllToActiveOrBackoffQueue(nodeAdd, undefined, makeNode('hdd', { labels: { disktype: 'hdd' } }));
    assert.equal(q.whereIs(pod), 'unschedulablePods');
    q.moveAllToActiveOrBackoffQueue(nodeAdd, undefined, makeNode('ssd', { labels: { disktype: 'ssd' } }));
    assert.equal(q.whereIs(pod), 'activeQ');
  });

  it('an event during the pod’s own cycle sends it to backoffQ instead of waiting', () => {
    const { q } = newQueue();
    const pod = makePod('p');
    q.add(pod);
    const qpi = q.tryPop()!;
    const cycle = q.schedulingCycle;
    q.moveAllToActiveOrBackoffQueue(podDelete, makePod('gone', { nodeName: 'n1' }), undefined);
    qpi.unschedulablePlugins = new Set(['NodeResourcesFit']);
    q.addUnschedulableIfNotPresent(qpi, cycle);
    assert.equal(q.whereIs(pod), 'backoffQ');
  });

  it('retries unschedulable pods after five minutes without a useful event', () => {
    const { q, clock } = newQueue();
    const pod = makePod('p');
    q.add(pod);
    popAndFail(q, 'TaintToleration');
    // The leftover flush runs every 30s and takes pods that waited more than 5 minutes: the one at 5:30.
    clock.advance(5 * 60_000);
    assert.equal(q.whereIs(pod), 'unschedulablePods');
    clock.advance(30_000);
    assert.equal(q.whereIs(pod), 'activeQ');
  });

  it('pods with scheduling gates wait until the gates are removed', () => {
    const { q } = newQueue();
    const gated = makePod('p', { schedulingGates: ['example.com/quota'] });
    q.add(gated);
    assert.equal(q.whereIs(gated), 'unschedulablePods');
    assert.equal(q.tryPop(), undefined);
    q.moveAllToActiveOrBackoffQueue(nodeAdd, undefined, makeNode('n1'));
    assert.equal(q.whereIs(gated), 'unschedulablePods', 'node events do not lift gates');
    const ungated: Pod = { ...gated, metadata: { ...gated.metadata, resourceVersion: '2' }, spec: { ...gated.spec!, schedulingGates: [] } };
    q.update(gated, ungated);
    assert.equal(q.whereIs(ungated), 'activeQ');
  });

  it('a status-only update leaves an unschedulable pod waiting; a spec change retries it', () => {
    const { q, clock } = newQueue();
    const pod = makePod('p', { nodeSelector: { disktype: 'ssd' } });
    q.add(pod);
    popAndFail(q, 'NodeAffinity');
    clock.advance(2000);
    const withCondition: Pod = { ...pod, metadata: { ...pod.metadata, resourceVersion: '2' }, status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] } };
    q.update(pod, withCondition);
    assert.equal(q.whereIs(pod), 'unschedulablePods');
    const relaxed: Pod = { ...withCondition, metadata: { ...withCondition.metadata, resourceVersion: '3' }, spec: { ...withCondition.spec!, nodeSelector: {} } };
    q.update(withCondition, relaxed);
    assert.equal(q.whereIs(pod), 'activeQ');
  });

  it('pop waits for a pod and close releases the waiters', async () => {
    const { q } = newQueue();
    const waiting = q.pop();
    q.add(makePod('late'));
    assert.equal((await waiting)?.podInfo.pod.metadata.name, 'late');
    const pending = q.pop();
    q.close();
    assert.equal(await pending, undefined);
  });

  it('records nominated pods per node', () => {
    const { q } = newQueue();
    const pod = makePod('p', { nominatedNodeName: 'n1', priority: 100 });
    q.add(pod);
    assert.deepEqual(q.nominatedPodsForNode('n1').map((p) => p.pod.metadata.name), ['p']);
    q.addNominatedPod(PodInfo.of(pod), 'n2');
    assert.deepEqual(q.nominatedPodsForNode('n1'), []);
    assert.deepEqual(q.nominatedPodsForNode('n2').map((p) => p.pod.metadata.name), ['p']);
    q.addNominatedPod(PodInfo.of(pod), '');
    assert.equal(q.hasNominatedPods, false);
    q.addNominatedPod(PodInfo.of(pod), 'n3');
    q.delete(pod);
    assert.equal(q.hasNominatedPods, false);
  });
});
