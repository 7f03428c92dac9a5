import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Job } from 'kubernetes-types/batch/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { rfc3339 } from '../../api/time.js';
import { Jobs } from '../../client/resources.js';
import { ControllerFixture } from '../util/controller-fixture.js';
import { TtlAfterFinishedController } from './ttl-after-finished-controller.js';

type JobObj = Mutable<Job> & KubeObject;

function finishedJob(name: string, finishedAt: Date, ttl: number | undefined, type = 'Complete'): JobObj {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: 'default', uid: `uid-${name}` },
    spec: { ...(ttl !== undefined ? { ttlSecondsAfterFinished: ttl } : {}), template: { spec: { containers: [] } } },
    status: { conditions: [{ type, status: 'True', lastTransitionTime: rfc3339(finishedAt) }] },
  };
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setImmediate(r));
}

describe('TtlAfterFinishedController', () => {
  it('deletes a finished Job once its TTL has passed, in the foreground, guarded by its uid', async () => {
    const f = new ControllerFixture();
    const c = new TtlAfterFinishedController(f.ctx);
    c.start();
    f.seed(Jobs, finishedJob('done', new Date(f.clock.now().getTime() - 100_000), 60, 'Failed'));
    await c.reconcile('default/done');
    assert.deepEqual(f.actionsOf('delete', 'jobs'), [
      { verb: 'delete', resource: 'jobs', namespace: 'default', name: 'done', object: { propagationPolicy: 'Foreground', preconditions: { uid: 'uid-done' } } },
    ]);
  });

  it('waits for the TTL with the clock, then deletes (the requeue fires through the work queue)', async () => {
    const f = new ControllerFixture();
    const c = new TtlAfterFinishedController(f.ctx);
    c.start();
    f.seed(Jobs, finishedJob('soon', new Date(f.clock.now().getTime() - 40_000), 100));
    const running = c.run(1);
    await until(() => f.clock.pendingTimers > 0);
    assert.equal(f.actionsOf('delete', 'jobs').length, 0);
    assert.equal(f.clock.nextTimerIn(), 60_000);

    await f.clock.advanceAsync(59_000);
    assert.equal(f.actionsOf('delete', 'jobs').length, 0);
    await f.clock.advanceAsync(1_000);
    await until(() => f.actionsOf('delete', 'jobs').length > 0);
    assert.deepEqual(f.actionsOf('delete', 'jobs').map((a) => a.name), ['soon']);
    c.stop();
    await running;
  });

  it('uses the live TTL: a Job whose TTL was raised meanwhile is not deleted', async () => {
    const f = new ControllerFixture();
    const c = new TtlAfterFinishedController(f.ctx);
    c.start();
    const finished = new Date(f.clock.now().getTime() - 100_000);
    f.seed(Jobs, finishedJob('raised', finished, 10));
    const live = f.client.peek<JobObj>(Jobs, 'default', 'raised')!;
    live.spec!.ttlSecondsAfterFinished = 1000;
    await f.client.update(Jobs, 'default', live);
    await c.reconcile('default/raised');
    assert.equal(f.actionsOf('delete', 'jobs').length, 0);
  });

  it('ignores Jobs without a TTL or not finished', async () => {
    const f = new ControllerFixture();
    const c = new TtlAfterFinishedController(f.ctx);
    c.start();
    f.seed(Jobs, finishedJob('keep', new Date(0), undefined));
    const running = finishedJob('running', new Date(0), 0);
    running.status = {};
    f.seed(Jobs, running);
    await c.reconcile('default/keep');
    await c.reconcile('default/running');
    assert.deepEqual(f.client.actions, []);
  });
});
