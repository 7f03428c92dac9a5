/**
 * The built-in ingress end to end: `skiff server` (embedded agent, --runtime process) driven by the real kubectl, with
 * Deployments of one-line node HTTP servers behind Services and an Ingress of the default class `skiff`. Requests go
 * through the node's ingress ports with curl --resolve (as a user would), TLS certificates are checked by their CN.
 * Needs root (pod network namespaces, CNI); skips otherwise, except under CI=true.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { hardCleanAgent } from './helpers/agent-cleanup.js';
import { eventually } from './helpers/eventually.js';
import { applyFile, kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { spawnServer, waitExit, type ServerProcess } from './helpers/server-process.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const prereqs = ['/usr/bin/unshare', '/usr/bin/nsenter', '/usr/lib/cni/bridge', '/usr/lib/cni/host-local', '/usr/bin/openssl', '/usr/bin/curl'];
function skipReason(): string | false {
  const k = kubectlSkip();
  if (k) return k;
  const missing = prereqs.filter((p) => !existsSync(p));
  let reason: string | false = false;
  if (!isRoot) reason = 'the process runtime needs root for pod namespaces and CNI; skipping the ingress end-to-end test';
  else if (missing.length > 0) reason = `missing on this machine: ${missing.join(', ')}; skipping the ingress end-to-end test`;
  if (reason && process.env.CI === 'true') throw new Error(`${reason} (CI=true forbids skipping)`);
  return reason;
}

const suffix = randomBytes(3).toString('hex');
const NODE = `e2e-ing-${suffix}`;
const NS = `e2e-ing-${suffix}`;
const HTTP_PORT = 24000 + (randomBytes(2).readUInt16BE(0) % 1000) * 2;
const HTTPS_PORT = HTTP_PORT + 1;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Each pod answers with JSON: its Deployment's NAME, its pod name, the request as it arrived. */
const WEB = `require('http').createServer((q, s) => s.end(JSON.stringify({ name: process.env.NAME, pod: require('os').hostname(), url: q.url, host: q.headers.host, xff: q.headers['x-forwarded-for'], proto: q.headers['x-forwarded-proto'], xhost: q.headers['x-forwarded-host'] }))).listen(8080)`;

function deployment(name: string, replicas = 1): string {
  return `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${NS}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: node
        command: [node, -e, ${JSON.stringify(WEB)}]
        env: [{name: NAME, value: ${name}}]
        ports: [{name: web, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /ready, port: 8080}, periodSeconds: 1}
---`;
}

/** curl through the ingress, resolving `host` to the loopback address (the ingress listens on every address). */
async function curl(host: string, path: string, opts: { https?: boolean } = {}): Promise<{ status: number; body: string }> {
  const port = opts.https ? HTTPS_PORT : HTTP_PORT;
  const url = `${opts.https ? 'https' : 'http'}://${host}:${port}${path}`;
  const { stdout } = await run('curl', ['-sk', '--max-time', '5', '--resolve', `${host}:${port}:127.0.0.1`, '-w', '\n%{http_code}', url]);
  const nl = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(nl + 1)), body: stdout.slice(0, nl) };
}
async function curlJson(host: string, path: string, opts: { https?: boolean } = {}): Promise<any> {
  const r = await curl(host, path, opts);
  assert.equal(r.status, 200, `${host}${path}: ${r.status} ${r.body}`);
  return JSON.parse(r.body);
}

function peerCN(servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: HTTPS_PORT, servername, rejectUnauthorized: false }, () => {
      const cn = s.getPeerCertificate().subject?.CN;
      s.end();
      resolve(Array.isArray(cn) ? cn[0]! : (cn ?? ''));
    });
    s.on('error', reject);
  });
}

describe('built-in ingress end to end: IngressClass skiff, hosts, paths, TLS by SNI, live updates', { skip: skipReason() }, () => {
  let dataDir: string;
  let server: ServerProcess | undefined;
  let k: Kubectl;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'skiff-e2e-ingress-'));
    server = await spawnServer(
      ['--data-dir', dataDir, '--node-name', NODE, '--runtime', 'process', '--kubelet-port', '0', '--https-listen-port', '0', '--bind-address', '127.0.0.1',
        '--cluster-cidr', '10.74.0.0/18', '--service-cidr', '10.84.0.0/18', '--service-node-port-range', '31200-31239',
        '--ingress-http-port', String(HTTP_PORT), '--ingress-https-port', String(HTTPS_PORT)],
      30_000, {}, { agent: true },
    );
    const s = server;
    await eventually('the embedded node agent', async () => {
      if (/embedded node agent did not start/.test(s.output()) || s.child.exitCode !== null) throw new Error(`the agent did not start:\n${s.output()}`);
      return /skiff node ready/.test(s.output());
    }, 30_000);
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = dataDir;
    k = kubectlFor(join(dataDir, 'kubeconfig.yaml'));
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    assert.equal((await k(['create', 'namespace', NS])).code, 0);
    await eventually('the default service account', async () => (await k(['-n', NS, 'get', 'serviceaccount', 'default'])).code === 0, 20_000);

    const keyFile = join(dataDir, 'secure.key');
    const certFile = join(dataDir, 'secure.crt');
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-subj', '/CN=secure.test', '-days', '2', '-addext', 'subjectAltName=DNS:secure.test']);
    const tlsSecret = await k(['-n', NS, 'create', 'secret', 'tls', 'secure-tls', '--cert', certFile, '--key', keyFile]);
    assert.equal(tlsSecret.code, 0, tlsSecret.stderr);

    await applyFile(k, dataDir, 'apps.yaml', `${deployment('alpha')}${deployment('beta')}
apiVersion: v1
kind: Service
metadata: {name: alpha, namespace: ${NS}}
spec: {selector: {app: alpha}, ports: [{port: 80, targetPort: web}]}
---
apiVersion: v1
kind: Service
metadata: {name: beta, namespace: ${NS}}
spec: {selector: {app: beta}, ports: [{name: http, port: 8081, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: nobody, namespace: ${NS}}
spec: {selector: {app: nobody}, ports: [{port: 80}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: ${NS}}
spec:
  tls: [{hosts: [secure.test], secretName: secure-tls}]
  rules:
  - host: alpha.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: alpha, port: {number: 80}}}}
      - {path: /beta, pathType: Prefix, backend: {service: {name: beta, port: {name: http}}}}
      - {path: /beta/exact, pathType: Exact, backend: {service: {name: alpha, port: {number: 80}}}}
      - {path: /nobody, pathType: Prefix, backend: {service: {name: nobody, port: {number: 80}}}}
  - host: beta.test
    http:
      paths:
      - {path: /, pathType: ImplementationSpecific, backend: {service: {name: beta, port: {number: 8081}}}}
  - host: secure.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: beta, port: {name: http}}}}
`);
    for (const d of ['alpha', 'beta']) {
      const r = await k(['-n', NS, 'wait', '--for=condition=available', `deployment/${d}`, '--timeout=60s'], { timeoutMs: 65_000 });
      assert.equal(r.code, 0, r.stderr);
    }
  });

  after(async () => {
    if (server && k) await k(['delete', 'namespace', NS, '--ignore-not-found', '--timeout=40s'], { timeoutMs: 45_000 }).catch(() => undefined);
    const child = server?.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      if (process.env.SKIFF_E2E_SERVER_LOG) writeFileSync(process.env.SKIFF_E2E_SERVER_LOG, server!.output());
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await waitExit(child);
      clearTimeout(timer);
    }
    if (dataDir) {
      const report = await hardCleanAgent({ dataDir });
      if (report.length > 0) console.log(`hard clean of ${dataDir}:\n  ${report.join('\n  ')}`);
    }
  });

  it('skiff creates the default IngressClass skiff, and the Ingress status lists the node address', async () => {
    const ic = await k.json(['get', 'ingressclass', 'skiff']);
    assert.equal(ic.spec.controller, 'skiff.dev/ingress');
    assert.equal(ic.metadata.annotations['ingressclass.kubernetes.io/is-default-class'], 'true');
    const node = await k.json(['get', 'node', NODE]);
    const ip = node.status.addresses.find((a: any) => a.type === 'InternalIP').address;
    const ing = await eventually('the Ingress status', async () => {
      const i = await k.json(['-n', NS, 'get', 'ingress', 'web']);
      return i.status?.loadBalancer?.ingress?.length ? i : undefined;
    }, 20_000);
    assert.deepEqual(ing.status.loadBalancer.ingress, [{ ip }]);
  });

  it('routes two hosts, with path precedence (longest first, Exact before Prefix, element-wise Prefix)', async () => {
    await eventually('the ingress answering', async () => (await curl('alpha.test', '/').catch(() => ({ status: 0 }))).status === 200, 20_000);
    const a = await curlJson('alpha.test', '/some/page?q=1');
    assert.equal(a.name, 'alpha');
    assert.equal(a.url, '/some/page?q=1');
    assert.equal(a.host, 'alpha.test:' + HTTP_PORT);
    assert.equal(a.proto, 'http');
    assert.equal(a.xhost, 'alpha.test:' + HTTP_PORT);
    assert.ok(a.xff, 'X-Forwarded-For is set');
    assert.equal((await curlJson('alpha.test', '/beta')).name, 'beta');
    assert.equal((await curlJson('alpha.test', '/beta/x')).name, 'beta');
    assert.equal((await curlJson('alpha.test', '/beta/exact')).name, 'alpha', 'Exact /beta/exact outranks Prefix /beta');
    assert.equal((await curlJson('alpha.test', '/beta/exact/more')).name, 'beta', 'Exact matches only the whole path');
    assert.equal((await curlJson('alpha.test', '/betamax')).name, 'alpha', 'Prefix /beta does not match /betamax');
    assert.equal((await curlJson('beta.test', '/anything')).name, 'beta');
    const missing = await curl('nowhere.test', '/');
    assert.equal(missing.status, 404);
    const noEndpoints = await curl('alpha.test', '/nobody');
    assert.equal(noEndpoints.status, 503);
    assert.match(noEndpoints.body, /no ready endpoints for Service .*\/nobody/);
  });

  it('serves HTTPS with the Secret certificate chosen by SNI, and the default certificate for other names', async () => {
    assert.equal(await peerCN('secure.test'), 'secure.test');
    assert.equal(await peerCN('alpha.test'), 'SKIFF DEFAULT CERT');
    const s = await curlJson('secure.test', '/', { https: true });
    assert.equal(s.name, 'beta');
    assert.equal(s.proto, 'https');
    assert.equal((await curlJson('alpha.test', '/', { https: true })).name, 'alpha');
  });

  it('a TLS Secret that is missing or not kubernetes.io/tls: a Warning Event on the Ingress, the host served with the default certificate', async () => {
    const opaque = await k(['-n', NS, 'create', 'secret', 'generic', 'opaque-tls', '--from-literal=tls.crt=x', '--from-literal=tls.key=y']);
    assert.equal(opaque.code, 0, opaque.stderr);
    await applyFile(k, dataDir, 'broken-tls.yaml', `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: broken-tls, namespace: ${NS}}
spec:
  tls: [{hosts: [lost.test], secretName: lost-tls}, {hosts: [opaque.test], secretName: opaque-tls}]
  rules:
  - host: lost.test
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: alpha, port: {number: 80}}}}]}
  - host: opaque.test
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: alpha, port: {number: 80}}}}]}
`);
    const events = await eventually('two Warning Events on the Ingress', async () => {
      const list = await k.json(['-n', NS, 'get', 'events', '--field-selector', 'involvedObject.kind=Ingress,involvedObject.name=broken-tls']);
      return list.items.length >= 2 ? list.items : undefined;
    }, 20_000);
    const seen = events.map((e: any) => [e.type, e.reason, e.message, e.source.component]).sort();
    assert.deepEqual(seen, [
      ['Warning', 'InvalidTLSSecret', `TLS Secret ${NS}/opaque-tls is of type Opaque, not kubernetes.io/tls: opaque.test is served with the default certificate`, 'skiff-ingress'],
      ['Warning', 'TLSSecretNotFound', `TLS Secret ${NS}/lost-tls was not found: lost.test is served with the default certificate`, 'skiff-ingress'],
    ]);
    // As ingress-nginx does, the hosts are still served over HTTPS, with the default certificate.
    for (const host of ['lost.test', 'opaque.test']) {
      assert.equal(await peerCN(host), 'SKIFF DEFAULT CERT', host);
      assert.equal((await curlJson(host, '/', { https: true })).name, 'alpha', host);
    }
    // Fixed: the Secret appears, and the host gets its certificate (a missing Secret is read again every 5 s).
    const keyFile = join(dataDir, 'lost.key');
    const certFile = join(dataDir, 'lost.crt');
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-subj', '/CN=lost.test', '-days', '2']);
    assert.equal((await k(['-n', NS, 'create', 'secret', 'tls', 'lost-tls', '--cert', certFile, '--key', keyFile])).code, 0);
    await eventually('lost.test with its own certificate', async () => (await peerCN('lost.test')) === 'lost.test', 40_000);
  });

  it("refuses malformed hosts with kube-apiserver's words", async () => {
    const r = await k(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: { name: 'bad-hosts', namespace: NS },
        spec: {
          tls: [{ hosts: ['Upper.test', '*'], secretName: 'Bad_Name' }],
          rules: [
            { host: '10.0.0.1', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'alpha', port: { number: 80 } } } }] } },
            { host: '*.*.bad.test', http: { paths: [{ path: '/a//b', pathType: 'Prefix', backend: { service: { name: 'alpha', port: { number: 80 } } } }] } },
          ],
        },
      }),
    });
    assert.notEqual(r.code, 0);
    const sub = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    const wild = "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    for (const line of [
      'The Ingress "bad-hosts" is invalid: ',
      '* spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address',
      `* spec.rules[1].host: Invalid value: "*.*.bad.test": ${wild}`,
      `* spec.rules[1].http.paths[0].path: Invalid value: "/a//b": must not contain '//'`,
      `* spec.tls[0].hosts[0]: Invalid value: "Upper.test": ${sub}`,
      `* spec.tls[0].hosts[1]: Invalid value: "*": ${wild}`,
      `* spec.tls[0].secretName: Invalid value: "Bad_Name": ${sub}`,
    ]) {
      assert.ok(r.stderr.includes(line), `missing ${JSON.stringify(line)} in:\n${r.stderr}`);
    }
  });

  it('picks up endpoint and Ingress changes without a restart or a dropped connection', async () => {
    // New endpoints: a second alpha pod joins the rotation.
    assert.equal((await k(['-n', NS, 'scale', 'deployment/alpha', '--replicas=2'])).code, 0);
    const pods = new Set<string>();
    await eventually('both alpha pods answering through the ingress', async () => {
      pods.add((await curlJson('alpha.test', '/')).pod);
      return pods.size === 2;
    }, 60_000);

    // An Ingress edit, on a kept-alive client connection that stays open across it.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<{ name: string; port: number }>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port: HTTP_PORT, path: '/', headers: { host: 'beta.test' }, agent }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ name: JSON.parse(body).name, port: req.socket!.localPort! }));
        });
        req.on('error', reject);
      });
    const before = await get();
    assert.equal(before.name, 'beta');
    const patch = await k(['-n', NS, 'patch', 'ingress', 'web', '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/rules/1/http/paths/0/backend', value: { service: { name: 'alpha', port: { number: 80 } } } }])]);
    assert.equal(patch.code, 0, patch.stderr);
    let afterEdit = before;
    const deadline = Date.now() + 10_000;
    while (afterEdit.name !== 'alpha' && Date.now() < deadline) {
      await sleep(100);
      afterEdit = await get();
    }
    agent.destroy();
    assert.equal(afterEdit.name, 'alpha');
    assert.equal(afterEdit.port, before.port, 'the same client connection served before and after the change');
  });
});
