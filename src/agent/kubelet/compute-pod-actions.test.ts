/** Table tests mirroring kubelet's TestComputePodActions / TestComputePodActionsWithInitContainers (kuberuntime_manager_test.go). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Container, Pod } from 'kubernetes-types/core/v1.js';
import { FakeClock } from '../../client/testing/fake-clock.js';
import { Backoff } from './backoff.js';
import { backoffKey, computePodActions, type PodActions } from './compute-pod-actions.js';
import { runtimePodStatus, type RuntimePodStatus } from './runtime-pod-status.js';
import { runtimeContainer, sandbox, T0, testPod, type ContainerFixture } from './testing/runtime-fixtures.js';

type Expected = Partial<Omit<PodActions, 'containersToKill' | 'backOff'>> & { kill?: string[]; backOff?: string[] };

interface Case {
  name: string;
  pod?: Pod;
  /** Runtime state: sandbox overrides (undefined = no sandbox) and container fixtures by name. */
  sandbox?: Parameters<typeof sandbox>[1] | null;
  containers?: Record<string, ContainerFixture>;
  probeFailures?: Record<string, 'liveness' | 'startup'>;
  notStarted?: string[];
  expected: Expected;
}

function runtimeFor(pod: Pod, c: Case): RuntimePodStatus {
  const all: Container[] = [...(pod.spec!.initContainers ?? []), ...pod.spec!.containers, ...((pod.spec!.ephemeralContainers ?? []) as Container[])];
  const containers = Object.entries(c.containers ?? {}).map(([name, f]) => runtimeContainer(pod, all.find((x) => x.name === name)!, f));
  return runtimePodStatus(c.sandbox === null ? [] : [sandbox(pod, c.sandbox ?? {})], containers);
}

const allRunning = { foo1: {}, foo2: {}, foo3: {} };
const noBackoff = new Backoff(new FakeClock(T0));

function check(c: Case, backoff = noBackoff) {
  const pod = c.pod ?? testPod();
  const actions = computePodActions({
    pod,
    runtime: runtimeFor(pod, c),
    backoff,
    probeFailures: new Map(Object.entries(c.probeFailures ?? {})),
    isStarted: (n) => !(c.notStarted ?? []).includes(n),
  });
  const want = {
    killPod: false,
    createSandbox: false,
    sandboxId: c.sandbox === null ? '' : 'sandbox-0',
    attempt: 0,
    initContainersToStart: [],
    containersToStart: [],
    ephemeralContainersToStart: [],
    ...c.expected,
    kill: c.expected.kill ?? [],
    backOff: c.expected.backOff ?? [],
  };
  const got = { ...actions, kill: actions.containersToKill.map((k) => `${k.name}: ${k.message}`), backOff: actions.backOff.map((b) => b.message) };
  delete (got as Partial<typeof got>).containersToKill;
  assert.deepEqual(got, want);
}

const never = testPod({ restartPolicy: 'Never' });
/** A pod with a debugging container added through pods/ephemeralcontainers. */
const withDebug = (pod: Pod): Pod => ({ ...pod, spec: { ...pod.spec!, ephemeralContainers: [{ name: 'debug', image: 'busybox', command: ['sh'], targetContainerName: 'foo1' }] } });
const onFailure = testPod({ restartPolicy: 'OnFailure' });
const changed = testPod();

describe('computePodActions', () => {
  const cases: Case[] = [
    { name: 'start every container when there is no sandbox', sandbox: null, expected: { killPod: true, createSandbox: true, containersToStart: [0, 1, 2] } },
    { name: 'keep a pod whose containers all run', containers: allRunning, expected: {} },
    {
      name: 'restart exited containers if restartPolicy is Always',
      containers: { foo1: { state: 'exited', exitCode: 0 }, foo2: { state: 'exited', exitCode: 1 }, foo3: {} },
      expected: { containersToStart: [0, 1] },
    },
    {
      name: 'restart only failed containers if restartPolicy is OnFailure',
      pod: onFailure,
      containers: { foo1: { state: 'exited', exitCode: 0 }, foo2: { state: 'exited', exitCode: 111 }, foo3: {} },
      expected: { containersToStart: [1] },
    },
    {
      name: 'restart no container if restartPolicy is Never',
      pod: never,
      containers: { foo1: { state: 'exited', exitCode: 0 }, foo2: { state: 'exited', exitCode: 111 }, foo3: {} },
      expected: {},
    },
    {
      name: 'kill the pod when every container exited and restartPolicy is Never',
      pod: never,
      containers: { foo1: { state: 'exited', exitCode: 0 }, foo2: { state: 'exited', exitCode: 111 }, foo3: { state: 'exited', exitCode: 0 } },
      expected: { killPod: true },
    },
    {
      name: 'kill the pod when every container succeeded and restartPolicy is OnFailure',
      pod: onFailure,
      containers: { foo1: { state: 'exited' }, foo2: { state: 'exited' }, foo3: { state: 'exited' } },
      expected: { killPod: true },
    },
    {
      name: 'recreate the sandbox and every container when the sandbox is dead (Always)',
      sandbox: { state: 'notready' },
      containers: allRunning,
      expected: { killPod: true, createSandbox: true, attempt: 1, containersToStart: [0, 1, 2] },
    },
    {
      name: 'recreate the sandbox and the containers that did not succeed when the sandbox is dead (OnFailure)',
      pod: onFailure,
      sandbox: { state: 'notready' },
      containers: { foo1: {}, foo2: { state: 'exited', exitCode: 0 }, foo3: { state: 'exited', exitCode: 1 } },
      expected: { killPod: true, createSandbox: true, attempt: 1, containersToStart: [0, 2] },
    },
    {
      name: 'recreate everything when the sandbox has no IP',
      sandbox: { ip: undefined },
      containers: allRunning,
      expected: { killPod: true, createSandbox: true, attempt: 1, containersToStart: [0, 1, 2] },
    },
    {
      name: 'keep a host-network fallback sandbox without an IP',
      sandbox: { ip: undefined, network: 'host' },
      containers: allRunning,
      expected: {},
    },
    {
      name: 'no new sandbox for a dead sandbox when restartPolicy is Never and containers ran',
      pod: never,
      sandbox: { state: 'notready' },
      containers: { foo1: { state: 'exited' }, foo2: { state: 'exited', exitCode: 2 }, foo3: { state: 'exited' } },
      expected: { killPod: true, attempt: 1 },
    },
    {
      name: 'no new sandbox for a dead sandbox when every container succeeded (OnFailure)',
      pod: onFailure,
      sandbox: { state: 'notready' },
      containers: { foo1: { state: 'exited' }, foo2: { state: 'exited' }, foo3: { state: 'exited' } },
      expected: { killPod: true, attempt: 1 },
    },
    {
      name: 'kill and recreate a container whose spec changed',
      pod: changed,
      containers: { foo1: {}, foo2: { hash: 'stale' }, foo3: {} },
      expected: { containersToStart: [1], kill: ['foo2: Container foo2 definition changed, will be restarted'] },
    },
    {
      name: 'restart a container whose spec changed even when restartPolicy is Never',
      pod: never,
      containers: { foo1: {}, foo2: { hash: 'stale' }, foo3: {} },
      expected: { containersToStart: [1], kill: ['foo2: Container foo2 definition changed, will be restarted'] },
    },
    {
      name: 'kill and recreate a container that failed its liveness probe',
      containers: allRunning,
      probeFailures: { 'foo1-0': 'liveness' },
      expected: { containersToStart: [0], kill: ['foo1: Container foo1 failed liveness probe, will be restarted'] },
    },
    {
      name: 'kill and recreate a container that failed its startup probe',
      containers: allRunning,
      probeFailures: { 'foo3-0': 'startup' },
      expected: { containersToStart: [2], kill: ['foo3: Container foo3 failed startup probe, will be restarted'] },
    },
    {
      name: 'kill without restart a container that failed liveness when restartPolicy is Never',
      pod: never,
      containers: allRunning,
      probeFailures: { 'foo1-0': 'liveness' },
      expected: { kill: ['foo1: Container foo1 failed liveness probe'] },
    },
    {
      name: 'kill the pod when its last running container failed liveness and restartPolicy is Never',
      pod: testPod({ restartPolicy: 'Never', containers: [{ name: 'foo1', image: 'busybox' }] }),
      containers: { foo1: {} },
      probeFailures: { 'foo1-0': 'liveness' },
      expected: { killPod: true, kill: ['foo1: Container foo1 failed liveness probe'] },
    },
    {
      name: 'start a created container again (the runtime failed to start it)',
      containers: { foo1: {}, foo2: { state: 'created' }, foo3: {} },
      expected: { containersToStart: [1] },
    },
    {
      name: 'kill a container in unknown state before restarting it',
      containers: { foo1: {}, foo2: { state: 'unknown' }, foo3: {} },
      expected: { containersToStart: [1], kill: ['foo2: Container is in "unknown" state, try killing it before restart'] },
    },
    {
      name: 'start a container that has never been created',
      containers: { foo1: {}, foo3: {} },
      expected: { containersToStart: [1] },
    },
  ];
  for (const c of cases) it(c.name, () => check(c));

  const ephemeral: Case[] = [
    { name: 'ephemeral: start a debugging container the runtime never ran', pod: withDebug(testPod()), containers: allRunning, expected: { ephemeralContainersToStart: [0] } },
    { name: 'ephemeral: keep a running one', pod: withDebug(testPod()), containers: { ...allRunning, debug: {} }, expected: {} },
    { name: 'ephemeral: never restart one that exited (even failed, restartPolicy Always)', pod: withDebug(testPod()), containers: { ...allRunning, debug: { state: 'exited', exitCode: 1 } }, expected: {} },
    {
      name: 'ephemeral: start before initialization is done',
      pod: withDebug(testPod({ initContainers: [{ name: 'init1', image: 'busybox', command: ['true'] }] })),
      containers: { init1: {} },
      expected: { ephemeralContainersToStart: [0] },
    },
    {
      name: 'ephemeral: not in a pod that is being killed (every container finished, Never)',
      pod: withDebug(never),
      containers: { foo1: { state: 'exited' }, foo2: { state: 'exited' }, foo3: { state: 'exited' } },
      expected: { killPod: true },
    },
    { name: 'ephemeral: not with a new sandbox (regular containers first)', pod: withDebug(testPod()), sandbox: null, expected: { killPod: true, createSandbox: true, containersToStart: [0, 1, 2] } },
  ];
  for (const c of ephemeral) it(c.name, () => check(c));
});

const init = (name: string, over: Partial<Container> = {}): Container => ({ name, image: 'busybox', command: ['true'], ...over });
const withInit = (policy: 'Always' | 'OnFailure' | 'Never' = 'Always', inits: Container[] = [init('init1'), init('init2')]) =>
  testPod({ restartPolicy: policy, initContainers: inits });

describe('computePodActions with init containers', () => {
  const cases: Case[] = [
    { name: 'start the first init container when there is no sandbox', pod: withInit(), sandbox: null, expected: { killPod: true, createSandbox: true, initContainersToStart: [0] } },
    { name: 'start the first init container in a fresh sandbox', pod: withInit(), containers: {}, expected: { initContainersToStart: [0] } },
    { name: 'initialization in progress: wait', pod: withInit(), containers: { init1: {} }, expected: {} },
    { name: 'the first init container succeeded: start the next', pod: withInit(), containers: { init1: { state: 'exited' } }, expected: { initContainersToStart: [1] } },
    {
      name: 'initialization complete: start every container',
      pod: withInit(),
      containers: { init1: { state: 'exited' }, init2: { state: 'exited' } },
      expected: { containersToStart: [0, 1, 2] },
    },
    {
      name: 'initialization failed: restart the last init container (Always)',
      pod: withInit(),
      containers: { init1: { state: 'exited' }, init2: { state: 'exited', exitCode: 1 } },
      expected: { initContainersToStart: [1] },
    },
    {
      name: 'initialization failed: restart the init container (OnFailure)',
      pod: withInit('OnFailure'),
      containers: { init1: { state: 'exited', exitCode: 1 } },
      expected: { initContainersToStart: [0] },
    },
    {
      name: 'initialization failed: kill the pod (Never)',
      pod: withInit('Never'),
      containers: { init1: { state: 'exited', exitCode: 1 } },
      expected: { killPod: true },
    },
    {
      name: 'init container in unknown state: kill and recreate it (Always)',
      pod: withInit(),
      containers: { init1: { state: 'exited' }, init2: { state: 'unknown' } },
      expected: { initContainersToStart: [1], kill: ['init2: Init container is in "unknown" state, try killing it before restart'] },
    },
    {
      name: 'dead sandbox: kill the pod and restart from the first init container',
      pod: withInit(),
      sandbox: { state: 'notready' },
      containers: { init1: { state: 'exited' }, init2: { state: 'exited' }, foo1: {}, foo2: {}, foo3: {} },
      expected: { killPod: true, createSandbox: true, attempt: 1, initContainersToStart: [0] },
    },
    {
      name: 'dead sandbox, failed init container and restartPolicy Never: kill the pod only',
      pod: withInit('Never'),
      sandbox: { state: 'notready' },
      containers: { init1: { state: 'exited', exitCode: 1 } },
      expected: { killPod: true, attempt: 1 },
    },
    {
      name: 'regular containers running: finished init containers are not run again',
      pod: withInit(),
      containers: { foo1: {}, foo2: {}, foo3: {} },
      expected: {},
    },
  ];
  for (const c of cases) it(c.name, () => check(c));
});

describe('computePodActions with sidecars (restartable init containers)', () => {
  const sidecarPod = (policy: 'Always' | 'Never' = 'Always', probe = false) =>
    withInit(policy, [init('sidecar', { restartPolicy: 'Always', ...(probe ? { startupProbe: { exec: { command: ['true'] } } } : {}) }), init('init2')]);
  const cases: Case[] = [
    { name: 'a running sidecar lets the next init container start', pod: sidecarPod(), containers: { sidecar: {} }, expected: { initContainersToStart: [1] } },
    { name: 'a sidecar waits for its startup probe before the next starts', pod: sidecarPod('Always', true), containers: { sidecar: {} }, notStarted: ['sidecar'], expected: {} },
    {
      name: 'a sidecar that failed its startup probe is restarted',
      pod: sidecarPod('Always', true),
      containers: { sidecar: {} },
      probeFailures: { 'sidecar-0': 'startup' },
      expected: { initContainersToStart: [0], kill: ['sidecar: Init container sidecar failed startup probe'] },
    },
    {
      name: 'initialized pod: start the containers, the sidecar keeps running',
      pod: sidecarPod(),
      containers: { sidecar: {}, init2: { state: 'exited' } },
      expected: { containersToStart: [0, 1, 2] },
    },
    {
      name: 'an exited sidecar is restarted even with restartPolicy Never',
      pod: sidecarPod('Never'),
      containers: { sidecar: { state: 'exited', exitCode: 1 }, init2: { state: 'exited' }, foo1: {}, foo2: {}, foo3: {} },
      expected: { initContainersToStart: [0] },
    },
    {
      name: 'a sidecar does not keep a finished pod alive',
      pod: sidecarPod('Never'),
      containers: { sidecar: {}, init2: { state: 'exited' }, foo1: { state: 'exited' }, foo2: { state: 'exited' }, foo3: { state: 'exited' } },
      expected: { killPod: true },
    },
  ];
  for (const c of cases) it(c.name, () => check(c));
});

describe('computePodActions and CrashLoopBackOff', () => {
  const pod = testPod({ containers: [{ name: 'foo1', image: 'busybox', command: ['false'] }] });
  const key = backoffKey(pod, pod.spec!.containers[0]!);
  const finishedAt = T0 + 3000;

  it('holds a container back while its back-off runs, and lets it start after', () => {
    const clock = new FakeClock(finishedAt + 1000);
    const backoff = new Backoff(clock);
    backoff.next(key, finishedAt);
    const c: Case = { name: '', pod, containers: { foo1: { state: 'exited', exitCode: 1 } }, expected: { backOff: ['back-off 10s restarting failed container=foo1 pod=web_default(uid-1)'] } };
    check(c, backoff);
    clock.set(finishedAt + 10_000);
    check({ ...c, expected: { containersToStart: [0] } }, backoff);
  });

  it('doubles to 5 minutes and starts over after 10 minutes of running', () => {
    const clock = new FakeClock(T0);
    const backoff = new Backoff(clock);
    const delays: string[] = [];
    for (let i = 0; i < 7; i++) {
      backoff.next(key, clock.now().getTime());
      delays.push(`${backoff.get(key) / 1000}s`);
      clock.advance(backoff.get(key));
    }
    assert.deepEqual(delays, ['10s', '20s', '40s', '80s', '160s', '300s', '300s']);
    clock.advance(10 * 60_000 + 1);
    backoff.next(key, clock.now().getTime());
    assert.equal(backoff.get(key), 10_000);
  });
});
