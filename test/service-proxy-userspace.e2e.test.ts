/**
 * The userspace service proxy end to end: `skiff server` with its embedded agent on the process runtime, driven by the
 * real kubectl, `--proxy-mode userspace`.
 *
 * As root (the set-up of test/service-proxy.e2e.test.ts): a 3-replica HTTP Deployment behind Services; the ClusterIP
 * from another pod and from the node reaches all three pods through the agent's relay (REDIRECT portals); a pod that
 * turns unready leaves the rotation within 2 s; the NodePort answers on the node address; sessionAffinity ClientIP
 * sticks; hairpin; a UDP Service answers a pod; a Service without endpoints refuses at once; a restart after kill -9
 * replaces the portal chains whole, a clean stop leaves no rule of ours, and a restart in iptables mode removes them.
 *
 * Without root (the server run by setpriv as nobody, default proxy mode): the agent says it runs the userspace proxy
 * with NodePorts only and names the Services it cannot reach by ClusterIP; a NodePort Service in front of a pod (a host
 * process) answers on the node address.
 *
 * Ranges of its own: pods 10.93.0.0/16, Services 10.94.0.0/16, NodePorts 31500-31599.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { hardCleanAgent } from './helpers/agent-cleanup.js';
import { eventually } from './helpers/eventually.js';
import { applyFile, kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { spawnServer, waitExit, type ServerProcess } from './helpers/server-process.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const prereqs = ['/usr/bin/unshare', '/usr/bin/nsenter', '/usr/lib/cni/bridge', '/usr/lib/cni/host-local', '/usr/lib/cni/loopback', '/usr/sbin/iptables-restore', '/usr/bin/curl', '/usr/bin/setpriv'];
function skipReason(): string | false {
  const k = kubectlSkip();
  if (k) return k;
  const missing = prereqs.filter((p) => !existsSync(p));
  let reason: string | false = false;
  if (!isRoot) reason = 'the userspace proxy e2e test starts servers as root and as nobody: it needs root; skipping';
  else if (missing.length > 0) reason = `missing on this machine: ${missing.join(', ')}; skipping the userspace proxy end-to-end test`;
  if (reason && process.env.CI === 'true') throw new Error(`${reason} (CI=true forbids skipping)`);
  return reason;
}

const suffix = randomBytes(3).toString('hex');
const NODE = `e2e-usp-${suffix}`;
const NS = `e2e-usp-${suffix}`;
const NODE_PORT = 31550;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function httpGet(host: string, port: number, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: '/', timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET http://${host}:${port}/ timed out`)));
    req.on('error', reject);
  });
}

/** Our portal rules (both tables) and the jumps naming them. */
async function ourRules(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for (const table of ['nat', 'filter']) {
    const { stdout } = await run('iptables', ['-w', '5', '-t', table, '-S'], { maxBuffer: 256 * 1024 * 1024 });
    out.push(...stdout.split('\n').filter((l) => l.includes(`${prefix}-`)).map((l) => `${table}: ${l}`));
  }
  return out;
}

async function startNode(args: string[], prefix: string[] = [], env: Record<string, string> = {}): Promise<ServerProcess> {
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

async function stopNode(server: ServerProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!server) return;
  const child = server.child;
  if (child.exitCode === null && child.signalCode === null) {
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await waitExit(child);
    clearTimeout(timer);
  }
}

describe('userspace service proxy end to end as root: process runtime, real kubectl', { skip: skipReason() }, () => {
  let dataDir: string;
  let flagDir: string;
  let server: ServerProcess | undefined;
  let k: Kubectl;
  let prefix = '';
  let clusterIP = '';
  let affinityIP = '';
  let emptyIP = '';
  let udpIP = '';
  let nodeIP = '';
  const outputs: Array<() => string> = [];

  const serverArgs = (mode: string) => [
    '--data-dir', dataDir, '--node-name', NODE, '--runtime', 'process', '--kubelet-port', '0', '--https-listen-port', '0', '--bind-address', '127.0.0.1',
    '--cluster-cidr', '10.93.0.0/16', '--service-cidr', '10.94.0.0/16', '--service-node-port-range', '31500-31599', '--proxy-mode', mode, ...(process.env.SKIFF_E2E_SERVER_LOG ? ['--debug'] : []),
  ];
  const startServer = async (mode = 'userspace') => {
    server = await startNode(serverArgs(mode));
    outputs.push(server.output);
    const m = new RegExp(`service proxy: ${mode}, chains (SK[0-9a-f]{4})-`).exec(server.output());
    assert.ok(m, `the proxy announced its chains; output:\n${server.output()}`);
    prefix = m[1]!;
  };
  const stopServer = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const s = server;
    server = undefined;
    await stopNode(s, signal);
  };
  const curlFrom = async (pod: string, url: string, count: number) => {
    const script = `for i in $(seq ${count}); do curl -s -m 2 ${url} || echo "ERR$?"; echo; done`;
    const r = await k(['-n', NS, 'exec', pod, '--', 'sh', '-c', script], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split('\n').filter((l) => l.length > 0);
  };
  const webPods = async (): Promise<string[]> => {
    const list = await k.json(['-n', NS, 'get', 'pods', '-l', 'app=web']);
    return list.items.filter((p: any) => !p.metadata.deletionTimestamp).map((p: any) => p.metadata.name).sort();
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'skiff-e2e-usp-'));
    flagDir = join(dataDir, 'unready');
    mkdirSync(flagDir);
    await startServer();
    k = kubectlFor(join(dataDir, 'kubeconfig.yaml'));
    assert.equal((await k(['create', 'namespace', NS])).code, 0);
    await eventually('the default service account', async () => (await k(['-n', NS, 'get', 'serviceaccount', 'default'])).code === 0, 20_000);
    const web = `const http = require('http'), fs = require('fs'), os = require('os');
http.createServer((q, s) => { if (q.url === '/ready') { s.statusCode = fs.existsSync(${JSON.stringify(flagDir)} + '/' + os.hostname()) ? 503 : 200; return s.end(); } s.end(os.hostname()); }).listen(8080);`;
    const echo = `const s = require('dgram').createSocket('udp4'); s.on('message', (m, r) => s.send('pong ' + require('os').hostname() + ' ' + m, r.port, r.address)); s.bind(5353);`;
    await applyFile(
      k,
      dataDir,
      'app.yaml',
      `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ${NS}}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: node
        command: [node, -e, ${JSON.stringify(web)}]
        readinessProbe:
          httpGet: {path: /ready, port: 8080}
          periodSeconds: 1
          failureThreshold: 1
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: ${NS}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: client, image: busybox, command: [sleep, "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: udp-echo, namespace: ${NS}, labels: {app: udp-echo}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: echo, image: node, command: [node, -e, ${JSON.stringify(echo)}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ${NS}}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-np, namespace: ${NS}}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, nodePort: ${NODE_PORT}}]
---
apiVersion: v1
kind: Service
metadata: {name: sticky, namespace: ${NS}}
spec:
  selector: {app: web}
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: empty, namespace: ${NS}}
spec:
  selector: {app: nothing-matches}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: udp, namespace: ${NS}}
spec:
  selector: {app: udp-echo}
  ports: [{name: dns, port: 53, protocol: UDP, targetPort: 5353}]
`,
    );
    clusterIP = (await k.json(['-n', NS, 'get', 'service', 'web'])).spec.clusterIP;
    affinityIP = (await k.json(['-n', NS, 'get', 'service', 'sticky'])).spec.clusterIP;
    emptyIP = (await k.json(['-n', NS, 'get', 'service', 'empty'])).spec.clusterIP;
    udpIP = (await k.json(['-n', NS, 'get', 'service', 'udp'])).spec.clusterIP;
    const node = await k.json(['get', 'node', NODE]);
    nodeIP = node.status.addresses.find((a: any) => a.type === 'InternalIP').address;
    const r = await k(['-n', NS, 'wait', '--for=condition=available', 'deployment/web', '--timeout=60s'], { timeoutMs: 65_000 });
    assert.equal(r.code, 0, r.stderr);
    for (const pod of ['client', 'udp-echo']) assert.equal((await k(['-n', NS, 'wait', '--for=condition=ready', `pod/${pod}`, '--timeout=30s'], { timeoutMs: 35_000 })).code, 0);
    await eventually('three ready endpoints in the web EndpointSlice', async () => {
      const slices = await k.json(['-n', NS, 'get', 'endpointslices', '-l', 'kubernetes.io/service-name=web']);
      return slices.items.flatMap((sl: any) => sl.endpoints ?? []).filter((e: any) => e.conditions?.ready).length === 3;
    }, 30_000);
    await eventually('the proxy relays to the three endpoints', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 15; i++) seen.add(await httpGet(clusterIP, 80).then((r) => r.body, () => 'error'));
      return seen.size === 3 && !seen.has('error');
    }, 30_000);
  });

  after(async () => {
    if (server && k) await k(['delete', 'namespace', NS, '--ignore-not-found', '--timeout=30s'], { timeoutMs: 35_000 }).catch(() => undefined);
    await stopServer();
    if (process.env.SKIFF_E2E_SERVER_LOG) writeFileSync(process.env.SKIFF_E2E_SERVER_LOG, outputs.map((o, i) => `===== server process ${i + 1}\n${o()}`).join('\n'));
    if (prefix) {
      const { removeUserspaceRules } = await import('../src/proxy/userspace/userspace-proxier.js');
      await removeUserspaceRules(prefix).catch(() => undefined);
      const { removeIptablesRules } = await import('../src/proxy/iptables/iptables-proxier.js');
      await removeIptablesRules(prefix).catch(() => undefined);
    }
    const report = await hardCleanAgent({ dataDir });
    if (report.length > 0) console.log(`hard clean of ${dataDir}:\n  ${report.join('\n  ')}`);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('the ClusterIP from another pod reaches all three pods; the portals name only this cluster\'s ClusterIPs and REDIRECT to listening ports', async () => {
    assert.match(clusterIP, /^10\.94\./);
    const pods = await webPods();
    assert.equal(pods.length, 3);
    const answers: string[] = [];
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      answers.push(...(await curlFrom('client', `http://${clusterIP}/`, 15)));
      if (pods.every((p) => answers.includes(p))) break;
    }
    assert.deepEqual([...new Set(answers.filter((a) => !a.startsWith('ERR')))].sort(), pods, `answers: ${answers.join(', ')}`);
    const rules = await ourRules(prefix);
    const redirects = rules.filter((r) => r.includes('REDIRECT'));
    assert.ok(redirects.some((r) => r.includes(`-d ${clusterIP}/32`)), rules.join('\n'));
    for (const rule of rules) for (const ip of rule.match(/-d (\d+\.\d+\.\d+\.\d+)/g) ?? []) assert.match(ip, /^-d 10\.94\./, `a rule names an address outside the service CIDR: ${rule}`);
    const { stdout } = await run('ss', ['-Hltn']);
    for (const r of redirects.filter((x) => x.includes('-p tcp'))) {
      const port = /--to-ports (\d+)/.exec(r)![1];
      assert.match(stdout, new RegExp(`:${port}\\s`), `something listens on the REDIRECT target ${port}`);
    }
  });

  it('the node itself reaches the ClusterIP', async () => {
    const res = await httpGet(clusterIP, 80);
    assert.equal(res.status, 200);
    assert.ok((await webPods()).includes(res.body));
  });

  it('a pod that turns unready leaves the rotation within 2 s', async () => {
    const [victim] = await webPods();
    writeFileSync(join(flagDir, victim!), '');
    try {
      await eventually(`${victim} unready`, async () => (await k.json(['-n', NS, 'get', 'pod', victim!])).status.conditions?.find((c: any) => c.type === 'Ready')?.status === 'False', 15_000);
      const unreadyAt = performance.now();
      let clean = 0;
      let goneAt = 0;
      while (clean < 30) {
        const res = await httpGet(clusterIP, 80);
        if (res.body === victim) clean = 0;
        else if (clean++ === 0) goneAt = performance.now();
        assert.ok(performance.now() - unreadyAt < 10_000, 'the unready pod still answers after 10 s');
      }
      const ms = goneAt - unreadyAt;
      console.log(`unready pod out of rotation ${ms.toFixed(0)} ms after kubectl saw it unready`);
      assert.ok(ms <= 2000, `the unready pod left the rotation after ${ms.toFixed(0)} ms`);
    } finally {
      rmSync(join(flagDir, victim!), { force: true });
    }
    await eventually('all three pods back', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 30; i++) seen.add((await httpGet(clusterIP, 80)).body);
      return seen.size === 3;
    }, 15_000);
  });

  it('the NodePort answers on the node address, from the node and from a pod', async () => {
    const pods = await webPods();
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const res = await httpGet(nodeIP, NODE_PORT);
      assert.equal(res.status, 200);
      seen.add(res.body);
    }
    assert.deepEqual([...seen].sort(), pods, 'round robin reaches every pod');
    const answers = await curlFrom('client', `http://${nodeIP}:${NODE_PORT}/`, 5);
    for (const a of answers) assert.ok(pods.includes(a), `a pod reaches the NodePort too: ${answers.join(', ')}`);
  });

  it('sessionAffinity ClientIP sends one client to one pod', async () => {
    const answers = await curlFrom('client', `http://${affinityIP}/`, 20);
    assert.equal(new Set(answers).size, 1, `answers: ${answers.join(', ')}`);
    assert.ok((await webPods()).includes(answers[0]!));
  });

  it('hairpin: a pod reaches itself through its own Service', async () => {
    const [self] = await webPods();
    const answers = await curlFrom(self!, `http://${clusterIP}/`, 12);
    assert.ok(answers.every((a) => !a.startsWith('ERR')), `every request answered: ${answers.join(', ')}`);
    assert.ok(answers.includes(self!), `some requests reached the pod itself: ${answers.join(', ')}`);
  });

  it('a UDP Service answers a pod and the node, through the relay to the echo pod', async () => {
    const [from] = await webPods();
    const script = `const s = require('dgram').createSocket('udp4'); s.on('message', (m) => { console.log(m.toString()); process.exit(0); }); s.send('ping', 53, ${JSON.stringify(udpIP)}); setTimeout(() => { console.log('TIMEOUT'); process.exit(1); }, 3000);`;
    const answer = await eventually('a UDP answer', async () => {
      const r = await k(['-n', NS, 'exec', from!, '--', 'node', '-e', script], { timeoutMs: 20_000 });
      return r.code === 0 ? r.stdout.trim() : undefined;
    }, 20_000);
    assert.equal(answer, 'pong udp-echo ping');
    // From the node: the datagram is REDIRECTed to 127.0.0.1, and the answer must come back from there.
    const { default: dgram } = await import('node:dgram');
    const c = dgram.createSocket('udp4');
    try {
      const fromNode = await new Promise<string>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no UDP answer from the ClusterIP to the node')), 3000);
        c.once('message', (m, from) => {
          clearTimeout(t);
          // A resolver drops answers from any other address: the reply must appear to come from the ClusterIP.
          resolve(`${m.toString()} from ${from.address}:${from.port}`);
        });
        c.send('node', 53, udpIP);
      });
      assert.equal(fromNode, `pong udp-echo node from ${udpIP}:53`);
    } finally {
      c.close();
    }
  });

  it('a Service without endpoints refuses connections at once', async () => {
    const answers = await curlFrom('client', `http://${emptyIP}/`, 1);
    assert.deepEqual(answers, ['ERR7'], 'curl from a pod: connection refused (exit 7), not a timeout (28)');
    const t0 = performance.now();
    const err = await httpGet(emptyIP, 80).then(
      () => undefined,
      (e: NodeJS.ErrnoException) => e,
    );
    assert.equal(err?.code, 'ECONNREFUSED', `from the node: ${err?.message}`);
    assert.ok(performance.now() - t0 < 500);
  });

  it('a restart after kill -9 replaces the portal chains whole; a clean stop leaves no rule of ours; iptables mode after it removes the portals', async () => {
    const before = await ourRules(prefix);
    assert.ok(before.length > 8);
    await stopServer('SIGKILL');
    assert.deepEqual(await ourRules(prefix), before, 'the rules outlive a killed agent');
    await run('iptables', ['-w', '5', '-t', 'nat', '-A', `${prefix}-PORTALS-CONTAINER`, '-d', '10.94.255.254/32', '-p', 'tcp', '--dport', '9', '-m', 'comment', '--comment', 'stale', '-j', 'REDIRECT', '--to-ports', '9']);
    const oldPrefix = prefix;
    await startServer();
    assert.equal(prefix, oldPrefix);
    await eventually('the stale rule replaced', async () => !(await ourRules(prefix)).some((r) => /stale/.test(r)), 10_000);
    const jumps = (await ourRules(prefix)).filter((r) => /-A (PREROUTING|OUTPUT|FORWARD) /.test(r.slice(r.indexOf(' ') + 1)));
    assert.equal(jumps.length, 4, `one jump per hook: ${jumps.join('\n')}`);
    const answers = await eventually('the ClusterIP answers after the restart', async () => {
      const a = await curlFrom('client', `http://${clusterIP}/`, 6);
      return a.every((x) => !x.startsWith('ERR')) ? a : undefined;
    }, 20_000);
    assert.equal(answers.length, 6);

    await stopServer('SIGTERM');
    assert.deepEqual(await ourRules(prefix), [], 'no rule of ours after a clean stop');
    assert.equal((await run('ip', ['route', 'show', '10.94.0.0/16'])).stdout.trim(), '', 'the service CIDR route is gone');

    await startServer();
    await stopServer('SIGKILL');
    assert.ok((await ourRules(prefix)).some((r) => r.includes('PORTALS')));
    await startServer('iptables');
    assert.ok(!(await ourRules(prefix)).some((r) => r.includes('PORTALS')), 'the iptables mode removed the portals');
    await eventually('the iptables mode answers', async () => httpGet(clusterIP, 80).then((r) => r.status === 200, () => false), 15_000);
  });
});

describe('userspace service proxy without root: skiff server as nobody, NodePorts', { skip: skipReason() }, () => {
  const NOBODY = 65534;
  const PORT = 20000 + (randomBytes(2).readUInt16BE(0) % 10000);
  const NP = 31560;
  const ns = `${NS}-nr`;
  let dataDir: string;
  let server: ServerProcess | undefined;
  let k: Kubectl;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'skiff-e2e-usp-nr-'));
    chownSync(dataDir, NOBODY, NOBODY);
    const args = ['--data-dir', dataDir, '--node-name', `${NODE}-nr`, '--runtime', 'process', '--kubelet-port', '0', '--https-listen-port', '0', '--bind-address', '127.0.0.1', '--cluster-cidr', '10.93.0.0/16', '--service-cidr', '10.94.0.0/16', '--service-node-port-range', '31500-31599'];
    server = await startNode(args, ['/usr/bin/setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--'], { HOME: dataDir });
    k = kubectlFor(join(dataDir, 'kubeconfig.yaml'));
  });

  after(async () => {
    if (server && k) await k(['delete', 'namespace', ns, '--ignore-not-found', '--timeout=30s'], { timeoutMs: 35_000 }).catch(() => undefined);
    await stopNode(server);
    const report = await hardCleanAgent({ dataDir });
    if (report.length > 0) console.log(`hard clean of ${dataDir}:\n  ${report.join('\n  ')}`);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('the agent runs the userspace proxy by default, says ClusterIPs do not answer, and a NodePort Service answers on the node address', async () => {
    assert.match(server!.output(), /service proxy: userspace \(the default without root and iptables-restore\), NodePorts only \(not root/);
    assert.equal((await k(['create', 'namespace', ns])).code, 0);
    await eventually('the default service account', async () => (await k(['-n', ns, 'get', 'serviceaccount', 'default'])).code === 0, 20_000);
    const web = `require('http').createServer((q, s) => s.end('hello from ' + process.getuid())).listen(${PORT});`;
    await applyFile(
      k,
      dataDir,
      'np.yaml',
      `
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: ${ns}, labels: {app: web}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: web, image: node, command: [node, -e, ${JSON.stringify(web)}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ${ns}}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: ${PORT}, nodePort: ${NP}}]
`,
    );
    assert.equal((await k(['-n', ns, 'wait', '--for=condition=ready', 'pod/web', '--timeout=60s'], { timeoutMs: 65_000 })).code, 0);
    const node = await k.json(['get', 'node', `${NODE}-nr`]);
    const nodeIP = node.status.addresses.find((a: any) => a.type === 'InternalIP').address;
    const res = await eventually('the NodePort answers', async () => httpGet(nodeIP, NP).catch(() => undefined), 20_000);
    assert.equal(res.status, 200);
    assert.equal(res.body, `hello from ${NOBODY}`, 'the pod (a host process, as nobody) answered through the NodePort');
    await eventually('the warning naming the Service', async () => new RegExp(`not reachable by ClusterIP on this node: [^\\n]*${ns}/web`).test(server!.output()), 10_000);
    // The listener belongs to the agent process (nobody), not to a kernel rule.
    const { stdout } = await run('ss', ['-Hltnp', `sport = :${NP}`]);
    assert.match(stdout, new RegExp(`pid=${server!.child.pid}\\b`), stdout);
  });
});
