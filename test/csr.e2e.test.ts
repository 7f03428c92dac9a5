/**
 * End to end: CertificateSigningRequests on `skiff server` (control plane only) driven by the real kubectl and
 * openssl. A key and CSR for CN=jane,O=dev are applied, `kubectl certificate approve` signs them with the cluster CA,
 * and a kubeconfig built from the issued certificate is jane in dev for `kubectl auth whoami`. A denied request is
 * never signed, a kubelet-serving request with a wrong CN fails with the signer's message, a kubelet client request
 * of a node is approved automatically, system:masters is refused for kube-apiserver-client, and /status cannot
 * approve. Run from dist/:
 *   npx tsc -p tsconfig.json && node --test dist/test/csr.e2e.test.js
 * Needs kubectl and openssl (skips without kubectl, fails under CI=true).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventually } from './helpers/eventually.js';
import { kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { spawnServer, type ServerProcess } from './helpers/server-process.js';
import { stopServerAndRemoveDir } from './helpers/stop-server.js';

describe('CertificateSigningRequests (kubectl certificate approve|deny, the signers, the approver)', { skip: kubectlSkip() }, () => {
  let dir: string;
  let server: ServerProcess | undefined;
  let k: Kubectl;

  /** A new key and a PEM CSR for `subject` (openssl -subj form), with optional `-addext` arguments. */
  const makeCsr = (name: string, subject: string, addext: string[] = []) => {
    const key = join(dir, `${name}.key`);
    execFileSync('openssl', ['genrsa', '-out', key, '2048'], { stdio: 'ignore' });
    const csr = execFileSync('openssl', ['req', '-new', '-key', key, '-subj', subject, ...addext.flatMap((e) => ['-addext', e])]).toString();
    return { key, csr };
  };

  const csrYaml = (name: string, csr: string, signerName: string, usages: string[], extra = '') => `apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata:
  name: ${name}
spec:
  request: ${Buffer.from(csr).toString('base64')}
  signerName: ${signerName}
  usages: [${usages.map((u) => JSON.stringify(u)).join(', ')}]
${extra}`;

  const apply = async (name: string, yaml: string) => {
    const p = join(dir, `${name}.yaml`);
    await writeFile(p, yaml);
    return k(['apply', '-f', p]);
  };

  const getCsr = (name: string) => k.json(['get', 'csr', name]);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-e2e-csr-'));
    server = await spawnServer(['--data-dir', dir, '--https-listen-port', '0', '--bind-address', '127.0.0.1', '--disable', 'coredns'], 30_000);
    k = kubectlFor(join(dir, 'kubeconfig.yaml'));
  });
  after(() => stopServerAndRemoveDir(server, dir));

  test('jane: apply, approve, issued by the cluster CA, and the certificate authenticates as jane in dev', async () => {
    const { key, csr } = makeCsr('jane', '/CN=jane/O=dev');
    // What the client claims as requestor is replaced by who created it.
    const r = await apply('jane', csrYaml('jane', csr, 'kubernetes.io/kube-apiserver-client', ['client auth'], '  expirationSeconds: 86400\n  username: mallory\n  groups: [system:masters]\n'));
    assert.equal(r.code, 0, r.stderr);
    const pending = await getCsr('jane');
    assert.equal(pending.spec.username, 'system:admin');
    assert.deepEqual(pending.spec.groups, ['system:masters', 'system:authenticated']);
    assert.equal(pending.status.certificate, undefined);
    const table = await k(['get', 'csr', 'jane']);
    assert.match(table.stdout.split('\n')[0]!, /^NAME\s+AGE\s+SIGNERNAME\s+REQUESTOR\s+REQUESTEDDURATION\s+CONDITION$/);
    assert.match(table.stdout.split('\n')[1]!, /^jane\s+\S+\s+kubernetes\.io\/kube-apiserver-client\s+system:admin\s+24h\s+Pending$/);

    const approve = await k(['certificate', 'approve', 'jane', '-v=9']);
    assert.equal(approve.code, 0, approve.stderr);
    assert.match(approve.stdout, /certificatesigningrequest.certificates.k8s.io\/jane approved/);
    // kubectl 1.32 PUTs the approval as protobuf: the body decodes by the generated schema.
    assert.match(approve.stderr, /-XPUT .*Content-Type: application\/vnd\.kubernetes\.protobuf.*\/certificatesigningrequests\/jane\/approval/);
    assert.match(approve.stderr, /PUT https:\S+\/certificatesigningrequests\/jane\/approval 200 OK/);
    const issued = await eventually('jane\'s certificate', async () => {
      const o = await getCsr('jane');
      return o.status.certificate ? o : undefined;
    }, 20_000);
    const approved = issued.status.conditions.find((c: { type: string }) => c.type === 'Approved');
    assert.equal(approved.reason, 'KubectlApprove');
    assert.ok(approved.lastUpdateTime, 'the server stamps the condition');
    const certPem = Buffer.from(issued.status.certificate, 'base64').toString();
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(await readFile(join(dir, 'server', 'tls', 'server-ca.crt')));
    assert.ok(cert.verify(ca.publicKey), 'signed by the cluster CA');
    assert.equal(cert.subject, 'CN=jane\nO=dev');
    assert.ok(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(await readFile(key))), 'for the requester\'s own key');
    const lifetimeH = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 3_600_000;
    assert.ok(lifetimeH > 24 && lifetimeH <= 24.1, `the requested 24h (plus the backdate), got ${lifetimeH}h`);
    assert.equal(cert.ca, false);
    const table2 = await k(['get', 'csr', 'jane']);
    assert.match(table2.stdout, /Approved,Issued/);

    // A kubeconfig with jane's certificate and key.
    const kc = join(dir, 'jane.kubeconfig');
    await copyFile(join(dir, 'kubeconfig.yaml'), kc);
    const crt = join(dir, 'jane.crt');
    await writeFile(crt, certPem);
    const jane = kubectlFor(kc);
    assert.equal((await jane(['config', 'set-credentials', 'jane', `--client-certificate=${crt}`, `--client-key=${key}`, '--embed-certs'])).code, 0);
    assert.equal((await jane(['config', 'set-context', '--current', '--user=jane'])).code, 0);
    const who = await jane.json(['auth', 'whoami']);
    assert.equal(who.status.userInfo.username, 'jane');
    assert.deepEqual(who.status.userInfo.groups, ['dev', 'system:authenticated']);

    const describe = await k(['describe', 'csr', 'jane']);
    assert.equal(describe.code, 0, describe.stderr);
    assert.match(describe.stdout, /Requesting User:\s+system:admin/);
    assert.match(describe.stdout, /Signer:\s+kubernetes\.io\/kube-apiserver-client/);
    assert.match(describe.stdout, /Status:\s+Approved,Issued/);
    assert.match(describe.stdout, /Common Name:\s+jane/);
    assert.match(describe.stdout, /Organization:\s+dev/);
  });

  test('a denied request is never signed; approving it afterwards is refused', async () => {
    const { csr } = makeCsr('bob', '/CN=bob');
    assert.equal((await apply('bob', csrYaml('bob', csr, 'kubernetes.io/kube-apiserver-client', ['client auth']))).code, 0);
    const deny = await k(['certificate', 'deny', 'bob']);
    assert.equal(deny.code, 0, deny.stderr);
    // A request approved after the denial is signed: the signer has seen bob's denial by then.
    const { csr: later } = makeCsr('carol', '/CN=carol');
    assert.equal((await apply('carol', csrYaml('carol', later, 'kubernetes.io/kube-apiserver-client', ['client auth', 'digital signature']))).code, 0);
    assert.equal((await k(['certificate', 'approve', 'carol'])).code, 0);
    await eventually('carol\'s certificate', async () => !!(await getCsr('carol')).status.certificate, 20_000);
    const bob = await getCsr('bob');
    assert.equal(bob.status.certificate, undefined);
    assert.deepEqual(bob.status.conditions.map((c: { type: string; reason: string }) => [c.type, c.reason]), [['Denied', 'KubectlDeny']]);
    assert.match((await k(['get', 'csr', 'bob'])).stdout, /\sDenied\n/);
    const approve = await k(['certificate', 'approve', 'bob']);
    assert.notEqual(approve.code, 0);
    assert.match(approve.stderr, /already Denied/);
    // Straight to the API (kubectl refuses even with --force): Approved and Denied together are invalid.
    bob.status.conditions.push({ type: 'Approved', status: 'True', reason: 'Override' });
    const body = join(dir, 'bob-approval.json');
    await writeFile(body, JSON.stringify(bob));
    const forced = await k(['replace', '--raw', '/apis/certificates.k8s.io/v1/certificatesigningrequests/bob/approval', '-f', body]);
    assert.notEqual(forced.code, 0);
    assert.match(forced.stderr, /Approved and Denied conditions are mutually exclusive/);
    assert.equal((await getCsr('bob')).status.certificate, undefined);
  });

  test('kubelet-serving: a wrong CN fails with the signer\'s message; a node\'s serving request is issued with its SANs', async () => {
    const { csr } = makeCsr('web', '/CN=web/O=system:nodes', ['subjectAltName=DNS:web.local']);
    assert.equal((await apply('web', csrYaml('web', csr, 'kubernetes.io/kubelet-serving', ['digital signature', 'key encipherment', 'server auth']))).code, 0);
    assert.equal((await k(['certificate', 'approve', 'web'])).code, 0);
    const failed = await eventually('the Failed condition', async () => {
      const o = await getCsr('web');
      return o.status.conditions?.find((c: { type: string }) => c.type === 'Failed');
    }, 20_000);
    assert.equal(failed.reason, 'SignerValidationFailure');
    assert.equal(failed.message, 'subject common name does not begin with system:node:');
    assert.equal((await getCsr('web')).status.certificate, undefined);
    assert.match((await k(['get', 'csr', 'web'])).stdout, /Approved,Failed/);

    const { csr: good } = makeCsr('node1', '/CN=system:node:node1/O=system:nodes', ['subjectAltName=DNS:node1,IP:10.0.0.7']);
    assert.equal((await apply('node1-serving', csrYaml('node1-serving', good, 'kubernetes.io/kubelet-serving', ['digital signature', 'key encipherment', 'server auth']))).code, 0);
    assert.equal((await k(['certificate', 'approve', 'node1-serving'])).code, 0);
    const issued = await eventually('the serving certificate', async () => (await getCsr('node1-serving')).status.certificate, 20_000);
    const cert = new X509Certificate(Buffer.from(issued, 'base64'));
    assert.equal(cert.subjectAltName, 'DNS:node1, IP Address:10.0.0.7');
    assert.match(cert.toLegacyObject().ext_key_usage?.join(',') ?? '', /^1\.3\.6\.1\.5\.5\.7\.3\.1$/);
    const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
    assert.ok(days > 364 && days <= 365, `one year by default, got ${days} days`);
  });

  test('a node\'s kubelet client request is approved automatically (SubjectAccessReview) and issued', async () => {
    const { csr } = makeCsr('node2', '/CN=system:node:node2/O=system:nodes');
    assert.equal((await apply('node2-client', csrYaml('node2-client', csr, 'kubernetes.io/kube-apiserver-client-kubelet', ['digital signature', 'key encipherment', 'client auth']))).code, 0);
    const o = await eventually('the auto-approved certificate', async () => {
      const x = await getCsr('node2-client');
      return x.status.certificate ? x : undefined;
    }, 20_000);
    const approved = o.status.conditions.find((c: { type: string }) => c.type === 'Approved');
    assert.equal(approved.reason, 'AutoApproved');
    assert.equal(approved.message, 'Auto approving kubelet client certificate after SubjectAccessReview.');
    assert.equal(new X509Certificate(Buffer.from(o.status.certificate, 'base64')).subject, 'CN=system:node:node2\nO=system:nodes');
    // A kube-apiserver-client request is never approved by the controller manager.
    assert.deepEqual((await getCsr('jane')).status.conditions.map((c: { reason: string }) => c.reason), ['KubectlApprove']);
  });

  test('the approver asks RBAC: a requestor without nodeclient waits; nodeclient and selfnodeclient are approved', async () => {
    const yaml = (name: string, cn: string) => csrYaml(name, makeCsr(name, `/CN=${cn}/O=system:nodes`).csr, 'kubernetes.io/kube-apiserver-client-kubelet', ['digital signature', 'client auth']);
    const create = async (name: string, cn: string, as: string[]) => {
      const p = join(dir, `${name}.yaml`);
      await writeFile(p, yaml(name, cn));
      const r = await k(['create', '-f', p, ...as]);
      assert.equal(r.code, 0, r.stderr);
    };
    const kim = ['--as', 'kim', '--as-group', 'dev'];
    for (const args of [
      ['create', 'clusterrole', 'csr-creator', '--verb=create,get', '--resource=certificatesigningrequests'],
      ['create', 'clusterrolebinding', 'kim-csr', '--clusterrole=csr-creator', '--user=kim'],
      ['create', 'clusterrolebinding', 'nodes-csr', '--clusterrole=csr-creator', '--group=system:nodes'],
    ]) assert.equal((await k(args)).code, 0, args.join(' '));
    await create('kim-node4', 'system:node:node4', kim);
    assert.equal((await getCsr('kim-node4')).spec.username, 'kim');
    // An administrator's request after it is approved (the approver has seen kim's by then); kim's is not.
    await create('admin-node5', 'system:node:node5', []);
    await eventually('admin-node5 approved', async () => (await getCsr('admin-node5')).status.certificate, 20_000);
    assert.equal((await getCsr('kim-node4')).status.conditions, undefined, 'no SubjectAccessReview allows kim');

    assert.equal((await k(['create', 'clusterrolebinding', 'kim-nodeclient', '--clusterrole=system:certificates.k8s.io:certificatesigningrequests:nodeclient', '--user=kim'])).code, 0);
    await create('kim-node6', 'system:node:node6', kim);
    const six = await eventually('kim-node6 approved', async () => (await getCsr('kim-node6')).status.conditions?.[0], 20_000);
    assert.equal(six.message, 'Auto approving kubelet client certificate after SubjectAccessReview.');

    assert.equal((await k(['create', 'clusterrolebinding', 'nodes-self', '--clusterrole=system:certificates.k8s.io:certificatesigningrequests:selfnodeclient', '--group=system:nodes'])).code, 0);
    await create('node7-self', 'system:node:node7', ['--as', 'system:node:node7', '--as-group', 'system:nodes']);
    const seven = await eventually('node7-self approved', async () => (await getCsr('node7-self')).status.conditions?.[0], 20_000);
    assert.equal(seven.message, 'Auto approving self kubelet client certificate after SubjectAccessReview.');
    await eventually('node7-self issued', async () => (await getCsr('node7-self')).status.certificate, 20_000);
  });

  test('refusals: system:masters for kube-apiserver-client (403), invalid requests (422), approval through /status', async () => {
    const { csr } = makeCsr('root', '/CN=root/O=system:masters');
    const masters = await apply('root', csrYaml('root', csr, 'kubernetes.io/kube-apiserver-client', ['client auth']));
    assert.notEqual(masters.code, 0);
    assert.match(masters.stderr, /use of kubernetes\.io\/kube-apiserver-client signer with system:masters group is not allowed/);
    assert.notEqual((await k(['get', 'csr', 'root'])).code, 0, 'not stored');

    const bad = await apply('bad', `apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata: { name: bad }
spec:
  request: ${Buffer.from('hello').toString('base64')}
  signerName: example
  expirationSeconds: 60
  usages: ["client auth", "bogus"]
`);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /spec\.request: Invalid value: "<request data>": PEM block type must be CERTIFICATE REQUEST/);
    assert.match(bad.stderr, /spec\.signerName: Invalid value: "example": must be a fully qualified domain and path of the form 'example\.com\/signer-name'/);
    assert.match(bad.stderr, /spec\.expirationSeconds: Invalid value: 60: may not specify a duration less than 600 seconds \(10 minutes\)/);
    assert.match(bad.stderr, /spec\.usages\[1\]: Unsupported value: "bogus"/);
    const legacy = await apply('legacy', csrYaml('legacy', makeCsr('legacy', '/CN=x').csr, 'kubernetes.io/legacy-unknown', ['client auth']));
    assert.match(legacy.stderr, /the legacy signerName is not allowed via this API version/);

    const { csr: dave } = makeCsr('dave', '/CN=dave');
    assert.equal((await apply('dave', csrYaml('dave', dave, 'kubernetes.io/kube-apiserver-client', ['client auth']))).code, 0);
    const viaStatus = await k(['patch', 'csr', 'dave', '--subresource=status', '--type=merge', '-p', '{"status":{"conditions":[{"type":"Approved","status":"True","reason":"Sneaky"}]}}']);
    assert.notEqual(viaStatus.code, 0);
    assert.match(viaStatus.stderr, /updates may not add a condition of type "Approved"/);
    // The spec is immutable: a main-resource update keeps it (and the label applies).
    assert.equal((await k(['patch', 'csr', 'dave', '--type=merge', '-p', '{"metadata":{"labels":{"team":"a"}},"spec":{"signerName":"example.com/other"}}'])).code, 0);
    const d = await getCsr('dave');
    assert.equal(d.spec.signerName, 'kubernetes.io/kube-apiserver-client');
    assert.equal(d.metadata.labels.team, 'a');
    assert.equal(d.status.conditions, undefined, 'still pending');
  });

  test('approving and signing are granted per signer: approve/sign on signers, by name or <domain>/*', async () => {
    // carol may update the approval and status subresources of any request, and approve/sign only for her signers.
    const rbac = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: csr-carol }
rules:
- { apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests], verbs: [get, list] }
- { apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests/approval, certificatesigningrequests/status], verbs: [get, update, patch] }
- { apiGroups: [certificates.k8s.io], resources: [signers], resourceNames: ["example.com/*"], verbs: [approve, sign] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: csr-carol }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: csr-carol }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: carol }]
`;
    assert.equal((await apply('carol-rbac', rbac)).code, 0);
    assert.equal((await apply('client-req', csrYaml('client-req', makeCsr('client-req', '/CN=erin').csr, 'kubernetes.io/kube-apiserver-client', ['client auth']))).code, 0);
    assert.equal((await apply('custom-req', csrYaml('custom-req', makeCsr('custom-req', '/CN=frank').csr, 'example.com/issuer', ['client auth']))).code, 0);

    const refused = await k(['certificate', 'approve', 'client-req', '--as', 'carol']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /certificatesigningrequests\.certificates\.k8s\.io "client-req" is forbidden: user not permitted to approve requests with signerName "kubernetes\.io\/kube-apiserver-client"/);
    assert.equal((await getCsr('client-req')).status.conditions, undefined);

    const approved = await k(['certificate', 'approve', 'custom-req', '--as', 'carol']);
    assert.equal(approved.code, 0, approved.stderr);
    assert.equal((await getCsr('custom-req')).status.conditions[0].type, 'Approved');

    // Signing: carol may issue for example.com/*, not for the cluster's own signers.
    const cert = Buffer.from(execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'self.key'), '-subj', '/CN=frank', '-days', '1'])).toString('base64');
    const signed = await k(['patch', 'csr', 'custom-req', '--subresource=status', '--type=merge', '--as', 'carol', '-p', JSON.stringify({ status: { certificate: cert } })]);
    assert.equal(signed.code, 0, signed.stderr);
    assert.ok((await getCsr('custom-req')).status.certificate);
    const notHers = await k(['patch', 'csr', 'client-req', '--subresource=status', '--type=merge', '--as', 'carol', '-p', JSON.stringify({ status: { certificate: cert } })]);
    assert.notEqual(notHers.code, 0);
    assert.match(notHers.stderr, /is forbidden: user not permitted to sign requests with signerName "kubernetes\.io\/kube-apiserver-client"/);
    // Conditions without a certificate are not signing: the status update needs no sign permission.
    const failed = await k(['patch', 'csr', 'client-req', '--subresource=status', '--type=merge', '--as', 'carol', '-p', '{"status":{"conditions":[{"type":"Failed","status":"True","reason":"Test","message":"m"}]}}']);
    assert.equal(failed.code, 0, failed.stderr);
  });
});
