/**
 * CriRuntime against a real containerd (started by ManagedContainerd for this file), real runc, a real CNI bridge
 * and a busybox image built on this machine: the whole container lifecycle, exec/attach/port-forward streams, stats,
 * OOMKilled. Prints the timings the issue asks for (containerd ready, RunPodSandbox, Create+Start, RSS).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, renameSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isRuntimeError, type ContainerConfig, type PodSandboxConfig } from '../types.js';
import { CriClient } from './cri-client.js';
import { CriRuntime } from './cri-runtime.js';
import { skipUnlessContainerd, startCriTestEnv, TEST_BUSYBOX_IMAGE, type CriTestEnv } from './cri-test-env.js';

const skip = skipUnlessContainerd();

function containerConfig(name: string, command: string[], overrides: Partial<ContainerConfig> = {}): ContainerConfig {
  return {
    metadata: { name, attempt: 0 },
    image: TEST_BUSYBOX_IMAGE,
    command,
    args: [],
    env: [{ name: 'GREETING', value: 'hello' }],
    mounts: [],
    logPath: `${name}/0.log`,
    stdin: false,
    stdinOnce: false,
    tty: false,
    resources: {},
    labels: { 'io.kubernetes.container.name': name },
    annotations: {},
    ...overrides,
  };
}

function collect(stream: Readable | undefined): Promise<string> {
  if (!stream) return Promise.resolve('');
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve, reject) => {
    stream.on('end', () => resolve(Buffer.concat(chunks).toString()));
    stream.on('error', reject);
  });
}

async function eventually<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const ms = (start: number) => Math.round(performance.now() - start);

describe('CriRuntime on a real containerd', skip, () => {
  let env: CriTestEnv;
  let sandbox: PodSandboxConfig;
  let sandboxId: string;
  const timings: Record<string, number> = {};

  before(async () => {
    env = await startCriTestEnv({ portmap: true, extraRuntimes: { 'skiff-test': 'runc' } });
    timings.containerdReadyMs = Math.round(env.readyMs);
    sandbox = env.sandboxConfig('lifecycle');
    const started = performance.now();
    sandboxId = await env.runtime.runPodSandbox(sandbox);
    timings.runPodSandboxMs = ms(started);
  });
  after(async () => {
    if (!env) return;
    const pid = env.containerd.pid;
    const rssKiB = (p: string | number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    if (pid) timings.containerdRssMiB = Math.round(rssKiB(pid) / 1024);
    // One shim per pod (containerd-shim-runc-v2 -address <our socket>), measured while the last pods still run.
    const shims = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
          return cmd.includes('containerd-shim') && cmd.includes(env.containerd.socketPath);
        } catch {
          return false;
        }
      });
    timings.shims = shims.length;
    timings.shimRssMiBTotal = Math.round(shims.reduce((sum, p) => sum + rssKiB(p), 0) / 1024);
    process.stderr.write(`cri timings: ${JSON.stringify(timings)}\n`);
    await env.cleanup();
  });

  test('version and status: containerd over CRI v1, runtime and network ready', async () => {
    const version = await env.runtime.version();
    assert.equal(version.runtimeName, 'containerd');
    assert.equal(version.runtimeApiVersion, 'v1');
    assert.match(version.runtimeVersion, /^\d+\.\d+/);
    const conditions = await env.runtime.status();
    assert.deepEqual(conditions.map((c) => [c.type, c.status]).sort(), [
      ['NetworkReady', true],
      ['RuntimeReady', true],
    ]);
  });

  test('the sandbox is ready, has an address on the test bridge, and is listed by its labels', async () => {
    const status = await env.runtime.podSandboxStatus(sandboxId);
    assert.ok(status);
    assert.equal(status.state, 'ready');
    assert.equal(status.network, 'pod');
    assert.equal(status.metadata.uid, sandbox.metadata.uid);
    assert.ok(status.ip?.startsWith(env.subnet.replace(/0\/24$/, '')), `ip ${status.ip} in ${env.subnet}`);
    assert.ok(status.createdAt > Date.now() - 120_000 && status.createdAt <= Date.now());
    const listed = await env.runtime.listPodSandboxes({ labels: { 'io.kubernetes.pod.uid': sandbox.metadata.uid } });
    assert.deepEqual(
      listed.map((s) => s.id),
      [sandboxId],
    );
    assert.equal(listed[0].ip, status.ip);
  });

  test('a container runs, logs in CRI format, and is listed with its sandbox', async () => {
    const started = performance.now();
    const id = await env.runtime.createContainer(sandboxId, containerConfig('main', ['/bin/sh', '-c', 'echo "$GREETING from $(hostname)"; exec sleep 3600']), sandbox);
    await env.runtime.startContainer(id);
    timings.createAndStartMs = ms(started);
    const status = await env.runtime.containerStatus(id);
    assert.ok(status);
    assert.equal(status.state, 'running');
    assert.equal(status.podSandboxId, sandboxId);
    assert.equal(status.metadata.name, 'main');
    assert.equal(status.image, TEST_BUSYBOX_IMAGE);
    assert.match(status.imageRef, /sha256:[0-9a-f]{64}/);
    assert.ok(status.startedAt >= status.createdAt && status.startedAt > 0);
    assert.equal(status.logPath, join(sandbox.logDirectory, 'main/0.log'));
    const line = await eventually('the log line', async () => {
      const text = await readFile(status.logPath, 'utf8').catch(() => '');
      return text.split('\n').find((l) => l.includes('hello from lifecycle'));
    });
    assert.match(line, /^\d{4}-\d\d-\d\dT\S+ stdout F hello from lifecycle$/);
    const listed = await env.runtime.listContainers({ podSandboxId: sandboxId, state: 'running' });
    assert.deepEqual(
      listed.map((c) => c.id),
      [id],
    );
    // The relist's light view says the same as the statuses, without a status call per object.
    const uid = sandbox.metadata.uid;
    const states = (await env.runtime.listStates()).filter((x) => x.labels['io.kubernetes.pod.uid'] === uid || x.id === id);
    assert.deepEqual(
      states.map((x) => `${x.id}:${x.state}`).sort(),
      [`${id}:running`, `${sandboxId}:ready`].sort(),
    );
  });

  test('execSync: output, exit codes, and a timeout', async () => {
    const [main] = await env.runtime.listContainers({ podSandboxId: sandboxId, labels: { 'io.kubernetes.container.name': 'main' } });
    const ok = await env.runtime.execSync(main.id, ['/bin/sh', '-c', 'echo out; echo err >&2; cat /sys/fs/cgroup/memory/memory.limit_in_bytes >/dev/null; exit 3'], 10_000);
    assert.equal(ok.exitCode, 3);
    assert.equal(ok.stdout.toString(), 'out\n');
    assert.equal(ok.stderr.toString(), 'err\n');
    assert.equal(ok.timedOut, false);
    const slow = await env.runtime.execSync(main.id, ['sleep', '30'], 1000);
    assert.equal(slow.timedOut, true);
  });

  test('exec stream: stdout and stderr apart, stdin in, exit code out', async () => {
    const [main] = await env.runtime.listContainers({ podSandboxId: sandboxId, labels: { 'io.kubernetes.container.name': 'main' } });
    const session = await env.runtime.exec(main.id, ['/bin/sh', '-c', 'head -c 5; echo " to stdout"; echo to stderr >&2; exit 7'], { stdin: true, stdout: true, stderr: true, tty: false });
    const out = collect(session.stdout);
    const err = collect(session.stderr);
    session.stdin!.write('hello');
    const { exitCode } = await session.done;
    assert.equal(exitCode, 7);
    assert.equal(await out, 'hello to stdout\n');
    assert.equal(await err, 'to stderr\n');
  });

  test('exec with a TTY: one output stream, resize reaches the terminal', async () => {
    const [main] = await env.runtime.listContainers({ podSandboxId: sandboxId, labels: { 'io.kubernetes.container.name': 'main' } });
    const session = await env.runtime.exec(main.id, ['/bin/sh', '-c', 'sleep 0.5; stty size'], { stdin: true, stdout: true, stderr: true, tty: true });
    assert.equal(session.stderr, undefined);
    const out = collect(session.stdout);
    session.resize({ width: 123, height: 45 });
    assert.equal((await session.done).exitCode, 0);
    assert.match(await out, /45 123/);
  });

  test('exec with a TTY: ending stdin sends EOF (^D) to the terminal', async () => {
    const [main] = await env.runtime.listContainers({ podSandboxId: sandboxId, labels: { 'io.kubernetes.container.name': 'main' } });
    const session = await env.runtime.exec(main.id, ['/bin/sh', '-c', 'wc -c'], { stdin: true, stdout: true, stderr: false, tty: true });
    const out = collect(session.stdout);
    session.stdin!.end('abc\n');
    assert.equal((await session.done).exitCode, 0);
    assert.match(await out, /\b4\s*$/);
  });

  test('closing an exec session settles it; the exec\'d process lives on, as under kubelet', async () => {
    // CRI has no call to kill an exec'd process, and containerd does not kill it when the stream closes (nor does
    // kubelet with any CRI runtime): the session ends, the process runs until it exits.
    const [main] = await env.runtime.listContainers({ podSandboxId: sandboxId, labels: { 'io.kubernetes.container.name': 'main' } });
    const session = await env.runtime.exec(main.id, ['sleep', '4242'], { stdin: false, stdout: true, stderr: true, tty: false });
    await eventually('the exec to run', async () => (await env.runtime.execSync(main.id, ['/bin/sh', '-c', 'ps | grep -v grep | grep -q "sleep 4242"'], 5000)).exitCode === 0);
    session.close();
    await session.done.catch(() => undefined);
    assert.equal((await env.runtime.execSync(main.id, ['/bin/sh', '-c', 'kill $(ps | grep "sleep 4242" | grep -v grep | awk \'{ print $1 }\')'], 5000)).exitCode, 0);
  });

  test('exec of a missing binary rejects with the runtime\'s words', async () => {
    const [main] = await env.runtime.listContainers({ podSandboxId: sandboxId, labels: { 'io.kubernetes.container.name': 'main' } });
    const session = await env.runtime.exec(main.id, ['/no/such/binary'], { stdin: false, stdout: true, stderr: true, tty: false });
    const result = await session.done.then(
      (r) => `exit ${r.exitCode}`,
      (e: Error) => e.message,
    );
    assert.match(result, /no such file|not found|exit 12[67]/i);
  });

  test('attach: output of a running container; close detaches and the container keeps running', async () => {
    const id = await env.runtime.createContainer(sandboxId, containerConfig('ticker', ['/bin/sh', '-c', 'i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done']), sandbox);
    await env.runtime.startContainer(id);
    const session = await env.runtime.attach(id, { stdin: false, stdout: true, stderr: true, tty: false });
    const seen = await new Promise<string>((resolve) => {
      let text = '';
      session.stdout!.on('data', (c: Buffer) => {
        text += c.toString();
        if (/tick \d+\n.*tick \d+/s.test(text)) resolve(text);
      });
    });
    assert.match(seen, /tick \d+/);
    session.close();
    await sleep(300);
    assert.equal((await env.runtime.containerStatus(id))?.state, 'running');
    await env.runtime.stopContainer(id, 0);
  });

  test('attach with stdin and a TTY: what we type comes back through the terminal', async () => {
    const id = await env.runtime.createContainer(sandboxId, containerConfig('interactive', ['/bin/sh'], { stdin: true, tty: true }), sandbox);
    await env.runtime.startContainer(id);
    const session = await env.runtime.attach(id, { stdin: true, stdout: true, stderr: false, tty: true });
    let text = '';
    session.stdout!.on('data', (c: Buffer) => (text += c.toString()));
    session.stdin!.write('echo $((6 * 7))\n');
    await eventually('the shell\'s answer', async () => /^42\r?$/m.test(text));
    session.stdin!.write('exit 3\n');
    const status = await eventually('the shell to exit', async () => {
      const s = await env.runtime.containerStatus(id);
      return s?.state === 'exited' ? s : undefined;
    });
    assert.equal(status.exitCode, 3);
    session.close();
  });

  test('port-forward: a byte stream to a port inside the pod', async () => {
    const id = await env.runtime.createContainer(
      sandboxId,
      containerConfig('web', ['/bin/sh', '-c', 'mkdir -p /tmp/www && echo "hi from the pod" > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www']),
      sandbox,
    );
    await env.runtime.startContainer(id);
    await eventually('httpd listening', async () => (await env.runtime.execSync(id, ['/bin/sh', '-c', 'netstat -ltn | grep -q :8080'], 5000)).exitCode === 0);
    const stream = await env.runtime.portForward(sandboxId, 8080);
    let text = '';
    stream.on('data', (c: Buffer) => (text += c.toString()));
    stream.write('GET /index.html HTTP/1.0\r\nHost: pod\r\n\r\n');
    await eventually('the HTTP response', async () => text.includes('hi from the pod'));
    assert.match(text, /^HTTP\/1\.[01] 200/);
    stream.destroy();
    await env.runtime.stopContainer(id, 0);
  });

  test('port-forward to a port nobody listens on fails with the runtime\'s words', async () => {
    const stream = await env.runtime.portForward(sandboxId, 9);
    stream.write('x');
    const err = await new Promise<Error>((resolve) => stream.once('error', resolve));
    assert.match(err.message, /port-forward to 9: .*(refused|failed)/i);
  });

  test('hostPort: the sandbox\'s port mapping reaches the pod from the node\'s address', async () => {
    const hostIp = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    assert.ok(hostIp, 'the node has a non-loopback IPv4 address');
    const hostPort = 20000 + Math.floor(Math.random() * 20000);
    const config = env.sandboxConfig('hostport', { portMappings: [{ protocol: 'TCP', containerPort: 8080, hostPort }] });
    const id = await env.runtime.runPodSandbox(config);
    const c = await env.runtime.createContainer(
      id,
      containerConfig('web', ['/bin/sh', '-c', 'mkdir -p /tmp/www && echo "via hostPort" > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www']),
      config,
    );
    await env.runtime.startContainer(c);
    const body = await eventually('the page through the host port', async () => {
      try {
        const res = await fetch(`http://${hostIp}:${hostPort}/index.html`, { signal: AbortSignal.timeout(1000) });
        return await res.text();
      } catch {
        return undefined;
      }
    });
    assert.equal(body, 'via hostPort\n');
    await env.runtime.stopPodSandbox(id);
    await env.runtime.removePodSandbox(id);
  });

  test('security context: runAsUser/Group, read-only root, dropped and added capabilities, privileged', async () => {
    const cases: Array<[string, ContainerConfig['security'], string, RegExp]> = [
      ['user', { runAsUser: 65534, runAsGroup: 65534 }, 'id -u; id -g', /^65534\n65534\n$/],
      ['readonly', { readonlyRootfs: true }, 'touch /x 2>&1; echo rc=$?', /Read-only file system[\s\S]*rc=1/],
      ['nocaps', { capabilities: { add: [], drop: ['ALL'] } }, 'chown 1 /tmp 2>&1; echo rc=$?', /Operation not permitted[\s\S]*rc=1/],
      ['netadmin', { capabilities: { add: ['NET_ADMIN'], drop: [] } }, 'ip link add dummy0 type bridge 2>&1 && echo ok', /ok/],
      ['privileged', { privileged: true }, 'mkdir -p /m && mount -t tmpfs none /m && echo mounted', /mounted/],
    ];
    for (const [name, security, script, expected] of cases) {
      const id = await env.runtime.createContainer(sandboxId, containerConfig(`sec-${name}`, ['sleep', '3600'], { security }), sandbox);
      await env.runtime.startContainer(id);
      const out = await env.runtime.execSync(id, ['/bin/sh', '-c', script], 10_000);
      assert.match(out.stdout.toString() + out.stderr.toString(), expected, name);
      await env.runtime.stopContainer(id, 0);
      await env.runtime.removeContainer(id);
    }
  });

  test('SPDY (default): ending stdin is end-of-file for a non-TTY exec', async () => {
    const [main] = await env.runtime.listContainers({ podSandboxId: sandboxId, labels: { 'io.kubernetes.container.name': 'main' } });
    const session = await env.runtime.exec(main.id, ['/bin/sh', '-c', 'cat; echo "<eof>"'], { stdin: true, stdout: true, stderr: true, tty: false });
    const out = collect(session.stdout);
    session.stdin!.end('line 1\nline 2\n');
    assert.deepEqual(await session.done, { exitCode: 0 });
    assert.equal(await out, 'line 1\nline 2\n<eof>\n');
  });

  test('SPDY (default) port-forward: ending our side lets the pod\'s side finish; one listener, several streams', async () => {
    const id = await env.runtime.createContainer(sandboxId, containerConfig('echo', ['nc', '-ll', '-p', '7007', '-e', 'cat']), sandbox);
    await env.runtime.startContainer(id);
    await eventually('nc listening', async () => (await env.runtime.execSync(id, ['/bin/sh', '-c', 'netstat -ltn | grep -q :7007'], 5000)).exitCode === 0);
    for (const word of ['first', 'second']) {
      const stream = await env.runtime.portForward(sandboxId, 7007);
      const got = collect(stream);
      stream.end(`${word}\n`);
      assert.equal(await got, `${word}\n`);
    }
    await env.runtime.stopContainer(id, 0);
  });

  test('WebSocket transport: exec output and exit code, TTY end-of-file, port-forward', async () => {
    const ws = new CriRuntime({ endpoint: env.containerd.endpoint, streamProtocol: 'websocket' });
    try {
      const [main] = await ws.listContainers({ podSandboxId: sandboxId, labels: { 'io.kubernetes.container.name': 'main' } });
      const plain = await ws.exec(main.id, ['/bin/sh', '-c', 'echo out; echo err >&2; exit 5'], { stdin: false, stdout: true, stderr: true, tty: false });
      const [out, err] = [collect(plain.stdout), collect(plain.stderr)];
      assert.deepEqual(await plain.done, { exitCode: 5 });
      assert.deepEqual([await out, await err], ['out\n', 'err\n']);
      const tty = await ws.exec(main.id, ['wc', '-c'], { stdin: true, stdout: true, stderr: false, tty: true });
      const ttyOut = collect(tty.stdout);
      tty.stdin!.end('abc\n');
      assert.equal((await tty.done).exitCode, 0);
      assert.match(await ttyOut, /\b4\s*$/);
      const web = await ws.createContainer(sandboxId, containerConfig('web-ws', ['/bin/sh', '-c', 'mkdir -p /tmp/w && echo "over ws" > /tmp/w/index.html && exec httpd -f -p 8081 -h /tmp/w']), sandbox);
      await ws.startContainer(web);
      await eventually('httpd listening', async () => (await ws.execSync(web, ['/bin/sh', '-c', 'netstat -ltn | grep -q :8081'], 5000)).exitCode === 0);
      const stream = await ws.portForward(sandboxId, 8081);
      let text = '';
      stream.on('data', (c: Buffer) => (text += c.toString()));
      stream.write('GET /index.html HTTP/1.0\r\n\r\n');
      await eventually('the HTTP response', async () => text.includes('over ws'));
      assert.match(text, /^HTTP\/1\.[01] 200/);
      stream.destroy();
      await ws.stopContainer(web, 0);
    } finally {
      await ws.close();
    }
  });

  test('stats: container and pod CPU and memory from the cgroups', async () => {
    const [main] = await env.runtime.listContainers({ podSandboxId: sandboxId, labels: { 'io.kubernetes.container.name': 'main' } });
    const stats = await env.runtime.containerStats(main.id);
    assert.ok(stats);
    assert.equal(stats.id, main.id);
    assert.ok(stats.cpu && stats.cpu.usageCoreNanoSeconds > 0, 'cpu usage');
    assert.ok(stats.memory && stats.memory.workingSetBytes > 0, 'memory working set');
    const pod = await env.runtime.podSandboxStats(sandboxId);
    assert.ok(pod);
    assert.equal(pod.id, sandboxId);
    assert.ok(pod.memory && pod.memory.workingSetBytes >= stats.memory.workingSetBytes);
    assert.ok(pod.containers.some((c) => c.id === main.id));
    assert.equal(await env.runtime.containerStats('no-such-container'), undefined);
  });

  test('a container over its memory limit is OOMKilled, as containerd reports it', async () => {
    const id = await env.runtime.createContainer(
      sandboxId,
      containerConfig('hog', ['/bin/sh', '-c', 'awk \'BEGIN { s = "x"; while (1) s = s s }\''], { resources: { memoryLimitBytes: 16 * 1024 * 1024 } }),
      sandbox,
    );
    await env.runtime.startContainer(id);
    const status = await eventually('the container to exit', async () => {
      const s = await env.runtime.containerStatus(id);
      return s?.state === 'exited' ? s : undefined;
    });
    assert.equal(status.reason, 'OOMKilled');
    assert.equal(status.exitCode, 137);
    assert.ok(status.finishedAt >= status.startedAt);
  });

  test('a container that exits 0 is Completed, non-zero is Error', async () => {
    const okId = await env.runtime.createContainer(sandboxId, containerConfig('ok', ['/bin/true']), sandbox);
    const badId = await env.runtime.createContainer(sandboxId, containerConfig('bad', ['/bin/sh', '-c', 'exit 4']), sandbox);
    await env.runtime.startContainer(okId);
    await env.runtime.startContainer(badId);
    for (const [id, reason, code] of [
      [okId, 'Completed', 0],
      [badId, 'Error', 4],
    ] as const) {
      const status = await eventually(`${id} to exit`, async () => {
        const s = await env.runtime.containerStatus(id);
        return s?.state === 'exited' ? s : undefined;
      });
      assert.equal(status.reason, reason);
      assert.equal(status.exitCode, code);
    }
  });

  test('a command that cannot run: StartContainer fails with runc\'s words, the status says StartError', async () => {
    const id = await env.runtime.createContainer(sandboxId, containerConfig('cannot', ['/no/such/binary']), sandbox);
    await assert.rejects(env.runtime.startContainer(id), (err) => isRuntimeError(err, 'StartContainer') && /no such file or directory/.test(err.message));
    const status = await env.runtime.containerStatus(id);
    assert.equal(status?.state, 'exited');
    assert.equal(status?.reason, 'StartError');
    assert.match(status?.message ?? '', /no such file or directory/);
    assert.equal(status?.exitCode, 128);
  });

  test("RuntimeClass handlers: a configured one runs the sandbox with it; an unknown one is refused in containerd's words", async () => {
    const config = env.sandboxConfig('handler', { runtimeHandler: 'skiff-test' });
    const id = await env.runtime.runPodSandbox(config);
    const cri = new CriClient(env.containerd.endpoint, { timeoutMs: 10_000 });
    try {
      const res = await cri.call<{ status: { runtimeHandler: string; state: number } }>('PodSandboxStatus', { podSandboxId: id });
      assert.equal(res.status.runtimeHandler, 'skiff-test');
    } finally {
      cri.close();
    }
    assert.equal((await env.runtime.podSandboxStatus(id))?.state, 'ready');
    await env.runtime.stopPodSandbox(id);
    await env.runtime.removePodSandbox(id);
    await assert.rejects(
      env.runtime.runPodSandbox(env.sandboxConfig('nohandler', { runtimeHandler: 'ghost' })),
      (err) => isRuntimeError(err, 'Network') && /^rpc error: code = Unknown desc = .*no runtime for "ghost" is configured/.test(err.message),
    );
  });

  test('ReopenContainerLog: the log renamed away, containerd goes on in a new file at the log path, nothing lost', async () => {
    const config = env.sandboxConfig('reopen');
    const id = await env.runtime.runPodSandbox(config);
    const c = await env.runtime.createContainer(id, containerConfig('talker', ['/bin/sh', '-c', 'i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.05; done']), config);
    await env.runtime.startContainer(c);
    const logPath = (await env.runtime.containerStatus(c))!.logPath;
    const ticks = (text: string) => [...text.matchAll(/ stdout F tick (\d+)$/gm)].map((m) => Number(m[1]));
    await eventually('a few ticks', async () => ticks(await readFile(logPath, 'utf8').catch(() => '')).length >= 3);
    const rotated = `${logPath}.20260101-000000`;
    renameSync(logPath, rotated);
    await env.runtime.reopenContainerLog(c);
    const fresh = await eventually('ticks in the new file', async () => {
      const t = ticks(await readFile(logPath, 'utf8').catch(() => ''));
      return t.length >= 3 && t;
    });
    const old = ticks(readFileSync(rotated, 'utf8'));
    assert.equal(fresh[0], old.at(-1)! + 1, `the new file goes on where the renamed one stopped (old ends ${old.at(-1)}, new starts ${fresh[0]})`);
    await env.runtime.stopContainer(c, 0);
    await assert.rejects(env.runtime.reopenContainerLog(c), 'an exited container has no log to reopen');
    await env.runtime.stopPodSandbox(id);
    await env.runtime.removePodSandbox(id);
  });

  test('errors: an unknown image at create, unknown ids', async () => {
    await assert.rejects(env.runtime.createContainer(sandboxId, containerConfig('ghost', ['/bin/true'], { image: 'docker.io/library/not-here:1' }), sandbox), (err) => isRuntimeError(err, 'ImageNotFound') && /not-here/.test(err.message));
    await assert.rejects(env.runtime.createContainer('0123456789abcdef', containerConfig('orphan', ['/bin/true']), sandbox), (err) => isRuntimeError(err, 'NotFound'));
    assert.equal(await env.runtime.containerStatus('0123456789abcdef'), undefined);
    assert.equal(await env.runtime.podSandboxStatus('0123456789abcdef'), undefined);
    await env.runtime.removeContainer('0123456789abcdef');
    await env.runtime.stopPodSandbox('0123456789abcdef');
    await env.runtime.removePodSandbox('0123456789abcdef');
  });

  test('stop, remove, and the pod is gone', async () => {
    const [main] = await env.runtime.listContainers({ podSandboxId: sandboxId, labels: { 'io.kubernetes.container.name': 'main' } });
    let started = performance.now();
    await env.runtime.stopContainer(main.id, 2);
    timings.stopContainerMs = ms(started);
    const stopped = await env.runtime.containerStatus(main.id);
    assert.equal(stopped?.state, 'exited');
    await env.runtime.stopContainer(main.id, 2); // idempotent
    await env.runtime.removeContainer(main.id);
    assert.equal(await env.runtime.containerStatus(main.id), undefined);
    started = performance.now();
    await env.runtime.stopPodSandbox(sandboxId);
    timings.stopPodSandboxMs = ms(started);
    assert.equal((await env.runtime.podSandboxStatus(sandboxId))?.state, 'notready');
    started = performance.now();
    await env.runtime.removePodSandbox(sandboxId);
    timings.removePodSandboxMs = ms(started);
    assert.equal(await env.runtime.podSandboxStatus(sandboxId), undefined);
    assert.deepEqual(await env.runtime.listContainers({ podSandboxId: sandboxId }), []);
  });

  test('pod start with a cached image: RunPodSandbox + Create + Start, 5 pods', async () => {
    const totals: number[] = [];
    for (let i = 0; i < 5; i++) {
      const config = env.sandboxConfig(`fast-${i}`);
      const started = performance.now();
      const id = await env.runtime.runPodSandbox(config);
      const c = await env.runtime.createContainer(id, containerConfig('app', ['sleep', '3600']), config);
      await env.runtime.startContainer(c);
      totals.push(ms(started));
    }
    timings.podStartCachedMsMin = Math.min(...totals);
    timings.podStartCachedMsMax = Math.max(...totals);
    assert.equal((await env.runtime.listContainers({ state: 'running', labels: { 'io.kubernetes.container.name': 'app' } })).length, 5);
  });

  test('sandbox settings reach the pod: DNS config, sysctls, hostname, pod-level memory limit', async () => {
    const config = env.sandboxConfig('settings', {
      hostname: 'custom-host',
      dnsConfig: { servers: ['10.43.0.10'], searches: ['default.svc.cluster.local', 'svc.cluster.local'], options: ['ndots:5'] },
      sysctls: { 'net.ipv4.ip_unprivileged_port_start': '80' },
      resources: { memoryLimitBytes: 64 * 1024 * 1024 },
    });
    const id = await env.runtime.runPodSandbox(config);
    const c = await env.runtime.createContainer(id, containerConfig('s', ['sleep', '3600']), config);
    await env.runtime.startContainer(c);
    const out = (await env.runtime.execSync(c, ['/bin/sh', '-c', 'cat /etc/resolv.conf; hostname; cat /proc/sys/net/ipv4/ip_unprivileged_port_start'], 5000)).stdout.toString();
    assert.match(out, /^nameserver 10\.43\.0\.10$/m);
    assert.match(out, /^search default\.svc\.cluster\.local svc\.cluster\.local$/m);
    assert.match(out, /^options ndots:5$/m);
    assert.match(out, /^custom-host$/m);
    assert.match(out, /^80$/m);
    await env.runtime.stopPodSandbox(id);
    await env.runtime.removePodSandbox(id);
  });

  test('host network pod: no pod IP, the node\'s hostname', async () => {
    const config = env.sandboxConfig('hostnet', { hostNetwork: true });
    const id = await env.runtime.runPodSandbox(config);
    const status = await env.runtime.podSandboxStatus(id);
    assert.equal(status?.network, 'host');
    assert.equal(status?.ip, undefined);
    const c = await env.runtime.createContainer(id, containerConfig('h', ['sleep', '3600']), config);
    await env.runtime.startContainer(c);
    const out = await env.runtime.execSync(c, ['hostname'], 5000);
    assert.equal(out.stdout.toString().trim(), (await import('node:os')).hostname());
  });

  test('removing an image that is not there is not an error; missing image status is undefined', async () => {
    assert.equal(await env.runtime.imageStatus({ image: 'docker.io/library/never:1' }), undefined);
    await env.runtime.removeImage({ image: 'docker.io/library/never:1' });
    const images = await env.runtime.listImages();
    assert.ok(images.some((i) => i.repoTags.includes(TEST_BUSYBOX_IMAGE)));
  });

  test('runtime errors carry a code: a pull with nothing to pull from is ImagePull', async () => {
    await assert.rejects(env.runtime.pullImage({ image: '127.0.0.1:1/nothing/here:1' }), (err) => isRuntimeError(err, 'ImagePull') && /127\.0\.0\.1:1/.test(err.message));
  });
});
