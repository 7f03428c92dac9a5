import assert from 'node:assert/strict';
import { afterEach, describe as group, it } from 'node:test';
import { FakeClient } from '../client/testing/fake-client.js';
import { FakeClock } from '../client/testing/fake-clock.js';
import { SharedInformerFactory } from '../client/informer.js';
import { FakeRecorder } from '../client/testing/fake-recorder.js';
import { Nodes, Pods, PriorityClasses } from '../client/resources.js';
import { conflict, notFound } from '../api/status.js';
import type { Node, Pod } from './framework/types.js';
import { Scheduler } from './scheduler.js';
import { until } from './testing/until.js';
import { makeNode, makePod } from './testing/wrappers.js';

interface Env {
  client: FakeClient;
  clock: FakeClock;
  recorder: FakeRecorder;
  scheduler: Scheduler;
  done: Promise<void>;
  stop(): Promise<void>;
}

const running: Env[] = [];
afterEach(async () => {
  for (const e of running.splice(0)) await e.stop();
});

/** A scheduler over a fake API server holding `nodes` and `pods`, with real list+watch informers, running its loop. */
async function start(nodes: Node[], pods: Pod[] = [], extra: { priorityClasses?: { name: string; value: number; globalDefault?: boolean }[] } = {}): Promise<Env> {
  const clock = new FakeClock();
  const client = new FakeClient({ clock });
  for (const pc of extra.priorityClasses ?? []) {
    await client.create(PriorityClasses, '', { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: pc.name }, value: pc.value, globalDefault: pc.globalDefault ?? false });
  }
  for (const n of nodes) await client.create(Nodes, '', n);
  for (const p of pods) await client.create(Pods, p.metadata.namespace!, p);
  // Frozen cached objects make any mutation of a shared object by the scheduler throw.
  const factory = new SharedInformerFactory(client, { clock, freezeObjects: true });
  const recorder = new FakeRecorder();
  const scheduler = new Scheduler({ client, informers: factory, recorder, clock, random: () => 0.5 });
  scheduler.start();
  factory.start();
  const done = scheduler.run();
  const env: Env = {
    client,
    clock,
    recorder,
    scheduler,
    done,
    async stop() {
      scheduler.stop();
      factory.stop();
      await done;
      await scheduler.drainBindings();
    },
  };
  running.push(env);
  return env;
}

const stored = (env: Env, name: string, ns = 'default') => env.client.peek<Pod>(Pods, ns, name);
const nodeOf = (env: Env, name: string) => stored(env, name)?.spec?.nodeName;
const events = (env: Env, reason: string) => env.recorder.events.filter((e) => e.reason === reason).map((e) => `${e.object.metadata.name}: ${e.message}`);

group('Scheduler', () => {
  it('binds pending pods through pods/binding and records Scheduled events', async () => {
    const env = await start(
      [makeNode('node-a'), makeNode('node-b'), makeNode('node-c')],
      Array.from({ length: 6 }, (_, i) => makePod(`web-${i}`, { cpu: '500m', memory: '1Gi' })),
    );
    await until(() => env.scheduler.metrics.scheduled === 6, 'six bindings');
    const placement = Array.from({ length: 6 }, (_, i) => nodeOf(env, `web-${i}`));
    assert.ok(placement.every((n) => n && n.startsWith('node-')), JSON.stringify(placement));
    // LeastAllocated spreads equal pods: two per node.
    const perNode = new Map<string, number>();
    for (const n of placement) perNode.set(n!, (perNode.get(n!) ?? 0) + 1);
    assert.deepEqual([...perNode.values()], [2, 2, 2]);
    const binding = env.client.actions.find((a) => a.verb === 'createSubresource');
    assert.deepEqual(binding?.object, {
      apiVersion: 'v1',
      kind: 'Binding',
      metadata: { name: binding?.name, namespace: 'default', uid: stored(env, binding!.name!)!.metadata.uid },
      target: { kind: 'Node', name: nodeOf(env, binding!.name!) },
    });
    assert.equal(events(env, 'Scheduled').length, 6);
    assert.match(events(env, 'Scheduled')[0]!, /^web-\d: Successfully assigned default\/web-\d to node-[abc]$/);
    // The bound pods came back through the informer: the cache holds them as observed, not assumed.
    await until(() => env.scheduler.snapshot.numPods === 6 && placement.every((_, i) => env.scheduler.snapshot.podState(stored(env, `web-${i}`)!)?.assumed === false), 'bound pods observed');
  });

  it('a pod that fits nowhere gets FailedScheduling and PodScheduled=False worded like kube-scheduler, then schedules when a node is added', async () => {
    const env = await start([makeNode('n1', { cpu: '1' }), makeNode('n2', { cpu: '1' }), makeNode('n3', { cpu: '1' })], [makePod('big', { cpu: '2' })]);
    const msg = '0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.';
    await until(() => events(env, 'FailedScheduling').length === 1, 'FailedScheduling');
    assert.deepEqual(events(env, 'FailedScheduling'), [`big: ${msg}`]);
    assert.equal(env.recorder.events.find((e) => e.reason === 'FailedScheduling')?.type, 'Warning');
    await until(() => stored(env, 'big')?.status?.conditions !== undefined, 'status patch');
    const cond = stored(env, 'big')!.status!.conditions!.find((c) => c.type === 'PodScheduled');
    assert.deepEqual({ status: cond?.status, reason: cond?.reason, message: cond?.message }, { status: 'False', reason: 'Unschedulable', message: msg });
    const patch = env.client.actions.find((a) => a.verb === 'patch' && a.subresource === 'status');
    // Strategic merge: conditions merge by type, so the patch carries only PodScheduled.
    assert.equal(patch?.patchType, 'strategic');
    assert.deepEqual(((patch?.object as { status: { conditions: { type: string }[] } }).status.conditions).map((c) => c.type), ['PodScheduled']);
    assert.equal(env.scheduler.queue.whereIs(stored(env, 'big')!), 'unschedulablePods');

    // A node too small does not help; a big enough one does (after the pod's 1s backoff).
    await env.client.create(Nodes, '', makeNode('small', { cpu: '1' }));
    await until(() => env.scheduler.snapshot.numNodes === 4, 'node seen');
    assert.equal(env.scheduler.queue.whereIs(stored(env, 'big')!), 'unschedulablePods');
    await env.client.create(Nodes, '', makeNode('large', { cpu: '8' }));
    await until(() => env.scheduler.queue.whereIs(stored(env, 'big')!) === 'backoffQ', 'moved to backoffQ');
    env.clock.advance(1000);
    await until(() => nodeOf(env, 'big') === 'large', 'bound to the large node');
  });

  it('mixed reasons, sorted as upstream sorts them', async () => {
    const env = await start(
      [makeNode('gpu', { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] }), makeNode('n2', { cpu: '1' }), makeNode('cordoned', { unschedulable: true })],
      [makePod('p', { cpu: '2' })],
    );
    await until(() => events(env, 'FailedScheduling').length === 1, 'FailedScheduling');
    assert.deepEqual(events(env, 'FailedScheduling'), [
      'p: 0/3 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) were unschedulable. preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.',
    ]);
  });

  it('no nodes at all', async () => {
    const env = await start([], [makePod('p')]);
    await until(() => events(env, 'FailedScheduling').length === 1, 'FailedScheduling');
    assert.deepEqual(events(env, 'FailedScheduling'), ['p: no nodes available to schedule pods']);
    await until(() => stored(env, 'p')?.status?.conditions !== undefined, 'status patch');
    assert.equal(stored(env, 'p')!.status!.conditions![0]!.reason, 'Unschedulable');
    // Nothing rejected it, so it retries on backoff rather than waiting for an event.
    assert.equal(env.scheduler.queue.whereIs(stored(env, 'p')!), 'backoffQ');
  });

  it('preempts lower-priority pods: deletes the victim, nominates the node, then binds there', async () => {
    const env = await start([makeNode('n1', { cpu: '2' })], [makePod('low', { cpu: '1500m', nodeName: 'n1', priority: 0, startTime: '2025-01-01T00:00:00Z' })], {
      priorityClasses: [{ name: 'high', value: 1000 }],
    });
    await until(() => env.scheduler.snapshot.numPods === 1, 'existing pod seen');
    await env.client.create(Pods, 'default', makePod('urgent', { cpu: '1', priorityClassName: 'high' }));
    await until(() => stored(env, 'low') === undefined, 'the victim deleted');
    await until(() => stored(env, 'urgent')?.status?.nominatedNodeName === 'n1', 'urgent nominated to n1');
    // The victim's deletion requeues the pod; it is still within its first 1s backoff.
    await until(() => env.scheduler.queue.whereIs(stored(env, 'urgent')!) === 'backoffQ', 'urgent requeued');
    env.clock.advance(1000);
    await until(() => nodeOf(env, 'urgent') === 'n1', 'urgent bound to n1');
    assert.deepEqual(events(env, 'FailedScheduling'), ['urgent: 0/1 nodes are available: 1 Insufficient cpu.']);
    const preempted = env.recorder.events.find((e) => e.reason === 'Preempted');
    assert.equal(preempted?.object.metadata.name, 'low');
    assert.equal(preempted?.message, `Preempted by pod ${stored(env, 'urgent')!.metadata.uid} on node n1`);
    const nominate = env.client.actions.find((a) => a.verb === 'patch' && a.name === 'urgent' && JSON.stringify(a.object).includes('nominatedNodeName'));
    assert.equal((nominate?.object as { status: { nominatedNodeName: string } }).status.nominatedNodeName, 'n1');
    const disruption = env.client.actions.find((a) => a.verb === 'patch' && a.name === 'low');
    assert.match(JSON.stringify(disruption?.object), /"type":"DisruptionTarget","status":"True","reason":"PreemptionByScheduler"/);
  });

  it('does not preempt pods of equal or higher priority, nor for preemptionPolicy Never', async () => {
    const env = await start([makeNode('n1', { cpu: '2' })], [makePod('peer', { cpu: '1500m', nodeName: 'n1', priority: 1000 })], { priorityClasses: [{ name: 'high', value: 1000 }] });
    await until(() => env.scheduler.snapshot.numPods === 1, 'existing pod seen');
    await env.client.create(Pods, 'default', makePod('equal', { cpu: '1', priorityClassName: 'high' }));
    await env.client.create(Pods, 'default', makePod('polite', { cpu: '1', priority: 2000, preemptionPolicy: 'Never' }));
    await until(() => events(env, 'FailedScheduling').length === 2, 'two failures');
    assert.deepEqual(events(env, 'FailedScheduling').sort(), [
      'equal: 0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.',
      'polite: 0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.',
    ]);
    assert.ok(stored(env, 'peer'), 'nobody was evicted');
  });

  it('a globalDefault PriorityClass gives pods without a class their priority', async () => {
    const env = await start([makeNode('n1')], [], { priorityClasses: [{ name: 'everyday', value: 7, globalDefault: true }] });
    await until(() => env.scheduler.snapshot.numNodes === 1, 'node seen');
    assert.equal(env.scheduler.withPriority(makePod('p')).spec?.priority, 7);
    assert.equal(env.scheduler.withPriority(makePod('q', { priority: 3 })).spec?.priority, 3);
  });

  it("leaves other schedulers' pods alone and skips pods being deleted", async () => {
    const env = await start([makeNode('n1')], [makePod('mine', { schedulerName: '' }), makePod('theirs', { schedulerName: 'my-scheduler' })]);
    await until(() => nodeOf(env, 'mine') === 'n1', 'mine bound');
    await new Promise((r) => setImmediate(r));
    assert.equal(nodeOf(env, 'theirs'), undefined);
    assert.equal(env.scheduler.queue.whereIs(stored(env, 'theirs')!), undefined);
  });

  it('a failed binding forgets the assumed pod and retries with backoff', async () => {
    const env = await start([makeNode('n1', { cpu: '1' })], []);
    let failures = 1;
    env.client.prependReactor('createSubresource', 'pods', (a) => {
      if (a.subresource === 'binding' && failures-- > 0) throw conflict({ resource: 'pods', name: a.name }, 'the object has been modified');
      return undefined;
    });
    await env.client.create(Pods, 'default', makePod('p', { cpu: '1' }));
    await until(() => events(env, 'FailedScheduling').length === 1, 'bind failure reported');
    assert.match(events(env, 'FailedScheduling')[0]!, /^p: running Bind plugin "DefaultBinder": Operation cannot be fulfilled on pods "p": the object has been modified$/);
    assert.equal(env.scheduler.snapshot.podState(stored(env, 'p')!), undefined, 'the assumed pod was forgotten');
    await until(() => stored(env, 'p')?.status?.conditions !== undefined, 'status patch');
    assert.equal(stored(env, 'p')!.status!.conditions!.find((c) => c.type === 'PodScheduled')?.reason, 'SchedulerError');
    env.clock.advance(1000);
    await until(() => nodeOf(env, 'p') === 'n1', 'bound on retry');
  });

  it('a finished pod frees its node for a waiting pod', async () => {
    const env = await start([makeNode('n1', { cpu: '1' })], [makePod('job', { cpu: '1', nodeName: 'n1' }), makePod('next', { cpu: '1' })]);
    await until(() => events(env, 'FailedScheduling').length === 1, 'next waits');
    const job = stored(env, 'job')!;
    await env.client.updateStatus(Pods, 'default', { ...job, status: { ...job.status, phase: 'Succeeded' } });
    await until(() => env.scheduler.queue.whereIs(stored(env, 'next')!) !== 'unschedulablePods', 'next requeued');
    env.clock.advance(1000);
    await until(() => nodeOf(env, 'next') === 'n1', 'next bound');
  });

  it('a pod deleted while its binding is in flight gives its room back', async () => {
    const env = await start([makeNode('n1', { cpu: '1' })], []);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    // Hold p's binding until released, then fail it as the API server would for a pod that is gone.
    env.client.prependReactor('createSubresource', 'pods', (a) =>
      a.name === 'p'
        ? gate.then(() => {
            throw notFound({ resource: 'pods', name: 'p' });
          })
        : undefined,
    );
    await env.client.create(Pods, 'default', makePod('p', { cpu: '1' }));
    await until(() => env.scheduler.snapshot.numPods === 1, 'p assumed');
    await env.client.delete(Pods, 'default', 'p');
    await until(() => env.scheduler.snapshot.numPods === 0, 'assumed p released');
    await env.client.create(Pods, 'default', makePod('q', { cpu: '1' }));
    await until(() => nodeOf(env, 'q') === 'n1', 'q bound on the freed node');
    release();
    await env.scheduler.drainBindings();
    assert.equal(env.scheduler.snapshot.podState(stored(env, 'q')!)?.nodeName, 'n1');
    assert.equal(env.scheduler.snapshot.get('n1')!.requested.milliCPU, 1000, 'only q is counted');
  });

  it('a pending pod deleted before it is scheduled leaves the queue', async () => {
    const env = await start([makeNode('n1', { cpu: '1' })], [makePod('p', { cpu: '2' })]);
    await until(() => events(env, 'FailedScheduling').length === 1, 'p waits');
    await env.client.delete(Pods, 'default', 'p');
    await until(() => env.scheduler.queue.lengths.unschedulablePods === 0, 'p left the queue');
  });
});
