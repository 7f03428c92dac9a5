import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runRuntimeConformance } from '../conformance.js';
import { isRuntimeError, type ContainerConfig, type PodSandboxConfig } from '../types.js';
import { Cgroup, detectCgroupLayout } from './cgroups.js';
import { ProcessRuntime } from './process-runtime.js';
import { childrenOf, isSameProcess, startTicks } from './proc.js';
import { NSENTER, UNSHARE } from './spawn-plan.js';
import { CniNetwork } from '../../network/cni-network.js';
import { execFileInThread, runInThread } from '../../network/exec-thread.js';
import { guardSubnet, pickFreeSubnet, realNetworkSkipReason } from '../../network/network-testing.js';

const root = process.getuid?.() === 0;
const missing = [UNSHARE, NSENTER].filter((f) => !existsSync(f));
// As root the runtime needs util-linux; without root it runs plain processes and needs nothing.
const skip = root && missing.length > 0 && process.env.CI !== 'true' ? `util-linux binaries missing: ${missing.join(', ')}` : undefined;

interface Harness {
  runtime: ProcessRuntime;
  stateDir: string;
  cgroupRoot: string;
  cleanup(): Promise<void>;
}

function harness(): Harness {
  const stateDir = mkdtempSync(join(tmpdir(), 'skiff-proc-'));
  const cgroupRoot = `skiff-test-${randomBytes(4).toString('hex')}`;
  const runtime = new ProcessRuntime({ stateDir, cgroupRoot });
  return {
    runtime,
    stateDir,
    cgroupRoot,
    async cleanup() {
      await runtime.shutdownSupervisor({ killAll: true });
      await runtime.close();
      const layout = detectCgroupLayout();
      // Pods' cgroups are gone with them; the test's top cgroup is the test's to remove.
      if (root && layout !== undefined) new Cgroup(layout, `/${cgroupRoot}`).remove();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

if (skip === undefined) {
  runRuntimeConformance('process', async () => {
    const h = harness();
    return {
      runtime: h.runtime,
      image: 'host',
      cgroupParent: `/${h.cgroupRoot}`,
      reopen: async () => new ProcessRuntime({ stateDir: h.stateDir, cgroupRoot: h.cgroupRoot }),
      listener: (port) => [process.execPath, '-e', `require('net').createServer((s) => s.pipe(s)).listen(${port}, '127.0.0.1')`],
      cleanup: () => h.cleanup(),
    };
  });
}

function sandboxConfig(h: Harness, logDirectory: string): PodSandboxConfig {
  const uid = randomBytes(4).toString('hex');
  return {
    metadata: { name: 'p', namespace: 'ns', uid, attempt: 0 },
    hostname: 'p',
    logDirectory,
    portMappings: [],
    labels: {},
    annotations: {},
    hostNetwork: false,
    hostPID: false,
    hostIPC: false,
    cgroupParent: `/${h.cgroupRoot}/pod${uid}`,
  };
}

function containerConfig(command: string[]): ContainerConfig {
  return { metadata: { name: 'c', attempt: 0 }, image: 'node:20', command, args: [], env: [], mounts: [], logPath: 'c/0.log', stdin: false, stdinOnce: false, tty: false, resources: {}, labels: {}, annotations: {} };
}

test('process runtime: images are not pulled; a container without command names the cri runtime', { skip }, async (t) => {
  const h = harness();
  t.after(() => h.cleanup());
  assert.equal(h.runtime.capabilities.images, false);
  assert.equal(await h.runtime.pullImage({ image: 'docker.io/library/node:20' }), 'process://docker.io/library/node:20');
  const sandbox = sandboxConfig(h, join(h.stateDir, 'logs'));
  const id = await h.runtime.runPodSandbox(sandbox);
  await assert.rejects(h.runtime.createContainer(id, containerConfig([]), sandbox), (err: unknown) => {
    assert.ok(isRuntimeError(err, 'CreateContainerConfig'), String(err));
    assert.match(err.message, /no command/);
    assert.match(err.message, /cri runtime/);
    return true;
  });
  // A command that is not there fails at start, as an exec error does under runc.
  const bad = await h.runtime.createContainer(id, containerConfig(['no-such-binary-skiff']), sandbox);
  await assert.rejects(h.runtime.startContainer(bad), (err: unknown) => isRuntimeError(err, 'StartContainer') && /executable file not found/.test(err.message));
  const status = await h.runtime.containerStatus(bad);
  assert.equal(status?.state, 'exited');
  assert.equal(status.reason, 'ContainerCannotRun');
});

test('process runtime: a RuntimeClass handler other than its own ("process") is refused at RunPodSandbox, its own is run', { skip }, async (t) => {
  const h = harness();
  t.after(() => h.cleanup());
  await assert.rejects(h.runtime.runPodSandbox({ ...sandboxConfig(h, join(h.stateDir, 'logs')), runtimeHandler: 'runc' }), (err: unknown) => {
    assert.ok(isRuntimeError(err, 'Unsupported'), String(err));
    assert.match(err.message, /^no runtime for "runc" is configured: the process runtime runs pods with its own handler "process" only/);
    return true;
  });
  assert.deepEqual(await h.runtime.listPodSandboxes(), [], 'nothing was made');
  const id = await h.runtime.runPodSandbox({ ...sandboxConfig(h, join(h.stateDir, 'logs')), runtimeHandler: 'process' });
  assert.equal((await h.runtime.podSandboxStatus(id))?.state, 'ready');
});

test('process runtime: --container-log-max-size/--container-log-max-files reach the log writer of each container', { skip }, async (t) => {
  const h = harness();
  t.after(() => h.cleanup());
  const small = new ProcessRuntime({ stateDir: h.stateDir, cgroupRoot: h.cgroupRoot, containerLog: { maxSizeBytes: 2000, maxFiles: 2 } });
  t.after(() => small.close());
  const logs = join(h.stateDir, 'logs');
  const sandbox = sandboxConfig(h, logs);
  const id = await small.runPodSandbox(sandbox);
  const c = await small.createContainer(id, containerConfig(['/bin/sh', '-c', 'i=0; while [ $i -lt 200 ]; do i=$((i+1)); echo "line $i"; done']), sandbox);
  await small.startContainer(c);
  for (let i = 0; i < 100 && (await small.containerStatus(c))?.state !== 'exited'; i++) await new Promise((r) => setTimeout(r, 50));
  const files = readdirSync(join(logs, 'c')).sort();
  // ~50 bytes a record, 200 records: rotated at 2000 bytes, one rotated file kept beside 0.log.
  assert.equal(files.length, 2, files.join(' '));
  assert.match(files[1]!, /^0\.log\.\d{8}-\d{6}(-\d+)?$/);
  for (const f of files) assert.ok(readFileSync(join(logs, 'c', f)).length <= 2000, `${f} over 2000 bytes`);
  assert.match(readFileSync(join(logs, 'c', '0.log'), 'utf8'), /line 200\n$/);
});

test('process runtime: exec and exec probes run as the container user (runAsUser/runAsGroup), not as root', { skip: skip ?? (root ? undefined : 'needs root to change users') }, async (t) => {
  const h = harness();
  t.after(() => h.cleanup());
  const sandbox = sandboxConfig(h, join(h.stateDir, 'logs'));
  const podId = await h.runtime.runPodSandbox(sandbox);
  const id = await h.runtime.createContainer(podId, { ...containerConfig(['sleep', '3600']), security: { runAsUser: 1000, runAsGroup: 1001 } }, sandbox);
  await h.runtime.startContainer(id);
  const r = await h.runtime.execSync(id, ['sh', '-c', 'echo $(id -u) $(id -g)'], 10_000);
  assert.equal(r.stdout.toString(), '1000 1001\n');
  assert.equal(r.exitCode, 0);
});

test('process runtime: containers outlive a killed supervisor and are re-adopted by the next one', { skip }, async (t) => {
  const h = harness();
  t.after(() => h.cleanup());
  const sandbox = sandboxConfig(h, join(h.stateDir, 'logs'));
  const podId = await h.runtime.runPodSandbox(sandbox);
  const id = await h.runtime.createContainer(podId, containerConfig(['sleep', '3600']), sandbox);
  const started = Date.now();
  await h.runtime.startContainer(id);
  t.diagnostic(`create+start of a sleep container after the first: ${Date.now() - started} ms`);
  const shimPid = Number(readFileSync(join(h.stateDir, 'shim.pid'), 'utf8'));
  const record = JSON.parse(readFileSync(join(h.stateDir, 'containers', `${id}.json`), 'utf8')) as { pid: number; pidStartTicks: number };
  process.kill(shimPid, 'SIGKILL');
  await waitUntil(() => !isSameProcess(shimPid, 0) && !existsSyncPid(shimPid));
  assert.ok(isSameProcess(record.pid, record.pidStartTicks), 'the container survived its supervisor');

  // The next request starts a new supervisor, which finds the container running under the same id.
  const again = new ProcessRuntime({ stateDir: h.stateDir, cgroupRoot: h.cgroupRoot });
  t.after(() => again.close());
  const seen = await again.containerStatus(id);
  assert.equal(seen?.state, 'running');
  assert.equal((await again.podSandboxStatus(podId))?.state, 'ready');
  assert.notEqual(Number(readFileSync(join(h.stateDir, 'shim.pid'), 'utf8')), shimPid);
  // Its exit status went to the dead supervisor: reported as 255, the way containerd reports a lost shim's container.
  await again.stopContainer(id, 0);
  const after = await again.containerStatus(id);
  assert.equal(after?.state, 'exited');
  assert.equal(after.exitCode, 255);
});

test("process runtime: the agent's helpers (CNI plugins, mounts) are spawned by the supervisor while it runs, by the agent again after close", { skip: skip ?? (root ? undefined : 'needs root (no helpers without it)') }, async () => {
  const h = harness();
  const parentOfHelper = async () => Number((await execFileInThread('sh', ['-c', 'echo $PPID'])).stdout.trim());
  try {
    await h.runtime.status();
    const supervisor = Number(readFileSync(join(h.stateDir, 'shim.pid'), 'utf8'));
    assert.equal(await parentOfHelper(), supervisor);
    // What the helper said and how it exited come back as they are; a binary that is not there is ENOENT, as a spawn here.
    await assert.rejects(execFileInThread('sh', ['-c', 'echo out; echo err >&2; exit 3']), (e: { code: number; stdout: string; stderr: string }) => e.code === 3 && e.stdout === 'out\n' && e.stderr === 'err\n');
    await assert.rejects(runInThread('/nonexistent/skiff-helper', process.env, '', 5_000), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
    const echoed = await runInThread('/bin/cat', process.env, '{"cniVersion":"1.0.0"}', 5_000);
    assert.deepEqual([echoed.exitCode, echoed.stdout], [0, '{"cniVersion":"1.0.0"}']);
  } finally {
    await h.cleanup();
  }
  assert.equal(await parentOfHelper(), process.pid);
});

test('process runtime: create+start latency of sleep containers (reported, not asserted)', { skip }, async (t) => {
  const h = harness();
  t.after(() => h.cleanup());
  const sandbox = sandboxConfig(h, join(h.stateDir, 'logs'));
  const podId = await h.runtime.runPodSandbox(sandbox);
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const start = process.hrtime.bigint();
    const id = await h.runtime.createContainer(podId, { ...containerConfig(['sleep', '3600']), metadata: { name: `c${i}`, attempt: 0 }, logPath: `c${i}/0.log` }, sandbox);
    await h.runtime.startContainer(id);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  t.diagnostic(`create+start ms: p50 ${times[10]!.toFixed(1)} p90 ${times[18]!.toFixed(1)} max ${times[19]!.toFixed(1)}`);
  assert.equal((await h.runtime.listContainers({ state: 'running' })).length, 20);
});

function existsSyncPid(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

async function waitUntil(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('process runtime: exec with a TTY (util-linux script) gets a terminal and follows resizes', { skip: skip ?? (existsSync('/usr/bin/script') ? undefined : 'util-linux script missing') }, async (t) => {
  const h = harness();
  t.after(() => h.cleanup());
  assert.equal(h.runtime.capabilities.tty, true);
  const sandbox = sandboxConfig(h, join(h.stateDir, 'logs'));
  const podId = await h.runtime.runPodSandbox(sandbox);
  const id = await h.runtime.createContainer(podId, containerConfig(['sleep', '3600']), sandbox);
  await h.runtime.startContainer(id);
  const session = await h.runtime.exec(id, ['/bin/sh', '-c', 'tty; echo to-stderr >&2; sleep 0.5; stty size; exit 3'], { stdin: true, stdout: true, stderr: true, tty: true });
  assert.equal(session.stderr, undefined, 'a TTY merges stderr into stdout');
  let out = '';
  session.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  await new Promise((r) => setTimeout(r, 250));
  session.resize({ width: 101, height: 41 });
  assert.deepEqual(await session.done, { exitCode: 3 });
  session.stdin?.end();
  assert.match(out, /\/dev\/pts\/\d+/);
  assert.match(out, /to-stderr/);
  assert.match(out, /41 101/);
});

test('process runtime: capability names with CAP_ work, unknown ones are refused at create', { skip: skip ?? (root ? undefined : 'needs root for capability sets') }, async (t) => {
  const h = harness();
  t.after(() => h.cleanup());
  const sandbox = sandboxConfig(h, join(h.stateDir, 'logs'));
  const podId = await h.runtime.runPodSandbox(sandbox);
  const id = await h.runtime.createContainer(podId, { ...containerConfig(['sh', '-c', 'grep CapBnd /proc/self/status']), security: { capabilities: { add: ['CAP_NET_ADMIN'], drop: ['cap_kill'] } } }, sandbox);
  await h.runtime.startContainer(id);
  const s = await waitExited(h.runtime, id);
  const want = ((0xa80425fbn | (1n << 12n)) & ~(1n << 5n)).toString(16).padStart(16, '0');
  assert.match(readFileSync(s.logPath, 'utf8'), new RegExp(`CapBnd:\\s+${want}\\n`));
  await assert.rejects(h.runtime.createContainer(podId, { ...containerConfig(['true']), metadata: { name: 'bad', attempt: 0 }, security: { capabilities: { add: ['NET_ADMIM'], drop: [] } } }, sandbox), (err: unknown) => {
    assert.ok(isRuntimeError(err, 'CreateContainer'), String(err));
    assert.match(err.message, /container "bad": unknown capability "NET_ADMIM"/);
    return true;
  });
});

test('process runtime: a container killed by SIGKILL from the host reports 137 (pid 1 of its own pid namespace)', { skip }, async (t) => {
  const h = harness();
  t.after(() => h.cleanup());
  const sandbox = sandboxConfig(h, join(h.stateDir, 'logs'));
  const podId = await h.runtime.runPodSandbox(sandbox);
  const marker = `skiff-kill-${randomBytes(4).toString('hex')}`;
  const id = await h.runtime.createContainer(podId, { ...containerConfig(['sleep', '3600']), env: [{ name: 'SKIFF_TEST_MARKER', value: marker }] }, sandbox);
  await h.runtime.startContainer(id);
  // The workload itself, once exec'd, not the chain before it (unshare's parent has the marker in its environment too).
  const isSleep = (pid: number) => {
    try {
      return /^(\/usr)?\/bin\/sleep\0/.test(readFileSync(`/proc/${pid}/cmdline`, 'latin1'));
    } catch {
      return false;
    }
  };
  let workload: number | undefined;
  await waitUntil(() => (workload = markedPids(marker).find(isSleep)) !== undefined);
  assert.ok(workload !== undefined);
  if (root) assert.match(readFileSync(`/proc/${workload}/status`, 'utf8'), /NSpid:\s+\d+\s+1\n/, 'pid 1 of its own namespace');
  process.kill(workload, 'SIGKILL');
  const s = await waitExited(h.runtime, id);
  assert.equal(s.exitCode, 137);
  assert.equal(s.reason, 'Error');
  assert.doesNotMatch(readFileSync(s.logPath, 'utf8'), /sigprocmask|unshare/, 'what unshare said stays out of the log');
});

test('process runtime: hostPID shares the host\'s pid namespace', { skip: skip ?? (root ? undefined : 'needs root for namespaces') }, async (t) => {
  const h = harness();
  t.after(() => h.cleanup());
  const sandbox = { ...sandboxConfig(h, join(h.stateDir, 'logs')), hostPID: true };
  const podId = await h.runtime.runPodSandbox(sandbox);
  const id = await h.runtime.createContainer(podId, containerConfig(['sh', '-c', 'echo "self=$$"; tr "\\0" " " < /proc/1/cmdline; echo']), sandbox);
  await h.runtime.startContainer(id);
  const s = await waitExited(h.runtime, id);
  const text = readFileSync(s.logPath, 'utf8');
  assert.doesNotMatch(text, /self=1\n/);
  assert.ok(text.includes(readFileSync('/proc/1/cmdline', 'latin1').replace(/\0/g, ' ')), `the host's pid 1 is the container's:\n${text}`);

  // Without a pid namespace nothing kills the holder's `sleep` for it: stopping the sandbox must (it lingered for an hour).
  const hostname = `hp${randomBytes(3).toString('hex')}`;
  const second = await h.runtime.runPodSandbox({ ...sandbox, hostname, metadata: { ...sandbox.metadata, uid: randomBytes(4).toString('hex') } });
  // A holder that is still forking shows its cmdline twice for a moment (a loaded CI machine caught it): wait that out.
  let holders = pidsWhoseCmdline((c) => c.includes('skiff-pause') && c.includes(hostname));
  for (let i = 0; i < 40 && holders.length > 1; i++) {
    await new Promise((r) => setTimeout(r, 50));
    holders = pidsWhoseCmdline((c) => c.includes('skiff-pause') && c.includes(hostname));
  }
  assert.equal(holders.length, 1, 'the sandbox has one namespace holder');
  const sleeps = childrenOf(holders[0]!);
  assert.ok(sleeps.length > 0, 'the holder sleeps in a child');
  await h.runtime.stopPodSandbox(second);
  for (const pid of [...holders, ...sleeps]) assert.equal(startTicks(pid), undefined, `process ${pid} of the stopped sandbox is gone`);
});

function pidsWhoseCmdline(match: (cmdline: string) => boolean): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (match(readFileSync(`/proc/${name}/cmdline`, 'latin1').replace(/\0/g, ' '))) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

async function waitExited(runtime: ProcessRuntime, id: string) {
  let status: Awaited<ReturnType<ProcessRuntime['containerStatus']>>;
  const deadline = Date.now() + 10_000;
  for (;;) {
    status = await runtime.containerStatus(id);
    if (status?.state === 'exited') return status;
    if (Date.now() > deadline) throw new Error(`container ${id} did not exit: ${JSON.stringify(status)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function markedPids(marker: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'latin1').includes(`=${marker}\0`)) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

test('process runtime: mount points it had to create on the host go once the container is gone, shared ones only with the last user', { skip: skip ?? (root ? undefined : 'needs root for mount namespaces') }, async (t) => {
  const h = harness();
  t.after(() => h.cleanup());
  const hostDir = mkdtempSync(join(tmpdir(), 'skiff-proc-mnt-'));
  t.after(() => rmSync(hostDir, { recursive: true, force: true }));
  const volume = join(h.stateDir, 'volume');
  mkdirSync(volume);
  writeFileSync(join(volume, 'token'), 'secret');
  const target = join(hostDir, 'run/secrets/kubernetes.io/serviceaccount');
  const withVolume = { ...containerConfig(['sh', '-c', `cat ${target}/token; echo; exec sleep 3600`]), mounts: [{ containerPath: target, hostPath: volume, readonly: true }] };
  const start = async (n: number) => {
    const sandbox = sandboxConfig(h, join(h.stateDir, `logs-${n}`));
    const podId = await h.runtime.runPodSandbox(sandbox);
    const id = await h.runtime.createContainer(podId, withVolume, sandbox);
    await h.runtime.startContainer(id);
    return { podId, id, sandbox };
  };
  const first = await start(1);
  const second = await start(2);
  const log = join(first.sandbox.logDirectory, 'c/0.log');
  await waitUntil(() => existsSync(log) && readFileSync(log, 'utf8').includes('secret')).catch(() => {
    throw new Error(`the container did not read its volume: ${existsSync(log) ? readFileSync(log, 'utf8') : 'no log'}`);
  });
  assert.ok(existsSync(target), 'the mount point exists while the containers run');

  // The first pod goes: the second still has its volume mounted there, so the path stays.
  await h.runtime.stopPodSandbox(first.podId);
  await h.runtime.removePodSandbox(first.podId);
  await new Promise((r) => setTimeout(r, 600));
  assert.ok(existsSync(target), 'kept while another container has a mount there');
  const r = await h.runtime.execSync(second.id, ['cat', `${target}/token`], 10_000);
  assert.equal(r.stdout.toString(), 'secret', "the other container's mount is intact");

  // The last one goes: the mount point and the directories made for it go too, the test's own directory stays.
  await h.runtime.stopPodSandbox(second.podId);
  await h.runtime.removePodSandbox(second.podId);
  await waitUntil(() => !existsSync(join(hostDir, 'run')), 8000).catch(() => {
    throw new Error(`left on the host: ${readdirSync(hostDir, { recursive: true }).join(', ')}`);
  });
  assert.ok(existsSync(hostDir));
});

test('process runtime: listStates answers what the full lists say (ids, states, labels), as the relist compares them', { skip }, async (t) => {
  const h = harness();
  t.after(() => h.cleanup());
  const sandbox = { ...sandboxConfig(h, join(h.stateDir, 'logs')), labels: { 'io.kubernetes.pod.uid': 'u1' } };
  const podId = await h.runtime.runPodSandbox(sandbox);
  const running = await h.runtime.createContainer(podId, { ...containerConfig(['sleep', '3600']), labels: { 'io.kubernetes.pod.uid': 'u1', c: 'a' } }, sandbox);
  await h.runtime.startContainer(running);
  const done = await h.runtime.createContainer(podId, { ...containerConfig(['true']), metadata: { name: 'd', attempt: 0 }, logPath: 'd/0.log', labels: { c: 'b' } }, sandbox);
  await h.runtime.startContainer(done);
  await waitExited(h.runtime, done);
  const created = await h.runtime.createContainer(podId, { ...containerConfig(['true']), metadata: { name: 'e', attempt: 0 }, logPath: 'e/0.log' }, sandbox);
  const full = [...(await h.runtime.listPodSandboxes()), ...(await h.runtime.listContainers())].map((x) => ({ id: x.id, state: x.state, labels: x.labels }));
  const states = await h.runtime.listStates();
  const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
  assert.deepEqual([...states].sort(byId), [...full].sort(byId));
  assert.deepEqual(
    Object.fromEntries(states.map((s) => [s.id, s.state])),
    { [podId]: 'ready', [running]: 'running', [done]: 'exited', [created]: 'created' },
  );
});

// ---- the pod network (real CNI plugins on a scratch bridge) ----

const networkSkip = skip ?? (root ? await realNetworkSkipReason() : 'needs root (network namespaces, CNI)');

async function networkHarness(pluginDirs?: string[]) {
  const h = harness();
  const suffix = randomBytes(3).toString('hex');
  const subnet = await pickFreeSubnet(29);
  const network = new CniNetwork({ stateDir: join(h.stateDir, 'net'), confDir: join(h.stateDir, 'conf'), bridgeName: `skp${suffix}`, networkName: `skiff-ptest-${suffix}`, podCidrs: [subnet], ...(pluginDirs ? { pluginDirs } : {}) });
  await network.setPodCidrs([subnet]);
  const unguard = await guardSubnet(subnet, network.bridgeName);
  const runtime = new ProcessRuntime({ stateDir: join(h.stateDir, 'rt'), cgroupRoot: h.cgroupRoot, network });
  return {
    h,
    runtime,
    network,
    async cleanup() {
      await runtime.shutdownSupervisor({ killAll: true });
      await runtime.close();
      await network.removeBridge();
      await unguard();
      await h.cleanup();
    },
  };
}

test('process runtime: a pod gets its CNI network; its containers are in that namespace; removal tears it down', { skip: networkSkip }, async (t) => {
  const n = await networkHarness();
  t.after(() => n.cleanup());
  const sandbox = { ...sandboxConfig(n.h, join(n.h.stateDir, 'logs')), cgroupParent: `/${n.h.cgroupRoot}/podnet` };
  const podId = await n.runtime.runPodSandbox(sandbox);
  const status = await n.runtime.podSandboxStatus(podId);
  assert.equal(status?.network, 'pod');
  assert.match(status?.ip ?? '', /^\d+\.\d+\.\d+\.\d+$/);
  const id = await n.runtime.createContainer(podId, containerConfig(['sleep', '3600']), sandbox);
  await n.runtime.startContainer(id);
  // The container's network namespace has eth0 with the address CNI gave the pod.
  let out = '';
  for (let i = 0; i < 20 && !out.includes(status!.ip!); i++) {
    const r = await n.runtime.execSync(id, ['ip', '-4', '-o', 'addr', 'show', 'eth0'], 5000);
    out = r.stdout.toString();
    if (!out.includes(status!.ip!)) await new Promise((r) => setTimeout(r, 50));
  }
  assert.match(out, new RegExp(`eth0\\s+inet ${status!.ip!.replace(/\./g, '\\.')}/`));
  await n.runtime.removePodSandbox(podId);
  assert.deepEqual(await n.runtime.listPodSandboxes(), []);
  // DEL released the lease: host-local's directory holds no address any more.
  const leases = readdirSync(join(n.h.stateDir, 'net', 'ipam', n.network.networkName)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
  assert.deepEqual(leases, []);
});

test('process runtime: a failed CNI ADD leaves no sandbox, and says why', { skip: networkSkip }, async (t) => {
  const plugins = mkdtempSync(join(tmpdir(), 'skiff-cni-fail-'));
  for (const p of ['host-local', 'portmap', 'loopback']) writeFileSync(join(plugins, p), `#!/bin/sh\nexec /usr/lib/cni/${p}\n`, { mode: 0o755 });
  // The bridge plugin fails ADD with a CNI error (and DEL succeeds: nothing to undo).
  writeFileSync(join(plugins, 'bridge'), '#!/bin/sh\nif [ "$CNI_COMMAND" = ADD ]; then echo \'{"cniVersion":"1.0.0","code":11,"msg":"no bridge today"}\'; exit 1; fi\nexit 0\n', { mode: 0o755 });
  const n = await networkHarness([plugins]);
  t.after(async () => {
    await n.cleanup();
    rmSync(plugins, { recursive: true, force: true });
  });
  const sandbox = { ...sandboxConfig(n.h, join(n.h.stateDir, 'logs')), cgroupParent: `/${n.h.cgroupRoot}/podfail` };
  await assert.rejects(n.runtime.runPodSandbox(sandbox), (err: Error) => isRuntimeError(err, 'Network') && /network setup failed: .*no bridge today/.test(err.message));
  assert.deepEqual(await n.runtime.listPodSandboxes(), []);
});
