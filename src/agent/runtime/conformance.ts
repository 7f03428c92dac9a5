/**
 * runRuntimeConformance: the one node:test suite every ContainerRuntime passes (the hono `common.case.test.ts` idea).
 * A runtime is done when it passes. Commands stay within what a busybox image has (sh, sleep, cat, echo, env), so the
 * `cri` runtime runs the same suite with a busybox image that the `process` runtime runs against the host.
 *
 * Usage, in a runtime's test file:
 *
 *   runRuntimeConformance('process', async () => ({ runtime, image: 'busybox', cleanup, reopen, cgroupParent, listener }));
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Readable } from 'node:stream';
import type { ContainerConfig, ContainerRuntime, ContainerStatus, LinuxResources, PodSandboxConfig } from './types.js';

export interface RuntimeUnderTest {
  runtime: ContainerRuntime;
  /** Removes whatever the runtime object left (its supervisor, daemon, state); called once after the suite. */
  cleanup(): Promise<void>;
  /** An image (for `process`: any name) whose filesystem has /bin/sh, sleep, cat and echo. */
  image: string;
  /**
   * A second runtime object over the same state, as a restarted agent makes it; the suite closes it. Absent: the
   * recovery test is skipped.
   */
  reopen?(): Promise<ContainerRuntime>;
  /** Cgroup parent prefix for the suite's pods, unique per run (default /skiff-conformance-<random>). */
  cgroupParent?: string;
  /** argv of a TCP echo server on 127.0.0.1:port in the image; absent: the port-forward test is skipped. */
  listener?(port: number): string[];
}

const POLL_MS = 20;

export function runRuntimeConformance(name: string, make: () => Promise<RuntimeUnderTest>): void {
  describe(`ContainerRuntime conformance: ${name}`, () => {
    let rut: RuntimeUnderTest;
    let runtime: ContainerRuntime;
    let logRoot: string;
    let cgroupParent: string;
    const suffix = randomBytes(4).toString('hex');

    before(async () => {
      rut = await make();
      runtime = rut.runtime;
      logRoot = mkdtempSync(join(tmpdir(), 'skiff-conformance-logs-'));
      cgroupParent = rut.cgroupParent ?? `/skiff-conformance-${suffix}`;
    });
    after(async () => {
      await rut?.cleanup();
      if (logRoot) rmSync(logRoot, { recursive: true, force: true });
    });

    let podCount = 0;
    function sandboxConfig(overrides: Partial<PodSandboxConfig> = {}): PodSandboxConfig {
      const uid = `conf-${suffix}-${podCount++}`;
      return {
        metadata: { name: `pod-${podCount}`, namespace: 'conformance', uid, attempt: 0 },
        hostname: `pod-${podCount}`,
        logDirectory: join(logRoot, `conformance_pod-${podCount}_${uid}`),
        portMappings: [],
        labels: { 'io.kubernetes.pod.uid': uid, suite: suffix },
        annotations: { note: 'conformance' },
        hostNetwork: false,
        hostPID: false,
        hostIPC: false,
        cgroupParent: `${cgroupParent}/pod${uid}`,
        ...overrides,
      };
    }

    function containerConfig(cname: string, command: string[], overrides: Partial<ContainerConfig> = {}): ContainerConfig {
      return {
        metadata: { name: cname, attempt: 0 },
        image: rut.image,
        command,
        args: [],
        env: [],
        mounts: [],
        logPath: `${cname}/0.log`,
        stdin: false,
        stdinOnce: false,
        tty: false,
        resources: {} as LinuxResources,
        labels: { 'io.kubernetes.container.name': cname },
        annotations: {},
        ...overrides,
      };
    }

    /** A ready sandbox removed after the test, even when it fails. */
    async function pod(t: { after(fn: () => Promise<void>): void }, overrides: Partial<PodSandboxConfig> = {}): Promise<{ id: string; config: PodSandboxConfig }> {
      const config = sandboxConfig(overrides);
      const id = await runtime.runPodSandbox(config);
      t.after(() => runtime.removePodSandbox(id));
      return { id, config };
    }

    async function run(sandbox: { id: string; config: PodSandboxConfig }, config: ContainerConfig): Promise<string> {
      const id = await runtime.createContainer(sandbox.id, config, sandbox.config);
      await runtime.startContainer(id);
      return id;
    }

    async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = await check();
        if (value !== undefined && value !== false) return value;
        if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await sleep(POLL_MS);
      }
    }

    const exited = (id: string, timeoutMs?: number) =>
      waitFor(`container ${id} to exit`, async () => {
        const s = await runtime.containerStatus(id);
        return s?.state === 'exited' ? s : undefined;
      }, timeoutMs);

    const logText = async (status: ContainerStatus) => readFileSync(status.logPath, 'utf8');

    it('reports its version and status', async () => {
      const v = await runtime.version();
      assert.ok(v.runtimeName.length > 0 && v.runtimeVersion.length > 0);
      assert.equal(v.runtimeApiVersion, 'v1');
      const conditions = await runtime.status();
      assert.equal(conditions.find((c) => c.type === 'RuntimeReady')?.status, true, JSON.stringify(conditions));
      assert.ok(conditions.some((c) => c.type === 'NetworkReady'));
    });

    it('runs, lists, stops and removes pod sandboxes; unknown ids are not errors', async (t) => {
      const config = sandboxConfig();
      const id = await runtime.runPodSandbox(config);
      t.after(() => runtime.removePodSandbox(id));
      const status = await runtime.podSandboxStatus(id);
      assert.equal(status?.state, 'ready');
      assert.deepEqual(status.metadata, config.metadata);
      assert.deepEqual(status.labels, config.labels);
      assert.deepEqual(status.annotations, config.annotations);
      assert.ok(status.createdAt > 0 && status.createdAt <= Date.now());
      assert.deepEqual((await runtime.listPodSandboxes({ labels: { 'io.kubernetes.pod.uid': config.metadata.uid } })).map((s) => s.id), [id]);
      assert.deepEqual((await runtime.listPodSandboxes({ id, state: 'notready' })).length, 0);

      await runtime.stopPodSandbox(id);
      await runtime.stopPodSandbox(id);
      assert.equal((await runtime.podSandboxStatus(id))?.state, 'notready');
      assert.deepEqual((await runtime.listPodSandboxes({ id, state: 'notready' })).map((s) => s.id), [id]);
      await runtime.removePodSandbox(id);
      await runtime.removePodSandbox(id);
      assert.equal(await runtime.podSandboxStatus(id), undefined);
      assert.equal((await runtime.listPodSandboxes({ id })).length, 0);

      await runtime.stopPodSandbox('no-such-sandbox');
      await runtime.removePodSandbox('no-such-sandbox');
      assert.equal(await runtime.containerStatus('no-such-container'), undefined);
      await runtime.removeContainer('no-such-container');
    });

    it('reports exit codes and reasons: Completed for 0, Error otherwise, with start and finish times', async (t) => {
      const sandbox = await pod(t);
      const cases: Array<[string, number, string]> = [
        ['exit 0', 0, 'Completed'],
        ['exit 3', 3, 'Error'],
        // A child shell kills itself: a PID 1 of its own PID namespace (the container's shell under containerd) ignores
        // SIGKILL sent from inside, so `kill -9 $$` would not end it there.
        ["sh -c 'kill -9 $$'; exit $?", 137, 'Error'],
      ];
      const before = Date.now();
      const ids = [];
      for (const [i, [script]] of cases.entries()) {
        const id = await runtime.createContainer(sandbox.id, containerConfig(`exit-${i}`, ['/bin/sh', '-c', script]), sandbox.config);
        const created = await runtime.containerStatus(id);
        assert.equal(created?.state, 'created');
        assert.equal(created.startedAt, 0);
        await runtime.startContainer(id);
        ids.push(id);
      }
      for (const [i, [script, code, reason]] of cases.entries()) {
        const s = await exited(ids[i]!);
        assert.equal(s.exitCode, code, script);
        assert.equal(s.reason, reason, script);
        assert.ok(before - 1000 <= s.createdAt && s.createdAt <= s.startedAt && s.startedAt <= s.finishedAt && s.finishedAt <= Date.now(), JSON.stringify(s));
        assert.equal(s.podSandboxId, sandbox.id);
        assert.equal(s.metadata.name, `exit-${i}`);
        assert.equal(s.image, rut.image);
      }
    });

    it('stopContainer sends SIGTERM, then SIGKILL after the timeout', async (t) => {
      const sandbox = await pod(t);
      const polite = await run(sandbox, containerConfig('polite', ['/bin/sh', '-c', 'trap "echo got-term; exit 7" TERM; echo up; while :; do sleep 0.1; done']));
      const stubborn = await run(sandbox, containerConfig('stubborn', ['/bin/sh', '-c', 'trap "" TERM; echo up; while :; do sleep 0.1; done']));
      for (const id of [polite, stubborn]) {
        await waitFor('the trap to be set', async () => {
          const s = await runtime.containerStatus(id);
          return s !== undefined && (await logText(s).catch(() => '')).includes('up');
        });
      }
      let start = Date.now();
      await runtime.stopContainer(polite, 10);
      const politeMs = Date.now() - start;
      const p = await runtime.containerStatus(polite);
      assert.equal(p?.state, 'exited');
      assert.equal(p.exitCode, 7);
      assert.ok(politeMs < 5000, `a container that exits on SIGTERM stops at once (${politeMs} ms)`);
      assert.match(await logText(p), /stdout F got-term/);

      start = Date.now();
      await runtime.stopContainer(stubborn, 1);
      const stubbornMs = Date.now() - start;
      const s = await runtime.containerStatus(stubborn);
      assert.equal(s?.state, 'exited');
      assert.equal(s.exitCode, 137);
      assert.ok(stubbornMs >= 900 && stubbornMs < 6000, `SIGKILL after the 1 s timeout (${stubbornMs} ms)`);
      // Idempotent on an exited container.
      await runtime.stopContainer(stubborn, 1);
      await runtime.removeContainer(stubborn);
      assert.equal(await runtime.containerStatus(stubborn), undefined);
    });

    it('passes env, args and workingDir; the hostname is the sandbox hostname', async (t) => {
      const sandbox = await pod(t, { hostname: `host-${suffix}` });
      const id = await run(
        sandbox,
        containerConfig('env', ['/bin/sh', '-c'], {
          args: ['echo "foo=$FOO spaced=$SPACED arg1=$1 pwd=$(pwd) host=$(cat /proc/sys/kernel/hostname)"', 'zero', 'one'],
          env: [
            { name: 'FOO', value: 'bar' },
            { name: 'SPACED', value: 'a b  c' },
          ],
          workingDir: '/tmp',
        }),
      );
      const s = await exited(id);
      assert.equal(s.exitCode, 0);
      const text = await logText(s);
      assert.match(text, /foo=bar spaced=a b {2}c arg1=one pwd=\/tmp/);
      // Without namespaces (the process runtime as non-root) the host's name is all there is.
      if (runtime.capabilities.resourceLimits) assert.match(text, new RegExp(`host=host-${suffix}\\n`));
    });

    it('bind-mounts volumes, read-write and read-only, visible to exec too', async (t) => {
      if (!runtime.capabilities.resourceLimits) return t.skip('the runtime reports resourceLimits false (no mount namespaces)');
      const sandbox = await pod(t);
      const volume = mkdtempSync(join(tmpdir(), 'skiff-conformance-vol-'));
      writeFileSync(join(volume, 'hello.txt'), 'from-volume\n');
      const rw = `/tmp/skiff-conformance-rw-${suffix}`;
      const ro = `/tmp/skiff-conformance-ro-${suffix}`;
      t.after(() => {
        rmSync(volume, { recursive: true, force: true });
        // Runtimes without a root filesystem of their own (process) create mount points on the host.
        for (const dir of [rw, ro]) rmSync(dir, { recursive: true, force: true });
      });
      const id = await run(
        sandbox,
        containerConfig('mounter', ['/bin/sh', '-c', `cat ${rw}/hello.txt; echo written > ${rw}/out.txt; (echo x > ${ro}/y.txt) 2>/dev/null || echo ro-refused; sleep 3600`], {
          mounts: [
            { hostPath: volume, containerPath: rw, readonly: false },
            { hostPath: volume, containerPath: ro, readonly: true },
          ],
        }),
      );
      const s = await waitFor('the container to use its volumes', async () => {
        const status = await runtime.containerStatus(id);
        return status !== undefined && (await logText(status).catch(() => '')).includes('ro-refused') ? status : undefined;
      });
      assert.match(await logText(s), /stdout F from-volume\n/);
      assert.equal(readFileSync(join(volume, 'out.txt'), 'utf8'), 'written\n');
      const r = await runtime.execSync(id, ['cat', `${ro}/hello.txt`], 10_000);
      assert.equal(r.stdout.toString(), 'from-volume\n');
    });

    it('writes stdout and stderr in CRI format at logDirectory/logPath', async (t) => {
      const sandbox = await pod(t);
      const id = await run(sandbox, containerConfig('logger', ['/bin/sh', '-c', 'echo out1; echo err1 >&2; echo out2; printf tail']));
      const s = await exited(id);
      assert.equal(s.logPath, join(sandbox.config.logDirectory, 'logger/0.log'));
      const records = (await logText(s)).split('\n').filter(Boolean).map((line) => /^(\S+) (stdout|stderr) ([PF]) (.*)$/.exec(line));
      assert.ok(records.every((r) => r !== null), 'every line is a CRI record');
      for (const r of records) assert.ok(!Number.isNaN(Date.parse(r![1]!)), r![1]);
      const byStream = (stream: string) => records.filter((r) => r![2] === stream).map((r) => `${r![3]} ${r![4]}`);
      assert.deepEqual(byStream('stdout'), ['F out1', 'F out2', 'P tail']);
      assert.deepEqual(byStream('stderr'), ['F err1']);
    });

    it('execSync returns output and exit code, and kills at the timeout', async (t) => {
      const sandbox = await pod(t);
      const id = await run(sandbox, containerConfig('exec-target', ['/bin/sh', '-c', 'sleep 3600'], { env: [{ name: 'WHO', value: 'container-env' }] }));
      const r = await runtime.execSync(id, ['/bin/sh', '-c', 'echo "out $WHO"; echo err >&2; exit 5'], 10_000);
      assert.equal(r.exitCode, 5);
      assert.equal(r.stdout.toString(), 'out container-env\n');
      assert.equal(r.stderr.toString(), 'err\n');
      assert.equal(r.timedOut, false);
      const start = Date.now();
      const slow = await runtime.execSync(id, ['sleep', '30'], 300);
      assert.equal(slow.timedOut, true);
      assert.ok(Date.now() - start < 5000, `killed at the timeout (${Date.now() - start} ms)`);
      assert.equal((await runtime.containerStatus(id))?.state, 'running', 'the container outlives the exec');
    });

    it('exec streams stdin and stdout and reports the exit code', async (t) => {
      const sandbox = await pod(t);
      const id = await run(sandbox, containerConfig('exec-stream', ['sleep', '3600']));
      const session = await runtime.exec(id, ['cat'], { stdin: true, stdout: true, stderr: true, tty: false });
      const out = collect(session.stdout!);
      session.stdin!.end('ping\npong\n');
      assert.deepEqual(await session.done, { exitCode: 0 });
      assert.equal(await out, 'ping\npong\n');
      const failing = await runtime.exec(id, ['/bin/sh', '-c', 'echo bad >&2; exit 9'], { stdin: false, stdout: true, stderr: true, tty: false });
      const err = collect(failing.stderr!);
      assert.deepEqual(await failing.done, { exitCode: 9 });
      assert.equal(await err, 'bad\n');
    });

    it('attach reaches the running container\'s stdin and stdout; detaching leaves it running', async (t) => {
      const sandbox = await pod(t);
      const id = await run(sandbox, containerConfig('attached', ['/bin/sh', '-c', 'while read line; do echo "got $line"; done; echo stdin-closed'], { stdin: true }));
      const session = await runtime.attach(id, { stdin: true, stdout: true, stderr: true, tty: false });
      let seen = '';
      session.stdout!.on('data', (c: Buffer) => (seen += c.toString()));
      session.stdin!.write('hello\n');
      await waitFor('the echo through attach', async () => seen.includes('got hello\n'));
      session.close();
      await session.done;
      await sleep(100);
      assert.equal((await runtime.containerStatus(id))?.state, 'running');
      assert.match(await logText((await runtime.containerStatus(id))!), /stdout F got hello/);
    });

    it('portForward reaches a listener on 127.0.0.1 inside the pod', async (t) => {
      if (rut.listener === undefined) return t.skip('the runtime under test gave no listener command');
      const sandbox = await pod(t);
      const port = await freePort();
      await run(sandbox, containerConfig('listener', rut.listener(port)));
      const reply = await waitFor(
        'the listener',
        async () => {
          try {
            const stream = await runtime.portForward(sandbox.id, port);
            const got = collect(stream);
            stream.end('through the tunnel\n');
            const text = await got;
            return text === '' ? undefined : text;
          } catch {
            return undefined;
          }
        },
        15_000,
      );
      assert.equal(reply, 'through the tunnel\n');
    });

    it('a memory limit is enforced and reported as OOMKilled', async (t) => {
      if (!runtime.capabilities.resourceLimits) return t.skip('the runtime reports resourceLimits false');
      const sandbox = await pod(t);
      const id = await run(sandbox, containerConfig('hog', ['/bin/sh', '-c', 'a=0123456789abcdef; while :; do a="$a$a"; done'], { resources: { memoryLimitBytes: 32 * 1024 * 1024 } }));
      const s = await exited(id, 30_000);
      assert.equal(s.reason, 'OOMKilled', JSON.stringify(s));
      assert.equal(s.exitCode, 137);
    });

    it('reports cpu and memory stats of containers and pods', async (t) => {
      if (!runtime.capabilities.resourceLimits) return t.skip('the runtime reports resourceLimits false (no cgroups to read)');
      const sandbox = await pod(t);
      const id = await run(sandbox, containerConfig('busy', ['/bin/sh', '-c', 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 3600']));
      const stats = await waitFor('cpu usage', async () => {
        const s = await runtime.containerStats(id);
        return s?.cpu !== undefined && s.cpu.usageCoreNanoSeconds > 0 && s.memory !== undefined ? s : undefined;
      });
      assert.equal(stats.id, id);
      assert.ok(stats.memory!.workingSetBytes > 0 && stats.memory!.workingSetBytes <= stats.memory!.usageBytes, JSON.stringify(stats.memory));
      const podStats = await runtime.podSandboxStats(sandbox.id);
      assert.ok(podStats !== undefined);
      assert.ok(podStats.containers.some((c) => c.id === id));
      assert.ok((podStats.cpu?.usageCoreNanoSeconds ?? 0) >= stats.cpu!.usageCoreNanoSeconds, 'the pod includes its containers');
    });

    it('labels round-trip and listContainers filters by id, sandbox, state and labels', async (t) => {
      const a = await pod(t);
      const b = await pod(t);
      const one = await run(a, containerConfig('one', ['sleep', '3600'], { labels: { role: 'web', tier: 'x' }, annotations: { 'a.b/c': 'd' } }));
      const two = await run(a, containerConfig('two', ['/bin/sh', '-c', 'exit 0'], { labels: { role: 'job' } }));
      const three = await run(b, containerConfig('three', ['sleep', '3600'], { labels: { role: 'web' } }));
      await exited(two);
      const s = await runtime.containerStatus(one);
      assert.deepEqual(s?.labels, { role: 'web', tier: 'x' });
      assert.deepEqual(s.annotations, { 'a.b/c': 'd' });
      const ids = async (filter: Parameters<ContainerRuntime['listContainers']>[0]) => (await runtime.listContainers(filter)).map((c) => c.id).filter((id) => [one, two, three].includes(id)).sort();
      assert.deepEqual(await ids({ labels: { role: 'web' } }), [one, three].sort());
      assert.deepEqual(await ids({ labels: { role: 'web', tier: 'x' } }), [one]);
      assert.deepEqual(await ids({ podSandboxId: a.id }), [one, two].sort());
      assert.deepEqual(await ids({ podSandboxId: a.id, state: 'exited' }), [two]);
      assert.deepEqual(await ids({ state: 'running', podSandboxId: b.id }), [three]);
      assert.deepEqual(await ids({ id: three }), [three]);
      assert.deepEqual(await ids({ labels: { role: 'none' } }), []);
    });

    it('a new runtime object over the same state sees the running containers (agent restart)', async (t) => {
      if (rut.reopen === undefined) return t.skip('the runtime under test cannot be reopened');
      const sandbox = await pod(t);
      const id = await run(sandbox, containerConfig('survivor', ['/bin/sh', '-c', 'trap "exit 4" TERM; echo up; while :; do sleep 0.1; done']));
      await waitFor('the trap to be set', async () => {
        const s = await runtime.containerStatus(id);
        return s !== undefined && (await logText(s).catch(() => '')).includes('up');
      });
      const second = await rut.reopen();
      try {
        const seen = await second.containerStatus(id);
        assert.equal(seen?.state, 'running');
        assert.equal(seen.podSandboxId, sandbox.id);
        assert.equal((await second.podSandboxStatus(sandbox.id))?.state, 'ready');
        await second.stopContainer(id, 10);
        const after = await second.containerStatus(id);
        assert.equal(after?.exitCode, 4, 'the exit status is still observed');
        assert.equal((await runtime.containerStatus(id))?.exitCode, 4, 'and the first object agrees');
      } finally {
        await second.close();
      }
    });

    // ---- isolation and securityContext, as runc applies them (Kubernetes defaults) ----

    /** The Cap* and NoNewPrivs lines of /proc/self/status, as a record. */
    const statusFields = (text: string) => Object.fromEntries([...text.matchAll(/^(Cap\w+|NoNewPrivs):\s*(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    const selfStatus = async (sandbox: { id: string; config: PodSandboxConfig }, name: string, overrides: Partial<ContainerConfig>) => {
      const id = await run(sandbox, containerConfig(name, ['/bin/sh', '-c', 'cat /proc/self/status'], overrides));
      const s = await exited(id);
      assert.equal(s.exitCode, 0, await logText(s));
      return statusFields((await logText(s)).replace(/^\S+ stdout F /gm, ''));
    };

    it('capabilities: containerd\'s default set, add and drop, privileged keeps all, non-root gets none, no_new_privs', async (t) => {
      if (!runtime.capabilities.resourceLimits) return t.skip('the runtime reports resourceLimits false (not root: no capability sets to change)');
      const sandbox = await pod(t);
      // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
      const defaults = await selfStatus(sandbox, 'caps-default', {});
      assert.equal(defaults.CapBnd, '00000000a80425fb');
      assert.equal(defaults.CapEff, '00000000a80425fb', 'root gets its bounding set as effective');
      assert.equal(defaults.CapPrm, '00000000a80425fb');
      assert.equal(defaults.CapInh, '0000000000000000');
      assert.equal(defaults.NoNewPrivs, '0');
      // NET_ADMIN is bit 12; KILL (bit 5) and MKNOD (27) dropped; names in any case. (containerd 1.6 ignores names with a
      // CAP_ prefix: it prefixes CAP_ again; the process runtime takes both.)
      const changed = await selfStatus(sandbox, 'caps-changed', { security: { capabilities: { add: ['NET_ADMIN'], drop: ['KILL', 'mknod'] } } });
      assert.equal(changed.CapBnd, ((0xa80425fbn | (1n << 12n)) & ~(1n << 5n) & ~(1n << 27n)).toString(16).padStart(16, '0'));
      assert.equal(changed.CapEff, changed.CapBnd);
      const none = await selfStatus(sandbox, 'caps-none', { security: { capabilities: { add: ['NET_BIND_SERVICE'], drop: ['ALL'] } } });
      assert.equal(none.CapBnd, (1n << 10n).toString(16).padStart(16, '0'));
      const user = await selfStatus(sandbox, 'caps-user', { security: { runAsUser: 1000, runAsGroup: 1000, noNewPrivileges: true } });
      assert.equal(user.CapBnd, '00000000a80425fb');
      assert.equal(user.CapEff, '0000000000000000', 'a non-root user has no effective capabilities');
      assert.equal(user.NoNewPrivs, '1');
      const privileged = await selfStatus(sandbox, 'caps-privileged', { security: { privileged: true } });
      const mine = statusFields(readFileSync('/proc/self/status', 'utf8'));
      assert.equal(privileged.CapBnd, mine.CapBnd, 'privileged: every capability the node has');
    });

    it('readOnlyRootFilesystem: the root file system refuses writes, volumes and /dev/shm do not; other containers write', async (t) => {
      if (!runtime.capabilities.resourceLimits) return t.skip('the runtime reports resourceLimits false (no mount namespaces)');
      const sandbox = await pod(t);
      const volume = mkdtempSync(join(tmpdir(), 'skiff-conformance-rofs-'));
      const mountPath = `/tmp/skiff-conformance-rofs-${suffix}`;
      // Files a failing runtime would leave on the host (process runtime: the host's root is the container's).
      const probes = [`/skiff-conformance-rofs-${suffix}`, `/tmp/skiff-conformance-rofs-${suffix}.txt`, `/etc/skiff-conformance-rofs-${suffix}`];
      t.after(() => {
        rmSync(volume, { recursive: true, force: true });
        for (const p of [mountPath, ...probes]) rmSync(p, { recursive: true, force: true });
      });
      const script = (tag: string) =>
        `for f in ${probes.join(' ')}; do if touch "$f" 2>/dev/null; then echo "wrote $f"; rm -f "$f"; else echo "refused $f"; fi; done; ` +
        `(echo ${tag} > ${mountPath}/${tag}.txt) && echo vol-ok; (echo x > /dev/shm/${tag}-${suffix}) && rm /dev/shm/${tag}-${suffix} && echo shm-ok; echo tried; sleep 3600`;
      const mounts = [{ hostPath: volume, containerPath: mountPath, readonly: false }];
      const ro = await run(sandbox, containerConfig('readonly', ['/bin/sh', '-c', script('ro')], { mounts, security: { readonlyRootfs: true } }));
      const rw = await run(sandbox, containerConfig('writable', ['/bin/sh', '-c', script('rw')], { mounts }));
      const logOf = async (id: string) =>
        waitFor(`${id} to try its writes`, async () => {
          const s = await runtime.containerStatus(id);
          const text = s === undefined ? '' : await logText(s).catch(() => '');
          return text.includes('tried') ? text : undefined;
        });
      const roText = await logOf(ro);
      for (const p of probes) assert.match(roText, new RegExp(`refused ${p}\n`), roText);
      assert.match(roText, /vol-ok\n/);
      assert.match(roText, /shm-ok\n/);
      assert.equal(readFileSync(join(volume, 'ro.txt'), 'utf8'), 'ro\n');
      const rwText = await logOf(rw);
      // The other container of the pod keeps a writable root (under the process runtime: the host's).
      for (const p of probes) assert.match(rwText, new RegExp(`wrote ${p}\n`), rwText);
      // exec in the read-only container is refused too.
      const r = await runtime.execSync(ro, ['/bin/sh', '-c', `touch ${probes[0]}`], 10_000);
      assert.notEqual(r.exitCode, 0);
      assert.match(r.stderr.toString(), /Read-only file system/);
    });

    it('pid namespaces: one per container by default, the pod\'s with shareProcessNamespace, a target\'s; exec enters the container\'s', async (t) => {
      if (!runtime.capabilities.resourceLimits) return t.skip('the runtime reports resourceLimits false (no namespaces)');
      const marker = `${3000 + Number.parseInt(suffix.slice(0, 3), 16)}`;
      const listing = 'echo "self=$$"; for f in /proc/[0-9]*/cmdline; do tr "\\0" " " < "$f"; echo; done';
      for (const shared of [false, true]) {
        const sandbox = await pod(t, shared ? { shareProcessNamespace: true } : {});
        const sleeper = await run(sandbox, containerConfig('sleeper', ['sleep', marker]));
        await waitFor('the sleeper to run', async () => (await runtime.containerStatus(sleeper))?.state === 'running');
        await sleep(200);
        const lister = await run(sandbox, containerConfig('lister', ['/bin/sh', '-c', listing]));
        const text = await logText(await exited(lister));
        if (shared) {
          assert.match(text, new RegExp(`sleep ${marker}`), `shareProcessNamespace: the sibling is visible\n${text}`);
          assert.doesNotMatch(text, /self=1\n/);
        } else {
          assert.match(text, /self=1\n/, `the container's process is pid 1 of its own namespace\n${text}`);
          assert.doesNotMatch(text, new RegExp(`sleep ${marker}`), `a sibling's process is not visible\n${text}`);
          // kubectl debug --target: a container that joins the sleeper's pid namespace sees it (and is not pid 1).
          const debug = await run(sandbox, containerConfig('debug', ['/bin/sh', '-c', listing], { pidTargetContainerId: sleeper }));
          const seen = await logText(await exited(debug));
          assert.match(seen, new RegExp(`sleep ${marker}`), `pidTargetContainerId: the target's processes are visible\n${seen}`);
          assert.doesNotMatch(seen, /self=1\n/);
        }
        // exec joins the container's pid namespace (its process is pid 1 there) and its /proc.
        const r = await runtime.execSync(sleeper, ['/bin/sh', '-c', 'tr "\\0" " " < /proc/1/cmdline; echo; cat /proc/self/stat | cut -d" " -f1'], 10_000);
        assert.equal(r.exitCode, 0, r.stderr.toString());
        const [init, ownPid] = r.stdout.toString().split('\n');
        if (!shared) assert.match(init!, new RegExp(`sleep ${marker}`), r.stdout.toString());
        assert.ok(Number(ownPid) < 100, `the exec sees pids of the container's namespace, not the host's (${ownPid})`);
      }
    });

    it('dnsConfig: the pod\'s containers see its resolv.conf; without one, the node\'s', async (t) => {
      if (!runtime.capabilities.resourceLimits) return t.skip('the runtime reports resourceLimits false (no mount namespaces)');
      const dnsConfig = { servers: ['10.43.0.10', '192.0.2.53'], searches: [`conformance.svc.cluster.local`, 'svc.cluster.local'], options: ['ndots:5', 'timeout:2'] };
      const withDns = await pod(t, { dnsConfig });
      const a = await run(withDns, containerConfig('resolv', ['/bin/sh', '-c', 'cat /etc/resolv.conf; sleep 3600']));
      const want = 'search conformance.svc.cluster.local svc.cluster.local\nnameserver 10.43.0.10\nnameserver 192.0.2.53\noptions ndots:5 timeout:2\n';
      const text = await waitFor('the resolv.conf', async () => {
        const s = await runtime.containerStatus(a);
        const log = s === undefined ? '' : await logText(s).catch(() => '');
        return log.includes('options') ? log.replace(/^\S+ stdout F /gm, '') : undefined;
      });
      assert.equal(text, want);
      const r = await runtime.execSync(a, ['cat', '/etc/resolv.conf'], 10_000);
      assert.equal(r.stdout.toString(), want, 'exec sees it too');
      assert.notEqual(readFileSync('/etc/resolv.conf', 'utf8'), want, 'the node keeps its own');
      const plain = await pod(t);
      const b = await run(plain, containerConfig('host-resolv', ['cat', '/etc/resolv.conf']));
      assert.equal((await logText(await exited(b))).replace(/^\S+ stdout [FP] /gm, ''), readFileSync('/etc/resolv.conf', 'utf8').replace(/([^\n])$/, '$1\n'));
    });

    it('removePodSandbox leaves no process of the pod behind', async (t) => {
      const sandbox = await pod(t);
      const marker = `skiff-conformance-${randomBytes(6).toString('hex')}`;
      const env = [{ name: 'SKIFF_CONFORMANCE_MARKER', value: marker }];
      await run(sandbox, containerConfig('parent', ['/bin/sh', '-c', 'sleep 3600 & sleep 3601 & wait'], { env }));
      await run(sandbox, containerConfig('plain', ['sleep', '3602'], { env }));
      await waitFor('the pod processes', async () => markedProcesses(marker).length >= 3);
      await runtime.removePodSandbox(sandbox.id);
      await waitFor('every pod process to be gone', async () => markedProcesses(marker).length === 0, 5000);
      assert.equal((await runtime.listContainers({ podSandboxId: sandbox.id })).length, 0);
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function collect(stream: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    stream.on('data', (c: Buffer) => (text += c.toString()));
    stream.on('end', () => resolve(text));
    stream.on('close', () => resolve(text));
    stream.on('error', reject);
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Host pids whose environment carries the marker (readable for our own processes, or for all as root). */
function markedProcesses(marker: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'latin1').includes(`=${marker}\0`)) out.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}
