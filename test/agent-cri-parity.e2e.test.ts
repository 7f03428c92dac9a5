/**
 * The cri runtime's end-to-end cases that test/agent-process.e2e.test.ts covers and test/agent-cri.e2e.test.ts does
 * not: attach, a liveness probe restart, CrashLoopBackOff with a growing back-off, a ConfigMap update seen in the
 * container, a local-path PVC keeping its data across pod deletion, and namespace deletion leaving nothing behind once
 * those volumes were mounted. (OOMKilled is in agent-cri.e2e.test.ts.)
 *
 * One `skiff server --runtime cri` (embedded agent, skiff's own containerd, CNI bridge over --cluster-cidr
 * 10.64.0.0/16), one namespace, every pod created at once in before(); each test() checks its part. The busybox image
 * is built here and put in the air-gap directory (<data-dir>/agent/images/), so no registry is involved. Run from dist/:
 *   npx tsc -p tsconfig.json && node --test dist/test/agent-cri-parity.e2e.test.js
 * Needs root, containerd, runc, CNI plugins, busybox-static and kubectl; skips with the reason otherwise (fails under
 * CI=true). Everything the node made is removed at the end, also after a failure (helpers/node-leftovers.ts).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { containerdMissing } from '../src/agent/runtime/cri/cri-test-env.js';
import { createNamespace, waitNodeReady } from './helpers/agent-server.js';
import { skipIfMissing } from './helpers/e2e-prereqs.js';
import { eventually } from './helpers/eventually.js';
import { kubectlFor, type Kubectl } from './helpers/kubectl.js';
import { deleteNamespaceAndLeftovers } from './helpers/namespace-teardown.js';
import { criTasks, hardCleanNode, podLeftovers, type CriTask } from './helpers/node-leftovers.js';
import { busyboxMissing, writeTestImageArchive } from './helpers/oci-image.js';
import { spawnServer, stopChild, type ServerProcess } from './helpers/server-process.js';

const skipReason = () => skipIfMissing(containerdMissing() ?? busyboxMissing());

const CLUSTER_CIDR = '10.64.0.0/16';
const IMAGE = 'docker.io/skiff-e2e/parity:v1';
const NS = 'cri-parity';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('cri runtime parity with the process runtime, driven by kubectl', { skip: skipReason() }, () => {
  const suffix = randomBytes(3).toString('hex');
  const nodeName = `crip-${suffix}`;
  let dir: string;
  let server: ServerProcess | undefined;
  let k: Kubectl;
  const seenUids = new Set<string>();
  const children: ChildProcess[] = [];
  /** The crash pod's waiting messages as a watch saw them, from its creation on (the back-off steps pass quickly). */
  const crashMessages: Array<{ at: number; text: string }> = [];

  const pod = async (name: string) => {
    const p = await k.json(['get', 'pod', '-n', NS, name]);
    seenUids.add(p.metadata.uid);
    return p;
  };
  const status0 = (p: any) => p.status?.containerStatuses?.[0];
  const events = async (name: string) =>
    ((await k.json(['get', 'events', '-n', NS, '--field-selector', `involvedObject.name=${name}`])).items as any[]).map((e) => ({
      reason: e.reason as string,
      type: e.type as string,
      message: e.message as string,
    }));
  const apply = async (objs: object[]) => {
    const r = await k(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }) });
    assert.equal(r.code, 0, r.stderr);
  };
  const podObj = (name: string, spec: object) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS },
    spec: { terminationGracePeriodSeconds: 2, ...spec },
  });
  const waitReady = async (name: string) => {
    const r = await k(['-n', NS, 'wait', '--for=condition=ready', `pod/${name}`, '--timeout=60s'], { timeoutMs: 65_000 });
    assert.equal(r.code, 0, `pod ${name} ready: ${r.stderr}`);
  };

  before(async () => {
    // Short: containerd's socket path must stay under 108 bytes.
    dir = await mkdtemp(`/tmp/skp-${suffix}-`);
    const images = join(dir, 'agent', 'images');
    await mkdir(images, { recursive: true });
    await writeTestImageArchive(images, IMAGE, { Cmd: ['/bin/sh'] });
    const args = ['--data-dir', dir, '--https-listen-port', '0', '--kubelet-port', '0', '--bind-address', '127.0.0.1', '--runtime', 'cri', '--node-name', nodeName, '--cluster-cidr', CLUSTER_CIDR];
    server = await spawnServer(args, 60_000, {}, { agent: true });
    k = kubectlFor(join(dir, 'kubeconfig.yaml'));
    await waitNodeReady(k, nodeName, 60_000);
    await createNamespace(k, NS);

    // Everything that takes a while starts at once; each test() checks its part.
    await apply([
      podObj('crash', { containers: [{ name: 'app', image: IMAGE, command: ['sh', '-c', 'echo crashing; exit 1'] }] }),
      podObj('live', {
        containers: [
          {
            name: 'app',
            image: IMAGE,
            command: ['sh', '-c', 'touch /tmp/healthy; echo alive; exec sleep 3600'],
            // Two failures and a generous timeout: on a loaded machine one slow exec must not count as the file missing.
            livenessProbe: { exec: { command: ['test', '-f', '/tmp/healthy'] }, periodSeconds: 1, timeoutSeconds: 5, failureThreshold: 2 },
          },
        ],
      }),
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: NS }, data: { greeting: 'hello' } },
      podObj('tools', {
        containers: [
          {
            name: 'app',
            image: IMAGE,
            stdin: true,
            command: ['sh', '-c', 'echo tools ready; while read line; do echo "got $line"; done; echo stdin closed; exec sleep 3600'],
            volumeMounts: [{ name: 'cfg', mountPath: '/etc/cfg' }],
          },
        ],
        volumes: [{ name: 'cfg', configMap: { name: 'cfg' } }],
      }),
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: 'data', namespace: NS },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Mi' } } },
      },
      podObj('writer', {
        containers: [{ name: 'app', image: IMAGE, command: ['sh', '-c', `echo kept-${suffix} > /data/file && echo written && exec sleep 3600`], volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
        volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }],
      }),
    ]);
    const watch = k.spawn(['-n', NS, 'get', 'pod', 'crash', '--watch', '-o', 'jsonpath={.status.containerStatuses[0].state.waiting.reason}: {.status.containerStatuses[0].state.waiting.message}{"\\n"}']);
    children.push(watch);
    let partial = '';
    watch.stdout!.on('data', (c: Buffer) => {
      const lines = (partial + c.toString()).split('\n');
      partial = lines.pop()!;
      for (const l of lines) if (l !== ': ' && crashMessages.at(-1)?.text !== l) crashMessages.push({ at: Date.now(), text: l });
    });
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    try {
      if (server && server.child.exitCode === null && server.child.signalCode === null) {
        const r = await k(['-n', NS, 'get', 'pods', '-o', 'jsonpath={.items[*].metadata.uid}']).catch(() => undefined);
        for (const uid of r?.stdout.split(' ') ?? []) if (uid) seenUids.add(uid);
        // Pods first, through the node, so it tears down what it made; then the server (and its containerd).
        await k(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=40s'], { timeoutMs: 50_000 });
        await stopChild(server.child);
      }
    } finally {
      if (dir) await hardCleanNode(dir, [...seenUids]);
    }
  });

  test('kubectl attach -i: a line typed reaches the container main process, its answer comes back', async () => {
    await waitReady('tools');
    // Not k.spawn: its stdin is ignored, and attach -i needs one.
    const attach = spawn(k.bin, ['--kubeconfig', join(dir, 'kubeconfig.yaml'), '--cache-dir', join(dir, 'attach-cache'), '-n', NS, 'attach', '-i', 'tools', '-c', 'app'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.push(attach);
    let out = '';
    attach.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    attach.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    // kubectl needs a moment to set the streams up; lines sent before that are lost, so repeat until one gets through.
    const timer = setInterval(() => attach.stdin!.write('hello attach\n'), 500);
    try {
      await eventually('the answer through attach', async () => /got hello attach/.test(out), 20_000).catch((err) => {
        throw new Error(`${(err as Error).message}; kubectl attach said: ${out}`);
      });
    } finally {
      clearInterval(timer);
      attach.kill();
    }
    const logs = await k(['-n', NS, 'logs', 'tools']);
    assert.match(logs.stdout, /^tools ready\n(got hello attach\n)+/);
    // Detaching leaves the container running.
    await sleep(500);
    const p = await pod('tools');
    assert.ok(status0(p).state.running, JSON.stringify(status0(p).state));
    assert.equal(status0(p).restartCount, 0);
  });

  test('a liveness probe that starts failing restarts the container, with Unhealthy and Killing events', async () => {
    await waitReady('live');
    assert.equal(status0(await pod('live')).restartCount, 0);
    const rm = await k(['-n', NS, 'exec', 'live', '--', 'rm', '/tmp/healthy']);
    assert.equal(rm.code, 0, rm.stderr);
    const p = await eventually('the liveness restart', async () => {
      const q = await pod('live');
      return status0(q).restartCount >= 1 && status0(q).state.running ? q : false;
    }, 30_000);
    // sleep is the container's PID 1: SIGTERM does not end it, the SIGKILL after the grace period does.
    assert.ok([137, 143].includes(status0(p).lastState.terminated.exitCode), JSON.stringify(status0(p).lastState));
    const ev = await events('live');
    assert.ok(ev.some((e) => e.reason === 'Unhealthy' && e.type === 'Warning' && /^Liveness probe failed/.test(e.message)), JSON.stringify(ev));
    assert.ok(ev.some((e) => e.reason === 'Killing' && e.message === 'Container app failed liveness probe, will be restarted'), JSON.stringify(ev));
    // The new container (a new writable layer) touched the file again: healthy, and not restarted once more.
    await sleep(2500);
    assert.equal(status0(await pod('live')).restartCount, 1);
  });

  test('a crash loop shows CrashLoopBackOff with growing delays (10s, then 20s)', async () => {
    const backoffs = () =>
      crashMessages.flatMap((m) => {
        const delay = /^CrashLoopBackOff: back-off (\d+)s restarting failed container=app pod=crash_/.exec(m.text)?.[1];
        return delay ? [{ delay, at: m.at }] : [];
      });
    await eventually('back-off 20s in the waiting message', async () => backoffs().some((b) => b.delay === '20'), 50_000).catch((err) => {
      throw new Error(`${(err as Error).message}; messages seen: ${JSON.stringify(crashMessages)}`);
    });
    const [ten, twenty] = backoffs();
    assert.deepEqual([ten?.delay, twenty?.delay], ['10', '20'], JSON.stringify(crashMessages));
    // The 10 s back-off really held the container that long before the next attempt (which then crashed at once).
    assert.ok(twenty!.at - ten!.at >= 9_000, `${twenty!.at - ten!.at} ms between the 10s and the 20s back-off`);
    const p = await pod('crash');
    const s = status0(p);
    assert.equal(s.lastState.terminated.exitCode, 1);
    assert.equal(s.lastState.terminated.reason, 'Error');
    assert.ok(s.restartCount >= 2, `restartCount ${s.restartCount}`);
    const ev = await events('crash');
    const backoff = ev.find((e) => e.reason === 'BackOff');
    assert.ok(backoff, JSON.stringify(ev));
    assert.equal(backoff.message, `Back-off restarting failed container app in pod crash_${NS}(${p.metadata.uid})`);
    assert.equal(backoff.type, 'Warning');
    const logs = await k(['-n', NS, 'logs', 'crash', '--previous']);
    assert.equal(logs.code, 0, logs.stderr);
    assert.equal(logs.stdout, 'crashing\n');
  });

  test('a ConfigMap update shows in the mounted volume', async (t) => {
    await waitReady('tools');
    const before = await k(['-n', NS, 'exec', 'tools', '--', 'cat', '/etc/cfg/greeting']);
    assert.equal(before.stdout, 'hello', before.stderr);
    const patch = await k(['-n', NS, 'patch', 'configmap', 'cfg', '--type', 'merge', '-p', '{"data":{"greeting":"bonjour","added":"new key"}}']);
    assert.equal(patch.code, 0, patch.stderr);
    const started = Date.now();
    await eventually('the new contents in the container', async () => (await k(['-n', NS, 'exec', 'tools', '--', 'cat', '/etc/cfg/greeting', '/etc/cfg/added'])).stdout === 'bonjournew key', 60_000);
    // kubelet's atomic writer: the keys are links into ..data, swapped at once (the bind mount shows the swap).
    const link = await k(['-n', NS, 'exec', 'tools', '--', 'readlink', '/etc/cfg/greeting']);
    assert.equal(link.stdout, '..data/greeting\n');
    t.diagnostic(`configmap update seen in the container after ${Date.now() - started} ms`);
  });

  test('a local-path PVC keeps its data across pod deletion', async () => {
    await waitReady('writer');
    const pvc = await k.json(['-n', NS, 'get', 'pvc', 'data']);
    assert.equal(pvc.status.phase, 'Bound');
    assert.equal(pvc.spec.storageClassName, 'local-path', 'the default StorageClass');
    const pv = await k.json(['get', 'pv', pvc.spec.volumeName]);
    assert.deepEqual(pv.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values, [nodeName]);
    await pod('writer');
    const del = await k(['-n', NS, 'delete', 'pod', 'writer', '--timeout=40s'], { timeoutMs: 45_000 });
    assert.equal(del.code, 0, del.stderr);
    await apply([
      podObj('reader', {
        containers: [{ name: 'app', image: IMAGE, command: ['sh', '-c', 'cat /data/file; exec sleep 3600'], volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
        volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }],
      }),
    ]);
    await waitReady('reader');
    await pod('reader');
    const logs = await eventually('the reader printed the file', async () => (await k(['-n', NS, 'logs', 'reader'])).stdout || false);
    assert.equal(logs, `kept-${suffix}\n`);
  });

  test('deleting the namespace leaves no container, shim, mount, network namespace, cgroup or log directory behind', async (t) => {
    const all = (await k.json(['get', 'pods', '-n', NS])).items as any[];
    for (const p of all) seenUids.add(p.metadata.uid);
    const uids = [...seenUids];
    const running: CriTask[] = criTasks(dir).filter((x) => x.podNamespace === NS);
    assert.ok(running.filter((x) => x.type === 'sandbox' && x.netns).length >= 4, `sandboxes with network namespaces: ${running.map((x) => x.podName)}`);
    assert.ok(podLeftovers(dir, uids, running).length > 0, 'the check sees the running pods');
    const { deleteMs, left } = await deleteNamespaceAndLeftovers(k, NS, dir, uids, running);
    t.diagnostic(`namespace deleted in ${deleteMs} ms`);
    assert.deepEqual(left, []);
    // And the local-path volume's data went with its claim (reclaim policy Delete).
    const storage = join(dir, 'storage');
    await eventually('the local-path data removed', async () => !existsSync(storage) || readdirSync(storage).length === 0, 20_000).catch(() => {
      throw new Error(`left in ${storage}: ${readdirSync(storage).join(', ')}`);
    });
  });
});
