/**
 * A real node on the `process` runtime, end to end: `skiff server` (a child process, embedded agent, --runtime process)
 * driven by the real kubectl. Pods are host processes in per-pod namespaces and cgroups with CNI networking, so this
 * needs root (and util-linux, the CNI plugins in /usr/lib/cni); it skips otherwise, except under CI=true.
 *
 * Covered, each in its own it(): readiness probe (httpGet) and pod IP, hostPort and pod-to-pod; kill -9 of a container
 * process; a liveness probe turning to failure; OOMKilled; CrashLoopBackOff 10s then 20s; a Job; logs (-f --tail,
 * --previous, --timestamps); /stats/summary; exec (exit codes, stdin, runAsUser, SPDY); attach; kubectl run -i --rm;
 * port-forward (WebSocket and SPDY); cp both ways; ConfigMap update and a ConfigMap that appears late; a local-path PVC
 * across pods; the no-command error; kill -9 of skiff server (containers survive, the restarted agent re-adopts them,
 * and cleans up a pod deleted while it was down); namespace deletion leaves nothing behind.
 *
 * Everything the agent makes outlives it by design, so the after() hook hard-cleans (helpers/agent-cleanup.ts) whatever
 * the test did not delete itself. Mount points for the pods' volumes sit under a directory of the test's own: under
 * the process runtime the host's filesystem is the container's, so missing mount points are created on the host, and
 * removed again once the pods are gone (the namespace deletion checks that the directory is empty again).
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { containerCgroupDir, hardCleanAgent, pidsInCgroupTree, podLeftovers, podNetnsIds } from './helpers/agent-cleanup.js';
import { eventually } from './helpers/eventually.js';
import { pickFreeSubnet } from '../src/agent/network/network-testing.js';
import { applyFile, findKubectl, kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { spawnServer, waitExit, type ServerProcess } from './helpers/server-process.js';

const isRoot = process.getuid?.() === 0;
const prereqs = ['/usr/bin/unshare', '/usr/bin/nsenter', '/usr/lib/cni/bridge', '/usr/lib/cni/host-local', '/usr/lib/cni/loopback'];
function skipReason(): string | false {
  const k = kubectlSkip();
  if (k) return k;
  const missing = prereqs.filter((p) => !existsSync(p));
  let reason: string | false = false;
  if (!isRoot) reason = 'the process runtime needs root for pod namespaces, cgroups and CNI; skipping the process-runtime end-to-end test';
  else if (missing.length > 0) reason = `missing on this machine: ${missing.join(', ')}; skipping the process-runtime end-to-end test`;
  if (reason && process.env.CI === 'true') throw new Error(`${reason} (CI=true forbids skipping)`);
  return reason;
}

const suffix = randomBytes(3).toString('hex');
/** The web pod's hostPort (the portmap plugin's DNAT); NodePorts (30000-32767) stay clear. */
const HOST_PORT = 20000 + (randomBytes(2).readUInt16BE(0) % 10000);
const NODE = `e2e-proc-${suffix}`;
const NS = `e2e-proc-${suffix}`;

const run = promisify(execFile);

/** kubectlFor, with its discovery cache dir created inside `dir` (the helper never removes it; the data dir goes). */
function kubectlIn(dir: string, kubeconfig: string, minor?: string): Kubectl {
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  try {
    return kubectlFor(kubeconfig, minor);
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** GET http://host:port/path from the test process (the host), with a timeout. */
function httpGet(host: string, port: number, path: string, timeoutMs = 3000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET http://${host}:${port}${path} timed out`)));
    req.on('error', reject);
  });
}

/** Collects a child's stdout+stderr and resolves when `re` matches it (rejects on timeout or exit first). */
function waitForOutput(child: ChildProcess, re: RegExp, timeoutMs: number): Promise<{ match: RegExpExecArray; output: () => string }> {
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${re} in ${timeoutMs} ms; output: ${out}`)), timeoutMs);
    const onData = (c: Buffer) => {
      out += c.toString();
      const m = re.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ match: m, output: () => out });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before ${re}; output: ${out}`));
    });
  });
}

describe('process runtime end to end: skiff server with its embedded agent, real kubectl', { skip: skipReason() }, () => {
  let dataDir: string;
  let mnt: string;
  let server: ServerProcess | undefined;
  let k: Kubectl;
  let kubeconfig: string;
  /** A /24 of the test's own: other agents on this machine (parallel tests) default to 10.42.0.0/24, each on a bridge of its own. */
  let POD_CIDR: string;
  const podUids = new Set<string>();
  const children: ChildProcess[] = [];
  /** The crash pod's waiting messages as a watch saw them, from its creation on (the back-off steps pass by quickly). */
  const crashMessages: Array<{ at: number; text: string }> = [];
  /** Every server process's output, for SKIFF_E2E_SERVER_LOG=<file> (debugging a failure). */
  const outputs: Array<() => string> = [];

  // The cluster CIDR is the node's one /24, so its bridge does not collide with other agents on this machine.
  const serverArgs = () => ['--data-dir', dataDir, '--node-name', NODE, '--runtime', 'process', '--cluster-cidr', POD_CIDR, '--kubelet-port', '0', '--https-listen-port', '0', '--bind-address', '127.0.0.1'];
  const startServer = async () => {
    server = await spawnServer(serverArgs(), 30_000, {}, { agent: true });
    outputs.push(server.output);
    // The server is ready before its node: wait for the agent's line (its recovery is done by then), fail at once if
    // the agent gave up or the process died.
    const s = server;
    const deadline = Date.now() + 30_000;
    while (!/skiff node ready/.test(s.output())) {
      if (/embedded node agent did not start/.test(s.output()) || s.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`the embedded node agent is not ready; server output:\n${s.output()}`);
      }
      await sleep(100);
    }
  };
  const stopServer = async () => {
    if (!server) return;
    const child = server.child;
    server = undefined;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await waitExit(child);
      clearTimeout(timer);
    }
  };

  const pod = (name: string) => k.json(['-n', NS, 'get', 'pod', name]);
  const podOf = async (label: string) => {
    const list = await k.json(['-n', NS, 'get', 'pods', '-l', label]);
    const running = list.items.filter((p: any) => !p.metadata.deletionTimestamp);
    assert.equal(running.length, 1, `one pod with ${label}, got ${list.items.map((p: any) => p.metadata.name).join(', ')}`);
    return running[0];
  };
  const events = async (name: string) => {
    const list = await k.json(['-n', NS, 'get', 'events']);
    return list.items.filter((e: any) => e.involvedObject?.name === name) as Array<{ reason: string; message: string; type: string; count?: number }>;
  };
  const status0 = (p: any) => p.status?.containerStatuses?.[0];
  const rememberPods = async () => {
    const list = await k.json(['-n', NS, 'get', 'pods']);
    for (const p of list.items) podUids.add(p.metadata.uid);
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'skiff-e2e-proc-'));
    mnt = mkdtempSync(join(tmpdir(), 'skiff-e2e-proc-mnt-'));
    // Mount points are paths on the host: the non-root container (tools, runAsUser 1000) must get through this one.
    chmodSync(mnt, 0o755);
    kubeconfig = join(dataDir, 'kubeconfig.yaml');
    POD_CIDR = await pickFreeSubnet(24);
    await startServer();
    k = kubectlIn(dataDir, kubeconfig);
    const node = await k.json(['get', 'node', NODE]);
    assert.equal(node.spec.podCIDR, POD_CIDR);

    const r = await k(['create', 'namespace', NS]);
    assert.equal(r.code, 0, r.stderr);
    await eventually('the default service account', async () => (await k(['-n', NS, 'get', 'serviceaccount', 'default'])).code === 0, 20_000);

    // Everything that takes a while starts at once; each it() below checks its part.
    const grace = 'terminationGracePeriodSeconds: 2';
    const web = `const http = require('http'); console.log('web starting');
setTimeout(() => http.createServer((q, s) => { console.log('GET ' + q.url); s.end('hello from ' + require('os').hostname()); }).listen(8080, () => console.log('listening on 8080')), 1000);`;
    await applyFile(
      k,
      dataDir,
      'pods.yaml',
      `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ${NS}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      ${grace}
      containers:
      - name: web
        image: node
        command: [node, -e, ${JSON.stringify(web)}]
        ports: [{containerPort: 8080, hostPort: ${HOST_PORT}}]
        readinessProbe:
          httpGet: {path: /ready, port: 8080}
          periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {name: live, namespace: ${NS}}
spec:
  ${grace}
  containers:
  - name: app
    image: busybox
    command: [sh, -c, "touch ${mnt}/live/healthy; echo alive; exec sleep 3600"]
    volumeMounts: [{name: probe, mountPath: ${mnt}/live}]
    # Two failures and a generous timeout: on a loaded machine one slow exec must not count as the file missing.
    livenessProbe:
      exec: {command: [test, -f, ${mnt}/live/healthy]}
      periodSeconds: 1
      timeoutSeconds: 5
      failureThreshold: 2
  volumes: [{name: probe, emptyDir: {}}]
---
apiVersion: v1
kind: Pod
metadata: {name: oom, namespace: ${NS}}
spec:
  ${grace}
  containers:
  - name: app
    image: node
    command: [node, -e, "const a = []; for (;;) a.push(Buffer.alloc(8 << 20, 1));"]
    resources: {limits: {memory: 64Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: crash, namespace: ${NS}}
spec:
  ${grace}
  containers:
  - name: app
    image: busybox
    command: [sh, -c, "echo crashing; exit 1"]
---
apiVersion: batch/v1
kind: Job
metadata: {name: once, namespace: ${NS}}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      ${grace}
      containers:
      - name: job
        image: busybox
        command: [sh, -c, "echo job done"]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: ${NS}}
data: {greeting: hello}
---
apiVersion: v1
kind: Pod
metadata: {name: tools, namespace: ${NS}}
spec:
  ${grace}
  containers:
  - name: app
    image: busybox
    stdin: true
    securityContext: {runAsUser: 1000, runAsGroup: 1000}
    command: [sh, -c, "echo tools ready; while read line; do echo \\"got $line\\"; done; echo stdin closed; exec sleep 3600"]
    volumeMounts:
    - {name: cfg, mountPath: ${mnt}/cfg}
    - {name: scratch, mountPath: ${mnt}/scratch}
  volumes:
  - {name: cfg, configMap: {name: cfg}}
  - {name: scratch, emptyDir: {}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: ${NS}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 10Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: writer, namespace: ${NS}}
spec:
  ${grace}
  containers:
  - name: app
    image: busybox
    command: [sh, -c, "echo kept-${suffix} > ${mnt}/data/file && echo written && exec sleep 3600"]
    volumeMounts: [{name: data, mountPath: ${mnt}/data}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
---
apiVersion: v1
kind: Pod
metadata: {name: orphan, namespace: ${NS}}
spec:
  ${grace}
  containers:
  - name: app
    image: busybox
    command: [sleep, "3600"]
---
apiVersion: v1
kind: Pod
metadata: {name: noimage, namespace: ${NS}}
spec:
  ${grace}
  containers:
  - name: app
    image: nginx
`,
    );
    await rememberPods();
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
    if (server && k) {
      try {
        await rememberPods();
        await k(['delete', 'namespace', NS, '--ignore-not-found', '--timeout=40s'], { timeoutMs: 45_000 });
      } catch {
        // the hard clean below takes whatever is left
      }
    }
    await stopServer();
    if (process.env.SKIFF_E2E_SERVER_LOG) writeFileSync(process.env.SKIFF_E2E_SERVER_LOG, outputs.map((o, i) => `===== server process ${i + 1}\n${o()}`).join('\n'));
    const report = await hardCleanAgent({ dataDir, podUids, extraPaths: [mnt] });
    if (report.length > 0) console.log(`hard clean of ${dataDir}:\n  ${report.join('\n  ')}`);
  });

  it('an HTTP server Deployment becomes Ready through its readiness probe and answers on its pod IP', async () => {
    const r = await k(['-n', NS, 'wait', '--for=condition=available', 'deployment/web', '--timeout=30s'], { timeoutMs: 35_000 });
    assert.equal(r.code, 0, r.stderr);
    const p = await podOf('app=web');
    assert.equal(p.status.phase, 'Running');
    assert.equal(p.status.conditions.find((c: any) => c.type === 'Ready')?.status, 'True');
    assert.match(p.status.podIP, new RegExp(`^${POD_CIDR.replace(/0\/24$/, '').replace(/\./g, '\\.')}\\d+$`), 'a pod IP from the node podCIDR');
    assert.equal(p.status.qosClass, 'BestEffort');
    const res = await httpGet(p.status.podIP, 8080, '/');
    assert.equal(res.status, 200);
    assert.equal(res.body, `hello from ${p.metadata.name}`);
    // The probe is what made it Ready: the server saw the kubelet's GETs, and the first ones (before it listened) failed.
    const logs = await k(['-n', NS, 'logs', p.metadata.name]);
    assert.match(logs.stdout, /GET \/ready/);
    const ev = await events(p.metadata.name);
    assert.ok(ev.some((e) => e.reason === 'Unhealthy' && /Readiness probe failed/.test(e.message)), `a failed readiness probe before the server listened: ${JSON.stringify(ev)}`);
    assert.ok(ev.some((e) => e.reason === 'Started'));
    // The hostPort on the node's loopback (portmap's DNAT, snat for the node itself).
    assert.equal((await httpGet('127.0.0.1', HOST_PORT, '/via-host-port')).body, `hello from ${p.metadata.name}`);
    // Pod to pod over the bridge: from the tools pod's network namespace.
    await k(['-n', NS, 'wait', '--for=condition=ready', 'pod/tools', '--timeout=20s'], { timeoutMs: 25_000 });
    const tools = await pod('tools');
    assert.notEqual(tools.status.podIP, p.status.podIP);
    const get = await k(['-n', NS, 'exec', 'tools', '--', 'wget', '-q', '-O', '-', `http://${p.status.podIP}:8080/from-pod`]);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout, `hello from ${p.metadata.name}`);
  });

  it('kill -9 of the container process restarts it (restartCount 1) and it serves again', async () => {
    const p = await podOf('app=web');
    const before = status0(p);
    assert.equal(before.restartCount, 0);
    const dir = containerCgroupDir(p.metadata.uid, before.containerID);
    assert.ok(dir, `the container's cgroup for ${before.containerID}`);
    const pids = pidsInCgroupTree(dir);
    assert.ok(pids.length > 0, 'the container has processes');
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    const after = await eventually(
      'restartCount 1 and ready',
      async () => {
        const q = await pod(p.metadata.name);
        const s = status0(q);
        return s.restartCount === 1 && s.ready && s.state.running ? q : false;
      },
      30_000,
    );
    const s = status0(after);
    assert.notEqual(s.containerID, before.containerID, 'a new container');
    assert.equal(s.lastState.terminated.exitCode, 137);
    assert.equal(s.lastState.terminated.reason, 'Error');
    const res = await eventually('the restarted server answers', () => httpGet(after.status.podIP, 8080, '/'), 10_000);
    assert.equal(res.body, `hello from ${p.metadata.name}`);
  });

  it('a liveness probe that starts failing restarts the container, with Unhealthy and Killing events', async () => {
    const r0 = await k(['-n', NS, 'wait', '--for=condition=ready', 'pod/live', '--timeout=20s'], { timeoutMs: 25_000 });
    assert.equal(r0.code, 0, r0.stderr);
    assert.equal(status0(await pod('live')).restartCount, 0);
    const rm = await k(['-n', NS, 'exec', 'live', '--', 'rm', `${mnt}/live/healthy`]);
    assert.equal(rm.code, 0, rm.stderr);
    const p = await eventually(
      'the liveness restart',
      async () => {
        const q = await pod('live');
        return status0(q).restartCount >= 1 && status0(q).state.running ? q : false;
      },
      20_000,
    );
    // `exec sleep` is pid 1 of the container's own pid namespace and has no SIGTERM handler, so (as under runc) the
    // SIGTERM is ignored and the SIGKILL after the 2 s grace period ends it.
    assert.equal(status0(p).lastState.terminated.exitCode, 137, 'sleep (pid 1) ended by SIGKILL after the grace period');
    const ev = await events('live');
    assert.ok(ev.some((e) => e.reason === 'Unhealthy' && e.type === 'Warning' && /^Liveness probe failed/.test(e.message)), JSON.stringify(ev));
    assert.ok(ev.some((e) => e.reason === 'Killing' && e.message === 'Container app failed liveness probe, will be restarted'), JSON.stringify(ev));
    // The new container touched the file again: healthy, and not restarted once more.
    await sleep(2500);
    assert.equal(status0(await pod('live')).restartCount, 1);
  });

  it('a container over its memory limit is OOMKilled', async () => {
    const p = await eventually(
      'an OOMKilled termination',
      async () => {
        const q = await pod('oom');
        return status0(q)?.lastState?.terminated ? q : false;
      },
      30_000,
    );
    const s = status0(p);
    // restartPolicy Always: killed at the limit, restarted, and the kill is what lastState remembers.
    assert.ok(s.restartCount >= 1);
    const t = s.lastState.terminated;
    assert.equal(t.reason, 'OOMKilled');
    assert.equal(t.exitCode, 137);
    assert.equal(p.status.qosClass, 'Burstable');
  });

  it('a crash loop shows CrashLoopBackOff with growing delays (10s, then 20s)', async () => {
    // A watch started with the pod saw every step: first 10s, then 20s (kubelet's flowcontrol back-off).
    const backoffs = () =>
      crashMessages.flatMap((m) => {
        const delay = /^CrashLoopBackOff: back-off (\d+)s restarting failed container=app pod=crash_/.exec(m.text)?.[1];
        return delay ? [{ delay, at: m.at }] : [];
      });
    await eventually('back-off 20s in the waiting message', async () => backoffs().some((b) => b.delay === '20'), 35_000).catch((err) => {
      throw new Error(`${(err as Error).message}; messages seen: ${JSON.stringify(crashMessages)}`);
    });
    const [ten, twenty] = backoffs();
    assert.deepEqual([ten?.delay, twenty?.delay], ['10', '20'], JSON.stringify(crashMessages));
    // The 10 s back-off really held the container that long before the next attempt (which then crashed at once).
    assert.ok(twenty!.at - ten!.at >= 9_000, `${twenty!.at - ten!.at} ms between the 10s and the 20s back-off`);
    const second = await pod('crash');
    const s = status0(second);
    assert.equal(s.lastState.terminated.exitCode, 1);
    assert.ok(s.restartCount >= 2);
    assert.equal(s.lastState.terminated.reason, 'Error');
    const ev = await events('crash');
    const backoff = ev.find((e) => e.reason === 'BackOff');
    assert.ok(backoff, JSON.stringify(ev));
    assert.equal(backoff.message, 'Back-off restarting failed container app in pod crash_' + `${NS}(${second.metadata.uid})`);
    assert.equal(backoff.type, 'Warning');
    const logs = await k(['-n', NS, 'logs', 'crash', '--previous']);
    assert.equal(logs.code, 0, logs.stderr);
    assert.equal(logs.stdout, 'crashing\n');
  });

  it('a Job runs to completion', async () => {
    const r = await k(['-n', NS, 'wait', '--for=condition=complete', 'job/once', '--timeout=30s'], { timeoutMs: 35_000 });
    assert.equal(r.code, 0, r.stderr);
    const job = await k.json(['-n', NS, 'get', 'job', 'once']);
    assert.equal(job.status.succeeded, 1);
    const pods = await k.json(['-n', NS, 'get', 'pods', '-l', 'job-name=once']);
    assert.equal(pods.items.length, 1);
    const p = pods.items[0];
    podUids.add(p.metadata.uid);
    assert.equal(p.status.phase, 'Succeeded');
    assert.equal(status0(p).state.terminated.reason, 'Completed');
    assert.equal(status0(p).state.terminated.exitCode, 0);
    const logs = await k(['-n', NS, 'logs', 'job/once']);
    assert.equal(logs.stdout, 'job done\n');
    // A finished pod keeps its logs, not its processes: the sandbox (the namespace holder) is stopped too.
    await eventually('nothing runs in the finished pod', async () => podLeftovers([p.metadata.uid]).every((l) => !l.startsWith('process ')), 10_000).catch((err) => {
      throw new Error(`${(err as Error).message}\n  ${podLeftovers([p.metadata.uid]).join('\n  ')}`);
    });
  });

  it('logs: -f with --tail, and --previous after a restart', async () => {
    const p = await podOf('app=web');
    // web was killed once: its previous container's log has the start and the probes.
    const prev = await k(['-n', NS, 'logs', p.metadata.name, '--previous']);
    assert.equal(prev.code, 0, prev.stderr);
    assert.match(prev.stdout, /^web starting\nlistening on 8080\n/);
    const child = k.spawn(['-n', NS, 'logs', '-f', '--tail=1', p.metadata.name]);
    children.push(child);
    // The last line so far, then lines that arrive later (the readiness probe's GETs, every second).
    const { output } = await waitForOutput(child, /^[^\n]*\n[^\n]*\n[^\n]*\n/, 15_000);
    child.kill();
    const lines = output().split('\n');
    assert.ok(lines.slice(0, 3).every((l) => /^GET \//.test(l) || l === 'listening on 8080'), output());
    assert.ok(!output().includes('web starting'), '--tail=1 skips the start of the log');
    // --timestamps: each line prefixed with its RFC 3339 time, as the CRI log file recorded it.
    const ts = await k(['-n', NS, 'logs', p.metadata.name, '--timestamps', '--tail=2']);
    assert.equal(ts.code, 0, ts.stderr);
    const tsLines = ts.stdout.trimEnd().split('\n');
    assert.equal(tsLines.length, 2, ts.stdout);
    for (const l of tsLines) assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z (GET \/|listening on 8080)/);
  });

  it("the node's /stats/summary (nodes/proxy to the agent) reports the pods' CPU and memory from their cgroups", async () => {
    const p = await podOf('app=web');
    const summary = JSON.parse((await k(['get', '--raw', `/api/v1/nodes/${NODE}/proxy/stats/summary`])).stdout);
    assert.equal(summary.node.nodeName, NODE);
    const stats = summary.pods.find((s: any) => s.podRef.uid === p.metadata.uid);
    assert.ok(stats, `the web pod in ${JSON.stringify(summary.pods.map((s: any) => s.podRef.name))}`);
    assert.deepEqual(stats.podRef, { name: p.metadata.name, namespace: NS, uid: p.metadata.uid });
    const c = stats.containers.find((x: any) => x.name === 'web');
    assert.ok(c.cpu.usageCoreNanoSeconds > 0, JSON.stringify(c.cpu));
    assert.ok(c.memory.workingSetBytes > 1 << 20, JSON.stringify(c.memory));
    assert.ok(stats.memory.workingSetBytes >= c.memory.workingSetBytes);
  });

  it('exec propagates exit codes and stdin; attach reaches the container', async () => {
    // The pod's hostname, and the container's user (runAsUser), not root.
    const ok = await k(['-n', NS, 'exec', 'tools', '--', 'sh', '-c', 'echo $HOSTNAME; hostname; id -u; id -g']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'tools\ntools\n1000\n1000\n');
    const three = await k(['-n', NS, 'exec', 'tools', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.equal(three.code, 3);
    assert.equal(three.stdout, 'out\n');
    assert.match(three.stderr, /^err\n/);
    const input = await k(['-n', NS, 'exec', '-i', 'tools', '--', 'sh', '-c', 'tr a-z A-Z'], { input: 'through stdin\n' });
    assert.equal(input.code, 0, input.stderr);
    assert.equal(input.stdout, 'THROUGH STDIN\n');
    const missing = await k(['-n', NS, 'exec', 'tools', '--', 'no-such-command-skiff']);
    assert.notEqual(missing.code, 0);
    // kubectl 1.30 execs over SPDY/3.1 (remotecommand v4): the same exit code and stdin.
    if (findKubectl('30')) {
      const old = kubectlIn(dataDir, kubeconfig, '30');
      const spdy = await old(['-n', NS, 'exec', '-i', 'tools', '--', 'sh', '-c', 'cat; exit 5'], { input: 'over spdy\n' });
      assert.equal(spdy.code, 5, spdy.stderr);
      assert.equal(spdy.stdout, 'over spdy\n');
    }

    // attach -i: our line reaches the container's stdin and its answer comes back.
    const child = spawn(k.bin, ['--kubeconfig', kubeconfig, '-n', NS, 'attach', '-i', 'tools', '-c', 'app'], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(child);
    const answered = waitForOutput(child, /got hello attach/, 15_000);
    // kubectl needs a moment to set the streams up; lines sent before that are lost, so repeat until one gets through.
    const timer = setInterval(() => child.stdin!.write('hello attach\n'), 500);
    try {
      await answered;
    } finally {
      clearInterval(timer);
      child.kill();
    }
    const logs = await k(['-n', NS, 'logs', 'tools']);
    assert.match(logs.stdout, /^tools ready\n(got hello attach\n)+/);
  });

  it('kubectl run -i --rm --restart=Never: stdin reaches the container, its exit code comes back, the pod is gone', async () => {
    const r = await k(['-n', NS, 'run', 'once-i', '-i', '--rm', '--restart=Never', '--image=busybox', '--command', '--', 'sh', '-c', 'read x; echo "got $x"; exit 4'], {
      input: 'hello run\n',
      timeoutMs: 40_000,
    });
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stdout, /^got hello run\n/m);
    assert.match(r.stdout + r.stderr, /pod "once-i" deleted/);
    const gone = await k(['-n', NS, 'get', 'pod', 'once-i', '--ignore-not-found', '-o', 'name']);
    assert.equal(gone.stdout, '');
  });

  // kubectl 1.31+ tunnels port-forward over WebSocket, 1.30 speaks SPDY/3.1. The server closes each connection after
  // its answer (Node's client sends Connection: close): that end must not be reported as a forwarding error.
  for (const minor of [undefined, '30']) {
    const label = minor ? `kubectl 1.${minor} (SPDY)` : 'kubectl (WebSocket)';
    it(`port-forward reaches the pod: ${label}`, { skip: minor && !findKubectl(minor) ? `kubectl.1.${minor} is not installed` : false }, async () => {
      const p = await podOf('app=web');
      const bin = minor ? findKubectl(minor)! : k.bin;
      const child = spawn(bin, ['--kubeconfig', kubeconfig, '-n', NS, 'port-forward', `pod/${p.metadata.name}`, ':8080'], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      let output = () => '';
      try {
        const forwarding = await waitForOutput(child, /Forwarding from 127\.0\.0\.1:(\d+) -> 8080/, 15_000);
        output = forwarding.output;
        const port = Number(forwarding.match[1]);
        for (const path of ['/a', '/b', '/c', '/d', '/e']) {
          const res = await httpGet('127.0.0.1', port, path, 5000);
          assert.equal(res.status, 200);
          assert.equal(res.body, `hello from ${p.metadata.name}`);
        }
        assert.doesNotMatch(output(), /error|lost connection/i);
      } finally {
        child.kill();
      }
    });
  }

  it('cp works both ways (tar runs in the container)', async () => {
    const local = join(dataDir, 'cp-in.txt');
    writeFileSync(local, `to the pod ${suffix}\n`);
    const up = await k(['-n', NS, 'cp', local, `tools:${mnt}/scratch/in.txt`, '-c', 'app']);
    assert.equal(up.code, 0, up.stderr);
    const cat = await k(['-n', NS, 'exec', 'tools', '--', 'cat', `${mnt}/scratch/in.txt`]);
    assert.equal(cat.stdout, `to the pod ${suffix}\n`);
    const w = await k(['-n', NS, 'exec', 'tools', '--', 'sh', '-c', `mkdir -p ${mnt}/scratch/dir && echo from the pod > ${mnt}/scratch/dir/out.txt`]);
    assert.equal(w.code, 0, w.stderr);
    const down = join(dataDir, 'cp-out');
    const r = await k(['-n', NS, 'cp', `tools:${mnt}/scratch/dir`, down, '-c', 'app']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(down, 'out.txt'), 'utf8'), 'from the pod\n');
  });

  it('a ConfigMap update shows in the mounted volume', async () => {
    const before = await k(['-n', NS, 'exec', 'tools', '--', 'cat', `${mnt}/cfg/greeting`]);
    assert.equal(before.stdout, 'hello');
    const patch = await k(['-n', NS, 'patch', 'configmap', 'cfg', '--type', 'merge', '-p', '{"data":{"greeting":"bonjour","added":"new key"}}']);
    assert.equal(patch.code, 0, patch.stderr);
    await eventually(
      'the new contents in the container',
      async () => (await k(['-n', NS, 'exec', 'tools', '--', 'cat', `${mnt}/cfg/greeting`, `${mnt}/cfg/added`])).stdout === 'bonjournew key',
      30_000,
    );
    // kubelet's atomic writer: the keys are links into ..data, swapped at once.
    const ls = await k(['-n', NS, 'exec', 'tools', '--', 'readlink', `${mnt}/cfg/greeting`]);
    assert.equal(ls.stdout, '..data/greeting\n');
  });

  it('a pod whose ConfigMap is missing waits in ContainerCreating with FailedMount, and starts once it exists', async () => {
    await applyFile(
      k,
      dataDir,
      'late.yaml',
      `apiVersion: v1
kind: Pod
metadata: {name: late, namespace: ${NS}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: app
    image: busybox
    command: [sh, -c, "cat ${mnt}/late/key; echo; exec sleep 3600"]
    volumeMounts: [{name: late, mountPath: ${mnt}/late}]
  volumes: [{name: late, configMap: {name: late}}]
`,
    );
    podUids.add((await pod('late')).metadata.uid);
    const ev = await eventually('FailedMount', async () => (await events('late')).find((e) => e.reason === 'FailedMount'), 15_000);
    assert.equal(ev.type, 'Warning');
    assert.equal(ev.message, 'MountVolume.SetUp failed for volume "late" : configmap "late" not found');
    const waiting = await pod('late');
    assert.equal(waiting.status.phase, 'Pending');
    assert.equal(status0(waiting).state.waiting.reason, 'ContainerCreating');
    const c = await k(['-n', NS, 'create', 'configmap', 'late', '--from-literal=key=arrived']);
    assert.equal(c.code, 0, c.stderr);
    const r = await k(['-n', NS, 'wait', '--for=condition=ready', 'pod/late', '--timeout=30s'], { timeoutMs: 35_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await eventually('its output', async () => (await k(['-n', NS, 'logs', 'late'])).stdout || false)), 'arrived\n');
  });

  it('a local-path PVC keeps its data across pod deletion', async () => {
    const r = await k(['-n', NS, 'wait', '--for=condition=ready', 'pod/writer', '--timeout=30s'], { timeoutMs: 35_000 });
    assert.equal(r.code, 0, r.stderr);
    const pvc = await k.json(['-n', NS, 'get', 'pvc', 'data']);
    assert.equal(pvc.status.phase, 'Bound');
    assert.equal(pvc.spec.storageClassName, 'local-path', 'the default StorageClass');
    const pv = await k.json(['get', 'pv', pvc.spec.volumeName]);
    assert.equal(pv.spec.storageClassName, 'local-path');
    assert.deepEqual(pv.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values, [NODE]);
    const writer = await pod('writer');
    podUids.add(writer.metadata.uid);
    const del = await k(['-n', NS, 'delete', 'pod', 'writer', '--timeout=30s'], { timeoutMs: 35_000 });
    assert.equal(del.code, 0, del.stderr);
    await applyFile(
      k,
      dataDir,
      'reader.yaml',
      `apiVersion: v1
kind: Pod
metadata: {name: reader, namespace: ${NS}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: app
    image: busybox
    command: [sh, -c, "cat ${mnt}/data/file; exec sleep 3600"]
    volumeMounts: [{name: data, mountPath: ${mnt}/data}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
`,
    );
    const w = await k(['-n', NS, 'wait', '--for=condition=ready', 'pod/reader', '--timeout=30s'], { timeoutMs: 35_000 });
    assert.equal(w.code, 0, w.stderr);
    podUids.add((await pod('reader')).metadata.uid);
    const logs = await eventually('the reader printed the file', async () => {
      const l = await k(['-n', NS, 'logs', 'reader']);
      return l.stdout || false;
    });
    assert.equal(logs, `kept-${suffix}\n`);
  });

  it('a container without command gets CreateContainerConfigError naming the cri runtime', async () => {
    const p = await eventually(
      'CreateContainerConfigError',
      async () => {
        const q = await pod('noimage');
        return status0(q)?.state?.waiting?.reason === 'CreateContainerConfigError' ? q : false;
      },
      20_000,
    );
    assert.equal(p.status.phase, 'Pending');
    assert.match(status0(p).state.waiting.message, /--runtime cri/);
    assert.match(status0(p).state.waiting.message, /nginx/);
  });

  it('kill -9 of skiff server leaves the containers running, and a restarted server re-adopts them', async () => {
    const p = await podOf('app=web');
    const s = status0(p);
    const dir = containerCgroupDir(p.metadata.uid, s.containerID);
    assert.ok(dir);
    const pids = pidsInCgroupTree(dir);
    const live = status0(await pod('live'));

    const child = server!.child;
    child.kill('SIGKILL');
    await waitExit(child);
    server = undefined;
    // The containers do not notice: same processes, still serving on the pod IP.
    for (const pid of pids) assert.ok(existsSync(`/proc/${pid}`), `container process ${pid} survives the server`);
    assert.equal((await httpGet(p.status.podIP, 8080, '/')).body, `hello from ${p.metadata.name}`);

    await startServer();
    // Recovery is done before the node-ready line; give the pod workers a relist or two to act on what they found,
    // and the readiness probe (every second) time to report the adopted container ready.
    await sleep(2000);
    const q = await eventually('the adopted container ready', async () => {
      const r = await pod(p.metadata.name);
      return status0(r).ready ? r : false;
    }, 15_000);
    const t = status0(q);
    assert.equal(t.containerID, s.containerID, 'the same container');
    assert.equal(t.restartCount, s.restartCount, 'restartCount unchanged');
    assert.equal(t.state.running.startedAt, s.state.running.startedAt);
    assert.deepEqual(pidsInCgroupTree(dir), pids, 'the same processes');
    const l = status0(await pod('live'));
    assert.equal(l.containerID, live.containerID);
    assert.equal(l.restartCount, live.restartCount);
    // The new agent serves exec for the adopted container.
    const e = await k(['-n', NS, 'exec', p.metadata.name, '--', 'sh', '-c', 'exit 7']);
    assert.equal(e.code, 7, e.stderr);
  });

  it('a pod deleted while its node was down is cleaned up by the restarted agent', async () => {
    const o = await pod('orphan');
    assert.equal(status0(o).ready, true);
    const uid = o.metadata.uid as string;
    const netns = podNetnsIds(uid);
    assert.equal(netns.size, 1, 'the pod has its own network namespace');
    const child = server!.child;
    child.kill('SIGKILL');
    await waitExit(child);
    server = undefined;
    // The control plane alone (no agent): the pod object goes, its processes stay, nobody on the node knows yet.
    server = await spawnServer(['--data-dir', dataDir, '--https-listen-port', '0', '--bind-address', '127.0.0.1'], 30_000);
    outputs.push(server.output);
    const del = await k(['-n', NS, 'delete', 'pod', 'orphan', '--grace-period=0', '--force']);
    assert.equal(del.code, 0, del.stderr);
    await stopServer();
    assert.ok(podLeftovers([uid], netns).some((l) => l.startsWith('process ')), 'the orphan still runs while no agent is there');
    await startServer();
    await eventually('the orphan gone', async () => podLeftovers([uid], netns).length === 0, 15_000).catch((err) => {
      throw new Error(`${(err as Error).message}\n  ${podLeftovers([uid], netns).join('\n  ')}`);
    });
    // The others were adopted, not killed.
    assert.equal(status0(await pod('live')).state.running !== undefined, true);
  });

  it('deleting the namespace leaves no process, cgroup, mount or network namespace behind', async (t) => {
    await rememberPods();
    const podIPs = (await k.json(['-n', NS, 'get', 'pods'])).items.map((q: any) => q.status.podIP).filter(Boolean) as string[];
    const uids = [...podUids];
    const netns = new Set<string>();
    for (const uid of uids) for (const ns of podNetnsIds(uid)) netns.add(ns);
    assert.ok(netns.size >= 3, `the running pods have network namespaces of their own (${[...netns].join(', ')})`);
    assert.ok(podLeftovers(uids, netns).length > 0, 'the check sees the running pods');
    const podNatRules = async () => {
      const nat = (await run('iptables', ['-w', '5', '-t', 'nat', '-S'], { maxBuffer: 256 * 1024 * 1024 })).stdout.split('\n');
      return nat.filter((l) => podIPs.some((ip) => new RegExp(`\\b${ip.replace(/\./g, '\\.')}\\b`).test(l)) || l.includes(`--dport ${HOST_PORT} `));
    };
    assert.ok((await podNatRules()).length > 0, 'the check sees the running pods\' NAT rules');
    const started = Date.now();
    const r = await k(['delete', 'namespace', NS, '--timeout=60s'], { timeoutMs: 65_000 });
    assert.equal(r.code, 0, r.stderr);
    t.diagnostic(`kubectl delete namespace took ${Date.now() - started} ms`);
    await eventually('nothing left of the pods', async () => podLeftovers(uids, netns).length === 0, 15_000).catch((err) => {
      throw new Error(`${(err as Error).message}\n  ${podLeftovers(uids, netns).join('\n  ')}`);
    });
    // No address lease (host-local keeps one file per IP), no NAT rule naming a pod (hostPort DNAT, masquerade), no log
    // directory (/var/log/pods/<ns>_<name>_<uid>; the kubelet removes it just after the pod object is gone).
    const leases = join(dataDir, 'agent', 'cni', 'ipam', 'skiff');
    const remaining = async () => [
      ...(existsSync(leases) ? readdirSync(leases).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)) : []).map((f) => `address lease ${f}`),
      ...(await podNatRules()).map((l) => `NAT rule ${l}`),
      ...readdirSync('/var/log/pods').filter((d) => d.startsWith(`${NS}_`)).map((d) => `log directory /var/log/pods/${d}`),
    ];
    await eventually('no lease, NAT rule or log directory left', async () => (await remaining()).length === 0, 15_000).catch(async (err) => {
      throw new Error(`${(err as Error).message}\n  ${(await remaining()).join('\n  ')}`);
    });
    // And the local-path volume's data went with its claim (reclaim policy Delete).
    await eventually('the local-path data removed', async () => !existsSync(join(dataDir, 'storage')) || readdirSync(join(dataDir, 'storage')).length === 0, 15_000);
    // The mount points the runtime had to make on the host for the pods' volumes (all below mnt) went with the pods.
    await eventually('no mount point left on the host', async () => readdirSync(mnt).length === 0, 15_000).catch(() => {
      throw new Error(`mount points left on the host: ${readdirSync(mnt, { recursive: true }).join(', ')}`);
    });
  });
});

