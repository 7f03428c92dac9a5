/**
 * End to end on a real node with the `cri` runtime: `skiff server --runtime cri` (embedded agent, skiff's own
 * containerd, CNI bridge), images built here and served by a registry on loopback (plain HTTP through
 * registries.yaml), driven by the real kubectl. Asserts on JSON. Run from dist/ (it spawns bin/skiff):
 *   npx tsc -p tsconfig.json && node --test dist/test/agent-cri.e2e.test.js
 * Needs root, containerd, runc, CNI plugins, busybox-static, docker-registry, skopeo and kubectl; skips with the
 * reason otherwise (fails under CI=true). Everything the node made is removed at the end, also after a failure.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { pickFreeSubnet } from '../src/agent/network/network-testing.js';
import { containerdMissing } from '../src/agent/runtime/cri/cri-test-env.js';
import { waitNodeReady } from './helpers/agent-server.js';
import { skipIfMissing } from './helpers/e2e-prereqs.js';
import { eventually } from './helpers/eventually.js';
import { kubectlFor, type Kubectl } from './helpers/kubectl.js';
import { deleteNamespaceAndLeftovers } from './helpers/namespace-teardown.js';
import { criTasks, hardCleanNode, type CriTask } from './helpers/node-leftovers.js';
import { buildTestImage } from './helpers/oci-image.js';
import { registryMissing, startRegistry, type TestRegistry } from './helpers/registry.js';
import { spawnServer, stopChild, waitExit, type ServerProcess } from './helpers/server-process.js';

const execFileAsync = promisify(execFile);

const skipReason = () => skipIfMissing(containerdMissing() ?? registryMissing());

const NS = 'cri-e2e';
const INDEX = 'hello from the skiff e2e image\n';

describe('a real node on the cri runtime, driven by kubectl', { skip: skipReason() }, () => {
  let dir: string;
  let registry: TestRegistry | undefined;
  let server: ServerProcess | undefined;
  let k: Kubectl;
  let app: string;
  let nodeName: string;
  let clusterCidr: string;
  let serverArgs: string[];
  const seenUids = new Set<string>();

  const pods = async (selector: string) => (await k.json(['get', 'pods', '-n', NS, '-l', selector])).items as any[];
  const remember = (list: any[]) => list.forEach((p) => seenUids.add(p.metadata.uid));
  const apply = async (obj: object) => {
    const r = await k(['apply', '-f', '-'], { input: JSON.stringify(obj) });
    assert.equal(r.code, 0, r.stderr);
  };
  const pod = (name: string, spec: object, labels: Record<string, string> = {}) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels: { test: name, ...labels } },
    spec: { terminationGracePeriodSeconds: 2, ...spec },
  });
  const waitingReason = async (name: string, reasons: string[], timeoutMs = 30_000) =>
    eventually(`pod ${name} waiting with ${reasons.join(' or ')}`, async () => {
      const p = await k.json(['get', 'pod', '-n', NS, name]);
      seenUids.add(p.metadata.uid);
      const w = p.status?.containerStatuses?.[0]?.state?.waiting;
      return w && reasons.includes(w.reason) ? w : undefined;
    }, timeoutMs);

  before(async () => {
    const suffix = randomBytes(3).toString('hex');
    // Short: containerd's socket path must stay under 108 bytes.
    dir = await mkdtemp(`/tmp/ske-${suffix}-`);
    nodeName = `cri-${suffix}`;
    // A cluster CIDR of our own (one node: one /24) that no route on this machine overlaps: other clusters here hand
    // out 10.42.0.0/24 on their own bridges, and the host (probes, port-forward) would route our pods to theirs.
    clusterCidr = await pickFreeSubnet(24);
    registry = await startRegistry();
    const built = await buildTestImage('docker.io/skiff-e2e/app:v1', { Cmd: ['/bin/sh', '-c', 'echo started; exec httpd -f -p 8080 -h /www'] }, [
      { path: 'www', type: 'dir', mode: 0o755 },
      { path: 'www/index.html', type: 'file', mode: 0o644, data: Buffer.from(INDEX) },
    ]);
    const archive = join(dir, 'app.tar');
    await writeFile(archive, built.archive);
    app = await registry.push(archive, 'skiff-e2e/app:v1');
    await rm(archive);
    // k3s's recipe for a plain-HTTP registry: a mirror of itself with an http:// endpoint.
    const registriesFile = join(dir, 'registries.yaml');
    await writeFile(registriesFile, `mirrors:\n  "${registry.host}":\n    endpoint: ["http://${registry.host}"]\n`);
    serverArgs = ['--data-dir', dir, '--https-listen-port', '0', '--kubelet-port', '0', '--runtime', 'cri', '--node-name', nodeName, '--cluster-cidr', clusterCidr, '--private-registry', registriesFile];
    server = await spawnServer(serverArgs, 60_000, {}, { agent: true });
    k = kubectlFor(join(dir, 'kubeconfig.yaml'));
    await waitNodeReady(k, nodeName, 60_000);
    const r = await k(['create', 'namespace', NS]);
    assert.equal(r.code, 0, r.stderr);
  });

  after(async () => {
    try {
      if (server && server.child.exitCode === null && server.child.signalCode === null) {
        // Pods first, through the node, so it tears down what it made; then the server (and its containerd).
        await k(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=40s'], { timeoutMs: 50_000 });
        await stopChild(server.child);
      }
    } finally {
      if (dir) await hardCleanNode(dir, [...seenUids]);
      await registry?.stop();
    }
  });

  test('a Deployment from the loopback registry becomes Ready through its readiness probe', async () => {
    await apply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: NS },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            terminationGracePeriodSeconds: 2,
            containers: [
              {
                name: 'web',
                image: app,
                ports: [{ containerPort: 8080 }],
                readinessProbe: { httpGet: { path: '/index.html', port: 8080 }, periodSeconds: 1 },
              },
            ],
          },
        },
      },
    });
    const d = await eventually('deployment web available', async () => {
      const dep = await k.json(['get', 'deployment', '-n', NS, 'web']);
      return dep.status?.readyReplicas === 1 && dep.status?.availableReplicas === 1 ? dep : undefined;
    }, 60_000);
    assert.equal(d.status.readyReplicas, 1);
    const [p] = await pods('app=web');
    remember([p]);
    assert.equal(p.spec.nodeName, nodeName);
    const node = await k.json(['get', 'node', nodeName]);
    assert.equal(node.spec.podCIDR, clusterCidr);
    assert.ok(p.status.podIP.startsWith(clusterCidr.replace(/0\/24$/, '')), `pod IP ${p.status.podIP} from the node's podCIDR ${node.spec.podCIDR}`);
    const cs = p.status.containerStatuses[0];
    assert.equal(cs.ready, true);
    assert.equal(cs.image, app);
    assert.match(cs.imageID, /@sha256:[0-9a-f]{64}$/);
    assert.match(cs.containerID, /^containerd:\/\/[0-9a-f]{64}$/);
    const events = (await k.json(['get', 'events', '-n', NS, '--field-selector', `involvedObject.name=${p.metadata.name}`])).items.map((e: any) => e.reason);
    for (const reason of ['Pulling', 'Pulled', 'Created', 'Started']) assert.ok(events.includes(reason), `event ${reason} in ${events}`);
  });

  test('kubectl logs, exec exit codes and port-forward reach the container', async () => {
    const [p] = await pods('app=web');
    const logs = await k(['logs', '-n', NS, p.metadata.name]);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /^started$/m);
    const ok = await k(['exec', '-n', NS, p.metadata.name, '--', 'cat', '/www/index.html']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, INDEX);
    const fail = await k(['exec', '-n', NS, p.metadata.name, '--', 'sh', '-c', 'echo to-stderr >&2; exit 7']);
    assert.equal(fail.code, 7, `exit code of kubectl exec: ${fail.stderr}`);
    assert.match(fail.stderr, /to-stderr/);

    const pf = k.spawn(['port-forward', '-n', NS, `pod/${p.metadata.name}`, '0:8080']);
    try {
      let out = '';
      pf.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      pf.stderr!.on('data', (c: Buffer) => (out += c.toString()));
      const port = await eventually('port-forward listening', async () => /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out)?.[1], 15_000);
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/index.html`);
        assert.equal(res.status, 200);
        assert.equal(await res.text(), INDEX);
      }
    } finally {
      pf.kill('SIGTERM');
    }
  });

  test('kubectl cp copies a file into the container and back (busybox tar)', async () => {
    const [p] = await pods('app=web');
    const local = join(dir, 'cp-in.txt');
    const content = `copied ${randomBytes(8).toString('hex')}\n`;
    await writeFile(local, content);
    const up = await k(['cp', local, `${NS}/${p.metadata.name}:/tmp/cp-in.txt`], { timeoutMs: 20_000 });
    assert.equal(up.code, 0, `kubectl cp into the pod: ${up.stderr}`);
    const cat = await k(['exec', '-n', NS, p.metadata.name, '--', 'cat', '/tmp/cp-in.txt']);
    assert.equal(cat.stdout, content);
    const back = join(dir, 'cp-out.txt');
    const down = await k(['cp', `${NS}/${p.metadata.name}:/tmp/cp-in.txt`, back], { timeoutMs: 20_000 });
    assert.equal(down.code, 0, `kubectl cp out of the pod: ${down.stderr}`);
    assert.equal(await readFile(back, 'utf8'), content);
  });

  test('kill -9 of the container main process: restarted, restartCount 1, Ready again', async () => {
    const [p] = await pods('app=web');
    const id = p.status.containerStatuses[0].containerID.replace('containerd://', '');
    const pidFile = join(dir, 'agent', 'run', 'containerd', 'io.containerd.runtime.v2.task', 'k8s.io', id, 'init.pid');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(pid > 1, `init pid of container ${id}`);
    process.kill(pid, 'SIGKILL');
    const restarted = await eventually('restartCount 1 and Ready', async () => {
      const cur = await k.json(['get', 'pod', '-n', NS, p.metadata.name]);
      const cs = cur.status.containerStatuses[0];
      return cs.restartCount === 1 && cs.ready && cs.state.running ? cs : undefined;
    }, 45_000);
    assert.equal(restarted.lastState.terminated.exitCode, 137);
    assert.equal(restarted.lastState.terminated.containerID, `containerd://${id}`);
    assert.notEqual(restarted.containerID, `containerd://${id}`);
    const prev = await k(['logs', '-n', NS, p.metadata.name, '--previous']);
    assert.equal(prev.code, 0, prev.stderr);
    assert.match(prev.stdout, /^started$/m);
  });

  test('over its memory limit a container is OOMKilled', async () => {
    // tail keeps a line-less stream in memory: far past 16Mi.
    await apply(pod('oom', {
      restartPolicy: 'Never',
      containers: [{ name: 'hog', image: app, command: ['sh', '-c', 'head -c 200000000 /dev/zero | tail'], resources: { limits: { memory: '16Mi' } } }],
    }));
    const t = await eventually('oom pod terminated', async () => {
      const p = await k.json(['get', 'pod', '-n', NS, 'oom']);
      seenUids.add(p.metadata.uid);
      return p.status?.containerStatuses?.[0]?.state?.terminated;
    }, 45_000);
    assert.equal(t.reason, 'OOMKilled');
    assert.equal(t.exitCode, 137);
    assert.equal((await k.json(['get', 'pod', '-n', NS, 'oom'])).status.phase, 'Failed');
  });

  test('a Job runs to completion', async () => {
    await apply({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'once', namespace: NS },
      spec: { backoffLimit: 0, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'once', image: app, command: ['sh', '-c', 'echo job-done'] }] } } },
    });
    const job = await eventually('job complete', async () => {
      const j = await k.json(['get', 'job', '-n', NS, 'once']);
      return j.status?.conditions?.some((c: any) => c.type === 'Complete' && c.status === 'True') ? j : undefined;
    }, 45_000);
    assert.equal(job.status.succeeded, 1);
    const [p] = await pods('job-name=once');
    remember([p]);
    assert.equal(p.status.phase, 'Succeeded');
    assert.equal(p.status.containerStatuses[0].state.terminated.reason, 'Completed');
    const logs = await k(['logs', '-n', NS, p.metadata.name]);
    assert.equal(logs.stdout, 'job-done\n');
  });

  test('an image missing from the registry: ErrImagePull, then ImagePullBackOff, in the registry words', async () => {
    const missing = `${registry!.host}/skiff-e2e/missing:v1`;
    await apply(pod('nopull', { containers: [{ name: 'c', image: missing }] }));
    // ErrImagePull lasts until the next sync, which may come within a poll on a busy machine: the status is checked
    // when seen, and the events (which stay) say it happened either way.
    const first = await waitingReason('nopull', ['ErrImagePull', 'ImagePullBackOff'], 60_000);
    if (first.reason === 'ErrImagePull') {
      assert.match(first.message, /not found/i, first.message);
      assert.ok(first.message.includes(missing), first.message);
    }
    const backoff = await waitingReason('nopull', ['ImagePullBackOff']);
    assert.match(backoff.message, /Back-off pulling image/, backoff.message);
    const events = (await k.json(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=nopull'])).items;
    assert.ok(events.some((e: any) => e.reason === 'Failed' && /not found/i.test(e.message) && e.message.includes(missing)), 'a Failed event with the registry words');
    assert.ok(events.some((e: any) => e.reason === 'Failed' && e.message === 'Error: ErrImagePull'), 'the ErrImagePull event');
  });

  test('imagePullPolicy Never with an image that is not on the node: ErrImageNeverPull', async () => {
    await apply(pod('neverpull', { containers: [{ name: 'c', image: `${registry!.host}/skiff-e2e/absent:v1`, imagePullPolicy: 'Never' }] }));
    const w = await waitingReason('neverpull', ['ErrImageNeverPull']);
    assert.match(w.message, /imagePullPolicy|Never|not present/i, w.message);
  });

  test('containerd killed with -9: the supervisor restarts it, the agent survives and pods recover', async () => {
    const pidFile = join(dir, 'agent', 'containerd', 'containerd.pid');
    const oldPid = Number(readFileSync(pidFile, 'utf8'));
    process.kill(oldPid, 'SIGKILL');
    const newPid = await eventually('a new containerd', async () => {
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0;
      return pid > 0 && pid !== oldPid && existsSync(`/proc/${pid}`) ? pid : undefined;
    }, 20_000);
    assert.notEqual(newPid, oldPid);
    assert.equal(server!.child.exitCode, null, 'the server (and its agent) still runs');
    const [p] = await pods('app=web');
    const exec = await eventually('exec after the containerd restart', async () => {
      const r = await k(['exec', '-n', NS, p.metadata.name, '--', 'cat', '/www/index.html']);
      return r.code === 0 ? r : undefined;
    }, 30_000);
    assert.equal(exec.stdout, INDEX);
    // The same container kept running, and the node still starts new pods.
    const cur = await k.json(['get', 'pod', '-n', NS, p.metadata.name]);
    assert.equal(cur.status.containerStatuses[0].containerID, p.status.containerStatuses[0].containerID);
    assert.equal(cur.status.containerStatuses[0].restartCount, 1);
    await apply(pod('after-restart', { restartPolicy: 'Never', containers: [{ name: 'c', image: app, command: ['sh', '-c', 'echo fine'] }] }));
    const done = await eventually('a new pod runs after the containerd restart', async () => {
      const np = await k.json(['get', 'pod', '-n', NS, 'after-restart']);
      seenUids.add(np.metadata.uid);
      return np.status?.phase === 'Succeeded' ? np : undefined;
    }, 45_000);
    assert.equal(done.status.containerStatuses[0].state.terminated.exitCode, 0);
  });

  test('kubectl exec -i: stdin reaches the container and its end ends the command', async () => {
    const [p] = await pods('app=web');
    const r = await k(['exec', '-i', '-n', NS, p.metadata.name, '--', 'sh', '-c', 'cat; echo after-eof'], { input: 'line one\nline two\n', timeoutMs: 20_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'line one\nline two\nafter-eof\n');
  });

  test('kill -9 of skiff server (embedded agent): containers keep running, the restarted server adopts them', async () => {
    const [p] = await pods('app=web');
    const cs = p.status.containerStatuses[0];
    const id = cs.containerID.replace('containerd://', '');
    const pid = Number(readFileSync(join(dir, 'agent', 'run', 'containerd', 'io.containerd.runtime.v2.task', 'k8s.io', id, 'init.pid'), 'utf8'));
    const oldPort = (await k.json(['get', 'node', nodeName])).status.daemonEndpoints.kubeletEndpoint.Port;
    server!.child.kill('SIGKILL');
    await waitExit(server!.child);
    assert.ok(existsSync(`/proc/${pid}`), 'the container outlives the server');
    server = await spawnServer(serverArgs, 60_000, {}, { agent: true });
    // The pod's status still says what the killed agent last wrote: wait for the new agent (its API on a new port).
    await eventually('the restarted agent registered', async () => {
      const node = await k.json(['get', 'node', nodeName]);
      return node.status.daemonEndpoints.kubeletEndpoint.Port !== oldPort;
    }, 60_000);
    const after = await eventually('the pod Running and Ready under the restarted server', async () => {
      const cur = await k.json(['get', 'pod', '-n', NS, p.metadata.name]);
      const c = cur.status.containerStatuses?.[0];
      return c?.ready && c.state.running ? cur : undefined;
    }, 30_000);
    const c2 = after.status.containerStatuses[0];
    assert.equal(c2.containerID, cs.containerID, 'same container');
    assert.equal(c2.restartCount, cs.restartCount, 'restartCount unchanged');
    assert.ok(existsSync(`/proc/${pid}`), 'the same process');
    const exec = await eventually('exec through the restarted agent', async () => {
      const r = await k(['exec', '-n', NS, p.metadata.name, '--', 'cat', '/www/index.html']);
      return r.code === 0 ? r : undefined;
    }, 20_000);
    assert.equal(exec.stdout, INDEX);
  });

  test('deleting the namespace leaves no container, shim, mount, network namespace, cgroup or log directory behind', async (t) => {
    const all = (await k.json(['get', 'pods', '-n', NS])).items as any[];
    remember(all);
    const uids = all.map((p) => p.metadata.uid);
    assert.ok(uids.length >= 5, `pods in ${NS}: ${all.map((p) => p.metadata.name)}`);
    const before: CriTask[] = criTasks(dir).filter((t) => t.podNamespace === NS);
    assert.ok(before.some((t) => t.type === 'sandbox' && t.netns), 'the running pods have sandboxes with network namespaces');
    const { deleteMs, left } = await deleteNamespaceAndLeftovers(k, NS, dir, uids, before);
    // After the server restart above this includes the wait for the old controller-manager lease to expire (~15 s).
    t.diagnostic(`namespace deleted in ${deleteMs} ms`);
    assert.deepEqual(left, []);
  });
});
