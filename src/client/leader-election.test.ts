import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../api/object.js';
import { serviceUnavailable } from '../api/status.js';
import { FakeClient } from './testing/fake-client.js';
import { FakeClock } from './testing/fake-clock.js';
import { LeaderElector, type LeaderElectorOptions } from './leader-election.js';
import { Leases } from './resources.js';
import type { Client } from './types.js';

type LeaseSpec = { holderIdentity?: string; leaseTransitions?: number; leaseDurationSeconds?: number; renewTime?: string; acquireTime?: string };
const spec = (c: FakeClient) => (c.peek(Leases, 'kube-system', 'skiff-controllers')?.spec ?? {}) as LeaseSpec;

function candidate(identity: string, client: Client, clock: FakeClock, extra: Partial<LeaderElectorOptions> = {}) {
  const log: string[] = [];
  const e = new LeaderElector({
    client,
    name: 'skiff-controllers',
    identity,
    clock,
    onStartedLeading: () => void log.push('started'),
    onStoppedLeading: () => void log.push('stopped'),
    log: () => {},
    ...extra,
  });
  return { e, log };
}

describe('LeaderElector', () => {
  it('acquires an absent Lease at once and renews it every retry period', async () => {
    const clock = new FakeClock(Date.UTC(2025, 0, 1));
    const client = new FakeClient({ clock });
    const a = candidate('a', client, clock);
    a.e.start();
    await clock.advanceAsync(0);
    assert.ok(a.e.isLeader());
    assert.deepEqual(a.log, ['started']);
    const s = spec(client);
    assert.equal(s.holderIdentity, 'a');
    assert.equal(s.leaseDurationSeconds, 15);
    assert.equal(s.leaseTransitions, 0);
    assert.equal(s.renewTime, '2025-01-01T00:00:00.000000Z');
    await clock.advanceAsync(2000);
    assert.equal(spec(client).renewTime, '2025-01-01T00:00:02.000000Z');
    assert.equal(spec(client).acquireTime, '2025-01-01T00:00:00.000000Z');
    await a.e.stop();
  });

  it('a second candidate waits while the leader renews, and takes over at its next try after the leader releases', async () => {
    const clock = new FakeClock(0);
    const client = new FakeClient({ clock });
    const a = candidate('a', client, clock);
    const b = candidate('b', client, clock);
    a.e.start();
    await clock.advanceAsync(0);
    b.e.start();
    await clock.advanceAsync(60_000);
    assert.ok(a.e.isLeader());
    assert.ok(!b.e.isLeader());
    assert.equal(b.e.getLeader(), 'a');
    await a.e.stop();
    assert.deepEqual(a.log, ['started', 'stopped']);
    assert.equal(spec(client).holderIdentity, '');
    await clock.advanceAsync(2000);
    assert.ok(b.e.isLeader());
    assert.equal(spec(client).holderIdentity, 'b');
    assert.equal(spec(client).leaseTransitions, 1);
    await b.e.stop();
  });

  it('takes over a Lease whose holder stopped renewing once renewTime + leaseDuration has passed', async () => {
    const start = Date.UTC(2025, 0, 1);
    const frozen = new FakeClock(start); // the leader's process hangs: its clock never moves, so it never renews
    const clock = new FakeClock(start);
    const client = new FakeClient({ clock });
    const a = candidate('a', client, frozen);
    a.e.start();
    await frozen.advanceAsync(0);
    assert.ok(a.e.isLeader());
    const b = candidate('b', client, clock);
    b.e.start();
    await clock.advanceAsync(14_000);
    assert.ok(!b.e.isLeader(), 'the lease is still valid at 14 s');
    await clock.advanceAsync(2_000);
    assert.ok(b.e.isLeader(), 'taken at the first try after 15 s');
    assert.equal(spec(client).leaseTransitions, 1);
    await b.e.stop();
  });

  it('steps down when renewals keep failing for renewDeadline, and comes back when they succeed again', async () => {
    const clock = new FakeClock(0);
    const client = new FakeClient({ clock });
    let failing = false;
    const flaky: Client = Object.create(client);
    flaky.update = ((...args: Parameters<Client['update']>) => (failing ? Promise.reject(serviceUnavailable('etcd is down')) : client.update(...args))) as Client['update'];
    const a = candidate('a', flaky, clock);
    a.e.start();
    await clock.advanceAsync(0);
    await clock.advanceAsync(2000); // last successful renewal at 2 s
    failing = true;
    await clock.advanceAsync(9_999);
    assert.ok(a.e.isLeader(), 'still leader just before the deadline');
    await clock.advanceAsync(1);
    assert.ok(!a.e.isLeader());
    assert.deepEqual(a.log, ['started', 'stopped']);
    failing = false;
    await clock.advanceAsync(2000);
    assert.ok(a.e.isLeader());
    assert.deepEqual(a.log, ['started', 'stopped', 'started']);
    await a.e.stop();
  });

  it('a leader that finds another holder on the Lease steps down at once', async () => {
    const clock = new FakeClock(0);
    const client = new FakeClient({ clock });
    const a = candidate('a', client, clock);
    a.e.start();
    await clock.advanceAsync(0);
    const lease = client.peek<KubeObject>(Leases, 'kube-system', 'skiff-controllers')!;
    await client.update(Leases, 'kube-system', { ...lease, spec: { ...(lease.spec as object), holderIdentity: 'intruder' } });
    await clock.advanceAsync(2000);
    assert.ok(!a.e.isLeader());
    assert.equal(a.e.getLeader(), 'intruder');
    await a.e.stop();
  });

  it('of two candidates racing for a free or expired Lease exactly one wins', async () => {
    for (const setup of ['absent', 'expired'] as const) {
      const clock = new FakeClock(Date.UTC(2025, 0, 1));
      const client = new FakeClient({ clock });
      if (setup === 'expired') {
        client.seed(Leases, { metadata: { name: 'skiff-controllers', namespace: 'kube-system' }, spec: { holderIdentity: 'dead', leaseDurationSeconds: 15, renewTime: '2024-12-31T23:00:00.000000Z', leaseTransitions: 4 } });
      }
      const a = candidate('a', client, clock);
      const b = candidate('b', client, clock);
      a.e.start();
      b.e.start();
      await clock.advanceAsync(10_000);
      assert.equal([a.e.isLeader(), b.e.isLeader()].filter(Boolean).length, 1, setup);
      if (setup === 'expired') assert.equal(spec(client).leaseTransitions, 5);
      await a.e.stop();
      await b.e.stop();
    }
  });

  it('refuses timings that cannot be safe', () => {
    const client = new FakeClient();
    const base = { client, name: 'x', identity: 'a', onStartedLeading() {}, onStoppedLeading() {} };
    assert.throws(() => new LeaderElector({ ...base, leaseDurationMs: 10_000, renewDeadlineMs: 10_000 }), /leaseDuration/);
    assert.throws(() => new LeaderElector({ ...base, renewDeadlineMs: 2_000, retryPeriodMs: 2_000 }), /renewDeadline/);
  });
});
