/**
 * The `process` runtime's isolation and securityContext, end to end: `skiff server` (the dist binary, embedded agent,
 * --runtime process) driven by the real kubectl.
 *
 * As root (needs util-linux and the CNI plugins): capabilities (containerd's default set, add/drop, privileged, a
 * non-root user, allowPrivilegeEscalation: false) read from /proc/self/status by the container and by kubectl exec,
 * and used (NET_ADMIN); readOnlyRootFilesystem (EROFS on /, /tmp and /etc; emptyDir, /dev/shm and the termination log
 * writable; the pod's other container unaffected); a pid namespace per container, shareProcessNamespace, exec in the
 * container's namespace, kubectl debug --target, kill -9 of a container's pid 1 (restart, exit code 137); dnsPolicy None with dnsConfig and
 * dnsPolicy Default; deleting the namespace leaves nothing behind.
 *
 * Without root (the server run by setpriv as nobody): what README.md says of it, checked: a container runs as the
 * server's user with the host's network and hostname (an event says so; a second pod on the same port fails), logs,
 * exec, port-forward to the host's 127.0.0.1, memory limits not enforced, a securityContext it cannot honour refused with CreateContainerError, delete
 * stops the process.
 *
 * Every server here uses --cluster-cidr 10.61.0.0/16 (this test's own); after() hard-cleans what the agent leaves.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { containerCgroupDir, hardCleanAgent, pidsInCgroupTree, podLeftovers, podNetnsIds } from './helpers/agent-cleanup.js';
import { eventually } from './helpers/eventually.js';
import { applyFile, kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { spawnServer, waitExit, type ServerProcess } from './helpers/server-process.js';

const CLUSTER_CIDR = '10.61.0.0/16';
const isRoot = process.getuid?.() === 0;
const suffix = randomBytes(3).toString('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function skipReason(prereqs: string[], what: string): string | false {
  const k = kubectlSkip();
  if (k) return k;
  const missing = prereqs.filter((p) => !existsSync(p));
  let reason: string | false = false;
  if (!isRoot) reason = `${what} needs root; skipping`;
  else if (missing.length > 0) reason = `missing on this machine: ${missing.join(', ')}; skipping ${what}`;
  if (reason && process.env.CI === 'true') throw new Error(`${reason} (CI=true forbids skipping)`);
  return reason;
}

/** A server with its embedded agent on the process runtime; resolves once the node is ready. */
async function startNode(dataDir: string, node: string, prefix: string[] = [], env: Record<string, string> = {}): Promise<ServerProcess> {
  const args = ['--data-dir', dataDir, '--node-name', node, '--runtime', 'process', '--cluster-cidr', CLUSTER_CIDR, '--kubelet-port', '0', '--https-listen-port', '0', '--bind-address', '127.0.0.1'];
  const server = await spawnServer(args, 60_000, env, { agent: true, prefix });
  const deadline = Date.now() + 60_000;
  while (!/skiff node ready/.test(server.output())) {
    if (/embedded node agent did not start/.test(server.output()) || server.child.exitCode !== null || Date.now() > deadline) {
      server.child.kill('SIGKILL');
      throw new Error(`the embedded node agent is not ready; server output:\n${server.output()}`);
    }
    await sleep(100);
  }
  return server;
}

async function stopNode(server: ServerProcess | undefined): Promise<void> {
  if (!server) return;
  const child = server.child;
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await waitExit(child);
    clearTimeout(timer);
  }
}

/** The Cap* and NoNewPrivs lines of a /proc/<pid>/status text. */
function statusFields(text: string): Record<string, string> {
  return Object.fromEntries([...text.matchAll(/^(Cap\w+|NoNewPrivs):\s*(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

/** Host pids whose environment has NAME=marker. */
function markedPids(marker: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'latin1').includes(`=${marker}\0`)) out.push(Number(name));
    } catch {
      // exited
    }
  }
  return out;
}

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, timeout: 3000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

const DEFAULT_CAPS = '00000000a80425fb';
const hex = (n: bigint) => n.toString(16).padStart(16, '0');

describe('process runtime isolation and securityContext as root, end to end', { skip: skipReason(['/usr/bin/unshare', '/usr/bin/nsenter', '/usr/bin/setpriv', '/usr/lib/cni/bridge'], 'the process-runtime security e2e test') }, () => {
  const NS = `e2e-psec-${suffix}`;
  let dataDir: string;
  let mnt: string;
  let server: ServerProcess | undefined;
  let k: Kubectl;
  const podUids = new Set<string>();

  const pod = (name: string) => k.json(['-n', NS, 'get', 'pod', name]);
  const exec = (name: string, container: string, cmd: string[]) => k(['-n', NS, 'exec', name, '-c', container, '--', ...cmd]);
  const running = (name: string) =>
    eventually(`pod ${name} running`, async () => {
      const p = await pod(name);
      podUids.add(p.metadata.uid);
      const all = (p.status?.containerStatuses ?? []) as Array<{ state?: { running?: unknown } }>;
      return all.length > 0 && all.every((c) => c.state?.running) ? p : undefined;
    }, 60_000);

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'skiff-e2e-psec-'));
    mnt = mkdtempSync(join(tmpdir(), 'skiff-e2e-psec-mnt-'));
    chmodSync(mnt, 0o755);
    server = await startNode(dataDir, `e2e-psec-${suffix}`);
    k = kubectlFor(join(dataDir, 'kubeconfig.yaml'));
    assert.equal((await k(['create', 'namespace', NS])).code, 0);
    await eventually('the default service account', async () => (await k(['-n', NS, 'get', 'serviceaccount', 'default'])).code === 0, 20_000);
    const status = `grep -E '^(Cap|NoNewPrivs)' /proc/self/status; exec sleep 3600`;
    const sleeper = (arg: string) => `[sleep, "${arg}"]`;
    await applyFile(
      k,
      dataDir,
      'pods.yaml',
      `
apiVersion: v1
kind: Pod
metadata: {name: caps, namespace: ${NS}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: default, image: busybox, command: [sh, -c, "${status}"]}
  - name: changed
    image: busybox
    command: [sh, -c, "${status}"]
    securityContext: {capabilities: {add: [NET_ADMIN], drop: [KILL, CAP_MKNOD]}, allowPrivilegeEscalation: false}
  - {name: privileged, image: busybox, command: [sh, -c, "${status}"], securityContext: {privileged: true}}
  - {name: user, image: busybox, command: [sh, -c, "${status}"], securityContext: {runAsUser: 1000, runAsGroup: 1000}}
---
apiVersion: v1
kind: Pod
metadata: {name: rofs, namespace: ${NS}}
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{name: scratch, emptyDir: {}}]
  containers:
  - name: ro
    image: busybox
    command: ${sleeper('3600')}
    securityContext: {readOnlyRootFilesystem: true}
    volumeMounts: [{name: scratch, mountPath: ${mnt}/scratch}]
  - {name: rw, image: busybox, command: ${sleeper('3600')}}
---
apiVersion: v1
kind: Pod
metadata: {name: pid-own, namespace: ${NS}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: a, image: busybox, command: ${sleeper('3601')}}
  - {name: b, image: busybox, command: ${sleeper('3602')}}
---
apiVersion: v1
kind: Pod
metadata: {name: pid-shared, namespace: ${NS}}
spec:
  terminationGracePeriodSeconds: 1
  shareProcessNamespace: true
  containers:
  - {name: a, image: busybox, command: ${sleeper('3603')}}
  - {name: b, image: busybox, command: ${sleeper('3604')}}
---
apiVersion: v1
kind: Pod
metadata: {name: dns-none, namespace: ${NS}}
spec:
  terminationGracePeriodSeconds: 1
  dnsPolicy: None
  dnsConfig:
    nameservers: [192.0.2.10, 192.0.2.11]
    searches: [a.example, b.example]
    options: [{name: ndots, value: "2"}, {name: edns0}]
  containers:
  - {name: c, image: busybox, command: ${sleeper('3600')}}
---
apiVersion: v1
kind: Pod
metadata: {name: dns-default, namespace: ${NS}}
spec:
  terminationGracePeriodSeconds: 1
  dnsPolicy: Default
  containers:
  - {name: c, image: busybox, command: ${sleeper('3600')}}
`,
    );
  });

  after(async () => {
    if (server && k) {
      try {
        for (const p of (await k.json(['-n', NS, 'get', 'pods'])).items) podUids.add(p.metadata.uid);
        await k(['delete', 'namespace', NS, '--ignore-not-found', '--timeout=40s'], { timeoutMs: 45_000 });
      } catch {
        // the hard clean below takes whatever is left
      }
    }
    await stopNode(server);
    const report = await hardCleanAgent({ dataDir, podUids, extraPaths: [mnt] });
    if (report.length > 0) console.log(`hard clean of ${dataDir}:\n  ${report.join('\n  ')}`);
  });

  it('capabilities: the default set, add/drop, privileged, a non-root user, no_new_privs; exec gets the container\'s', async () => {
    await running('caps');
    // Running says the process started, not that it has written its status yet (a loaded CI machine read an empty log).
    const logs = (c: string) => eventually(`container ${c} printed its status`, async () => {
      const f = statusFields((await k(['-n', NS, 'logs', 'caps', '-c', c])).stdout);
      return f.CapBnd !== undefined && f.NoNewPrivs !== undefined ? f : undefined;
    }, 20_000);
    const def = await logs('default');
    assert.equal(def.CapBnd, DEFAULT_CAPS);
    assert.equal(def.CapEff, DEFAULT_CAPS, 'root: effective = bounding, as under runc');
    assert.equal(def.NoNewPrivs, '0');
    const changed = await logs('changed');
    const want = hex((0xa80425fbn | (1n << 12n)) & ~(1n << 5n) & ~(1n << 27n));
    assert.equal(changed.CapBnd, want, 'NET_ADMIN added, KILL and CAP_MKNOD dropped');
    assert.equal(changed.CapEff, want);
    assert.equal(changed.NoNewPrivs, '1', 'allowPrivilegeEscalation: false');
    assert.equal((await logs('privileged')).CapBnd, statusFields(readFileSync('/proc/self/status', 'utf8')).CapBnd, 'privileged keeps every capability');
    const user = await logs('user');
    assert.equal(user.CapBnd, DEFAULT_CAPS);
    assert.equal(user.CapEff, '0000000000000000', 'a non-root user has no effective capabilities');

    // kubectl exec runs with the container's capabilities (runc exec), and they take effect.
    const viaExec = statusFields((await exec('caps', 'changed', ['grep', '-E', '^(Cap|NoNewPrivs)', '/proc/self/status'])).stdout);
    assert.equal(viaExec.CapEff, want);
    assert.equal(viaExec.NoNewPrivs, '1');
    const denied = await exec('caps', 'default', ['ip', 'link', 'set', 'lo', 'mtu', '65000']);
    assert.notEqual(denied.code, 0, 'no NET_ADMIN by default');
    assert.match(denied.stderr, /Operation not permitted/);
    const allowed = await exec('caps', 'changed', ['ip', 'link', 'set', 'lo', 'mtu', '65000']);
    assert.equal(allowed.code, 0, allowed.stderr);
  });

  it('readOnlyRootFilesystem: /, /tmp and /etc refuse writes; the emptyDir, /dev/shm and the termination log do not; the other container writes', async () => {
    await running('rofs');
    const probe = `skiff-e2e-rofs-${suffix}`;
    for (const dir of ['', '/tmp', '/etc']) {
      const r = await exec('rofs', 'ro', ['touch', `${dir}/${probe}`]);
      assert.notEqual(r.code, 0, `touch ${dir}/${probe} in the read-only container`);
      assert.match(r.stderr, /Read-only file system/);
      assert.ok(!existsSync(`${dir}/${probe}`));
    }
    const vol = await exec('rofs', 'ro', ['sh', '-c', `echo kept > ${mnt}/scratch/f && cat ${mnt}/scratch/f && echo x > /dev/shm/${probe} && rm /dev/shm/${probe} && echo bye > /dev/termination-log && echo ok`]);
    assert.equal(vol.stdout, 'kept\nok\n', vol.stderr);
    const rw = await exec('rofs', 'rw', ['sh', '-c', `touch /tmp/${probe} && rm /tmp/${probe} && echo wrote`]);
    assert.equal(rw.stdout, 'wrote\n', `the pod's other container keeps a writable root: ${rw.stderr}`);
  });

  it('a pid namespace per container, one for the pod with shareProcessNamespace; exec is inside it; debug --target joins it; kill -9 of pid 1 restarts with 137', async () => {
    const own = await running('pid-own');
    await running('pid-shared');
    const listing = ['sh', '-c', 'echo "self=$$"; for f in /proc/[0-9]*/cmdline; do tr "\\0" " " < "$f"; echo; done'];
    const a = await exec('pid-own', 'a', listing);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /sleep 3601/);
    assert.doesNotMatch(a.stdout, /sleep 3602/, 'the sibling container is not visible');
    assert.equal((await exec('pid-own', 'a', ['sh', '-c', 'tr "\\0" " " < /proc/1/cmdline'])).stdout.trim().split('/').at(-1), 'sleep 3601', 'pid 1 is the container\'s process');
    const shared = await exec('pid-shared', 'b', listing);
    assert.match(shared.stdout, /sleep 3603/, 'shareProcessNamespace: the sibling is visible');
    assert.match(shared.stdout, /sleep 3604/);

    // kubectl debug --target=a: the ephemeral container joins a's pid namespace.
    const dbg = await k(['-n', NS, 'debug', 'pid-own', '--image=busybox', '--target=a', '--container=dbg', '--', 'sh', '-c', 'for f in /proc/[0-9]*/cmdline; do tr "\\0" " " < "$f"; echo; done']);
    assert.equal(dbg.code, 0, dbg.stderr);
    const seen = await eventually('the debug container\'s listing', async () => {
      const r = await k(['-n', NS, 'logs', 'pid-own', '-c', 'dbg']);
      return r.code === 0 && r.stdout.includes('sleep') ? r.stdout : undefined;
    }, 30_000);
    assert.match(seen, /sleep 3601/, 'the target\'s process is visible');
    assert.doesNotMatch(seen, /sleep 3602/, 'the other container\'s is not');

    // kill -9 from the host of container a's process (pid 1 of its namespace): restarted, exit code 137; b untouched.
    const ids = Object.fromEntries((own.status.containerStatuses as Array<{ name: string; containerID: string }>).map((c) => [c.name, c.containerID]));
    const dir = containerCgroupDir(own.metadata.uid, ids.a!);
    assert.ok(dir, 'container a has a cgroup');
    const target = pidsInCgroupTree(dir).find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'latin1').endsWith('sleep\x003601\x00'));
    assert.ok(target, 'the sleep of container a');
    assert.match(readFileSync(`/proc/${target}/status`, 'utf8'), /NSpid:\s+\d+\s+1\n/);
    process.kill(target, 'SIGKILL');
    const restarted = await eventually('container a restarted', async () => {
      const p = await pod('pid-own');
      const s = (p.status.containerStatuses as any[]).find((c) => c.name === 'a');
      return s?.restartCount === 1 && s.state?.running ? { a: s, b: (p.status.containerStatuses as any[]).find((c) => c.name === 'b') } : undefined;
    }, 30_000);
    assert.equal(restarted.a.lastState.terminated.exitCode, 137);
    assert.equal(restarted.a.lastState.terminated.reason, 'Error');
    assert.equal(restarted.b.restartCount, 0);
  });

  it('dnsPolicy None with dnsConfig gives that resolv.conf; Default gives the node\'s', async () => {
    await running('dns-none');
    await running('dns-default');
    const none = await exec('dns-none', 'c', ['cat', '/etc/resolv.conf']);
    assert.equal(none.stdout, 'search a.example b.example\nnameserver 192.0.2.10\nnameserver 192.0.2.11\noptions ndots:2 edns0\n');
    const def = await exec('dns-default', 'c', ['cat', '/etc/resolv.conf']);
    assert.equal(def.stdout, readFileSync('/etc/resolv.conf', 'utf8'));
    assert.notEqual(readFileSync('/etc/resolv.conf', 'utf8'), none.stdout, 'the node keeps its own file');
  });

  it('deleting the namespace leaves no process, cgroup, mount, network namespace or pod state behind', async () => {
    const list = await k.json(['-n', NS, 'get', 'pods']);
    const uids = list.items.map((p: any) => p.metadata.uid as string);
    for (const uid of uids) podUids.add(uid);
    const netns = uids.flatMap((uid: string) => [...podNetnsIds(uid)]);
    assert.ok(podLeftovers(uids, netns).length > 0, 'the check sees the running pods');
    const r = await k(['delete', 'namespace', NS, '--timeout=60s'], { timeoutMs: 65_000 });
    assert.equal(r.code, 0, r.stderr);
    await eventually('nothing left of the pods', async () => podLeftovers(uids, netns).length === 0, 20_000).catch((err) => {
      throw new Error(`${(err as Error).message}\n  ${podLeftovers(uids, netns).join('\n  ')}`);
    });
    // The sandboxes' resolv.conf directories go with them.
    await eventually('no sandbox state', async () => readdirSync(join(dataDir, 'agent', 'process', 'sandboxes')).length === 0, 10_000);
  });
});

describe('process runtime without root: skiff server as nobody, end to end', { skip: skipReason(['/usr/bin/setpriv'], 'the non-root process-runtime e2e test (it starts the server as nobody)') }, () => {
  const NS = `e2e-pnr-${suffix}`;
  const NOBODY = 65534;
  const PORT = 20000 + (randomBytes(2).readUInt16BE(0) % 10000);
  const marker = `skiff-e2e-nonroot-${suffix}`;
  let dataDir: string;
  let out: string;
  let server: ServerProcess | undefined;
  let k: Kubectl;
  const children: ChildProcess[] = [];

  const pod = (name: string) => k.json(['-n', NS, 'get', 'pod', name]);

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'skiff-e2e-pnr-'));
    out = join(dataDir, 'out');
    mkdirSync(out);
    for (const d of [dataDir, out]) chownSync(d, NOBODY, NOBODY);
    server = await startNode(dataDir, `e2e-pnr-${suffix}`, ['/usr/bin/setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--'], { HOME: dataDir });
    k = kubectlFor(join(dataDir, 'kubeconfig.yaml'));
    assert.equal((await k(['create', 'namespace', NS])).code, 0);
    await eventually('the default service account', async () => (await k(['-n', NS, 'get', 'serviceaccount', 'default'])).code === 0, 20_000);
    const web = `require('fs').writeFileSync('${out}/hello.txt', process.getuid() + ' ' + require('os').hostname()); console.log('started as ' + process.getuid());
require('http').createServer((q, s) => s.end('hello from the host network')).listen(${PORT}, '127.0.0.1');`;
    await applyFile(
      k,
      dataDir,
      'pods.yaml',
      `
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: ${NS}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: web
    image: node
    command: [node, -e, ${JSON.stringify(web)}]
    env: [{name: SKIFF_E2E_MARKER, value: ${marker}}]
---
apiVersion: v1
kind: Pod
metadata: {name: hog, namespace: ${NS}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: hog
    image: node
    command: [node, -e, "globalThis.b = Buffer.alloc(96 * 1024 * 1024, 1); console.log('holding ' + b.length); setInterval(() => {}, 1000)"]
    resources: {limits: {memory: 32Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: other-user, namespace: ${NS}}
spec:
  containers:
  - {name: c, image: busybox, command: [sleep, "3600"], securityContext: {runAsUser: 1000}}
`,
    );
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    if (server && k) await k(['delete', 'namespace', NS, '--ignore-not-found', '--timeout=30s'], { timeoutMs: 35_000 }).catch(() => undefined);
    await stopNode(server);
    const report = await hardCleanAgent({ dataDir });
    if (report.length > 0) console.log(`hard clean of ${dataDir}:\n  ${report.join('\n  ')}`);
    for (const pid of markedPids(marker)) process.kill(pid, 'SIGKILL');
  });

  it('the server, its supervisor and the container run as nobody; the container writes its file with the host\'s hostname', async () => {
    const uidOf = (pid: number) => Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
    assert.equal(uidOf(server!.child.pid!), NOBODY);
    const shimPid = Number(readFileSync(join(dataDir, 'agent', 'process', 'shim.pid'), 'utf8'));
    assert.equal(uidOf(shimPid), NOBODY);
    const p = await eventually('web running', async () => {
      const w = await pod('web');
      return w.status?.containerStatuses?.[0]?.state?.running ? w : undefined;
    }, 60_000);
    const file = join(out, 'hello.txt');
    await eventually('the file the container writes', async () => existsSync(file) && readFileSync(file, 'utf8').length > 0, 20_000);
    assert.equal(statSync(file).uid, NOBODY);
    assert.equal(readFileSync(file, 'utf8'), `${NOBODY} ${hostname()}`, 'the host\'s hostname: no UTS namespace');
    // The host network: the pod's IP is the node's, and an event says why.
    assert.equal(p.status.podIP, p.status.hostIP);
    const events = (await k.json(['-n', NS, 'get', 'events'])).items.filter((e: any) => e.involvedObject?.name === 'web');
    assert.ok(events.some((e: any) => e.reason === 'HostNetworkFallback' && /root/.test(e.message)), JSON.stringify(events.map((e: any) => [e.reason, e.message])));
  });

  it('a second pod listening on the same port fails with EADDRINUSE: pods share the host\'s network', async () => {
    // Only once web holds the port (from the host: it is the host's), so the twin is the one that fails.
    assert.equal((await eventually('web on the host\'s port', async () => httpGet(PORT, '/'), 20_000)).body, 'hello from the host network');
    await applyFile(
      k,
      dataDir,
      'twin.yaml',
      `
apiVersion: v1
kind: Pod
metadata: {name: web-twin, namespace: ${NS}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: node
    command: [node, -e, "require('http').createServer().listen(${PORT}, '127.0.0.1')"]
`,
    );
    const twin = await eventually('web-twin failing', async () => {
      const s = (await pod('web-twin')).status?.containerStatuses?.[0];
      return s?.restartCount >= 1 || s?.state?.terminated ? s : undefined;
    }, 60_000);
    assert.notEqual((twin.lastState?.terminated ?? twin.state?.terminated)?.exitCode, 0);
    const logs = await k(['-n', NS, 'logs', 'web-twin', ...(twin.restartCount >= 1 ? ['--previous'] : [])]);
    assert.match(logs.stdout + logs.stderr, /EADDRINUSE/);
  });

  it('logs, exec (user and exit code) and port-forward to the host\'s 127.0.0.1 work', async () => {
    await eventually('the log line', async () => (await k(['-n', NS, 'logs', 'web'])).stdout.includes(`started as ${NOBODY}`), 20_000);
    const id = await k(['-n', NS, 'exec', 'web', '--', 'id', '-u']);
    assert.equal(id.stdout, `${NOBODY}\n`, id.stderr);
    assert.equal((await k(['-n', NS, 'exec', 'web', '--', 'sh', '-c', 'exit 3'])).code, 3);
    const local = 30000 + (randomBytes(2).readUInt16BE(0) % 2000);
    const pf = k.spawn(['-n', NS, 'port-forward', 'pod/web', `${local}:${PORT}`]);
    children.push(pf);
    const body = await eventually('the web pod through port-forward', async () => (await httpGet(local, '/')).body, 20_000);
    assert.equal(body, 'hello from the host network');
    pf.kill('SIGTERM');
  });

  it('a memory limit is not enforced (no cgroups); a securityContext it cannot honour is refused with CreateContainerError', async () => {
    const hog = await eventually('hog running', async () => {
      const h = await pod('hog');
      return h.status?.containerStatuses?.[0]?.state?.running ? h : undefined;
    }, 60_000);
    await eventually('hog holds its memory', async () => (await k(['-n', NS, 'logs', 'hog'])).stdout.includes('holding'), 20_000);
    await sleep(2000);
    const again = (await pod('hog')).status.containerStatuses[0];
    assert.equal(again.restartCount, 0, `96 MiB over a 32Mi limit, and not OOMKilled: ${JSON.stringify(again)}`);
    assert.ok(again.state.running);
    assert.equal(hog.metadata.name, 'hog');
    const waiting = await eventually('other-user refused', async () => {
      const s = (await pod('other-user')).status?.containerStatuses?.[0]?.state?.waiting;
      return s?.reason === 'CreateContainerError' ? s : undefined;
    }, 30_000);
    assert.match(waiting.message, /runAsUser 1000: the process runtime without root runs every container as its own user \(uid 65534/);
  });

  it('deleting the pod stops its process', async () => {
    assert.ok(markedPids(marker).length > 0, 'the web container runs');
    const r = await k(['-n', NS, 'delete', 'pod', 'web', '--timeout=30s'], { timeoutMs: 35_000 });
    assert.equal(r.code, 0, r.stderr);
    await eventually('the web process gone', async () => markedPids(marker).length === 0, 10_000);
  });
});
