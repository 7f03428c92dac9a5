/** Table tests of the status kubelet reports (generateAPIPodStatus, getPhase, the conditions) and of the QoS class. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Container, Pod, PodStatus } from 'kubernetes-types/core/v1.js';
import { rfc3339 } from '../../api/time.js';
import { computePodQos } from './qos.js';
import { runtimePodStatus } from './runtime-pod-status.js';
import { computePodStatus, type WaitingReason } from './status.js';
import { runtimeContainer, sandbox, T0, testPod, type ContainerFixture } from './testing/runtime-fixtures.js';

const NOW = T0 + 60_000;
const app: Container = { name: 'app', image: 'busybox', command: ['sleep', '1000'] };
const onePod = (policy: 'Always' | 'OnFailure' | 'Never' = 'Always', initContainers?: Container[]) =>
  testPod({ restartPolicy: policy, containers: [app], ...(initContainers ? { initContainers } : {}) });

interface Case {
  name: string;
  pod?: Pod;
  sandbox?: boolean;
  /** Runtime containers, newest first per name (a list to express restarts). */
  containers?: [string, ContainerFixture][];
  waiting?: Record<string, WaitingReason>;
  notReady?: string[];
  previous?: PodStatus;
  override?: { phase: 'Failed'; reason: string; message: string };
  /** Assertions on the result. */
  want: (s: PodStatus) => void;
}

function run(c: Case): PodStatus {
  const pod = c.pod ?? onePod();
  const all = [...(pod.spec!.initContainers ?? []), ...pod.spec!.containers];
  const containers = (c.containers ?? []).map(([name, f]) => runtimeContainer(pod, all.find((x) => x.name === name)!, f));
  return computePodStatus({
    pod,
    ...(c.previous ? { previous: c.previous } : {}),
    runtime: runtimePodStatus(c.sandbox === false ? [] : [sandbox(pod)], containers),
    runtimeType: 'process',
    isReady: (n) => !(c.notReady ?? []).includes(n),
    isStarted: () => true,
    waiting: new Map(Object.entries(c.waiting ?? {})),
    hostIPs: ['192.168.1.10'],
    ...(c.override ? { override: c.override } : {}),
    now: NOW,
  });
}

const cond = (s: PodStatus, type: string) => {
  const c = s.conditions!.find((x) => x.type === type)!;
  return [c.status, c.reason, c.message].filter((x) => x !== undefined).join(' ');
};
const state = (s: PodStatus, name = 'app', init = false) => (init ? s.initContainerStatuses : s.containerStatuses)!.find((x) => x.name === name)!;

const cases: Case[] = [
  {
    name: 'nothing created yet: Pending, ContainerCreating, not ready to start containers',
    sandbox: false,
    want: (s) => {
      assert.equal(s.phase, 'Pending');
      assert.deepEqual(state(s).state, { waiting: { reason: 'ContainerCreating' } });
      assert.equal(cond(s, 'PodReadyToStartContainers'), 'False');
      assert.equal(cond(s, 'Initialized'), 'True');
      assert.equal(cond(s, 'Ready'), 'False ContainersNotReady containers with unready status: [app]');
      assert.equal(cond(s, 'PodScheduled'), 'True');
      assert.equal(s.podIP, undefined);
      assert.equal(s.hostIP, '192.168.1.10');
      assert.equal(s.startTime, rfc3339(NOW));
      assert.equal(s.qosClass, 'BestEffort');
    },
  },
  {
    name: 'running and ready',
    containers: [['app', {}]],
    want: (s) => {
      assert.equal(s.phase, 'Running');
      assert.deepEqual(state(s), {
        name: 'app',
        state: { running: { startedAt: rfc3339(T0 + 2000) } },
        lastState: {},
        ready: true,
        started: true,
        restartCount: 0,
        image: 'busybox',
        imageID: 'sha256:busybox',
        containerID: 'process://app-0',
      });
      assert.deepEqual(s.conditions!.map((c) => `${c.type}=${c.status}`), ['PodReadyToStartContainers=True', 'Initialized=True', 'Ready=True', 'ContainersReady=True', 'PodScheduled=True']);
      assert.deepEqual(s.podIPs, [{ ip: '10.42.0.5' }]);
      assert.deepEqual(s.hostIPs, [{ ip: '192.168.1.10' }]);
    },
  },
  {
    name: 'running, readiness probe not passing: not ready',
    containers: [['app', {}]],
    notReady: ['app'],
    want: (s) => {
      assert.equal(state(s).ready, false);
      assert.equal(cond(s, 'ContainersReady'), 'False ContainersNotReady containers with unready status: [app]');
    },
  },
  {
    name: 'crash loop: waiting CrashLoopBackOff, the exit in lastState, restartCount from the attempt, phase Running',
    containers: [['app', { state: 'exited', exitCode: 1, attempt: 3 }]],
    waiting: { app: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container=app pod=web_default(uid-1)' } },
    want: (s) => {
      assert.equal(s.phase, 'Running');
      const c = state(s);
      assert.deepEqual(c.state, { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container=app pod=web_default(uid-1)' } });
      assert.deepEqual(c.lastState, {
        terminated: { exitCode: 1, reason: 'Error', startedAt: rfc3339(T0 + 2000), finishedAt: rfc3339(T0 + 3000), containerID: 'process://app-3' },
      });
      assert.equal(c.restartCount, 3);
      assert.equal(c.ready, false);
      assert.equal(c.started, false);
    },
  },
  {
    name: 'restarted: the previous run in lastState',
    containers: [['app', { attempt: 1, createdAt: T0 + 5000 }], ['app', { state: 'exited', exitCode: 137, reason: 'OOMKilled', attempt: 0 }]],
    want: (s) => {
      const c = state(s);
      assert.equal(c.restartCount, 1);
      assert.ok(c.state?.running);
      assert.equal(c.lastState?.terminated?.reason, 'OOMKilled');
      assert.equal(c.lastState?.terminated?.exitCode, 137);
    },
  },
  {
    name: 'restartPolicy Never, exit 0: Succeeded, PodCompleted',
    pod: onePod('Never'),
    containers: [['app', { state: 'exited' }]],
    want: (s) => {
      assert.equal(s.phase, 'Succeeded');
      assert.equal(state(s).state?.terminated?.reason, 'Completed');
      assert.equal(cond(s, 'Ready'), 'False PodCompleted');
      assert.equal(cond(s, 'ContainersReady'), 'False PodCompleted');
    },
  },
  {
    name: 'restartPolicy Never, exit 2: Failed, PodFailed',
    pod: onePod('Never'),
    containers: [['app', { state: 'exited', exitCode: 2 }]],
    want: (s) => {
      assert.equal(s.phase, 'Failed');
      assert.equal(state(s).state?.terminated?.exitCode, 2);
      assert.equal(cond(s, 'Ready'), 'False PodFailed');
    },
  },
  { name: 'restartPolicy OnFailure, exit 0: Succeeded', pod: onePod('OnFailure'), containers: [['app', { state: 'exited' }]], want: (s) => assert.equal(s.phase, 'Succeeded') },
  { name: 'restartPolicy OnFailure, exit 1: Running (restarting)', pod: onePod('OnFailure'), containers: [['app', { state: 'exited', exitCode: 1 }]], want: (s) => assert.equal(s.phase, 'Running') },
  { name: 'restartPolicy Always, exit 0: Running (restarting)', containers: [['app', { state: 'exited' }]], want: (s) => assert.equal(s.phase, 'Running') },
  {
    name: 'image pull failure: waiting ErrImagePull with the registry words',
    waiting: { app: { reason: 'ErrImagePull', message: 'failed to pull image "nope": not found' } },
    want: (s) => {
      assert.equal(s.phase, 'Pending');
      assert.deepEqual(state(s).state, { waiting: { reason: 'ErrImagePull', message: 'failed to pull image "nope": not found' } });
    },
  },
  {
    name: 'init container running: Pending, PodInitializing, Initialized False',
    pod: onePod('Always', [{ name: 'init1', image: 'busybox', command: ['true'] }]),
    containers: [['init1', {}]],
    want: (s) => {
      assert.equal(s.phase, 'Pending');
      assert.deepEqual(state(s).state, { waiting: { reason: 'PodInitializing' } });
      assert.ok(state(s, 'init1', true).state?.running);
      assert.equal(state(s, 'init1', true).ready, false);
      assert.equal(cond(s, 'Initialized'), 'False ContainersNotInitialized containers with incomplete status: [init1]');
    },
  },
  {
    name: 'init container done: ready, Completed, Initialized',
    pod: onePod('Always', [{ name: 'init1', image: 'busybox', command: ['true'] }]),
    containers: [['init1', { state: 'exited' }], ['app', {}]],
    want: (s) => {
      assert.equal(s.phase, 'Running');
      assert.equal(state(s, 'init1', true).ready, true);
      assert.equal(state(s, 'init1', true).state?.terminated?.reason, 'Completed');
      assert.equal(cond(s, 'Initialized'), 'True');
    },
  },
  {
    name: 'init container failed with restartPolicy Never: Failed',
    pod: onePod('Never', [{ name: 'init1', image: 'busybox', command: ['false'] }]),
    containers: [['init1', { state: 'exited', exitCode: 1 }]],
    want: (s) => assert.equal(s.phase, 'Failed'),
  },
  {
    name: 'readiness gate not satisfied: Ready False, ContainersReady True',
    pod: { ...onePod(), spec: { ...onePod().spec!, readinessGates: [{ conditionType: 'example.com/gate' }] } },
    containers: [['app', {}]],
    want: (s) => {
      assert.equal(cond(s, 'ContainersReady'), 'True');
      assert.equal(cond(s, 'Ready'), 'False ReadinessGatesNotReady corresponding condition of pod readiness gate "example.com/gate" does not exist.');
    },
  },
  {
    name: 'readiness gate condition kept and honoured',
    pod: { ...onePod(), spec: { ...onePod().spec!, readinessGates: [{ conditionType: 'example.com/gate' }] }, status: { conditions: [{ type: 'example.com/gate', status: 'True' }] } },
    containers: [['app', {}]],
    want: (s) => {
      assert.equal(s.conditions![0]!.type, 'example.com/gate');
      assert.equal(cond(s, 'Ready'), 'True');
    },
  },
  {
    name: 'lastTransitionTime and startTime kept when nothing changed',
    containers: [['app', {}]],
    previous: { startTime: rfc3339(T0), conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: rfc3339(T0 + 1000) }, { type: 'Initialized', status: 'False', lastTransitionTime: rfc3339(T0) }] },
    want: (s) => {
      assert.equal(s.startTime, rfc3339(T0));
      assert.equal(s.conditions!.find((c) => c.type === 'Ready')!.lastTransitionTime, rfc3339(T0 + 1000));
      assert.equal(s.conditions!.find((c) => c.type === 'Initialized')!.lastTransitionTime, rfc3339(NOW));
    },
  },
  {
    name: 'a running container that vanished from the runtime counts as a restart',
    containers: [],
    previous: { containerStatuses: [{ name: 'app', ready: true, restartCount: 2, image: 'busybox', imageID: '', state: { running: { startedAt: rfc3339(T0) } } }] },
    want: (s) => {
      assert.equal(state(s).restartCount, 3);
      assert.equal(state(s).lastState?.terminated?.reason, 'ContainerStatusUnknown');
      assert.equal(s.phase, 'Running');
    },
  },
  {
    name: 'activeDeadlineSeconds exceeded: Failed DeadlineExceeded',
    containers: [['app', {}]],
    override: { phase: 'Failed', reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline' },
    want: (s) => {
      assert.equal(s.phase, 'Failed');
      assert.equal(s.reason, 'DeadlineExceeded');
      assert.equal(cond(s, 'Ready'), 'False PodFailed');
    },
  },
  {
    name: 'a terminal phase never goes back',
    pod: { ...onePod(), status: { phase: 'Failed', reason: 'DeadlineExceeded' } },
    containers: [['app', {}]],
    want: (s) => {
      assert.equal(s.phase, 'Failed');
      assert.equal(s.reason, 'DeadlineExceeded');
    },
  },
  {
    name: 'host network fallback: podIP is the host IP',
    containers: [['app', {}]],
    pod: { ...onePod(), spec: { ...onePod().spec!, hostNetwork: true } },
    want: (s) => assert.deepEqual([s.podIP, s.podIPs], ['192.168.1.10', [{ ip: '192.168.1.10' }]]),
  },
];

describe('computePodStatus', () => {
  for (const c of cases) it(c.name, () => c.want(run(c)));
});

describe('computePodQos', () => {
  const res = (requests?: Record<string, string>, limits?: Record<string, string>): Container => ({ name: 'c', image: 'i', resources: { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) } });
  const table: [string, Container[], string][] = [
    ['no resources', [res()], 'BestEffort'],
    ['only ephemeral-storage', [res({ 'ephemeral-storage': '1Gi' })], 'BestEffort'],
    ['requests equal limits', [res({ cpu: '100m', memory: '1Gi' }, { cpu: '100m', memory: '1Gi' })], 'Guaranteed'],
    ['limits only (requests default to them)', [res(undefined, { cpu: '1', memory: '128Mi' })], 'Guaranteed'],
    ['requests below limits', [res({ cpu: '100m', memory: '1Gi' }, { cpu: '200m', memory: '1Gi' })], 'Burstable'],
    ['cpu limit without memory limit', [res({ cpu: '100m' }, { cpu: '100m' })], 'Burstable'],
    ['one guaranteed, one best effort', [res(undefined, { cpu: '1', memory: '1Gi' }), res()], 'Burstable'],
    ['zero requests are ignored', [res({ cpu: '0' })], 'BestEffort'],
  ];
  for (const [name, containers, want] of table) {
    it(name, () => assert.equal(computePodQos(testPod({ containers })), want));
  }
});
