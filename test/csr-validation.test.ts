/**
 * CertificateSigningRequest registry rules, as kube-apiserver 1.32's: create validation (a table over the request PEM,
 * usages, signerName, expirationSeconds, conditions, certificate), the update rules of /status and /approval, the
 * approval view, the requestor recorded at create, CertificateSubjectRestriction, and kubectl's columns. CSRs are
 * made by openssl with RSA, ECDSA and Ed25519 keys.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { KubeObject } from '../src/api/object.js';
import { isStatusError } from '../src/api/status.js';
import { certificateRequestOrganizations, checkCertificateRequestPem } from '../src/apiserver/registry/certificate-request.js';
import { certificatesigningrequests as csrs, csrApproval, csrCondition, validateCSRUpdate } from '../src/apiserver/registry/certificatesigningrequests.js';

const dir = mkdtempSync(join(tmpdir(), 'skiff-csr-validation-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function openssl(args: string[]): string {
  return execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
}

/** A PEM CSR for `subject` with a new key of the given kind. */
function makeCsr(kind: 'rsa' | 'ec' | 'ed25519', subject: string): string {
  const key = join(dir, `${kind}.key`);
  if (kind === 'rsa') openssl(['genrsa', '-out', key, '2048']);
  else if (kind === 'ec') openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  else openssl(['genpkey', '-algorithm', 'ed25519', '-out', key]);
  return openssl(['req', '-new', '-key', key, '-subj', subject]);
}

const rsaCsr = makeCsr('rsa', '/CN=jane/O=dev/O=qa');
const ecCsr = makeCsr('ec', '/CN=system:node:n1/O=system:nodes');
const edCsr = makeCsr('ed25519', '/CN=ed');
const caKey = join(dir, 'ca.key');
openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-subj', '/CN=ca', '-days', '1', '-out', join(dir, 'ca.crt')]);
const certPem = openssl(['x509', '-in', join(dir, 'ca.crt')]);

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** A CSR whose signature no longer matches: one byte of the signature flipped. */
function tampered(pem: string): string {
  const body = pem.replace(/-----[^-]+-----|\s/g, '');
  const der = Buffer.from(body, 'base64');
  der[der.length - 5] = der[der.length - 5]! ^ 0xff;
  return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE REQUEST-----\n`;
}

function csr(spec: Record<string, unknown> = {}, status?: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { name: 'any:name/goes' },
    spec: { request: b64(rsaCsr), signerName: 'kubernetes.io/kube-apiserver-client', usages: ['client auth'], ...spec },
    ...(status ? { status } : {}),
  };
}

const errorsOf = (obj: KubeObject) => csrs.strategy.validate(obj).map((e) => `${e.field}: ${e.detail}`);

test('create validation, as upstream validateCertificateSigningRequest', () => {
  const cases: { name: string; obj: KubeObject; want: string[] }[] = [
    { name: 'RSA request', obj: csr(), want: [] },
    { name: 'ECDSA request', obj: csr({ request: b64(ecCsr) }), want: [] },
    { name: 'Ed25519 request', obj: csr({ request: b64(edCsr) }), want: [] },
    { name: 'any name is fine', obj: { ...csr(), metadata: { name: 'UPPER:case' } }, want: [] },
    { name: 'not PEM', obj: csr({ request: b64('hello') }), want: ['spec.request: Invalid value: "<request data>": PEM block type must be CERTIFICATE REQUEST'] },
    { name: 'a certificate, not a request', obj: csr({ request: b64(certPem) }), want: ['spec.request: Invalid value: "<request data>": PEM block type must be CERTIFICATE REQUEST'] },
    { name: 'RSA signature broken', obj: csr({ request: b64(tampered(rsaCsr)) }), want: ['spec.request: Invalid value: "<request data>": crypto/rsa: verification error'] },
    { name: 'ECDSA signature broken', obj: csr({ request: b64(tampered(ecCsr)) }), want: ['spec.request: Invalid value: "<request data>": x509: ECDSA verification failure'] },
    { name: 'not base64', obj: csr({ request: '%%%' }), want: ['spec.request: Invalid value: "<request data>": illegal base64 data'] },
    { name: 'no request', obj: csr({ request: undefined }), want: ['spec.request: Required value'] },
    { name: 'no usages', obj: csr({ usages: [] }), want: ['spec.usages: Required value'] },
    { name: 'duplicate usage', obj: csr({ usages: ['client auth', 'client auth'] }), want: ['spec.usages[1]: Duplicate value: "client auth"'] },
    { name: 'no signerName', obj: csr({ signerName: undefined }), want: ['spec.signerName: Required value'] },
    { name: 'signerName without a path', obj: csr({ signerName: 'example.com' }), want: ["spec.signerName: Invalid value: \"example.com\": must be a fully qualified domain and path of the form 'example.com/signer-name'"] },
    { name: 'signerName domain without a dot', obj: csr({ signerName: 'example/signer' }), want: ['spec.signerName: Invalid value: "example": should be a domain with at least two segments separated by dots'] },
    { name: 'legacy signer', obj: csr({ signerName: 'kubernetes.io/legacy-unknown' }), want: ['spec.signerName: Invalid value: "kubernetes.io/legacy-unknown": the legacy signerName is not allowed via this API version'] },
    { name: 'custom signer', obj: csr({ signerName: 'example.com/my-signer' }), want: [] },
    { name: 'expirationSeconds 599', obj: csr({ expirationSeconds: 599 }), want: ['spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 600 seconds (10 minutes)'] },
    { name: 'expirationSeconds 600', obj: csr({ expirationSeconds: 600 }), want: [] },
    { name: 'Approved must be True', obj: csr({}, { conditions: [{ type: 'Approved', status: 'False' }] }), want: ['status.conditions[0].status: Unsupported value: "False": supported values: "True"'] },
    { name: 'Approved and Denied', obj: csr({}, { conditions: [{ type: 'Approved', status: 'True' }, { type: 'Denied', status: 'True' }] }), want: ['status.conditions[1].type: Invalid value: "Denied": Approved and Denied conditions are mutually exclusive'] },
    { name: 'duplicate Failed', obj: csr({}, { conditions: [{ type: 'Failed', status: 'True' }, { type: 'Failed', status: 'True' }] }), want: ['status.conditions[1].type: Duplicate value: "Failed"'] },
    { name: 'custom condition may be False', obj: csr({}, { conditions: [{ type: 'Ready', status: 'False' }] }), want: [] },
    { name: 'not a certificate', obj: csr({}, { certificate: b64('junk') }), want: ['status.certificate: Invalid value: "<certificate data>": must contain at least one CERTIFICATE PEM block'] },
    { name: 'a certificate', obj: csr({}, { certificate: b64(certPem) }), want: [] },
  ];
  for (const c of cases) assert.deepEqual(errorsOf(c.obj), c.want, c.name);
  assert.match(errorsOf(csr({ usages: ['bogus'] }))[0]!, /^spec\.usages\[0\]: Unsupported value: "bogus": supported values: "any", "cert sign", "client auth"/);
});

test('create records the requesting user, whatever the client sent, and starts with no status; conditions default to True', () => {
  const obj = csr({ username: 'mallory', groups: ['system:masters'], uid: 'x', extra: { a: ['b'] } }, { conditions: [{ type: 'Approved', status: 'True' }] });
  csrs.strategy.prepareForCreate!(obj, { user: { username: 'jane', uid: 'u-1', groups: ['dev', 'system:authenticated'], extra: { scopes: ['s1'] } } });
  const spec = obj.spec as Record<string, unknown>;
  assert.equal(spec.username, 'jane');
  assert.equal(spec.uid, 'u-1');
  assert.deepEqual(spec.groups, ['dev', 'system:authenticated']);
  assert.deepEqual(spec.extra, { scopes: ['s1'] });
  assert.deepEqual(obj.status, {});
  const anonymous = csr({ username: 'mallory', extra: { a: ['b'] } });
  csrs.strategy.prepareForCreate!(anonymous, { user: { username: 'system:anonymous', groups: [] } });
  assert.equal((anonymous.spec as Record<string, unknown>).extra, undefined);
  assert.equal((anonymous.spec as Record<string, unknown>).groups, undefined);
  const upd = csr({}, { conditions: [{ type: 'Ready' }] });
  csrs.strategy.prepareForUpdate!(upd, csr());
  assert.equal((upd.status as { conditions: { status: string }[] }).conditions[0]!.status, 'True');
});

test('CertificateSubjectRestriction: system:masters is refused for kube-apiserver-client only', () => {
  const masters = openssl(['req', '-new', '-key', join(dir, 'rsa.key'), '-subj', '/CN=root/O=dev/O=system:masters']);
  assert.deepEqual(certificateRequestOrganizations(masters), ['dev', 'system:masters']);
  assert.deepEqual(certificateRequestOrganizations(rsaCsr), ['dev', 'qa']);
  const user = { user: { username: 'admin', groups: ['system:masters'] } };
  assert.throws(
    () => csrs.strategy.prepareForCreate!(csr({ request: b64(masters) }), user),
    (err: unknown) => isStatusError(err) && err.status.code === 403 && err.message === 'certificatesigningrequests.certificates.k8s.io "any:name/goes" is forbidden: use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed',
  );
  assert.doesNotThrow(() => csrs.strategy.prepareForCreate!(csr({ request: b64(masters), signerName: 'example.com/ca' }), user));
  assert.equal(checkCertificateRequestPem(masters), undefined);
});

test('the spec is immutable: a main-resource update keeps the stored spec', () => {
  const old = csr({ username: 'jane' });
  const next = csr({ signerName: 'example.com/other', username: 'mallory' });
  csrs.strategy.prepareForUpdate!(next, old);
  assert.deepEqual(next.spec, old.spec);
});

test('update rules: /status sets the certificate once and never approves; /approval changes only Approved/Denied', () => {
  const statusRules = (next: KubeObject, old: KubeObject) => csrs.strategy.validateUpdate!(next, old).map((e) => `${e.field}: ${e.detail}`);
  const approvalRules = (next: KubeObject, old: KubeObject) => csrApproval.validateUpdate!(next, old).map((e) => `${e.field}: ${e.detail}`);
  const approved = { type: 'Approved', status: 'True', reason: 'KubectlApprove', lastUpdateTime: '2024-01-01T00:00:00Z' };
  const pending = csr({}, {});
  const approvedCsr = csr({}, { conditions: [approved] });
  assert.deepEqual(statusRules(csr({}, { conditions: [approved] }), pending), ['status.conditions: Forbidden: updates may not add a condition of type "Approved"']);
  assert.deepEqual(statusRules(csr({}, { conditions: [{ ...approved, message: 'changed' }] }), approvedCsr), ['status.conditions: Forbidden: updates may not modify a condition of type "Approved"']);
  assert.deepEqual(statusRules(csr({}, { conditions: [approved], certificate: b64(certPem) }), approvedCsr), []);
  assert.deepEqual(statusRules(csr({}, { conditions: [approved], certificate: b64(certPem + certPem) }), csr({}, { conditions: [approved], certificate: b64(certPem) })), ['status.certificate: Forbidden: updates may not modify existing certificate content']);
  assert.deepEqual(statusRules(csr({}, { conditions: [approved] }), csr({}, { conditions: [approved, { type: 'Failed', status: 'True' }] })), ['status.conditions: Forbidden: updates may not remove a condition of type "Failed"']);
  assert.deepEqual(approvalRules(approvedCsr, pending), []);
  assert.deepEqual(approvalRules(csr({}, { certificate: b64(certPem) }), pending), ['status.certificate: Forbidden: updates may not set certificate content']);
  assert.deepEqual(approvalRules(pending, approvedCsr), ['status.conditions: Forbidden: updates may not remove a condition of type "Approved"']);
});

test('the approval view takes Approved/Denied from the written object and everything else from the stored one', () => {
  const stored = csr({ username: 'jane' }, { conditions: [{ type: 'Ready', status: 'True', lastUpdateTime: '2024-01-01T00:00:00Z', lastTransitionTime: '2024-01-01T00:00:00Z' }], certificate: b64(certPem) });
  const written = csr({ signerName: 'example.com/x' }, { conditions: [{ type: 'Approved', status: 'True', reason: 'KubectlApprove' }, { type: 'Failed', status: 'True' }], certificate: b64('other') });
  const next = csrApproval.view!.apply(stored, written);
  assert.deepEqual(next.spec, stored.spec);
  const status = next.status as { conditions: Record<string, string>[]; certificate: string };
  assert.equal(status.certificate, b64(certPem));
  assert.deepEqual(status.conditions.map((c) => c.type), ['Approved', 'Ready']);
  assert.match(status.conditions[0]!.lastUpdateTime!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'stamped by the server');
  assert.equal(status.conditions[0]!.lastTransitionTime, status.conditions[0]!.lastUpdateTime);
  assert.equal((stored.status as { conditions: unknown[] }).conditions.length, 1, 'the stored object is not mutated');
});

test('kubectl get csr columns and cells (printers.go)', () => {
  assert.deepEqual(csrs.printer.columns.map((c) => c.name), ['Name', 'Age', 'SignerName', 'Requestor', 'RequestedDuration', 'Condition']);
  const now = new Date('2024-05-10T12:00:00Z');
  const obj = csr({ username: 'jane', expirationSeconds: 86400 });
  obj.metadata.name = 'csr-1';
  obj.metadata.creationTimestamp = '2024-05-10T11:55:00Z';
  assert.deepEqual(csrs.printer.row(obj, now), ['csr-1', '5m', 'kubernetes.io/kube-apiserver-client', 'jane', '24h', 'Pending']);
  assert.equal(csrs.printer.row(csr({ expirationSeconds: undefined, signerName: '' }), now)[4], '<none>');
  assert.equal(csrs.printer.row(csr({ signerName: '' }), now)[2], '<none>');
  const cases: [Record<string, unknown>, string][] = [
    [{}, 'Pending'],
    [{ conditions: [{ type: 'Approved' }], certificate: 'eA==' }, 'Approved,Issued'],
    [{ conditions: [{ type: 'Approved' }, { type: 'Failed' }] }, 'Approved,Failed'],
    [{ conditions: [{ type: 'Denied' }] }, 'Denied'],
    [{ conditions: [{ type: 'Approved' }, { type: 'Denied' }] }, 'Denied'],
  ];
  for (const [status, want] of cases) assert.equal(csrCondition(csr({}, status)), want);
  assert.equal(csrs.fieldSelectors!['spec.signerName']!(csr()), 'kubernetes.io/kube-apiserver-client');
});

test('validateCSRUpdate alone says nothing about an unchanged object', () => {
  const o = csr({}, { conditions: [{ type: 'Approved', status: 'True' }], certificate: b64(certPem) });
  assert.deepEqual(validateCSRUpdate(o, structuredClone(o), { setsCertificate: false, setsApproval: false }), []);
});
