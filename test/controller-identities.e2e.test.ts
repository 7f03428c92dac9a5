/**
 * End to end: the controller manager's controllers act as their own identities (kube-controller-manager
 * --use-service-account-credentials). `skiff server --simulate-nodes 1 --audit-policy-file` runs while, with the real
 * kubectl, a Deployment rolls out, a Job completes, a namespace is deleted and a CSR is approved and signed; the audit
 * log then shows each controller write made by `system:serviceaccount:kube-system:<controller>` (groups
 * system:serviceaccounts, system:serviceaccounts:kube-system, system:authenticated; never system:masters), no
 * controller refused (403), and `kubectl auth can-i --as` shows each identity held to its system:controller:* role.
 *   npx tsc -p tsconfig.json && node --test dist/test/controller-identities.e2e.test.js
 * Needs kubectl and openssl.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventually } from './helpers/eventually.js';
import { kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { spawnServer, type ServerProcess } from './helpers/server-process.js';
import { stopServerAndRemoveDir } from './helpers/stop-server.js';

// Every write (reads are not logged), at Metadata: who, what, the outcome.
const POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: None
    verbs: ["get", "list", "watch"]
  - level: Metadata
`;

const SA = (name: string) => `system:serviceaccount:kube-system:${name}`;
const SA_GROUPS = ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'];

describe('controller identities (--use-service-account-credentials)', { skip: kubectlSkip() }, () => {
  let dir: string;
  let server: ServerProcess | undefined;
  let k: Kubectl;
  let logPath: string;
  const events = async () => (await readFile(logPath, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const writesBy = async (resource: string, verb: string, namespace?: string) =>
    (await events()).filter((e) => e.objectRef?.resource === resource && e.verb === verb && (namespace === undefined || e.objectRef?.namespace === namespace));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-e2e-ctrl-ids-'));
    logPath = join(dir, 'audit.log');
    await writeFile(join(dir, 'policy.yaml'), POLICY);
    server = await spawnServer(
      ['--data-dir', dir, '--https-listen-port', '0', '--bind-address', '127.0.0.1', '--disable', 'coredns', '--simulate-nodes', '1', '--audit-policy-file', join(dir, 'policy.yaml'), '--audit-log-path', logPath],
      30_000,
    );
    k = kubectlFor(join(dir, 'kubeconfig.yaml'));
  });
  after(() => stopServerAndRemoveDir(server, dir));

  test('a Deployment rolls out: the ReplicaSet by deployment-controller, the pods by replicaset-controller', async () => {
    assert.equal((await k(['create', 'deployment', 'web', '--image=nginx:1.27', '--replicas=2'])).code, 0);
    const w = await k(['wait', '--for=condition=Available', 'deployment/web', '--timeout=60s']);
    assert.equal(w.code, 0, w.stderr);
    const [rsCreate] = await writesBy('replicasets', 'create', 'default');
    assert.ok(rsCreate, 'a ReplicaSet create was audited');
    assert.deepEqual(rsCreate.user, { username: SA('deployment-controller'), groups: SA_GROUPS });
    assert.equal(rsCreate.responseStatus.code, 201);
    const podCreates = (await writesBy('pods', 'create', 'default')).filter((e) => e.responseStatus.code === 201 && !e.objectRef.subresource);
    assert.equal(podCreates.length, 2);
    for (const e of podCreates) assert.deepEqual(e.user, { username: SA('replicaset-controller'), groups: SA_GROUPS });
    const dStatus = (await writesBy('deployments', 'update', 'default')).filter((e) => e.objectRef.subresource === 'status');
    assert.ok(dStatus.length > 0 && dStatus.every((e) => e.user.username === SA('deployment-controller')));
    const rsStatus = (await writesBy('replicasets', 'update', 'default')).filter((e) => e.objectRef.subresource === 'status');
    assert.ok(rsStatus.length > 0 && rsStatus.every((e) => e.user.username === SA('replicaset-controller')));
    // The endpoint controllers follow the pods too, each as itself.
    assert.equal((await k(['expose', 'deployment', 'web', '--port=80'])).code, 0);
    await eventually('the EndpointSlice of web written by endpointslice-controller', async () => (await writesBy('endpointslices', 'create', 'default')).find((e) => e.user.username === SA('endpointslice-controller')), 15_000);
    await eventually('the Endpoints of web written by endpoint-controller', async () => (await writesBy('endpoints', 'create', 'default')).find((e) => e.user.username === SA('endpoint-controller')), 15_000);
  });

  test('a Job completes: its pod and status by job-controller; deleting it, the garbage collector removes the pod as itself', async () => {
    assert.equal((await k(['create', 'job', 'once', '--image=busybox', '--', 'echo', 'hi'])).code, 0);
    const w = await k(['wait', '--for=condition=Complete', 'job/once', '--timeout=60s']);
    assert.equal(w.code, 0, w.stderr);
    const jobPods = (await writesBy('pods', 'create', 'default')).filter((e) => e.user.username === SA('job-controller') && !e.objectRef.subresource);
    assert.equal(jobPods.length, 1);
    const status = (await writesBy('jobs', 'update', 'default')).filter((e) => e.objectRef.subresource === 'status');
    assert.ok(status.length > 0 && status.every((e) => e.user.username === SA('job-controller')));
    assert.equal((await k(['delete', 'job', 'once', '--cascade=background'])).code, 0);
    await eventually('the Job pod deleted by generic-garbage-collector', async () => (await writesBy('pods', 'delete', 'default')).find((e) => e.user.username === SA('generic-garbage-collector') && e.responseStatus.code === 200), 20_000);
  });

  test('a namespace is deleted: its contents and its finalizer by namespace-controller', async () => {
    assert.equal((await k(['create', 'namespace', 'doomed'])).code, 0);
    // The service-account-controller makes its default ServiceAccount.
    await eventually('default ServiceAccount in doomed', async () => (await writesBy('serviceaccounts', 'create', 'doomed')).find((e) => e.user.username === SA('service-account-controller')), 15_000);
    assert.equal((await k(['create', 'configmap', 'c1', '-n', 'doomed', '--from-literal=a=b'])).code, 0);
    const d = await k(['delete', 'namespace', 'doomed', '--timeout=60s']);
    assert.equal(d.code, 0, d.stderr);
    const cleanup = (await events()).filter((e) => e.objectRef?.namespace === 'doomed' && ['delete', 'deletecollection'].includes(e.verb) && e.user.username !== 'system:admin');
    assert.ok(cleanup.length > 0, 'the namespace controller deleted the contents');
    for (const e of cleanup) assert.equal(e.user.username, SA('namespace-controller'), JSON.stringify(e.objectRef));
    const finalize = (await writesBy('namespaces', 'update')).filter((e) => e.objectRef.name === 'doomed' && e.objectRef.subresource === 'finalize');
    assert.equal(finalize.length, 1);
    assert.deepEqual(finalize[0].user, { username: SA('namespace-controller'), groups: SA_GROUPS });
  });

  test('a CSR is approved by an admin and signed by certificate-controller', async () => {
    const key = join(dir, 'jane.key');
    execFileSync('openssl', ['genrsa', '-out', key, '2048'], { stdio: 'ignore' });
    const csr = execFileSync('openssl', ['req', '-new', '-key', key, '-subj', '/CN=jane/O=dev']).toString();
    const yaml = `apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata:
  name: jane
spec:
  request: ${Buffer.from(csr).toString('base64')}
  signerName: kubernetes.io/kube-apiserver-client
  usages: ["client auth"]
`;
    await writeFile(join(dir, 'csr.yaml'), yaml);
    assert.equal((await k(['apply', '-f', join(dir, 'csr.yaml')])).code, 0);
    assert.equal((await k(['certificate', 'approve', 'jane'])).code, 0);
    await eventually('jane signed', async () => (await k.json(['get', 'csr', 'jane'])).status?.certificate, 20_000);
    const signed = (await writesBy('certificatesigningrequests', 'update')).filter((e) => e.objectRef.name === 'jane' && e.objectRef.subresource === 'status');
    assert.equal(signed.length, 1);
    assert.deepEqual(signed[0].user, { username: SA('certificate-controller'), groups: SA_GROUPS });
  });

  test("skiff's own controllers act as themselves: ServiceLB claims a LoadBalancer Service, the ingress made its class", async () => {
    assert.equal((await k(['create', 'service', 'loadbalancer', 'lb', '--tcp=8080:80'])).code, 0);
    const claim = await eventually('the ServiceLB finalizer patch', async () => (await writesBy('services', 'patch', 'default')).find((e) => e.objectRef.name === 'lb'), 15_000);
    assert.deepEqual(claim.user, { username: SA('servicelb'), groups: SA_GROUPS });
    assert.equal(claim.responseStatus.code, 200);
    const ic = await writesBy('ingressclasses', 'create');
    assert.ok(ic.length > 0 && ic.every((e) => e.user.username === SA('ingress')));
    assert.equal((await k(['delete', 'service', 'lb', '--timeout=30s'])).code, 0);
  });

  test('no controller acts in system:masters or is refused; the controller manager itself writes only its own objects', async () => {
    const all = await events();
    // The simulated kubelets (node-simulator, kwok's way) too, with skiff:controller:node-simulator.
    const controllerWrites = all.filter((e) => e.user?.username?.startsWith('system:serviceaccount:kube-system:'));
    assert.ok(controllerWrites.length > 20);
    const identities = new Set(controllerWrites.map((e) => e.user.username.split(':').pop()));
    for (const name of ['node-simulator', 'servicelb', 'ingress', 'deployment-controller', 'replicaset-controller', 'job-controller', 'namespace-controller', 'certificate-controller', 'endpointslice-controller', 'node-controller']) {
      assert.ok(identities.has(name), `${name} wrote something (saw ${[...identities].sort().join(', ')})`);
    }
    for (const e of controllerWrites) {
      assert.ok(!e.user.groups.includes('system:masters'), `${e.user.username} in system:masters`);
    }
    // Nor refused: not in the audit log, not in the server's log (a controller logs the error of a failed sync).
    assert.doesNotMatch(server!.output(), /forbidden/i);
    const refused = all.filter((e) => e.responseStatus?.code === 403 && e.user?.username?.startsWith('system:'));
    assert.deepEqual(refused.map((e) => `${e.user.username} ${e.verb} ${e.objectRef?.resource}/${e.objectRef?.subresource ?? ''}`), []);
    // system:kube-controller-manager keeps its Lease, and (the legacy token controller) Secrets; nothing of workloads.
    const cm = all.filter((e) => e.user?.username === 'system:kube-controller-manager');
    assert.ok(cm.some((e) => e.objectRef?.resource === 'leases'));
    for (const e of cm) assert.ok(['leases', 'events', 'secrets', 'serviceaccounts'].includes(e.objectRef?.resource), `${e.verb} ${e.objectRef?.resource}`);
  });

  test('each identity can do what its role allows and nothing more (kubectl auth can-i --as)', async () => {
    const can = async (user: string, ...args: string[]) => {
      const r = await k(['auth', 'can-i', `--as=${SA(user)}`, '--as-group=system:serviceaccounts', '--as-group=system:serviceaccounts:kube-system', ...args]);
      return r.stdout.trim();
    };
    assert.equal(await can('deployment-controller', 'delete', 'secrets'), 'no');
    assert.equal(await can('deployment-controller', 'create', 'replicasets.apps'), 'yes');
    assert.equal(await can('deployment-controller', 'create', 'pods'), 'no');
    assert.equal(await can('replicaset-controller', 'create', 'pods'), 'yes');
    assert.equal(await can('replicaset-controller', 'create', 'deployments.apps'), 'no');
    assert.equal(await can('job-controller', 'update', 'jobs.batch', '--subresource=status'), 'yes');
    assert.equal(await can('job-controller', 'delete', 'nodes'), 'no');
    assert.equal(await can('namespace-controller', 'deletecollection', 'configmaps', '-n', 'any'), 'yes');
    assert.equal(await can('namespace-controller', 'create', 'configmaps'), 'no');
    assert.equal(await can('certificate-controller', 'update', 'certificatesigningrequests.certificates.k8s.io', '--subresource=status'), 'yes');
    assert.equal(await can('certificate-controller', 'get', 'secrets'), 'no');
    assert.equal(await can('node-password', 'delete', 'secrets', '-n', 'kube-system'), 'yes');
    assert.equal(await can('node-password', 'delete', 'secrets', '-n', 'default'), 'no');
    assert.equal(await can('local-path-provisioner', 'create', 'persistentvolumes'), 'yes');
    assert.equal(await can('local-path-provisioner', 'delete', 'persistentvolumes'), 'no');
    assert.equal(await can('horizontal-pod-autoscaler', 'update', 'deployments.apps', '--subresource=scale'), 'yes');
    assert.equal(await can('horizontal-pod-autoscaler', 'update', 'deployments.apps'), 'no');
    // The controller manager made their ServiceAccounts, as upstream's client builder does.
    const sas = (await k.json(['get', 'serviceaccounts', '-n', 'kube-system'])).items.map((sa: any) => sa.metadata.name);
    for (const name of ['deployment-controller', 'certificate-controller', 'node-controller', 'servicelb']) assert.ok(sas.includes(name), `${name} in ${sas.join(', ')}`);
    // The bootstrap roles are there to read, as upstream renders them.
    const role = await k.json(['get', 'clusterrole', 'system:controller:deployment-controller']);
    assert.equal(role.metadata.annotations['rbac.authorization.kubernetes.io/autoupdate'], 'true');
    const binding = await k.json(['get', 'clusterrolebinding', 'system:controller:deployment-controller']);
    assert.deepEqual(
      binding.subjects.map((s: any) => [s.kind, s.namespace, s.name]),
      [['ServiceAccount', 'kube-system', 'deployment-controller']],
    );
  });
});
