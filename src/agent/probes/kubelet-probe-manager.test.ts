import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Container, Pod, Probe } from 'kubernetes-types/core/v1.js';
import { FakeClock } from '../../client/testing/fake-clock.js';
import type { ExecSyncResult } from '../runtime/types.js';
import { KubeletProbeManager } from './kubelet-probe-manager.js';
import type { ProbeFailure } from './types.js';

const T0 = Date.UTC(2025, 0, 1);
const UID = 'pod-uid-1';

/** What a probe command answers: an exit code, a timeout, or a runtime error. */
type Answer = number | 'timeout' | 'error';

function harness(options: { random?: () => number; startAt?: number } = {}) {
  const clock = new FakeClock(T0);
  const calls: Array<{ at: number; id: string; cmd: string }> = [];
  /** Per command: answers consumed in order; the last one repeats. */
  const answers = new Map<string, Answer[]>();
  const failures: ProbeFailure[] = [];
  const unhealthy: string[] = [];
  const warnings: string[] = [];
  const changes: number[] = [];
  const manager = new KubeletProbeManager(
    {
      onFailure: (f) => failures.push(f),
      onUnhealthy: (f) => unhealthy.push(f.message),
      onChange: () => changes.push(clock.now().getTime() - T0),
      onWarning: (f) => warnings.push(f.message),
    },
    async (id, cmd): Promise<ExecSyncResult> => {
      calls.push({ at: clock.now().getTime() - T0, id, cmd: cmd.join(' ') });
      const queue = answers.get(cmd[0]!) ?? [0];
      const answer = queue.length > 1 ? queue.shift()! : queue[0]!;
      if (answer === 'error') throw new Error('container is stopping');
      return { exitCode: answer === 'timeout' ? -1 : answer, stdout: Buffer.from(answer === 0 ? '' : `${cmd[0]} says ${answer}`), stderr: Buffer.alloc(0), timedOut: answer === 'timeout' };
    },
    clock,
    options.random ?? (() => 0),
  );
  const at = (ms: number) => clock.set(T0 + ms);
  const advanceTo = (ms: number) => clock.advanceAsync(T0 + ms - clock.now().getTime());
  return { clock, manager, calls, answers, failures, unhealthy, warnings, changes, at, advanceTo, callsOf: (cmd: string) => calls.filter((c) => c.cmd.startsWith(cmd)).map((c) => c.at) };
}

const exec = (cmd: string, extra: Partial<Probe> = {}): Probe => ({ exec: { command: [cmd] }, ...extra });

function pod(containers: Array<Partial<Container>>, initContainers: Array<Partial<Container>> = []): Pod {
  return {
    metadata: { name: 'web', namespace: 'default', uid: UID },
    spec: { containers: containers.map((c, i) => ({ name: `c${i}`, ...c })), initContainers: initContainers.map((c, i) => ({ name: `init${i}`, ...c })) },
  };
}

describe('KubeletProbeManager', () => {
  it('a container without probes is started and ready at once, and not after it stops', () => {
    const h = harness();
    h.manager.addPod(pod([{}]));
    assert.equal(h.manager.isReady(UID, 'c0'), false, 'not running yet');
    h.manager.containerStarted(UID, 'c0', 'id-1', T0);
    assert.equal(h.manager.isStarted(UID, 'c0'), true);
    assert.equal(h.manager.isReady(UID, 'c0'), true);
    h.manager.containerStopped(UID, 'c0');
    assert.equal(h.manager.isReady(UID, 'c0'), false);
    assert.equal(h.manager.isStarted(UID, 'c0'), false);
    assert.equal(h.clock.pendingTimers, 0);
  });

  it('readiness: false until the first success, initialDelaySeconds from startedAt, then every periodSeconds', async () => {
    const h = harness();
    h.manager.addPod(pod([{ readinessProbe: exec('ready', { initialDelaySeconds: 5, periodSeconds: 10 }) }]));
    // The container started 2 s before the agent heard of it: the delay still counts from startedAt.
    h.at(2000);
    h.manager.containerStarted(UID, 'c0', 'id-1', T0);
    assert.equal(h.manager.isStarted(UID, 'c0'), true);
    assert.equal(h.manager.isReady(UID, 'c0'), false);
    await h.advanceTo(4999);
    assert.deepEqual(h.calls, []);
    await h.advanceTo(5000);
    assert.deepEqual(h.calls, [{ at: 5000, id: 'id-1', cmd: 'ready' }]);
    assert.equal(h.manager.isReady(UID, 'c0'), true);
    assert.deepEqual(h.changes, [5000]);
    await h.advanceTo(35_000);
    assert.deepEqual(h.callsOf('ready'), [5000, 15_000, 25_000, 35_000]);
    assert.deepEqual(h.changes, [5000], 'no change, no onChange');
  });

  // `ready` is read after each run; an errored run is retried at once (3 tries), hence three 'error' answers.
  const thresholdCases: Array<{ name: string; probe: Partial<Probe>; answers: Answer[]; ready: boolean[] }> = [
    { name: 'defaults: one success makes ready, three failures unready', probe: {}, answers: [1, 0, 1, 1, 1, 0], ready: [false, true, true, true, false, true] },
    { name: 'successThreshold 2', probe: { successThreshold: 2 }, answers: [0, 1, 0, 0, 0], ready: [false, false, false, true, true] },
    { name: 'failureThreshold 1', probe: { failureThreshold: 1 }, answers: [0, 1, 0], ready: [true, false, true] },
    { name: 'errored runs count neither way', probe: { failureThreshold: 2 }, answers: [0, 1, 'error', 'error', 'error', 1, 0], ready: [true, true, true, false, true] },
    { name: 'a timeout is a failure', probe: { failureThreshold: 1 }, answers: [0, 'timeout', 0], ready: [true, false, true] },
  ];
  for (const c of thresholdCases) {
    it(`readiness thresholds: ${c.name}`, async () => {
      const h = harness();
      h.answers.set('ready', [...c.answers]);
      h.manager.addPod(pod([{ readinessProbe: exec('ready', { periodSeconds: 1, ...c.probe }) }]));
      h.manager.containerStarted(UID, 'c0', 'id-1', T0);
      const ready: boolean[] = [];
      for (let i = 0; i < c.ready.length; i++) {
        await h.advanceTo(i * 1000);
        ready.push(h.manager.isReady(UID, 'c0'));
      }
      assert.deepEqual(ready, c.ready);
      assert.equal(h.failures.length, 0, 'readiness never kills');
    });
  }

  it('unhealthy events word each failed or errored run as kubelet does', async () => {
    const h = harness();
    h.answers.set('ready', [3, 'error', 'error', 'error', 'timeout']);
    h.manager.addPod(pod([{ readinessProbe: exec('ready', { periodSeconds: 1 }) }]));
    h.manager.containerStarted(UID, 'c0', 'id-1', T0);
    await h.advanceTo(2000);
    assert.deepEqual(h.unhealthy, [
      'Readiness probe failed: ready says 3',
      'Readiness probe errored and resulted in unknown state: container is stopping',
      'Readiness probe failed: command "ready" timed out',
    ]);
  });

  it('liveness: onFailure once at failureThreshold, then on hold until a new container id', async () => {
    const h = harness();
    h.answers.set('live', [0, 1, 1, 1]);
    h.manager.addPod(pod([{ livenessProbe: exec('live', { periodSeconds: 10, failureThreshold: 3 }) }]));
    h.manager.containerStarted(UID, 'c0', 'id-1', T0, '10.42.0.9');
    await h.advanceTo(100_000);
    assert.deepEqual(h.callsOf('live'), [0, 10_000, 20_000, 30_000], 'no probing while on hold');
    assert.deepEqual(h.failures, [{ podUid: UID, containerName: 'c0', containerId: 'id-1', type: 'liveness', message: 'Liveness probe failed: live says 1' }]);
    assert.deepEqual(h.unhealthy, ['Liveness probe failed: live says 1', 'Liveness probe failed: live says 1', 'Liveness probe failed: live says 1']);
    assert.equal(h.manager.isReady(UID, 'c0'), true, 'liveness does not decide readiness');

    // The same container reported again changes nothing; a restart resumes probing with fresh counters.
    h.manager.containerStarted(UID, 'c0', 'id-1', T0, '10.42.0.9');
    await h.advanceTo(110_000);
    assert.equal(h.calls.length, 4);
    h.answers.set('live', [1, 1, 0, 1, 1, 1]);
    h.manager.containerStarted(UID, 'c0', 'id-2', T0 + 110_000);
    await h.advanceTo(200_000);
    assert.deepEqual(h.calls.slice(4).map((c) => [c.at, c.id]), [[110_000, 'id-2'], [120_000, 'id-2'], [130_000, 'id-2'], [140_000, 'id-2'], [150_000, 'id-2'], [160_000, 'id-2']]);
    assert.equal(h.failures.length, 2);
    assert.equal(h.failures[1]!.containerId, 'id-2');
  });

  it('startup gates liveness and readiness; its success triggers readiness at once and stops it', async () => {
    const h = harness();
    h.answers.set('start', [1, 1, 0]);
    h.manager.addPod(
      pod([{ startupProbe: exec('start', { periodSeconds: 5, failureThreshold: 10 }), readinessProbe: exec('ready', { periodSeconds: 10 }), livenessProbe: exec('live', { periodSeconds: 10 }) }]),
    );
    h.manager.containerStarted(UID, 'c0', 'id-1', T0);
    await h.advanceTo(9_999);
    assert.deepEqual(h.callsOf('start'), [0, 5000]);
    assert.deepEqual(h.callsOf('ready'), []);
    assert.deepEqual(h.callsOf('live'), []);
    assert.equal(h.manager.isStarted(UID, 'c0'), false);
    await h.advanceTo(10_000);
    assert.equal(h.manager.isStarted(UID, 'c0'), true);
    assert.equal(h.manager.isReady(UID, 'c0'), true, 'readiness ran in the same instant');
    assert.deepEqual(h.callsOf('ready'), [10_000]);
    assert.deepEqual(h.changes, [10_000, 10_000], 'started flipped, then ready flipped');
    await h.advanceTo(30_000);
    assert.deepEqual(h.callsOf('start'), [0, 5000, 10_000], 'startup stops once it succeeded');
    // Liveness's own tick at 10 s came just before the startup run succeeded: it waits for its next period.
    assert.deepEqual(h.callsOf('live'), [20_000, 30_000], 'liveness runs on its next period after startup');
    assert.deepEqual(h.callsOf('ready'), [10_000, 20_000, 30_000]);
  });

  it('a startup failure at its threshold kills with "Startup probe failed", liveness never ran', async () => {
    const h = harness();
    h.answers.set('start', [1]);
    h.manager.addPod(pod([{ startupProbe: exec('start', { periodSeconds: 1, failureThreshold: 3 }), livenessProbe: exec('live') }]));
    h.manager.containerStarted(UID, 'c0', 'id-1', T0);
    await h.advanceTo(60_000);
    assert.deepEqual(h.callsOf('start'), [0, 1000, 2000]);
    assert.deepEqual(h.callsOf('live'), []);
    assert.deepEqual(
      h.failures.map((f) => [f.type, f.message]),
      [['startup', 'Startup probe failed: start says 1']],
    );
    assert.equal(h.manager.isStarted(UID, 'c0'), false);
  });

  it('a new container id resets results: not ready, not started, counters from zero', async () => {
    const h = harness();
    h.manager.addPod(pod([{ startupProbe: exec('start', { periodSeconds: 1 }), readinessProbe: exec('ready', { periodSeconds: 1 }) }]));
    h.manager.containerStarted(UID, 'c0', 'id-1', T0);
    await h.advanceTo(1000);
    assert.equal(h.manager.isReady(UID, 'c0'), true);
    h.manager.containerStopped(UID, 'c0');
    assert.equal(h.manager.isReady(UID, 'c0'), false);
    await h.advanceTo(5000);
    const before = h.calls.length;
    assert.equal(h.clock.pendingTimers, 0, 'a stopped container is not probed');
    h.answers.set('start', [1, 0]);
    h.manager.containerStarted(UID, 'c0', 'id-2', T0 + 5000);
    assert.equal(h.manager.isStarted(UID, 'c0'), false);
    assert.equal(h.manager.isReady(UID, 'c0'), false);
    await h.advanceTo(6000);
    assert.equal(h.manager.isStarted(UID, 'c0'), true);
    assert.equal(h.manager.isReady(UID, 'c0'), true);
    assert.ok(h.calls.slice(before).every((c) => c.id === 'id-2'));
  });

  it('drops the result of a run that was in flight when the container changed', async () => {
    const clock = new FakeClock(T0);
    let release!: (r: ExecSyncResult) => void;
    const changes: string[] = [];
    const manager = new KubeletProbeManager(
      { onFailure: () => {}, onUnhealthy: () => {}, onChange: (uid) => changes.push(uid) },
      () => new Promise((resolve) => (release = resolve)),
      clock,
      () => 0,
    );
    manager.addPod(pod([{ readinessProbe: exec('ready') }]));
    manager.containerStarted(UID, 'c0', 'id-1', T0);
    await clock.advanceAsync(0);
    manager.containerStarted(UID, 'c0', 'id-2', T0 + 1);
    release({ exitCode: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), timedOut: false });
    await clock.advanceAsync(0);
    // The id-2 run is now the one pending; the id-1 success must not make id-2 ready.
    assert.equal(manager.isReady(UID, 'c0'), false);
    assert.deepEqual(changes, []);
    manager.stop();
  });

  it('liveness runs on the worker ticker: a container (re)started between ticks is first probed on the next tick', async () => {
    const h = harness();
    h.manager.addPod(pod([{ livenessProbe: exec('live', { periodSeconds: 10 }) }]));
    await h.advanceTo(3000);
    h.manager.containerStarted(UID, 'c0', 'id-1', T0 + 3000);
    await h.advanceTo(9999);
    assert.deepEqual(h.callsOf('live'), [], 'not in the instant the container starts');
    await h.advanceTo(10_000);
    assert.deepEqual(h.callsOf('live'), [10_000]);
    h.manager.containerStopped(UID, 'c0');
    await h.advanceTo(14_500);
    h.manager.containerStarted(UID, 'c0', 'id-2', T0 + 14_500);
    await h.advanceTo(30_000);
    assert.deepEqual(h.callsOf('live'), [10_000, 20_000, 30_000]);
  });

  it('spreads first probes over the period while the agent itself is young (worker.go jitter)', async () => {
    const h = harness({ random: () => 0.5 });
    h.manager.addPod(pod([{ readinessProbe: exec('ready', { periodSeconds: 10 }) }]));
    h.manager.containerStarted(UID, 'c0', 'id-1', T0 - 3_600_000);
    await h.advanceTo(10_000);
    assert.deepEqual(h.callsOf('ready'), [5000]);
    // Later containers start at once.
    h.manager.addPod({ ...pod([{ name: 'late', readinessProbe: exec('late', { periodSeconds: 10 }) }]) });
    h.manager.containerStarted(UID, 'late', 'id-9', T0 + 10_000);
    await h.advanceTo(10_000);
    assert.deepEqual(h.callsOf('late'), [10_000]);
  });

  it('probes sidecars (restartable init containers) and passes the container id and env-expanded command', async () => {
    const h = harness();
    h.manager.addPod(pod([{}], [{ restartPolicy: 'Always', env: [{ name: 'P', value: '9' }], readinessProbe: { exec: { command: ['side', '$(P)'] } } }, { readinessProbe: exec('plain-init') }]));
    h.manager.containerStarted(UID, 'init0', 'side-id', T0);
    h.manager.containerStarted(UID, 'init1', 'init-id', T0);
    await h.advanceTo(0);
    assert.deepEqual(h.calls, [{ at: 0, id: 'side-id', cmd: 'side 9' }]);
    assert.equal(h.manager.isReady(UID, 'init0'), true);
  });

  it('pod deletion: liveness and startup stop and read success; readiness keeps probing', async () => {
    const h = harness();
    h.answers.set('start', [1]);
    const p = pod([{ startupProbe: exec('start', { periodSeconds: 1, failureThreshold: 100 }), livenessProbe: exec('live', { periodSeconds: 1 }), readinessProbe: exec('ready', { periodSeconds: 1 }) }]);
    h.manager.addPod(p);
    h.manager.containerStarted(UID, 'c0', 'id-1', T0);
    await h.advanceTo(2000);
    assert.equal(h.manager.isStarted(UID, 'c0'), false);
    h.manager.addPod({ ...p, metadata: { ...p.metadata, deletionTimestamp: new Date(T0 + 2000).toISOString() } });
    assert.equal(h.manager.isStarted(UID, 'c0'), true);
    assert.deepEqual(h.changes, [2000]);
    await h.advanceTo(5000);
    assert.deepEqual(h.callsOf('start'), [0, 1000, 2000]);
    assert.deepEqual(h.callsOf('live'), []);
    assert.deepEqual(h.callsOf('ready'), [2000, 3000, 4000, 5000]);
    assert.equal(h.failures.length, 0);
  });

  it('removePod and stop end every worker', async () => {
    const h = harness();
    h.manager.addPod(pod([{ livenessProbe: exec('live'), readinessProbe: exec('ready') }]));
    h.manager.containerStarted(UID, 'c0', 'id-1', T0);
    await h.advanceTo(0);
    assert.equal(h.clock.pendingTimers, 2);
    h.manager.removePod(UID);
    assert.equal(h.clock.pendingTimers, 0);
    assert.equal(h.manager.isReady(UID, 'c0'), false);
    h.manager.addPod(pod([{ livenessProbe: exec('live') }]));
    h.manager.containerStarted(UID, 'c0', 'id-2', T0);
    h.manager.stop();
    assert.equal(h.clock.pendingTimers, 0);
    const n = h.calls.length;
    await h.advanceTo(60_000);
    assert.equal(h.calls.length, n);
  });

  it('the period runs from the start of the previous run; a run longer than the period is followed at once', async () => {
    const clock = new FakeClock(T0);
    const starts: number[] = [];
    const durations = [3000, 15_000, 1000];
    const manager = new KubeletProbeManager({ onFailure: () => {}, onUnhealthy: () => {}, onChange: () => {} }, async () => assert.fail('no exec'), clock, () => 0, () => {
      starts.push(clock.now().getTime() - T0);
      const ms = durations.shift() ?? 0;
      return new Promise((resolve) => clock.setTimeout(() => resolve({ result: 'success', output: '' }), ms));
    });
    manager.addPod(pod([{ readinessProbe: { tcpSocket: { port: 80 }, periodSeconds: 10, timeoutSeconds: 20 } }]));
    manager.containerStarted(UID, 'c0', 'id-1', T0);
    await clock.advanceAsync(40_000);
    assert.deepEqual(starts, [0, 10_000, 25_000, 35_000]);
    manager.stop();
  });

  it('a warning (HTTP redirect elsewhere) counts as success and is reported', async () => {
    const clock = new FakeClock(T0);
    const warnings: string[] = [];
    const manager = new KubeletProbeManager(
      { onFailure: () => {}, onUnhealthy: () => {}, onChange: () => {}, onWarning: (w) => warnings.push(w.message) },
      async () => assert.fail('no exec'),
      clock,
      () => 0,
      async () => ({ result: 'warning', output: 'Probe terminated redirects, Response body: moved' }),
    );
    manager.addPod(pod([{ readinessProbe: { httpGet: { port: 80 } } }]));
    manager.containerStarted(UID, 'c0', 'id-1', T0);
    await clock.advanceAsync(0);
    assert.equal(manager.isReady(UID, 'c0'), true);
    assert.deepEqual(warnings, ['Readiness probe warning: Probe terminated redirects, Response body: moved']);
    manager.stop();
  });
});
