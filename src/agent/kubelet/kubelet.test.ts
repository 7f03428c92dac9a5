/**
 * The kubelet loop on a FakeClient (its watch feeds the informer, as a real informer would), a FakeClock, the fake
 * runtime, volume manager and probe manager: what a user sees in the pod's status, events and the runtime's records.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import type { Container, Pod as K8sPod, Service } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { FakeClient } from '../../client/testing/fake-client.js';
import { FakeClock } from '../../client/testing/fake-clock.js';
import { FakeInformerFactory } from '../../client/testing/fake-informer-factory.js';
import { FakeRecorder } from '../../client/testing/fake-recorder.js';
import { Pods, Services } from '../../client/resources.js';
import type { Watcher } from '../../client/types.js';
import { MISSING_CLUSTER_DNS_MESSAGE } from './container-config.js';
import { Kubelet, type KubeletOptions } from './kubelet.js';
import type { Pod } from './objects.js';
import { FakeProbeManager } from './testing/fake-probe-manager.js';
import { RuntimeError } from '../runtime/types.js';
import { FakeRuntime, type FakeRuntimeOptions } from './testing/fake-runtime.js';
import { FakeVolumeManager } from './testing/fake-volume-manager.js';
import { T0 } from './testing/runtime-fixtures.js';

const NODE = 'node-1';
const SELECTOR = { fieldSelector: `spec.nodeName=${NODE}` };

interface Harness {
  clock: FakeClock;
  client: FakeClient;
  runtime: FakeRuntime;
  volumes: FakeVolumeManager;
  probes: () => FakeProbeManager;
  recorder: FakeRecorder;
  kubelet: Kubelet;
  dir: string;
  /** Lets watch events, syncs and the writes they make run to the end. */
  settle(): Promise<void>;
  /** Starts another kubelet on the same runtime, volumes and API (an agent restart). */
  restart(): Promise<Kubelet>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function harness(opts: { runtime?: FakeRuntimeOptions; kubelet?: Partial<KubeletOptions>; seed?: (c: FakeClient) => void; services?: Service[] } = {}): Promise<Harness> {
  const clock = new FakeClock(T0);
  const client = new FakeClient({ clock });
  opts.seed?.(client);
  const runtime = new FakeRuntime({ clock, ...opts.runtime });
  const volumes = new FakeVolumeManager();
  const recorder = new FakeRecorder();
  const dir = await mkdtemp(join(tmpdir(), 'skiff-kubelet-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  let probes!: FakeProbeManager;
  let current!: Kubelet;
  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 5; j++) await new Promise<void>((r) => setImmediate(r));
      await current.idle();
    }
  };
  const startKubelet = async (): Promise<Kubelet> => {
    const informers = new FakeInformerFactory({ freeze: true });
    const inf = informers.informerFor<Pod>(Pods, SELECTOR);
    for (const svc of opts.services ?? []) informers.informerFor<Service & KubeObject>(Services).add(svc as Service & KubeObject);
    const watcher: Watcher = client.watch<Pod>(
      Pods,
      '',
      { resourceVersion: '0', ...SELECTOR },
      (ev) => {
        if (ev.type === 'ADDED' || ev.type === 'MODIFIED') inf.update(ev.object);
        else if (ev.type === 'DELETED') inf.delete(ev.object);
      },
      () => {},
    );
    for (let j = 0; j < 5; j++) await new Promise<void>((r) => setImmediate(r));
    const kubelet = new Kubelet({
      nodeName: NODE,
      client,
      informers,
      runtime,
      volumes,
      probes: (events) => (probes = new FakeProbeManager(events)),
      recorder,
      clock,
      logRoot: join(dir, 'logs'),
      podsDir: join(dir, 'pods'),
      nodeIPs: ['192.168.1.10'],
      ...opts.kubelet,
    });
    current = kubelet;
    cleanups.push(async () => {
      watcher.stop();
      await kubelet.stop();
    });
    await kubelet.start();
    return kubelet;
  };
  const kubelet = await startKubelet();
  return {
    clock,
    client,
    runtime,
    volumes,
    probes: () => probes,
    recorder,
    kubelet,
    dir,
    settle,
    async restart() {
      await current.stop();
      return startKubelet();
    },
  };
}

function pod(name: string, over: { restartPolicy?: 'Always' | 'OnFailure' | 'Never'; containers?: Container[]; initContainers?: Container[]; finalizers?: string[]; activeDeadlineSeconds?: number } = {}): K8sPod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', ...(over.finalizers ? { finalizers: over.finalizers } : {}) },
    spec: {
      nodeName: NODE,
      restartPolicy: over.restartPolicy ?? 'Always',
      containers: over.containers ?? [{ name: 'app', image: 'busybox', command: ['sleep', '3600'] }],
      ...(over.initContainers ? { initContainers: over.initContainers } : {}),
      ...(over.activeDeadlineSeconds ? { activeDeadlineSeconds: over.activeDeadlineSeconds } : {}),
    },
  };
}

async function create(h: Harness, p: K8sPod): Promise<Pod> {
  const created = await h.client.create<Pod>(Pods, 'default', p as Pod);
  await h.settle();
  return created;
}

const get = (h: Harness, name: string) => h.client.peek<Pod>(Pods, 'default', name)!;
const appStatus = (p: Pod, name = 'app') => p.status!.containerStatuses!.find((c) => c.name === name)!;

describe('Kubelet', () => {
  it('runs a pod and reports it Running with kubelet status', async () => {
    const h = await harness();
    const created = await create(h, pod('web'));
    const p = get(h, 'web');
    assert.equal(p.status?.phase, 'Running');
    const id = h.runtime.running(created.metadata.uid!, 'app')!.id;
    assert.deepEqual(appStatus(p), {
      name: 'app',
      state: { running: { startedAt: '2025-01-01T00:00:00Z' } },
      lastState: {},
      ready: true,
      started: true,
      restartCount: 0,
      image: 'busybox',
      imageID: '',
      containerID: `process://${id}`,
    });
    assert.deepEqual(
      p.status!.conditions!.map((c) => `${c.type}=${c.status}`),
      ['PodReadyToStartContainers=True', 'Initialized=True', 'Ready=True', 'ContainersReady=True', 'PodScheduled=True'],
    );
    assert.equal(p.status!.podIP, '10.42.0.2');
    assert.equal(p.status!.hostIP, '192.168.1.10');
    assert.equal(p.status!.qosClass, 'BestEffort');
    // No cluster DNS configured (the default): kubelet's fallback to the host's resolver, said on the node and the pod.
    assert.deepEqual(h.recorder.lines(), [
      `Warning MissingClusterDNS ${MISSING_CLUSTER_DNS_MESSAGE}`,
      `Warning MissingClusterDNS pod: "web_default(${created.metadata.uid})". ${MISSING_CLUSTER_DNS_MESSAGE}`,
      'Normal Created Created container: app',
      'Normal Started Started container app',
    ]);
    assert.deepEqual(h.recorder.events.slice(0, 2).map((e) => `${e.object.kind}/${e.object.metadata?.name}`), [`Node/${NODE}`, 'Pod/web']);
    assert.deepEqual(h.runtime.calls.filter((c) => !c.startsWith('list')), ['runPodSandbox web', 'createContainer web/app#0', 'startContainer web/app#0']);
    const cfg = h.runtime.configOf(id)!;
    assert.deepEqual(cfg.command, ['sleep', '3600']);
    const hosts = await readFile(join(h.dir, 'pods', created.metadata.uid!, 'etc-hosts'), 'utf8');
    assert.match(hosts, /^10\.42\.0\.2\tweb$/m);
    // One status write: the first write follows the container start, and nothing changed after.
    assert.equal(h.client.actions.filter((a) => a.verb === 'patch' && a.subresource === 'status').length, 1);
  });

  it('restarts a container that exits under restartPolicy Always: restartCount 1 at once, then CrashLoopBackOff', async () => {
    const h = await harness();
    const { metadata } = await create(h, pod('crash'));
    const uid = metadata.uid!;
    h.runtime.exit(h.runtime.running(uid, 'app')!.id, 1);
    await h.kubelet.relist();
    await h.settle();
    let s = appStatus(get(h, 'crash'));
    assert.equal(s.restartCount, 1);
    assert.ok(s.state?.running, 'restarted at once after the first exit');
    assert.equal(s.lastState?.terminated?.exitCode, 1);
    assert.equal(s.lastState?.terminated?.reason, 'Error');

    h.runtime.exit(h.runtime.running(uid, 'app')!.id, 1);
    await h.kubelet.relist();
    await h.settle();
    s = appStatus(get(h, 'crash'));
    assert.deepEqual(s.state, { waiting: { reason: 'CrashLoopBackOff', message: `back-off 10s restarting failed container=app pod=crash_default(${uid})` } });
    assert.equal(s.restartCount, 1);
    assert.ok(h.recorder.lines().includes(`Warning BackOff Back-off restarting failed container app in pod crash_default(${uid})`));
    assert.equal(get(h, 'crash').status?.phase, 'Running');

    await h.clock.advanceAsync(10_000);
    await h.settle();
    s = appStatus(get(h, 'crash'));
    assert.ok(s.state?.running, 'started again once the back-off ended');
    assert.equal(s.restartCount, 2);
    assert.equal(h.runtime.running(uid, 'app')!.metadata.attempt, 2);
    // Container GC (MaxPerPodContainer 1): instance 0 is gone, instance 1 stays for --previous and lastState.
    assert.deepEqual(h.runtime.containersOf(uid).map((c) => c.metadata.attempt).sort(), [1, 2]);
    assert.equal(appStatus(get(h, 'crash')).lastState?.terminated?.exitCode, 1);
  });

  for (const [exitCode, phase, reason] of [[0, 'Succeeded', 'Completed'], [3, 'Failed', 'Error']] as const) {
    it(`restartPolicy Never, exit ${exitCode}: ${phase}, not restarted, sandbox stopped`, async () => {
      const h = await harness();
      h.runtime.onStart = () => ({ exitCode });
      const { metadata } = await create(h, pod('job', { restartPolicy: 'Never' }));
      await h.kubelet.relist();
      await h.settle();
      const p = get(h, 'job');
      assert.equal(p.status?.phase, phase);
      assert.equal(appStatus(p).state?.terminated?.reason, reason);
      assert.equal(appStatus(p).state?.terminated?.exitCode, exitCode);
      assert.equal(h.runtime.calls.filter((c) => c.startsWith('startContainer')).length, 1);
      assert.equal(h.runtime.sandboxesOf(metadata.uid!)[0]!.state, 'notready');
      assert.ok(!h.volumes.pods.has(metadata.uid!), 'volumes torn down');
      // Later syncs change nothing.
      await h.clock.advanceAsync(20_000);
      await h.settle();
      assert.equal(h.runtime.calls.filter((c) => c.startsWith('startContainer') || c.startsWith('runPodSandbox')).length, 2);
    });
  }

  it('runs init containers in order, then the app container', async () => {
    const h = await harness();
    h.runtime.onStart = (cfg) => (cfg.metadata.name.startsWith('init') ? { exitCode: 0 } : undefined);
    const init = (name: string): Container => ({ name, image: 'busybox', command: ['true'] });
    await create(h, pod('inits', { initContainers: [init('init1'), init('init2')] }));
    assert.deepEqual(h.runtime.calls.filter((c) => c.startsWith('startContainer')), ['startContainer inits/init1#0', 'startContainer inits/init2#0', 'startContainer inits/app#0']);
    const p = get(h, 'inits');
    assert.equal(p.status?.phase, 'Running');
    assert.deepEqual(p.status!.initContainerStatuses!.map((s) => [s.name, s.state?.terminated?.reason, s.ready]), [['init1', 'Completed', true], ['init2', 'Completed', true]]);
  });

  it('deletion (grace 0 here: the FakeClient has no graceful deletion): stop, sandbox removed, volumes torn down, DELETE with grace 0 and the uid', async () => {
    const h = await harness();
    const created = await create(h, pod('del', { finalizers: ['example.com/keep'], containers: [{ name: 'app', image: 'busybox', command: ['sleep', '1'], lifecycle: { preStop: { exec: { command: ['sh', '-c', 'drain'] } } } }] }));
    const uid = created.metadata.uid!;
    h.client.clearActions();
    await h.client.delete(Pods, 'default', 'del');
    await h.settle();
    assert.ok(!h.runtime.calls.some((c) => c.startsWith('execSync')), 'no time for preStop with grace 0');
    assert.ok(h.runtime.calls.includes('stopContainer del/app#0 0s'));
    assert.equal(h.runtime.sandboxesOf(uid).length, 0, 'sandbox removed');
    assert.equal(h.runtime.containersOf(uid).length, 0);
    assert.ok(h.volumes.calls.includes(`tearDownPod ${uid}`));
    assert.ok(h.recorder.lines().includes('Normal Killing Stopping container app'));
    const deletes = h.client.actions.filter((a) => a.verb === 'delete');
    assert.deepEqual(deletes.at(-1)?.object, { gracePeriodSeconds: 0, preconditions: { uid } });
    const final = get(h, 'del');
    assert.equal(final.status?.phase, 'Failed', 'killed containers make a deleted pod Failed');
    assert.equal(h.kubelet.podUids.length, 0);
  });

  it('runs the postStart hook after the start; a failing hook kills the container and is reported in kubelet\'s words', async () => {
    const h = await harness();
    h.runtime.onExec = (_id, cmd) => (cmd.includes('fail') ? { exitCode: 2, stdout: Buffer.from('no config'), stderr: Buffer.alloc(0), timedOut: false } : undefined);
    const hook = (cmd: string) => ({ name: 'app', image: 'busybox', command: ['sleep', '1000'], lifecycle: { postStart: { exec: { command: ['sh', '-c', cmd] } } } });
    await create(h, pod('hooked', { containers: [hook('warm-up')] }));
    assert.ok(h.runtime.calls.includes('execSync hooked/app#0 sh -c warm-up'), h.runtime.calls.join('\n'));
    assert.equal(get(h, 'hooked').status?.containerStatuses?.[0]?.state?.running !== undefined, true);
    await create(h, pod('broken', { containers: [hook('fail')] }));
    const lines = h.recorder.lines();
    assert.ok(lines.some((l) => l.startsWith('Warning FailedPostStartHook Exec lifecycle hook ([sh -c fail]) for Container "app" in Pod "broken_default(')), lines.join('\n'));
    assert.ok(lines.includes('Normal Killing PostStartHook failed'), lines.join('\n'));
    assert.ok(h.runtime.calls.some((c) => c.startsWith('stopContainer broken/app#0')));
  });

  it('a restarted kubelet adopts running containers and removes what belongs to deleted pods', async () => {
    const h = await harness();
    const kept = await create(h, pod('kept'));
    const gone = await create(h, pod('gone'));
    const keptId = h.runtime.running(kept.metadata.uid!, 'app')!.id;
    await h.kubelet.stop();
    await h.client.delete(Pods, 'default', 'gone');
    h.runtime.calls.length = 0;
    await h.restart();
    await h.settle();
    assert.equal(h.runtime.running(kept.metadata.uid!, 'app')?.id, keptId, 'the same container still runs');
    assert.ok(!h.runtime.calls.some((c) => c.startsWith('createContainer') || c.startsWith('runPodSandbox')), 'nothing new was started');
    assert.equal(appStatus(get(h, 'kept')).restartCount, 0);
    assert.equal(h.runtime.sandboxesOf(gone.metadata.uid!).length, 0, 'orphan sandbox removed');
    assert.ok(!h.volumes.pods.has(gone.metadata.uid!), 'orphan volumes torn down');
    assert.ok(h.probes().calls.includes(`containerStarted app ${keptId}`), 'probes follow the adopted container');
  });

  it('restarts a container whose liveness probe fails', async () => {
    const h = await harness();
    const { metadata } = await create(h, pod('live'));
    const uid = metadata.uid!;
    h.probes().fail(uid, 'app', 'liveness');
    await h.settle();
    assert.ok(h.recorder.lines().includes('Warning Unhealthy Liveness probe failed: HTTP probe failed with statuscode: 500'));
    assert.ok(h.recorder.lines().includes('Normal Killing Container app failed liveness probe, will be restarted'));
    await h.settle();
    const s = appStatus(get(h, 'live'));
    assert.equal(s.restartCount, 1);
    assert.ok(s.state?.running);
  });

  it('a container without command on the process runtime waits with CreateContainerConfigError', async () => {
    const h = await harness();
    await create(h, pod('nocmd', { containers: [{ name: 'app', image: 'nginx' }] }));
    const s = appStatus(get(h, 'nocmd'));
    assert.equal(s.state?.waiting?.reason, 'CreateContainerConfigError');
    assert.match(s.state!.waiting!.message!, /--runtime cri/);
    assert.equal(get(h, 'nocmd').status?.phase, 'Pending');
  });

  it('a volume that cannot be set up: FailedMount in kubelet\'s words (once prefixed), ContainerCreating, nothing started', async () => {
    const h = await harness();
    h.volumes.failing.set('cfg', 'configmap "missing" not found');
    await create(h, { ...pod('mount'), spec: { ...pod('mount').spec!, volumes: [{ name: 'cfg', configMap: { name: 'missing' } }] } });
    const s = appStatus(get(h, 'mount'));
    assert.deepEqual(s.state, { waiting: { reason: 'ContainerCreating' } });
    assert.equal(get(h, 'mount').status?.phase, 'Pending');
    assert.equal(h.runtime.running(get(h, 'mount').metadata!.uid!, 'app'), undefined);
    // A pod waiting for its volumes holds no sandbox or address.
    assert.equal(h.runtime.sandboxesOf(get(h, 'mount').metadata!.uid!).length, 0);
    assert.equal(get(h, 'mount').status?.podIP, undefined);
    const lines = h.recorder.lines().filter((l) => /FailedMount/.test(l));
    assert.equal(lines[0], 'Warning FailedMount MountVolume.SetUp failed for volume "cfg" : configmap "missing" not found');
    // Once the volume can be set up, the pod starts.
    h.volumes.failing.clear();
    await h.clock.advanceAsync(5_000);
    await h.settle();
    assert.ok(h.runtime.running(get(h, 'mount').metadata!.uid!, 'app'));
    assert.equal(h.runtime.sandboxesOf(get(h, 'mount').metadata!.uid!).length, 1);
  });

  it('no sandbox before the volumes are set up (a tmpfs mounted on the host after the pod\'s mount namespace exists is not seen in it where mounts are private)', async () => {
    const h = await harness();
    let release!: () => void;
    h.volumes.gate = new Promise<void>((r) => (release = r));
    const created = await h.client.create<Pod>(Pods, 'default', pod('ordered') as Pod);
    const uid = created.metadata!.uid!;
    for (let i = 0; i < 100 && !h.volumes.calls.includes('setUpPod ordered'); i++) await new Promise<void>((r) => setImmediate(r));
    for (let i = 0; i < 50; i++) await new Promise<void>((r) => setImmediate(r));
    assert.ok(h.volumes.calls.includes('setUpPod ordered'), 'the volumes are being set up');
    assert.equal(h.runtime.sandboxesOf(uid).length, 0, 'no sandbox while the volumes are not ready');
    release();
    h.volumes.gate = undefined;
    await h.settle();
    assert.ok(h.runtime.running(uid, 'app'));
    assert.equal(h.runtime.sandboxesOf(uid).length, 1);
  });

  it('image pull failure: ErrImagePull, then ImagePullBackOff, then the pull succeeds', async () => {
    const h = await harness({ runtime: { name: 'cri' } });
    h.runtime.pullErrors.set('nope:1', 'rpc error: code = NotFound desc = failed to resolve reference "nope:1": not found');
    await create(h, pod('pull', { containers: [{ name: 'app', image: 'nope:1' }] }));
    let s = appStatus(get(h, 'pull'));
    assert.equal(s.state?.waiting?.reason, 'ErrImagePull');
    assert.equal(s.state?.waiting?.message, 'Failed to pull image "nope:1": rpc error: code = NotFound desc = failed to resolve reference "nope:1": not found');
    await h.clock.advanceAsync(5_000);
    h.kubelet['workers'].forEach((w) => w.trigger());
    await h.settle();
    s = appStatus(get(h, 'pull'));
    assert.deepEqual(s.state?.waiting, { reason: 'ImagePullBackOff', message: 'Back-off pulling image "nope:1"' });
    h.runtime.pullErrors.delete('nope:1');
    await h.clock.advanceAsync(5_000);
    await h.settle();
    s = appStatus(get(h, 'pull'));
    assert.ok(s.state?.running);
    assert.match(s.containerID!, /^containerd:\/\//);
    const lines = h.recorder.lines().filter((l) => /Pull|BackOff|Failed/.test(l));
    assert.deepEqual(lines.slice(0, 5), [
      'Normal Pulling Pulling image "nope:1"',
      'Warning Failed Failed to pull image "nope:1": rpc error: code = NotFound desc = failed to resolve reference "nope:1": not found',
      'Warning Failed Error: ErrImagePull',
      'Normal BackOff Back-off pulling image "nope:1"',
      'Warning Failed Error: ImagePullBackOff',
    ]);
    // (a relist noticing the new sandbox may sync once more inside the back-off: BackOff again, as kubelet would)
    assert.deepEqual(lines.slice(-2), ['Normal Pulling Pulling image "nope:1"', 'Normal Pulled Successfully pulled image "nope:1" in 0ms (0ms including waiting). Image size: 1000 bytes.']);
  });

  it('activeDeadlineSeconds: the pod fails with DeadlineExceeded and its containers stop', async () => {
    const h = await harness();
    const { metadata } = await create(h, pod('deadline', { activeDeadlineSeconds: 30 }));
    await h.clock.advanceAsync(30_000);
    await h.settle();
    const p = get(h, 'deadline');
    assert.equal(p.status?.phase, 'Failed');
    assert.equal(p.status?.reason, 'DeadlineExceeded');
    assert.equal(h.runtime.running(metadata.uid!, 'app'), undefined);
  });

  it('a dead sandbox is re-created (SandboxChanged) and the containers start again', async () => {
    const h = await harness();
    const { metadata } = await create(h, pod('sb'));
    const uid = metadata.uid!;
    h.runtime.killSandbox(h.runtime.sandboxesOf(uid)[0]!.id);
    await h.kubelet.relist();
    await h.settle();
    assert.ok(h.recorder.lines().includes('Normal SandboxChanged Pod sandbox changed, it will be killed and re-created.'));
    const sandboxes = h.runtime.sandboxesOf(uid);
    assert.deepEqual(sandboxes.map((s) => [s.metadata.attempt, s.state]), [[0, 'notready'], [1, 'ready']]);
    assert.equal(appStatus(get(h, 'sb')).restartCount, 1);
    assert.ok(appStatus(get(h, 'sb')).state?.running);
  });
});

describe('Kubelet: termination messages, service links, DNS, ephemeral containers', () => {
  const TERMINATION = '/dev/termination-log';
  const mountOf = (h: Harness, id: string, path = TERMINATION) => h.runtime.configOf(id)!.mounts.find((m) => m.containerPath === path);

  it('bind-mounts a file per instance at terminationMessagePath and reports what the container wrote (state, then lastState)', async () => {
    const h = await harness();
    const { metadata } = await create(h, pod('msg'));
    const uid = metadata.uid!;
    const first = h.runtime.running(uid, 'app')!;
    const mount = mountOf(h, first.id)!;
    assert.ok(mount.hostPath.startsWith(join(h.dir, 'pods', uid, 'containers', 'app') + '/'), mount.hostPath);
    assert.equal(mount.readonly, false);
    assert.equal((await stat(mount.hostPath)).mode & 0o777, 0o666);
    await writeFile(mount.hostPath, `${'x'.repeat(5000)}the end`);
    h.runtime.exit(first.id, 2);
    await h.kubelet.relist();
    await h.settle();
    const s = appStatus(get(h, 'msg'));
    // At most the last 4096 bytes.
    assert.equal(s.lastState?.terminated?.message, `${'x'.repeat(4089)}the end`);
    assert.equal(s.lastState?.terminated?.exitCode, 2);
    const second = h.runtime.running(uid, 'app')!;
    assert.notEqual(mountOf(h, second.id)!.hostPath, mount.hostPath, 'a new file for the new instance');
  });

  it('a container that could not be created leaves no termination message file; the retry gets one', async () => {
    const h = await harness();
    h.runtime.failNext('createContainer', new RuntimeError('CreateContainer', 'injected'));
    const { metadata } = await create(h, pod('nofile'));
    const dir = join(h.dir, 'pods', metadata.uid!, 'containers', 'app');
    assert.deepEqual(await readdir(dir), []);
    await h.clock.advanceAsync(1_000);
    await h.settle();
    const running = h.runtime.running(metadata.uid!, 'app')!;
    assert.deepEqual(await readdir(dir), [basename(mountOf(h, running.id)!.hostPath)]);
  });

  it('a custom terminationMessagePath; FallbackToLogsOnError takes the log tail when the file is empty and the container failed', async () => {
    const h = await harness();
    h.runtime.onStart = () => ({ exitCode: 1 });
    const containers: Container[] = [
      { name: 'file', image: 'busybox', command: ['x'], terminationMessagePath: '/tmp/done', terminationMessagePolicy: 'FallbackToLogsOnError' },
      { name: 'logs', image: 'busybox', command: ['x'], terminationMessagePolicy: 'FallbackToLogsOnError' },
      { name: 'plain', image: 'busybox', command: ['x'], terminationMessagePolicy: 'File' },
    ];
    // The processes "run" at start and exit at once: their file and log are written before the kubelet reads them.
    h.runtime.onStart = (cfg, sandbox) => {
      const file = cfg.mounts.find((m) => m.containerPath === (cfg.metadata.name === 'file' ? '/tmp/done' : TERMINATION))!.hostPath;
      if (cfg.metadata.name === 'file') writeFileSync(file, 'written to the file');
      const log = join(sandbox.logDirectory, cfg.logPath);
      mkdirSync(dirname(log), { recursive: true });
      const lines = Array.from({ length: 100 }, (_, i) => `2025-01-01T00:00:00.000000000Z stderr F line ${i}\n`).join('');
      writeFileSync(log, lines);
      return { exitCode: 1 };
    };
    await create(h, pod('fallback', { restartPolicy: 'Never', containers }));
    await h.kubelet.relist();
    await h.settle();
    const p = get(h, 'fallback');
    assert.equal(appStatus(p, 'file').state?.terminated?.message, 'written to the file');
    const fromLogs = appStatus(p, 'logs').state?.terminated?.message ?? '';
    // The last 80 lines (20..99), cut to their last 2048 bytes.
    assert.ok(fromLogs.endsWith('line 98\nline 99\n'), fromLogs.slice(-40));
    assert.ok(!fromLogs.includes('line 19\n'));
    assert.ok(Buffer.byteLength(fromLogs) <= 2048);
    assert.equal(appStatus(p, 'plain').state?.terminated?.message, undefined);
  });

  it('service environment variables: the namespace Services and kubernetes, headless and ExternalName left out, explicit env first', async () => {
    const svc = (name: string, namespace: string, spec: Service['spec']): Service => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec });
    const h = await harness({
      services: [
        svc('kubernetes', 'default', { clusterIP: '10.43.0.1', ports: [{ name: 'https', port: 443, protocol: 'TCP' }] }),
        svc('my-db', 'default', { clusterIP: '10.43.0.20', ports: [{ name: 'pg', port: 5432 }] }),
        svc('headless', 'default', { clusterIP: 'None', ports: [{ port: 80 }] }),
        svc('ext', 'default', { type: 'ExternalName', externalName: 'example.com' }),
        svc('elsewhere', 'other', { clusterIP: '10.43.0.30', ports: [{ port: 80 }] }),
      ],
    });
    const c: Container = { name: 'app', image: 'busybox', command: ['sh', '-c', 'echo $(MY_DB_SERVICE_HOST)'], env: [{ name: 'MY_DB_SERVICE_PORT', value: 'mine' }] };
    const { metadata } = await create(h, pod('links', { containers: [c] }));
    const cfg = h.runtime.configOf(h.runtime.running(metadata.uid!, 'app')!.id)!;
    const env = Object.fromEntries(cfg.env.map((e) => [e.name, e.value]));
    assert.equal(env.KUBERNETES_SERVICE_HOST, '10.43.0.1');
    assert.equal(env.KUBERNETES_PORT_443_TCP, 'tcp://10.43.0.1:443');
    assert.equal(env.MY_DB_SERVICE_HOST, '10.43.0.20');
    assert.equal(env.MY_DB_SERVICE_PORT, 'mine');
    assert.equal(env.MY_DB_SERVICE_PORT_PG, '5432');
    assert.equal(cfg.env.filter((e) => e.name === 'MY_DB_SERVICE_PORT').length, 1);
    assert.deepEqual(cfg.command, ['sh', '-c', 'echo 10.43.0.20']);
    assert.ok(!Object.keys(env).some((k) => k.startsWith('HEADLESS_') || k.startsWith('EXT_') || k.startsWith('ELSEWHERE_')));

    const off = pod('nolinks');
    off.spec!.enableServiceLinks = false;
    const created = await create(h, off);
    const names = h.runtime.configOf(h.runtime.running(created.metadata.uid!, 'app')!.id)!.env.map((e) => e.name);
    assert.ok(names.includes('KUBERNETES_SERVICE_HOST'));
    assert.ok(!names.some((n) => n.startsWith('MY_DB_')));
  });

  it('with cluster DNS configured, ClusterFirst pods get it and no warning', async () => {
    const h = await harness({ kubelet: { clusterDNS: ['10.43.0.10'] } });
    const { metadata } = await create(h, pod('dns'));
    assert.deepEqual(h.runtime.sandboxesOf(metadata.uid!).length, 1);
    assert.ok(!h.recorder.lines().some((l) => l.includes('MissingClusterDNS')));
    const cfg = h.runtime.containersOf(metadata.uid!)[0]!;
    assert.equal(cfg.state, 'running');
  });

  it("a pod's RuntimeClass handler rides on RunPodSandbox; a missing class or a handler the runtime lacks is FailedCreatePodSandBox", async () => {
    const RuntimeClasses = { group: 'node.k8s.io', version: 'v1', resource: 'runtimeclasses', kind: 'RuntimeClass', namespaced: false };
    const h = await harness({
      kubelet: { clusterDNS: ['10.43.0.10'] },
      seed: (c) => c.seed(RuntimeClasses, { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'fast' }, handler: 'crun' } as KubeObject),
    });
    const withClass = (name: string, runtimeClassName: string): K8sPod => ({ ...pod(name), spec: { ...pod(name).spec!, runtimeClassName } });
    const fast = await create(h, withClass('fast', 'fast'));
    assert.equal([...h.runtime.sandboxes.values()].find((s) => s.config.metadata.uid === fast.metadata.uid)?.config.runtimeHandler, 'crun');
    const plain = await create(h, pod('plain'));
    assert.equal([...h.runtime.sandboxes.values()].find((s) => s.config.metadata.uid === plain.metadata.uid)?.config.runtimeHandler, undefined, 'no class: the default handler');

    const missing = await create(h, withClass('missing', 'nope'));
    assert.equal(h.runtime.sandboxesOf(missing.metadata.uid!).length, 0);
    assert.ok(h.recorder.lines().includes('Warning FailedCreatePodSandBox Failed to create pod sandbox: runtimeclass.node.k8s.io "nope" not found'), h.recorder.lines().join('\n'));
    const status = get(h, 'missing').status!;
    assert.equal(status.phase, 'Pending');
    assert.equal(status.conditions?.find((c) => c.type === 'PodReadyToStartContainers')?.status, 'False');
    assert.equal(appStatus(get(h, 'missing')).state?.waiting?.reason, 'ContainerCreating');

    const words = 'rpc error: code = Unknown desc = failed to get sandbox runtime: no runtime for "crun" is configured';
    h.runtime.failNext('runPodSandbox', new RuntimeError('Network', words));
    const refused = await create(h, withClass('refused', 'fast'));
    assert.equal(h.runtime.sandboxesOf(refused.metadata.uid!).length, 0);
    assert.ok(h.recorder.lines().includes(`Warning FailedCreatePodSandBox Failed to create pod sandbox: ${words}`), h.recorder.lines().join('\n'));
    // The sync is retried (1 s back-off) and succeeds once the runtime has the handler.
    h.clock.advance(1500);
    await h.settle();
    assert.equal(h.runtime.sandboxesOf(refused.metadata.uid!).length, 1);
    assert.equal(get(h, 'refused').status?.phase, 'Running');
  });

  it('an ephemeral container whose target does not run waits with CreateContainerConfigError, as kubelet', async () => {
    const h = await harness();
    await create(h, pod('notarget', { restartPolicy: 'Never', containers: [{ name: 'app', image: 'busybox', command: ['true'] }, { name: 'side', image: 'busybox', command: ['sleep', '1'] }] }));
    const uid = get(h, 'notarget').metadata.uid!;
    h.runtime.exit(h.runtime.running(uid, 'app')!.id, 0);
    await h.kubelet.relist();
    await h.settle();
    const current = get(h, 'notarget');
    await h.client.update<Pod>(Pods, 'default', { ...current, spec: { ...current.spec!, ephemeralContainers: [{ name: 'dbg', image: 'busybox', command: ['sh'], targetContainerName: 'app' }] } });
    await h.settle();
    assert.equal(h.runtime.running(uid, 'dbg'), undefined);
    assert.deepEqual(get(h, 'notarget').status!.ephemeralContainerStatuses![0]!.state, { waiting: { reason: 'CreateContainerConfigError', message: 'unable to find target container app' } });
  });

  it('starts an ephemeral container added to a running pod, reports it, and never restarts it', async () => {
    const h = await harness();
    const created = await create(h, pod('dbg'));
    const uid = created.metadata.uid!;
    const current = get(h, 'dbg');
    await h.client.update<Pod>(Pods, 'default', { ...current, spec: { ...current.spec!, ephemeralContainers: [{ name: 'debugger', image: 'busybox', command: ['sh'], stdin: true, targetContainerName: 'app' }] } });
    await h.settle();
    const dbg = h.runtime.running(uid, 'debugger');
    assert.ok(dbg, 'the ephemeral container runs');
    const cfg = h.runtime.configOf(dbg.id)!;
    assert.equal(cfg.labels['io.kubernetes.container.type'], 'ephemeral');
    assert.equal(cfg.stdin, true);
    assert.equal(cfg.pidTargetContainerId, h.runtime.running(uid, 'app')!.id, 'kubectl debug --target: the target container\'s pid namespace');
    let p = get(h, 'dbg');
    assert.deepEqual(p.status!.ephemeralContainerStatuses!.map((s) => [s.name, !!s.state?.running, s.ready, s.started]), [['debugger', true, false, undefined]]);
    assert.equal(p.status!.containerStatuses!.length, 1);

    h.runtime.exit(dbg.id, 7);
    await h.kubelet.relist();
    await h.settle();
    await h.clock.advanceAsync(30_000);
    await h.settle();
    p = get(h, 'dbg');
    const s = p.status!.ephemeralContainerStatuses![0]!;
    assert.equal(s.state?.terminated?.exitCode, 7);
    assert.equal(s.restartCount, 0);
    assert.equal(h.runtime.calls.filter((c) => c.startsWith('startContainer dbg/debugger')).length, 1, 'never restarted');
    assert.equal(p.status?.phase, 'Running');
  });
});
