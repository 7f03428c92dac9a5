/**
 * A pod uses its service account token end to end: `skiff server` (a child process, embedded agent, process runtime)
 * admits the pod with the kube-api-access volume, the agent fills it with a token bound to the pod (TokenRequest),
 * the CA (kube-root-ca.crt) and the namespace, and a program in the pod calls the API the in-cluster way
 * (KUBERNETES_SERVICE_HOST/PORT, the token file, ca.crt), and so does the real kubectl run in the pod (in-cluster
 * config). Once the pod is deleted, its token is refused (401).
 * Needs root (pod namespaces, CNI, the service proxy); skips otherwise, except under CI=true.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pickFreeSubnet } from '../src/agent/network/network-testing.js';
import { cleanUpAgentServer, startAgentServer } from './helpers/agent-server.js';
import { e2eSkipReason } from './helpers/e2e-prereqs.js';
import { eventually } from './helpers/eventually.js';
import { kubectlFor, type Kubectl } from './helpers/kubectl.js';
import type { ServerProcess } from './helpers/server-process.js';

const skipReason = () =>
  e2eSkipReason({
    prereqs: ['/usr/bin/unshare', '/usr/bin/nsenter', '/usr/lib/cni/bridge', '/usr/lib/cni/host-local', '/usr/lib/cni/loopback'],
    notRoot: 'the process runtime needs root for pod namespaces, cgroups and CNI; skipping the service account pod end-to-end test',
    what: 'the service account pod end-to-end test',
  });

const suffix = randomBytes(3).toString('hex');
const NODE = `e2e-sa-${suffix}`;
const NS = `e2e-sa-${suffix}`;
/** A service CIDR of this test's own, so its proxy rules do not meet other agents' on this machine. */
const SERVICE_CIDR = `10.${150 + randomInt(40)}.0.0/16`;
const TOKEN_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The in-cluster client: what client-go's rest.InClusterConfig reads, then two calls; prints one RESULT line. */
const IN_CLUSTER = `
const fs = require('fs'), https = require('https');
const dir = '${TOKEN_DIR}';
const token = fs.readFileSync(dir + '/token', 'utf8'), ca = fs.readFileSync(dir + '/ca.crt'), ns = fs.readFileSync(dir + '/namespace', 'utf8');
const host = process.env.KUBERNETES_SERVICE_HOST, port = process.env.KUBERNETES_SERVICE_PORT;
const call = (method, path, body) => new Promise((resolve, reject) => {
  const r = https.request({ host, port, method, path, ca, headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' } }, (s) => {
    let t = ''; s.on('data', (c) => (t += c)); s.on('end', () => resolve({ status: s.statusCode, body: t }));
  });
  r.on('error', reject); r.end(body);
});
(async () => {
  for (let i = 0; ; i++) {
    try {
      const api = await call('GET', '/api');
      const me = await call('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }));
      const pods = await call('GET', '/api/v1/namespaces/' + ns + '/pods');
      console.log('RESULT ' + JSON.stringify({ ns, host, api: api.status, versions: JSON.parse(api.body).versions, me: me.status === 201 ? JSON.parse(me.body).status.userInfo : me.status, pods: pods.status }));
      break;
    } catch (e) {
      console.log('retrying: ' + e.message);
      if (i > 60) break;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  setInterval(() => {}, 1e9);
})();
`;

describe('a pod calls the API with its projected service account token', { skip: skipReason() }, () => {
  let dataDir: string;
  let server: ServerProcess | undefined;
  let k: Kubectl;
  let ca: string;
  const podUids = new Set<string>();

  const withToken = (token: string, path: string) =>
    new Promise<number>((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: server!.port, method: 'GET', path, ca, agent: false, headers: { Authorization: `Bearer ${token}` } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'skiff-e2e-sa-'));
    const podCidr = await pickFreeSubnet(24);
    // All interfaces: pods reach the API through the kubernetes Service, whose endpoint is the node's address.
    server = await startAgentServer(['--data-dir', dataDir, '--node-name', NODE, '--runtime', 'process', '--cluster-cidr', podCidr, '--service-cidr', SERVICE_CIDR, '--kubelet-port', '0', '--https-listen-port', '0']);
    k = kubectlFor(join(dataDir, 'kubeconfig.yaml'));
    ca = readFileSync(join(dataDir, 'server', 'tls', 'server-ca.crt'), 'utf8');
    assert.equal((await k(['create', 'namespace', NS])).code, 0);
  });

  after(async () => {
    const s = server;
    server = undefined;
    await cleanUpAgentServer({ server: s, k, ns: NS, dataDir, podUids, deleteTimeoutS: 40 });
  });

  it('the pod gets the kube-api-access volume, reads its token, CA and namespace, and is authenticated as its service account', async () => {
    // With RBAC the account may read pods of its namespace through this binding; without RBAC it changes nothing.
    assert.equal((await k(['-n', NS, 'create', 'rolebinding', 'client-view', '--clusterrole', 'view', `--serviceaccount=${NS}:client`])).code, 0);
    assert.equal((await k(['-n', NS, 'create', 'serviceaccount', 'client'])).code, 0);
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'client', namespace: NS },
      spec: { serviceAccountName: 'client', terminationGracePeriodSeconds: 1, containers: [{ name: 'client', image: 'node', command: ['node', '-e', IN_CLUSTER] }] },
    };
    const created = await k(['create', '-f', '-', '-o', 'json'], { input: JSON.stringify(pod) });
    assert.equal(created.code, 0, created.stderr);
    const admitted = JSON.parse(created.stdout);
    podUids.add(admitted.metadata.uid);
    const vol = admitted.spec.volumes.find((v: any) => v.name.startsWith('kube-api-access-'));
    assert.ok(vol, `a kube-api-access volume in ${JSON.stringify(admitted.spec.volumes)}`);
    assert.match(vol.name, /^kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    assert.equal(vol.projected.sources[0].serviceAccountToken.expirationSeconds, 3607);
    assert.deepEqual(admitted.spec.containers[0].volumeMounts, [{ name: vol.name, readOnly: true, mountPath: TOKEN_DIR }]);

    const result = await eventually('the RESULT line in the pod log', async () => {
      const logs = await k(['-n', NS, 'logs', 'client']);
      const line = logs.stdout.split('\n').find((l) => l.startsWith('RESULT '));
      return line ? JSON.parse(line.slice('RESULT '.length)) : undefined;
    }, 60_000);
    assert.equal(result.ns, NS);
    assert.equal(result.host, SERVICE_CIDR.replace('0.0/16', '0.1'));
    assert.equal(result.api, 200);
    assert.deepEqual(result.versions, ['v1']);
    assert.equal(result.me.username, `system:serviceaccount:${NS}:client`);
    assert.deepEqual(result.me.extra['authentication.kubernetes.io/pod-name'], ['client']);
    assert.deepEqual(result.me.extra['authentication.kubernetes.io/pod-uid'], [admitted.metadata.uid]);
    assert.deepEqual(result.me.extra['authentication.kubernetes.io/node-name'], [NODE]);
    assert.equal(result.pods, 200);

    // The real kubectl inside the pod (the process runtime runs the host's binaries) finds the in-cluster config on
    // its own: whoami says the service account, so it used the projected token and not some kubeconfig.
    const inPod = await k(['-n', NS, 'exec', 'client', '--', 'kubectl', 'auth', 'whoami', '-o', 'json'], { timeoutMs: 60_000 });
    assert.equal(inPod.code, 0, inPod.stderr);
    assert.equal(JSON.parse(inPod.stdout).status.userInfo.username, `system:serviceaccount:${NS}:client`);

    // The token in the pod is bound to it: good now, refused once the pod is gone.
    const token = (await k(['-n', NS, 'exec', 'client', '--', 'cat', `${TOKEN_DIR}/token`])).stdout;
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    assert.equal(claims['kubernetes.io'].pod.uid, admitted.metadata.uid);
    assert.equal(await withToken(token, '/api'), 200);
    assert.equal((await k(['-n', NS, 'delete', 'pod', 'client', '--wait=true', '--timeout=60s'], { timeoutMs: 65_000 })).code, 0);
    assert.equal(await withToken(token, '/api'), 401);
  });

  it('automountServiceAccountToken: false on the account or the pod leaves the volume out; a missing account is refused', async () => {
    assert.equal((await k(['-n', NS, 'create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'quiet' }, automountServiceAccountToken: false }) })).code, 0);
    const make = async (name: string, spec: Record<string, unknown>) => {
      const r = await k(['-n', NS, 'create', '--dry-run=server', '-f', '-', '-o', 'json'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'c', image: 'node' }], ...spec } }) });
      return r;
    };
    const quiet = JSON.parse((await make('q', { serviceAccountName: 'quiet' })).stdout);
    assert.equal(quiet.spec.volumes, undefined);
    const optOut = JSON.parse((await make('o', { automountServiceAccountToken: false })).stdout);
    assert.equal(optOut.spec.serviceAccountName, 'default');
    assert.equal(optOut.spec.volumes, undefined);
    const podWins = JSON.parse((await make('w', { serviceAccountName: 'quiet', automountServiceAccountToken: true })).stdout);
    assert.equal(podWins.spec.volumes.length, 1);
    const missing = await make('m', { serviceAccountName: 'nobody' });
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, new RegExp(`pods "m" is forbidden: error looking up service account ${NS}/nobody: serviceaccount "nobody" not found`));
  });
});
