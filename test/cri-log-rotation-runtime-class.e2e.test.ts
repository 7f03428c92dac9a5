/**
 * Two node-agent duties on the `cri` runtime, with the real kubectl against `skiff server --runtime cri` (embedded
 * agent, skiff's own containerd):
 *
 * - Container log rotation as kubelet's container log manager does it (--container-log-max-size 1Mi,
 *   --container-log-max-files 3, a check every 10 s): a container writing ~9 MiB of numbered lines over ~40 s leaves
 *   `0.log`, one plain rotated file and one gzip-compressed one (the oldest removed); a `kubectl logs -f` started at
 *   the beginning sees every line once, in order, across the rotations (ReopenContainerLog); `kubectl logs` afterwards
 *   reads the compressed file too; --tail, --since, --limit-bytes cut that stream; --previous shows a restarted
 *   container's earlier instance.
 * - RuntimeClass handlers reach RunPodSandbox: a class with handler `runc` (configured in skiff's containerd) runs its
 *   pod; one with a handler containerd lacks leaves the pod ContainerCreating with kubelet's FailedCreatePodSandBox event
 *   quoting containerd (`no runtime for "ghost" is configured`) and PodReadyToStartContainers False.
 *
 * The busybox image comes from the air-gap directory. Run from dist/ (spawns bin/skiff):
 *   npx tsc -p tsconfig.json && node --test dist/test/cri-log-rotation-runtime-class.e2e.test.js
 * Needs root, containerd, runc, CNI plugins, busybox-static and kubectl; skips otherwise (fails under CI=true).
 * Everything the node made is removed at the end, also after a failure.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { pickFreeSubnet } from '../src/agent/network/network-testing.js';
import { containerdMissing } from '../src/agent/runtime/cri/cri-test-env.js';
import { createNamespace, waitNodeReady } from './helpers/agent-server.js';
import { skipIfMissing } from './helpers/e2e-prereqs.js';
import { eventually } from './helpers/eventually.js';
import { kubectlFor, type Kubectl } from './helpers/kubectl.js';
import { hardCleanNode } from './helpers/node-leftovers.js';
import { busyboxMissing, writeTestImageArchive } from './helpers/oci-image.js';
import { spawnServer, stopChild, type ServerProcess } from './helpers/server-process.js';

const skipReason = () => skipIfMissing(containerdMissing() ?? busyboxMissing());

const IMAGE = 'docker.io/skiff-e2e/logrot:v1';
const NS = 'cri-logrot';
const BURSTS = 40;
const PER_BURST = 2000;
const LINES = BURSTS * PER_BURST;
const PAD = 'x'.repeat(55);
const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lineOf = (n: number) => `line ${String(n).padStart(7, '0')} ${PAD}`;

/** Numbers of `line N` lines, checked whole; the LAST marker last. */
function numbered(text: string): { numbers: number[]; last: boolean } {
  const lines = text.split('\n');
  assert.equal(lines.pop(), '', 'ends with a newline');
  const last = lines.at(-1) === 'LAST';
  if (last) lines.pop();
  const numbers = lines.map((l) => {
    const m = /^line (\d{7}) x{55}$/.exec(l);
    if (!m) throw new Error(`not a whole line: ${JSON.stringify(l.slice(0, 100))}`);
    return Number(m[1]);
  });
  return { numbers, last };
}

function assertContiguous(numbers: number[], from: number, to: number, what: string): void {
  assert.equal(numbers[0], from, `${what}: first line`);
  for (let i = 1; i < numbers.length; i++) if (numbers[i] !== numbers[i - 1]! + 1) assert.fail(`${what}: line ${numbers[i - 1]} is followed by ${numbers[i]}`);
  assert.equal(numbers.at(-1), to, `${what}: last line`);
}

describe('cri runtime: container log rotation and RuntimeClass handlers, driven by kubectl', { skip: skipReason(), timeout: 170_000 }, () => {
  const suffix = randomBytes(3).toString('hex');
  const nodeName = `crilr-${suffix}`;
  let dir: string;
  let server: ServerProcess | undefined;
  let k: Kubectl;
  const seenUids = new Set<string>();
  const children: ChildProcess[] = [];
  let followed = '';
  let followStarted = 0;

  const pod = async (name: string) => {
    const p = await k.json(['get', 'pod', '-n', NS, name]);
    seenUids.add(p.metadata.uid);
    return p;
  };
  const apply = async (objs: object[]) => {
    const r = await k(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }) });
    assert.equal(r.code, 0, r.stderr);
  };
  /** The chatty pod's log dir once writing ended and the last rotation is done: 0.log under the limit, no compression running. */
  const settledLogDir = async () => {
    const logDir = join('/var/log/pods', `${NS}_chatty_${(await pod('chatty')).metadata.uid}`, 'app');
    await eventually('the last rotation done', async () => statSync(join(logDir, '0.log')).size < MiB && !readdirSync(logDir).some((f) => f.endsWith('.tmp')), 30_000);
    return logDir;
  };
  const podObj = (name: string, spec: object) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS }, spec: { terminationGracePeriodSeconds: 1, ...spec } });

  before(async () => {
    // Short: containerd's socket path must stay under 108 bytes.
    dir = await mkdtemp(`/tmp/skl-${suffix}-`);
    const images = join(dir, 'agent', 'images');
    await mkdir(images, { recursive: true });
    await writeTestImageArchive(images, IMAGE, { Cmd: ['/bin/sh'] });
    const clusterCidr = await pickFreeSubnet(24);
    const args = ['--data-dir', dir, '--https-listen-port', '0', '--kubelet-port', '0', '--bind-address', '127.0.0.1', '--runtime', 'cri', '--node-name', nodeName, '--cluster-cidr', clusterCidr];
    server = await spawnServer([...args, '--container-log-max-size', '1Mi', '--container-log-max-files', '3'], 60_000, {}, { agent: true });
    k = kubectlFor(join(dir, 'kubeconfig.yaml'));
    await waitNodeReady(k, nodeName, 60_000);
    await createNamespace(k, NS);

    // ~110 bytes a CRI record, 2000 lines a second: ~2 MiB between two checks, so each check rotates.
    const script = `i=0; while [ $i -lt ${BURSTS} ]; do awk -v s=$((i*${PER_BURST})) -v pad=${PAD} 'BEGIN{for(j=s+1;j<=s+${PER_BURST};j++) printf "line %07d %s\\n", j, pad}'; i=$((i+1)); sleep 1; done; echo LAST; exec sleep 3600`;
    await apply([
      podObj('chatty', { containers: [{ name: 'app', image: IMAGE, command: ['sh', '-c', script] }] }),
      // Each instance says which it is (lines in a file of an emptyDir, which outlives container restarts), then fails.
      podObj('crasher', {
        containers: [{ name: 'app', image: IMAGE, command: ['sh', '-c', 'echo x >> /count/n; echo "instance $(($(wc -l < /count/n) - 1))"; sleep 1; exit 1'], volumeMounts: [{ name: 'count', mountPath: '/count' }] }],
        volumes: [{ name: 'count', emptyDir: {} }],
      }),
      { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: `explicit-runc-${suffix}` }, handler: 'runc' },
      { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: `ghost-${suffix}` }, handler: 'ghost' },
      podObj('with-runc', { runtimeClassName: `explicit-runc-${suffix}`, containers: [{ name: 'app', image: IMAGE, command: ['sh', '-c', 'echo runs; exec sleep 3600'] }] }),
      podObj('with-ghost', { runtimeClassName: `ghost-${suffix}`, containers: [{ name: 'app', image: IMAGE, command: ['sh', '-c', 'exec sleep 3600'] }] }),
    ]);
    // Follow from the start: every rotation happens under this reader.
    await eventually('chatty running', async () => (await pod('chatty')).status?.containerStatuses?.[0]?.state?.running !== undefined, 60_000);
    const follow = k.spawn(['-n', NS, 'logs', '-f', 'chatty']);
    followStarted = Date.now();
    children.push(follow);
    follow.stdout!.on('data', (c: Buffer) => (followed += c.toString()));
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    try {
      if (server && server.child.exitCode === null && server.child.signalCode === null) {
        const r = await k(['-n', NS, 'get', 'pods', '-o', 'jsonpath={.items[*].metadata.uid}']).catch(() => undefined);
        for (const uid of r?.stdout.split(' ') ?? []) if (uid) seenUids.add(uid);
        await k(['delete', 'runtimeclass', `explicit-runc-${suffix}`, `ghost-${suffix}`, '--ignore-not-found']).catch(() => undefined);
        // Pods first, through the node, so it tears down what it made; then the server (and its containerd).
        await k(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=40s'], { timeoutMs: 50_000 });
        await stopChild(server.child);
      }
    } finally {
      if (dir) await hardCleanNode(dir, [...seenUids]);
    }
  });

  test('a RuntimeClass handler containerd has runs the pod; one it lacks is FailedCreatePodSandBox in its words', async () => {
    const r = await k(['-n', NS, 'wait', '--for=condition=ready', 'pod/with-runc', '--timeout=60s'], { timeoutMs: 65_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await k(['-n', NS, 'logs', 'with-runc'])).stdout, 'runs\n');

    const event = await eventually('the FailedCreatePodSandBox event of with-ghost', async () => {
      const list = await k.json(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=with-ghost']);
      return (list.items as any[]).find((e) => e.reason === 'FailedCreatePodSandBox');
    }, 30_000);
    assert.equal(event.type, 'Warning');
    assert.match(event.message, /^Failed to create pod sandbox: rpc error: code = Unknown desc = .*no runtime for "ghost" is configured/);
    const p = await pod('with-ghost');
    assert.equal(p.status.phase, 'Pending');
    assert.equal(p.status.conditions.find((c: any) => c.type === 'PodReadyToStartContainers')?.status, 'False');
    assert.equal(p.status.containerStatuses?.[0]?.state?.waiting?.reason, 'ContainerCreating');
  });

  test('kubectl logs --previous shows the instance before a restart', async () => {
    // Instance n runs after n restarts; --previous is instance n-1 (asked again when a restart came in between).
    const { n, previous } = await eventually('the crasher restarted, and its previous log', async () => {
      const before = (await pod('crasher')).status.containerStatuses?.[0]?.restartCount ?? 0;
      if (before < 1) return undefined;
      const out = await k(['-n', NS, 'logs', 'crasher', '--previous']);
      const after = (await pod('crasher')).status.containerStatuses?.[0]?.restartCount ?? 0;
      return before === after && { n: before as number, previous: out };
    }, 60_000);
    assert.equal(previous.code, 0, previous.stderr);
    assert.equal(previous.stdout, `instance ${n - 1}\n`);
  });

  test('rotation: 0.log, one plain and one gzip rotated file; kubectl logs -f saw every line once across the rotations', async () => {
    await eventually('LAST through kubectl logs -f', async () => followed.endsWith('LAST\n'), 110_000 - (Date.now() - followStarted));
    const logDir = await settledLogDir();
    const files = readdirSync(logDir).sort();
    const plain = files.filter((f) => /^0\.log\.\d{8}-\d{6}(-\d+)?$/.test(f));
    const gz = files.filter((f) => /^0\.log\.\d{8}-\d{6}(-\d+)?\.gz$/.test(f));
    assert.ok(files.includes('0.log'), files.join(' '));
    assert.equal(plain.length, 1, `the newest rotated file stays uncompressed: ${files.join(' ')}`);
    assert.equal(gz.length, 1, `containerLogMaxFiles 3: one compressed file besides: ${files.join(' ')}`);
    assert.equal(files.length, 3, files.join(' '));
    // The compressed file is a gzip of whole CRI records.
    const inflated = gunzipSync(readFileSync(join(logDir, gz[0]!))).toString();
    assert.match(inflated, /^\d{4}-\d\d-\d\dT[\d:.]+Z stdout F line \d{7} x{55}\n/);

    const f = numbered(followed);
    assert.ok(f.last, 'LAST came last');
    assertContiguous(f.numbers, 1, LINES, 'kubectl logs -f');
  });

  test('kubectl logs reads the compressed, rotated and current files as one stream; --tail, --since, --limit-bytes cut it', async () => {
    await eventually('LAST written', async () => followed.endsWith('LAST\n'), 100_000);
    await settledLogDir();
    const all = await k(['-n', NS, 'logs', 'chatty'], { timeoutMs: 60_000 });
    assert.equal(all.code, 0, all.stderr);
    const { numbers, last } = numbered(all.stdout);
    assert.ok(last, 'LAST came last');
    const first = numbers[0]!;
    assert.ok(first > 1, `the oldest lines went with the removed rotated files (first kept: ${first})`);
    assertContiguous(numbers, first, LINES, 'kubectl logs');

    assert.equal((await k(['-n', NS, 'logs', 'chatty', '--tail=2'])).stdout, `${lineOf(LINES)}\nLAST\n`);
    assert.equal((await k(['-n', NS, 'logs', 'chatty', '--limit-bytes=12'])).stdout, `line ${String(first).padStart(7, '0')}`);
    assert.equal((await k(['-n', NS, 'logs', 'chatty', '--since=1h'], { timeoutMs: 60_000 })).stdout, all.stdout);
    // Nothing was written in the last seconds (the container sleeps after LAST).
    await sleep(3000);
    assert.equal((await k(['-n', NS, 'logs', 'chatty', '--since=2s'])).stdout, '');
  });
});
