/**
 * Container log rotation as kubelet keeps it (containerLogMaxSize 10 MiB, containerLogMaxFiles 5), on the process
 * runtime with the real kubectl: a container that writes ~75 MiB of numbered lines and exits leaves at most five
 * files of at most 10 MiB under /var/log/pods/<ns>_<pod>_<uid>/<container>/ (0.log and kubelet-named rotated ones),
 * and `kubectl logs` of the finished pod reads the rotated files and the current one as one stream: the newest lines,
 * in order, without gaps or repeats, the oldest ones gone; --tail and --limit-bytes cut that stream. A crash-looping
 * container keeps the logs of its current and previous instances only (kubelet removes a removed instance's log), and
 * `kubectl logs --previous` shows the one before. RuntimeClass on this runtime: its own handler, `process`, runs the
 * pod; a class naming `runc` leaves its pod ContainerCreating with a FailedCreatePodSandBox event saying why.
 *
 * One `skiff server` with its embedded agent (--cluster-cidr 10.76.0.0/16). Run from dist/ (spawns bin/skiff):
 *   npx tsc -p tsconfig.json && node --test dist/test/container-log-rotation.e2e.test.js
 * Needs root and the CNI plugins; skips otherwise (fails under CI=true). What the node made is removed at the end.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cleanUpAgentServer, createNamespace, startAgentServer } from './helpers/agent-server.js';
import { e2eSkipReason } from './helpers/e2e-prereqs.js';
import { eventually } from './helpers/eventually.js';
import { kubectlFor, type Kubectl } from './helpers/kubectl.js';
import type { ServerProcess } from './helpers/server-process.js';

const NS = 'logrot';
const LINES = 700_000;
const MiB = 1024 * 1024;

const skipReason = () =>
  e2eSkipReason({
    prereqs: ['/usr/bin/unshare', '/usr/bin/nsenter', '/usr/lib/cni/bridge', '/usr/lib/cni/host-local', '/usr/bin/seq'],
    notRoot: 'the process runtime needs root; skipping the container log rotation end-to-end test',
    what: 'the container log rotation end-to-end test',
  });

describe('container log rotation (process runtime, kubectl logs)', { skip: skipReason(), timeout: 110_000 }, () => {
  let server: ServerProcess | undefined;
  let k: Kubectl;
  let dir = '';
  const uids = new Set<string>();

  before(async () => {
    dir = await mkdtemp(`/tmp/skf-lr${randomBytes(3).toString('hex')}-`);
    const args = ['--data-dir', dir, '--node-name', `logrot-${randomBytes(3).toString('hex')}`, '--runtime', 'process', '--cluster-cidr', '10.76.0.0/16', '--kubelet-port', '0', '--https-listen-port', '0', '--bind-address', '127.0.0.1'];
    server = await startAgentServer(args, { timeoutMs: 60_000 });
    k = kubectlFor(join(dir, 'kubeconfig.yaml'));
    await createNamespace(k, NS);
    // Started now so it loops (CrashLoopBackOff 10 s, 20 s) while the first test runs.
    const crasher = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'crasher', namespace: NS },
      spec: {
        terminationGracePeriodSeconds: 1,
        // Each instance says which it is (lines in a host file it appends to) and, after a second, fails.
        containers: [{ name: 'app', image: 'busybox', command: ['sh', '-c', `echo x >> ${dir}/crasher-count; echo "instance $(($(wc -l < ${dir}/crasher-count) - 1))"; sleep 1; exit 1`] }],
      },
    };
    const c = await k(['apply', '-f', '-'], { input: JSON.stringify(crasher) });
    assert.equal(c.code, 0, c.stderr);
  });

  after(async () => {
    await cleanUpAgentServer({ server, k, ns: NS, dataDir: dir, podUids: uids, deleteTimeoutS: 40 });
  });

  it('a container writing ~75 MiB keeps at most 5 files of 10 MiB; kubectl logs reads them as one ordered stream', async () => {
    // ~69 bytes a line, ~110 bytes a CRI record: ~75 MiB written, 50 MiB kept.
    const pad = 'x'.repeat(55);
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'chatty', namespace: NS },
      spec: { restartPolicy: 'Never', terminationGracePeriodSeconds: 2, containers: [{ name: 'app', image: 'busybox', command: ['sh', '-c', `seq -f 'line %07g ${pad}' 1 ${LINES}; echo LAST`] }] },
    };
    const r = await k(['apply', '-f', '-'], { input: JSON.stringify(pod) });
    assert.equal(r.code, 0, r.stderr);
    const done = await eventually('the pod Succeeded', async () => {
      const p = await k.json(['-n', NS, 'get', 'pod', 'chatty']);
      uids.add(p.metadata.uid);
      if (p.status.phase === 'Failed') throw new Error(`the pod failed: ${JSON.stringify(p.status)}`);
      return p.status.phase === 'Succeeded' && p;
    }, 90_000);

    const logDir = join('/var/log/pods', `${NS}_chatty_${done.metadata.uid}`, 'app');
    const files = readdirSync(logDir).sort();
    assert.ok(files.includes('0.log'), files.join(' '));
    const rotated = files.filter((f) => f !== '0.log');
    assert.ok(rotated.length >= 1 && rotated.length <= 4, `1-4 rotated files beside 0.log: ${files.join(' ')}`);
    for (const f of rotated) assert.match(f, /^0\.log\.\d{8}-\d{6}(-\d+)?$/);
    const sizes = files.map((f) => statSync(join(logDir, f)).size);
    for (const [i, size] of sizes.entries()) assert.ok(size <= 10 * MiB, `${files[i]} is ${size} bytes, over 10 MiB`);
    assert.ok(sizes.reduce((a, b) => a + b, 0) > 40 * MiB, `the kept files hold most of 50 MiB: ${sizes.join(' ')}`);

    const all = await k(['-n', NS, 'logs', 'chatty'], { timeoutMs: 60_000 });
    assert.equal(all.code, 0, all.stderr);
    const lines = all.stdout.split('\n');
    assert.equal(lines.pop(), '', 'ends with a newline');
    assert.equal(lines.pop(), 'LAST');
    const numbers = lines.map((l) => {
      const m = /^line (\d{7}) x{55}$/.exec(l);
      if (!m) throw new Error(`not a whole line: ${JSON.stringify(l.slice(0, 100))}`);
      return Number(m[1]);
    });
    const first = numbers[0]!;
    assert.ok(first > 1, 'the oldest lines were rotated away');
    assert.equal(numbers.at(-1), LINES);
    assert.equal(numbers.length, LINES - first + 1, `lines ${first}..${LINES} each once, in order`);
    for (let i = 1; i < numbers.length; i++) if (numbers[i] !== numbers[i - 1]! + 1) assert.fail(`line ${numbers[i - 1]} is followed by ${numbers[i]}`);

    const tail = await k(['-n', NS, 'logs', 'chatty', '--tail=2']);
    assert.equal(tail.stdout, `line ${String(LINES).padStart(7, '0')} ${pad}\nLAST\n`);
    const limited = await k(['-n', NS, 'logs', 'chatty', '--limit-bytes=12']);
    assert.equal(limited.stdout, `line ${String(first).padStart(7, '0')}`);
  });

  it('RuntimeClass on the process runtime: its own handler "process" runs the pod, another one is FailedCreatePodSandBox', async () => {
    const suffix = randomBytes(3).toString('hex');
    const objs = [
      { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: `proc-${suffix}` }, handler: 'process' },
      { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: `runc-${suffix}` }, handler: 'runc' },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'own-handler', namespace: NS }, spec: { runtimeClassName: `proc-${suffix}`, terminationGracePeriodSeconds: 1, containers: [{ name: 'app', image: 'busybox', command: ['sh', '-c', 'echo own; exec sleep 3600'] }] } },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'other-handler', namespace: NS }, spec: { runtimeClassName: `runc-${suffix}`, terminationGracePeriodSeconds: 1, containers: [{ name: 'app', image: 'busybox', command: ['sleep', '3600'] }] } },
    ];
    const r = await k(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }) });
    assert.equal(r.code, 0, r.stderr);
    try {
      const ready = await k(['-n', NS, 'wait', '--for=condition=ready', 'pod/own-handler', '--timeout=40s'], { timeoutMs: 45_000 });
      assert.equal(ready.code, 0, ready.stderr);
      const event = await eventually('FailedCreatePodSandBox of other-handler', async () => {
        const list = await k.json(['-n', NS, 'get', 'events', '--field-selector', 'involvedObject.name=other-handler']);
        return (list.items as any[]).find((e) => e.reason === 'FailedCreatePodSandBox');
      }, 20_000);
      assert.equal(event.type, 'Warning');
      assert.match(event.message, /^Failed to create pod sandbox: no runtime for "runc" is configured: the process runtime runs pods with its own handler "process" only/);
      const p = await k.json(['-n', NS, 'get', 'pod', 'other-handler']);
      uids.add(p.metadata.uid);
      assert.equal(p.status.phase, 'Pending');
      assert.equal(p.status.containerStatuses?.[0]?.state?.waiting?.reason, 'ContainerCreating');
    } finally {
      await k(['-n', NS, 'delete', 'pod', 'own-handler', 'other-handler', '--wait=false']);
      await k(['delete', 'runtimeclass', `proc-${suffix}`, `runc-${suffix}`, '--ignore-not-found']);
    }
  });

  it("a crash loop keeps the current and the previous instance's logs only; --previous shows the one before", async () => {
    const p = await eventually('the crasher at its third instance', async () => {
      const x = await k.json(['-n', NS, 'get', 'pod', 'crasher']);
      uids.add(x.metadata.uid);
      return (x.status.containerStatuses?.[0]?.restartCount ?? 0) >= 2 && x.status.containerStatuses[0].state.running && x;
    }, 75_000);
    const n = p.status.containerStatuses[0].restartCount as number;
    const logDir = join('/var/log/pods', `${NS}_crasher_${p.metadata.uid}`, 'app');
    const files = await eventually("older instances' logs removed", async () => {
      const f = readdirSync(logDir).sort();
      return f.length === 2 && f;
    }, 10_000).catch(() => readdirSync(logDir).sort());
    assert.deepEqual(files, [`${n - 1}.log`, `${n}.log`].sort());
    const previous = await k(['-n', NS, 'logs', 'crasher', '--previous']);
    assert.equal(previous.code, 0, previous.stderr);
    assert.equal(previous.stdout, `instance ${n - 1}\n`);
  });
});
