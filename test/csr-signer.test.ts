/**
 * The certificate controllers' pieces: each kubernetes.io signer's rules (a table per signer, upstream's messages),
 * parsing an openssl CSR with every SAN kind, signing with a CA made by ensurePki (subject, usages, SANs, duration
 * within [10m, default], cut at the CA's expiry), the approver's recognizers, and the cleaner's deadlines with a sweep
 * over a fake cache and client.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { CertificateSigningRequest } from 'kubernetes-types/certificates/v1.js';
import { ensurePki } from '../src/apiserver/auth/pki.js';
import { awaitingApproval, recognizers } from '../src/controllers/certificates/csr-approving-controller.js';
import { CSRCleanerController, csrExpired } from '../src/controllers/certificates/csr-cleaner-controller.js';
import { CSRSigningController, needsSigning } from '../src/controllers/certificates/csr-signing-controller.js';
import type { CSR } from '../src/controllers/certificates/csr.js';
import { parseCertificateRequest, signCertificate, signingDurationMs, validityWindow, type ParsedRequest } from '../src/controllers/certificates/sign-certificate.js';
import { decideSigner, KUBE_APISERVER_CLIENT, KUBE_APISERVER_CLIENT_KUBELET, KUBELET_SERVING } from '../src/controllers/certificates/signer-rules.js';
import type { ControllerContext } from '../src/controllers/controller.js';

const dir = mkdtempSync(join(tmpdir(), 'skiff-csr-signer-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function makeCsr(subject: string, addext: string[] = []): string {
  const key = join(dir, 'k.key');
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  return execFileSync('openssl', ['req', '-new', '-key', key, '-subj', subject, ...addext.flatMap((e) => ['-addext', e])]).toString();
}

const req = (over: Partial<ParsedRequest> = {}): ParsedRequest => ({ commonName: 'system:node:n1', organizations: ['system:nodes'], dnsNames: [], ipAddresses: [], emailAddresses: [], uris: [], ...over });

test('signer rules per signer (ValidateKubeletServingCSR, ValidateKubeletClientCSR, validAPIServerClientUsages)', () => {
  const serving = ['digital signature', 'key encipherment', 'server auth'];
  const client = ['digital signature', 'key encipherment', 'client auth'];
  const cases: [string, string, ParsedRequest, string[], string | undefined][] = [
    ['serving ok', KUBELET_SERVING, req({ dnsNames: ['n1'] }), serving, undefined],
    ['serving without RSA usage', KUBELET_SERVING, req({ ipAddresses: ['10.0.0.1'] }), ['server auth', 'digital signature'], undefined],
    ['serving wrong CN', KUBELET_SERVING, req({ commonName: 'web', dnsNames: ['n1'] }), serving, 'subject common name does not begin with system:node:'],
    ['serving wrong O', KUBELET_SERVING, req({ organizations: ['system:nodes', 'x'], dnsNames: ['n1'] }), serving, 'subject organization is not system:nodes'],
    ['serving without SANs', KUBELET_SERVING, req(), serving, 'DNS or IP subjectAltName is required'],
    ['serving with email', KUBELET_SERVING, req({ dnsNames: ['n1'], emailAddresses: ['a@b'] }), serving, 'Email subjectAltNames are not allowed'],
    ['serving with URI', KUBELET_SERVING, req({ dnsNames: ['n1'], uris: ['spiffe://x'] }), serving, 'URI subjectAltNames are not allowed'],
    ['serving client usage', KUBELET_SERVING, req({ dnsNames: ['n1'] }), client, 'usages did not match [digital signature key encipherment server auth]'],
    ['kubelet client ok', KUBE_APISERVER_CLIENT_KUBELET, req(), client, undefined],
    ['kubelet client without RSA usage', KUBE_APISERVER_CLIENT_KUBELET, req(), ['client auth', 'digital signature'], undefined],
    ['kubelet client with DNS', KUBE_APISERVER_CLIENT_KUBELET, req({ dnsNames: ['n1'] }), client, 'DNS subjectAltNames are not allowed'],
    ['kubelet client with IP', KUBE_APISERVER_CLIENT_KUBELET, req({ ipAddresses: ['10.0.0.1'] }), client, 'IP subjectAltNames are not allowed'],
    ['kubelet client wrong CN', KUBE_APISERVER_CLIENT_KUBELET, req({ commonName: 'jane' }), client, 'subject common name does not begin with system:node:'],
    ['kubelet client wrong O', KUBE_APISERVER_CLIENT_KUBELET, req({ organizations: [] }), client, 'subject organization is not system:nodes'],
    ['kubelet client extra usage', KUBE_APISERVER_CLIENT_KUBELET, req(), [...client, 'server auth'], 'usages did not match [client auth digital signature key encipherment]'],
    ['apiserver client, any subject', KUBE_APISERVER_CLIENT, req({ commonName: 'jane', organizations: ['dev'], dnsNames: ['x'] }), ['client auth'], undefined],
    ['apiserver client with optional usages', KUBE_APISERVER_CLIENT, req(), client, undefined],
    ['apiserver client without client auth', KUBE_APISERVER_CLIENT, req(), ['digital signature'], 'missing required usage for client certificate: client auth'],
    ['apiserver client with server auth', KUBE_APISERVER_CLIENT, req(), ['client auth', 'server auth'], 'invalid usage for client certificate: server auth'],
  ];
  for (const [name, signer, r, usages, want] of cases) assert.deepEqual(decideSigner(signer, r, usages), { recognized: true, error: want }, name);
  assert.deepEqual(decideSigner('kubernetes.io/legacy-unknown', req(), ['client auth']), { recognized: false });
  assert.deepEqual(decideSigner('example.com/signer', req(), ['client auth']), { recognized: false });
});

test('parse an openssl CSR: subject and every kind of SAN; a request that is not one is refused', async () => {
  const pem = makeCsr('/CN=system:node:n1/O=system:nodes', ['subjectAltName=DNS:n1,DNS:n1.local,IP:10.0.0.7,IP:fd00::1,email:a@example.com,URI:spiffe://cluster/n1']);
  const p = await parseCertificateRequest(pem);
  assert.equal(p.commonName, 'system:node:n1');
  assert.deepEqual(p.organizations, ['system:nodes']);
  assert.deepEqual(p.dnsNames, ['n1', 'n1.local']);
  assert.deepEqual(p.ipAddresses, ['10.0.0.7', 'fd00::1']);
  assert.deepEqual(p.emailAddresses, ['a@example.com']);
  assert.deepEqual(p.uris, ['spiffe://cluster/n1']);
  await assert.rejects(parseCertificateRequest('junk'), /PEM block type must be CERTIFICATE REQUEST/);
});

test('sign with the cluster CA: subject, usages and SANs from the request, duration within bounds and the CA\'s life', async () => {
  const pki = await ensurePki(join(dir, 'pki'));
  const ca = { certPem: pki.caCertPem, keyPem: pki.caKeyPem };
  const caCert = new X509Certificate(pki.caCertPem);
  const now = new Date();
  const parsed = await parseCertificateRequest(makeCsr('/CN=system:node:n1/O=system:nodes', ['subjectAltName=DNS:n1,IP:10.0.0.7']));
  const pem = await signCertificate(ca, parsed, ['digital signature', 'key encipherment', 'server auth'], signingDurationMs(3600), now);
  const cert = new X509Certificate(pem);
  assert.ok(cert.verify(caCert.publicKey));
  assert.equal(cert.subject, 'CN=system:node:n1\nO=system:nodes');
  assert.equal(cert.issuer, caCert.subject);
  assert.equal(cert.subjectAltName, 'DNS:n1, IP Address:10.0.0.7');
  assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']);
  assert.equal(cert.ca, false);
  assert.equal(Date.parse(cert.validTo) - now.getTime() < 3600_000 + 1000 && Date.parse(cert.validTo) - now.getTime() > 3600_000 - 1000, true);
  assert.ok(Date.parse(cert.validFrom) <= now.getTime() - 4 * 60_000, 'backdated');
  const textOut = execFileSync('openssl', ['x509', '-noout', '-ext', 'keyUsage,basicConstraints'], { input: pem }).toString();
  assert.match(textOut, /Digital Signature, Key Encipherment/);
  assert.match(textOut, /CA:FALSE/);

  // Requested durations stay within [10 minutes, the default]; the CA's expiry caps them.
  assert.equal(signingDurationMs(undefined), 365 * 86_400_000);
  assert.equal(signingDurationMs(600), 600_000);
  assert.equal(signingDurationMs(10 * 365 * 86_400), 365 * 86_400_000);
  assert.equal(signingDurationMs(86_400, 3_600_000), 3_600_000);
  const caEnd = new Date(now.getTime() + 86_400_000);
  assert.deepEqual(validityWindow(now, 365 * 86_400_000, caEnd).notAfter, caEnd);
  assert.equal(validityWindow(now, 600_000, caEnd).notBefore.getTime(), now.getTime() - 300_000);
});

const at = (ms: number) => new Date(Date.parse('2024-05-10T12:00:00Z') + ms).toISOString().replace(/\.\d+Z$/, 'Z');
const H = 3_600_000;
const csrObj = (created: number, status: CertificateSigningRequest['status'] = {}, signerName = KUBE_APISERVER_CLIENT): CSR => ({
  apiVersion: 'certificates.k8s.io/v1',
  kind: 'CertificateSigningRequest',
  metadata: { name: 'c', uid: 'u1', creationTimestamp: at(created) },
  spec: { request: '', signerName, usages: ['client auth'] },
  status,
});

test('which requests the signer and the approver take', () => {
  assert.equal(needsSigning(csrObj(0, { conditions: [{ type: 'Approved', status: 'True' }] })), true);
  assert.equal(needsSigning(csrObj(0)), false, 'pending');
  assert.equal(needsSigning(csrObj(0, { conditions: [{ type: 'Approved', status: 'True' }, { type: 'Denied', status: 'True' }] })), false, 'denied wins');
  assert.equal(needsSigning(csrObj(0, { conditions: [{ type: 'Approved', status: 'True' }, { type: 'Failed', status: 'True' }] })), false, 'failed');
  assert.equal(needsSigning(csrObj(0, { conditions: [{ type: 'Approved', status: 'True' }], certificate: 'eA==' })), false, 'issued');
  assert.equal(needsSigning(csrObj(0, { conditions: [{ type: 'Approved', status: 'True' }] }, 'kubernetes.io/legacy-unknown')), false, 'never legacy-unknown');
  assert.equal(needsSigning(csrObj(0, { conditions: [{ type: 'Approved', status: 'True' }] }, 'example.com/x')), false, 'not ours');
  assert.equal(awaitingApproval(csrObj(0, {}, KUBE_APISERVER_CLIENT_KUBELET)), true);
  assert.equal(awaitingApproval(csrObj(0, {}, KUBE_APISERVER_CLIENT)), false, 'only kubelet client requests are auto-approved');
  assert.equal(awaitingApproval(csrObj(0, { conditions: [{ type: 'Denied', status: 'True' }] }, KUBE_APISERVER_CLIENT_KUBELET)), false);
  const nodeCsr = { spec: { signerName: KUBE_APISERVER_CLIENT_KUBELET, username: 'system:node:n1', usages: ['digital signature', 'client auth'], request: '' } } as CertificateSigningRequest;
  assert.deepEqual(recognizers.filter((r) => r.recognize(nodeCsr, req())).map((r) => r.subresource), ['selfnodeclient', 'nodeclient']);
  assert.deepEqual(recognizers.filter((r) => r.recognize({ ...nodeCsr, spec: { ...nodeCsr.spec, username: 'system:bootstrap:abc' } }, req())).map((r) => r.subresource), ['nodeclient']);
  assert.deepEqual(recognizers.filter((r) => r.recognize(nodeCsr, req({ dnsNames: ['x'] }))), []);
});

test('cleaner deadlines (csrcleaner) and a sweep that deletes with a uid precondition', async () => {
  const now = new Date(Date.parse('2024-05-10T12:00:00Z') + 30 * H);
  const issuedCert = (await ensurePki(join(dir, 'pki'))).adminCertPem;
  const cases: [string, CSR, string | undefined][] = [
    ['pending 23h', csrObj(7 * H), undefined],
    ['pending 25h', csrObj(5 * H), 'pending for more than a day'],
    ['approved 2h ago, not issued', csrObj(0, { conditions: [{ type: 'Approved', status: 'True', lastUpdateTime: at(28 * H) }] }), undefined],
    ['issued, approved 30m ago', csrObj(0, { conditions: [{ type: 'Approved', status: 'True', lastUpdateTime: at(29.5 * H) }], certificate: Buffer.from(issuedCert).toString('base64') }), undefined],
    ['issued, approved 2h ago', csrObj(0, { conditions: [{ type: 'Approved', status: 'True', lastUpdateTime: at(28 * H) }], certificate: Buffer.from(issuedCert).toString('base64') }), 'issued more than an hour ago'],
    ['denied 2h ago', csrObj(0, { conditions: [{ type: 'Denied', status: 'True', lastUpdateTime: at(28 * H) }] }), 'denied more than an hour ago'],
    ['denied 10m ago', csrObj(0, { conditions: [{ type: 'Denied', status: 'True', lastUpdateTime: at(30 * H - 600_000) }] }), undefined],
    ['failed without a time, created 30h ago', csrObj(0, { conditions: [{ type: 'Failed', status: 'True' }] }), 'failed more than an hour ago'],
    ['failed 2h ago', csrObj(0, { conditions: [{ type: 'Approved', status: 'True', lastUpdateTime: at(29.9 * H) }, { type: 'Failed', status: 'True', lastUpdateTime: at(28 * H) }] }), 'failed more than an hour ago'],
  ];
  for (const [name, obj, want] of cases) assert.equal(csrExpired(obj, now), want, name);
  // Issued, approved a minute ago, but the certificate has expired (a year on).
  const yearLater = new Date(Date.now() + 400 * 24 * H);
  const recent = { ...csrObj(0, { conditions: [{ type: 'Approved', status: 'True', lastUpdateTime: yearLater.toISOString() }], certificate: Buffer.from(issuedCert).toString('base64') }), metadata: { name: 'c', creationTimestamp: yearLater.toISOString() } } as CSR;
  assert.equal(csrExpired(recent, yearLater), 'its certificate has expired');

  const cache = [
    { ...csrObj(5 * H), metadata: { name: 'old-pending', uid: 'u-old', creationTimestamp: at(5 * H) } },
    { ...csrObj(7 * H), metadata: { name: 'young-pending', uid: 'u-young', creationTimestamp: at(7 * H) } },
    { ...csrObj(0, { conditions: [{ type: 'Denied', status: 'True', lastUpdateTime: at(28 * H) }] }), metadata: { name: 'gone', uid: 'u-gone', creationTimestamp: at(0) } },
  ] as CSR[];
  const deletes: [string, unknown][] = [];
  const client = {
    async delete(_rt: unknown, _ns: string, name: string, opts: unknown) {
      if (name === 'gone') throw Object.assign(new (await import('../src/api/status.js')).StatusError({ message: 'not found', reason: 'NotFound', code: 404 }));
      deletes.push([name, opts]);
    },
  };
  const ctx = {
    client,
    informers: { informerFor: () => ({ lister: { list: () => cache, get: () => undefined, byIndex: () => [] } }) },
    clock: { now: () => now, setTimeout: () => ({ cancel() {} }) },
  } as unknown as ControllerContext;
  const cleaner = new CSRCleanerController(ctx);
  assert.deepEqual(await cleaner.sweep(), ['old-pending']);
  assert.deepEqual(deletes, [['old-pending', { preconditions: { uid: 'u-old' } }]]);
});

test('the signing controller\'s sync: a certificate or a Failed condition through /status, a conflict retried, the cache never mutated', async () => {
  const pki = await ensurePki(join(dir, 'pki'));
  const now = new Date();
  const approved = { type: 'Approved', status: 'True', reason: 'KubectlApprove', lastUpdateTime: now.toISOString() };
  const mk = (name: string, subject: string, signerName: string, usages: string[], addext: string[] = []): CSR => ({
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { name, uid: `u-${name}`, resourceVersion: '5' },
    spec: { request: Buffer.from(makeCsr(subject, addext)).toString('base64'), signerName, usages, expirationSeconds: 3600 },
    status: { conditions: [approved] },
  });
  const cache = new Map<string, CSR>([
    ['jane', mk('jane', '/CN=jane/O=dev', KUBE_APISERVER_CLIENT, ['client auth'])],
    ['web', mk('web', '/CN=web/O=system:nodes', KUBELET_SERVING, ['digital signature', 'server auth'], ['subjectAltName=DNS:web'])],
    ['busy', mk('busy', '/CN=busy', KUBE_APISERVER_CLIENT, ['client auth'])],
  ]);
  const snapshot = JSON.stringify([...cache.values()]);
  const written: CSR[] = [];
  const requeued: string[] = [];
  const { StatusError } = await import('../src/api/status.js');
  const client = {
    async updateStatus(_rt: unknown, _ns: string, obj: CSR) {
      if (obj.metadata.name === 'busy') throw new StatusError({ message: 'conflict', reason: 'Conflict', code: 409 });
      written.push(obj);
      return obj;
    },
  };
  const ctx = {
    client,
    informers: { informerFor: () => ({ lister: { get: (_ns: string, name: string) => cache.get(name), list: () => [...cache.values()], byIndex: () => [] } }) },
    clock: { now: () => now, setTimeout: () => ({ cancel() {} }) },
  } as unknown as ControllerContext;
  const signer = new CSRSigningController(ctx, { certPem: pki.caCertPem, keyPem: pki.caKeyPem });
  (signer as unknown as { queue: { addRateLimited(k: string): void } }).queue.addRateLimited = (k: string) => requeued.push(k);
  await signer.sync('jane');
  await signer.sync('web');
  await signer.sync('busy');
  await signer.sync('missing');
  assert.equal(JSON.stringify([...cache.values()]), snapshot, 'the informer cache is untouched');
  assert.deepEqual(written.map((o) => o.metadata.name), ['jane', 'web']);
  const cert = new X509Certificate(Buffer.from(written[0]!.status!.certificate!, 'base64'));
  assert.equal(cert.subject, 'CN=jane\nO=dev');
  assert.ok(Math.abs(Date.parse(cert.validTo) - now.getTime() - 3600_000) < 1000, 'the requested hour');
  assert.equal(written[0]!.metadata.resourceVersion, '5', 'the write is a compare-and-swap on what was read');
  assert.equal(written[1]!.status!.certificate, undefined);
  assert.deepEqual(written[1]!.status!.conditions!.map((c) => [c.type, c.reason, c.message]), [
    ['Approved', 'KubectlApprove', undefined],
    ['Failed', 'SignerValidationFailure', 'subject common name does not begin with system:node:'],
  ]);
  assert.deepEqual(requeued, ['busy']);
});
