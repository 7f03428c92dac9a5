/**
 * pods/proxy and services/proxy end to end: `skiff server` (a child process, embedded agent, --runtime process) runs
 * a pod with an HTTP and an HTTPS server (`node -e`), a Service selects it, and the real kubectl and
 * @kubernetes/client-node reach it through the API server:
 *   kubectl get --raw / create --raw on pods/NAME:PORT/proxy/..., services/NAME:PORTNAME/proxy/...,
 *   services/https:NAME:443/proxy/ (TLS to the pod, not verified, as upstream);
 *   kubectl proxy --port=0, then plain HTTP through it (GET, POST, the 301 of an empty proxy path, Status codes);
 *   refusals: a service without ready endpoints (503), a missing pod (404), a pod whose IP nobody answers on (503,
 *   within the dial timeout);
 *   client-node's connectGetNamespacedPodProxyWithPath and connectPostNamespacedServiceProxyWithPath.
 *
 * Needs root (pod namespaces, cgroups, CNI), like agent-process.e2e.test.ts; skips otherwise, except under CI=true.
 * The after() hook hard-cleans whatever the agent left (helpers/agent-cleanup.ts).
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { cleanUpAgentServer, createNamespace, startAgentServer } from './helpers/agent-server.js';
import { e2eSkipReason } from './helpers/e2e-prereqs.js';
import { eventually } from './helpers/eventually.js';
import { applyFile, kubectlFor, type Kubectl } from './helpers/kubectl.js';
import type { ServerProcess } from './helpers/server-process.js';

const skipReason = () =>
  e2eSkipReason({
    prereqs: ['/usr/bin/unshare', '/usr/bin/nsenter', '/usr/lib/cni/bridge', '/usr/lib/cni/host-local', '/usr/lib/cni/loopback'],
    notRoot: 'the process runtime needs root for pod namespaces, cgroups and CNI; skipping the pod/service proxy end-to-end test',
    what: 'the pod/service proxy end-to-end test',
  });

const suffix = randomBytes(3).toString('hex');
const NODE = `e2e-pxy-${suffix}`;
const NS = `e2e-pxy-${suffix}`;

/** An HTTP request through `kubectl proxy` (plain HTTP on loopback). */
function viaProxy(port: number, method: string, path: string, body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent: false, timeout: 20_000, headers: body === undefined ? {} : { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} through kubectl proxy: no answer within 20 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

describe('pods/proxy and services/proxy: skiff server with its embedded agent, real kubectl and client-node', { skip: skipReason() }, () => {
  let dataDir: string;
  let server: ServerProcess | undefined;
  let k: Kubectl;
  let kubeconfig: string;
  let proxyPort = 0;
  let ghostIP = '';
  const children: ChildProcess[] = [];
  const podUids = new Set<string>();

  const rememberPods = async () => {
    const list = await k.json(['-n', NS, 'get', 'pods']);
    for (const p of list.items) podUids.add(p.metadata.uid);
  };
  const raw = (path: string) => k(['get', '--raw', path]);
  const podPath = (name: string, rest: string) => `/api/v1/namespaces/${NS}/pods/${name}/proxy${rest}`;
  const svcPath = (name: string, rest: string) => `/api/v1/namespaces/${NS}/services/${name}/proxy${rest}`;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'skiff-e2e-pxy-'));
    kubeconfig = join(dataDir, 'kubeconfig.yaml');
    server = await startAgentServer(['--data-dir', dataDir, '--node-name', NODE, '--runtime', 'process', '--cluster-cidr', '10.63.0.0/16', '--kubelet-port', '0', '--https-listen-port', '0', '--bind-address', '127.0.0.1']);
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = dataDir;
    try {
      k = kubectlFor(kubeconfig);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    await createNamespace(k, NS);

    // Under the process runtime the pod sees the host's files: its HTTPS server borrows the API server's serving pair.
    const tls = join(dataDir, 'server', 'tls');
    const web = `const http = require('http'), https = require('https'), fs = require('fs');
const h = (q, s) => { let b = ''; q.on('data', (c) => (b += c)); q.on('end', () => { s.setHeader('Content-Type', 'application/json'); s.setHeader('X-Pod', require('os').hostname());
  s.end(JSON.stringify({ method: q.method, url: q.url, body: b, tls: !!q.socket.encrypted, auth: q.headers.authorization || null, fwd: q.headers['x-forwarded-uri'] || null })); }); };
http.createServer(h).listen(8080);
https.createServer({ cert: fs.readFileSync('${tls}/serving-kube-apiserver.crt'), key: fs.readFileSync('${tls}/serving-kube-apiserver.key') }, h).listen(8443);`;
    await applyFile(
      k,
      dataDir,
      'proxy.yaml',
      `
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: ${NS}, labels: {app: web}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: web
    image: node
    command: [node, -e, ${JSON.stringify(web)}]
    ports: [{name: http, containerPort: 8080}, {name: https, containerPort: 8443}]
    readinessProbe:
      httpGet: {path: /ready, port: 8080}
      periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ${NS}}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}, {name: https, port: 443, targetPort: https}]
---
apiVersion: v1
kind: Service
metadata: {name: lonely, namespace: ${NS}}
spec:
  selector: {app: nobody}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: ghost, namespace: ${NS}}
spec:
  nodeName: ghost-node-${suffix}
  containers: [{name: app, image: busybox}]
`,
    );
    await rememberPods();
    const ready = await k(['-n', NS, 'wait', '--for=condition=ready', 'pod/web', '--timeout=60s'], { timeoutMs: 65_000 });
    if (ready.code !== 0) {
      const describe = await k(['-n', NS, 'describe', 'pod', 'web']);
      const logs = await k(['-n', NS, 'logs', 'web']);
      assert.fail(`the web pod is not ready: ${ready.stderr}\n${describe.stdout}\nlogs:\n${logs.stdout}${logs.stderr}`);
    }
    // services/proxy reads the EndpointSlices: wait until the controller has put the ready pod in.
    await eventually(
      'the web service has a ready endpoint',
      async () => {
        const slices = await k.json(['-n', NS, 'get', 'endpointslices', '-l', 'kubernetes.io/service-name=web']);
        return slices.items.some((s: any) => (s.endpoints ?? []).some((e: any) => e.conditions?.ready === true));
      },
      30_000,
    );
    // The ghost pod is bound to a node nobody runs, with an address nobody answers on (as a simulated node's pods): an
    // unused one of this node's pod CIDR, on the node's bridge (other addresses may meet the machine's egress proxy).
    const podCIDR: string = (await k.json(['get', 'node', NODE])).spec.podCIDR;
    ghostIP = podCIDR.replace(/\.0\/24$/, '.250');
    assert.notEqual(ghostIP, podCIDR, `a /24 pod CIDR: ${podCIDR}`);
    const patched = await k(['-n', NS, 'patch', 'pod', 'ghost', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { podIP: ghostIP, podIPs: [{ ip: ghostIP }] } })]);
    assert.equal(patched.code, 0, patched.stderr);

    const kp = k.spawn(['proxy', '--port=0']);
    children.push(kp);
    proxyPort = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`kubectl proxy printed no port: ${out}`)), 15_000);
      kp.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /Starting to serve on 127\.0\.0\.1:(\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      kp.once('exit', (code) => reject(new Error(`kubectl proxy exited (${code}): ${out}`)));
    });
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    const s = server;
    server = undefined;
    await cleanUpAgentServer({ server: s, k, ns: NS, dataDir, podUids, deleteTimeoutS: 40 });
  });

  it('kubectl get --raw reaches the pod by port number, port name and the first declared port', async () => {
    for (const name of ['web:8080', 'web:http', 'web']) {
      const r = await raw(podPath(name, '/hello?x=1'));
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
      const got = JSON.parse(r.stdout);
      assert.deepEqual({ method: got.method, url: got.url, tls: got.tls, auth: got.auth }, { method: 'GET', url: '/hello?x=1', tls: false, auth: null }, name);
      assert.equal(got.fwd, `/api/v1/namespaces/${NS}/pods/${name}/proxy/hello`);
    }
  });

  it('kubectl create --raw POSTs a body through pods/proxy and services/proxy', async () => {
    const file = join(dataDir, 'body.txt');
    writeFileSync(file, 'hello pod');
    for (const path of [podPath('web:8080', '/echo'), svcPath('web:http', '/echo'), svcPath('web:80', '/echo')]) {
      const r = await k(['create', '--raw', path, '-f', file]);
      assert.equal(r.code, 0, `${path}: ${r.stderr}`);
      const got = JSON.parse(r.stdout);
      assert.deepEqual([got.method, got.url, got.body], ['POST', '/echo', 'hello pod'], path);
    }
  });

  it('services/proxy by port name, and https:NAME:443 to the pod over TLS (not verified, as upstream)', async () => {
    const plain = await raw(svcPath('web:http', '/svc'));
    assert.equal(plain.code, 0, plain.stderr);
    assert.deepEqual([JSON.parse(plain.stdout).url, JSON.parse(plain.stdout).tls], ['/svc', false]);
    const tls = await raw(svcPath('https:web:443', '/'));
    assert.equal(tls.code, 0, tls.stderr);
    assert.deepEqual([JSON.parse(tls.stdout).url, JSON.parse(tls.stdout).tls], ['/', true]);
    const podTls = await raw(podPath('https:web:8443', '/x'));
    assert.equal(podTls.code, 0, podTls.stderr);
    assert.equal(JSON.parse(podTls.stdout).tls, true);
  });

  it('kubectl proxy --port=0: GET, POST and the redirect of an empty proxy path through it', async () => {
    const get = await viaProxy(proxyPort, 'GET', podPath('web:8080', '/through/proxy?q=2'));
    assert.equal(get.status, 200, get.text);
    assert.equal(JSON.parse(get.text).url, '/through/proxy?q=2');
    assert.equal(get.headers['x-pod'], 'web');
    const post = await viaProxy(proxyPort, 'POST', svcPath('web:http', '/echo'), 'via kubectl proxy');
    assert.equal(post.status, 200, post.text);
    assert.deepEqual([JSON.parse(post.text).method, JSON.parse(post.text).body], ['POST', 'via kubectl proxy']);
    const root = await viaProxy(proxyPort, 'GET', svcPath('web:http', ''));
    assert.equal(root.status, 301);
    assert.equal(root.headers.location, `${svcPath('web:http', '')}/`);
  });

  it('a service without ready endpoints is a 503 in upstream words (its EndpointSlice is empty: the name alone)', async () => {
    const r = await raw(svcPath('lonely', '/'));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /ServiceUnavailable.*no endpoints available for service "lonely"/);
    const viaHttp = await viaProxy(proxyPort, 'GET', svcPath('lonely:http', '/'));
    assert.equal(viaHttp.status, 503);
    assert.deepEqual([JSON.parse(viaHttp.text).reason, JSON.parse(viaHttp.text).message], ['ServiceUnavailable', 'no endpoints available for service "lonely"']);
  });

  it('a missing pod is a 404; a pod whose IP nobody answers on is a 503 within the dial timeout', async () => {
    const missing = await raw(podPath('nope:8080', '/'));
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /NotFound.*pods "nope" not found/);
    const started = Date.now();
    const ghost = await viaProxy(proxyPort, 'GET', podPath('ghost:80', '/'));
    const took = Date.now() - started;
    assert.equal(ghost.status, 503, ghost.text);
    assert.equal(JSON.parse(ghost.text).reason, 'ServiceUnavailable');
    assert.match(JSON.parse(ghost.text).message, new RegExp(`^error trying to reach service: dial tcp ${ghostIP.replace(/\./g, '\\.')}:80: (i/o timeout|connect: no route to host)`));
    assert.ok(took < 10_000, `answered in ${took} ms`);
  });

  it('@kubernetes/client-node: connectGetNamespacedPodProxyWithPath and connectPostNamespacedServiceProxyWithPath', async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    // The client percent-encodes the name ("web%3A8080") and the path ("client%2Fnode"): the server decodes both.
    const got = await core.connectGetNamespacedPodProxyWithPath({ name: 'web:8080', namespace: NS, path: 'client/node' });
    const body = typeof got === 'string' ? JSON.parse(got) : got;
    assert.deepEqual([body.method, body.url], ['GET', '/client/node']);
    const posted = await core.connectPostNamespacedServiceProxyWithPath({ name: 'web:http', namespace: NS, path: 'from-client' });
    const pbody = typeof posted === 'string' ? JSON.parse(posted) : posted;
    assert.deepEqual([pbody.method, pbody.url], ['POST', '/from-client']);
  });
});
