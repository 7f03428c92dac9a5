import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../api/object.js';
import { ApiEventRecorder } from './event-recorder.js';
import { FakeClient } from './testing/fake-client.js';
import { FakeClock } from './testing/fake-clock.js';
import { Events } from './resources.js';

const pod: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-1', namespace: 'prod', uid: 'u-1', resourceVersion: '7' } };
const node: KubeObject = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', uid: 'u-n1', resourceVersion: '3' } };

type Ev = KubeObject & { count: number; firstTimestamp: string; lastTimestamp: string; message: string; involvedObject: Record<string, string>; source: Record<string, string> };

describe('ApiEventRecorder', () => {
  it("creates an Event in the object's namespace with the fields kubectl describe shows", async () => {
    const clock = new FakeClock(Date.UTC(2025, 2, 3, 4, 5, 6, 789));
    const client = new FakeClient({ clock });
    const r = new ApiEventRecorder(client, 'default-scheduler', { clock, host: 'server-1' });
    r.event(pod, 'Normal', 'Scheduled', 'Successfully assigned prod/web-1 to n1');
    await r.flush();
    const [ev] = client.all<Ev>(Events);
    assert.equal(ev.metadata.namespace, 'prod');
    assert.match(ev.metadata.name!, /^web-1\.[0-9a-f]+$/);
    assert.equal(BigInt(`0x${ev.metadata.name!.split('.')[1]}`) / 1_000_000n, BigInt(clock.now().getTime()));
    assert.deepEqual(ev.involvedObject, { kind: 'Pod', namespace: 'prod', name: 'web-1', uid: 'u-1', apiVersion: 'v1', resourceVersion: '7' });
    assert.deepEqual(ev.source, { component: 'default-scheduler', host: 'server-1' });
    assert.equal(ev.type, 'Normal');
    assert.equal(ev.reason, 'Scheduled');
    assert.equal(ev.count, 1);
    assert.equal(ev.firstTimestamp, '2025-03-03T04:05:06Z');
    assert.equal(ev.lastTimestamp, '2025-03-03T04:05:06Z');
  });

  it('puts Events about cluster-scoped objects in default', async () => {
    const client = new FakeClient();
    const r = new ApiEventRecorder(client, 'node-controller');
    r.event(node, 'Normal', 'RegisteredNode', 'Node n1 event: Registered Node n1 in Controller');
    await r.flush();
    const [ev] = client.all<Ev>(Events);
    assert.equal(ev.metadata.namespace, 'default');
    assert.equal(ev.involvedObject.namespace, undefined);
  });

  it('aggregates repeats within 10 minutes into one Event with a count; later or different ones are new Events', async () => {
    const clock = new FakeClock(Date.UTC(2025, 0, 1));
    const client = new FakeClient({ clock });
    const r = new ApiEventRecorder(client, 'replicaset-controller', { clock });
    const say = (msg = 'Created pod: web-1') => r.event(pod, 'Normal', 'SuccessfulCreate', msg);
    say();
    say();
    say();
    await r.flush();
    clock.advance(60_000);
    say();
    await r.flush();
    let events = client.all<Ev>(Events);
    assert.equal(events.length, 1);
    assert.equal(events[0].count, 4);
    assert.equal(events[0].firstTimestamp, '2025-01-01T00:00:00Z');
    assert.equal(events[0].lastTimestamp, '2025-01-01T00:01:00Z');
    assert.deepEqual(client.actions.map((a) => a.verb), ['create', 'patch', 'patch', 'patch']);
    say('Created pod: web-2');
    clock.advance(10 * 60_000);
    say();
    await r.flush();
    events = client.all<Ev>(Events);
    assert.equal(events.length, 3);
    assert.deepEqual(events.map((e) => `${e.message} x${e.count}`).sort(), ['Created pod: web-1 x1', 'Created pod: web-1 x4', 'Created pod: web-2 x1']);
  });

  it('starts a new Event when the one it would update was deleted', async () => {
    const client = new FakeClient();
    const r = new ApiEventRecorder(client, 'c');
    r.event(pod, 'Warning', 'BackOff', 'Back-off restarting failed container');
    await r.flush();
    const [first] = client.all(Events);
    await client.delete(Events, 'prod', first.metadata.name!);
    r.event(pod, 'Warning', 'BackOff', 'Back-off restarting failed container');
    await r.flush();
    const events = client.all<Ev>(Events);
    assert.equal(events.length, 1);
    assert.equal(events[0].count, 1);
  });

  it('never throws into the caller and logs a failure once until a write succeeds', async () => {
    const client = new FakeClient();
    let fail = true;
    client.prependReactor('create', 'events', () => {
      if (fail) throw new Error('etcd is down');
      return undefined;
    });
    const logs: string[] = [];
    const r = new ApiEventRecorder(client, 'c', { log: (l) => logs.push(l) });
    r.event(pod, 'Normal', 'A', 'one');
    r.event(pod, 'Normal', 'B', 'two');
    await r.flush();
    assert.deepEqual(logs, ['event recorder c: cannot record Normal A for Pod prod/web-1: etcd is down']);
    fail = false;
    r.event(pod, 'Normal', 'C', 'three');
    await r.flush();
    fail = true;
    r.event(pod, 'Normal', 'D', 'four');
    await r.flush();
    assert.equal(logs.length, 2);
    assert.equal(client.all(Events).length, 1);
  });
});
