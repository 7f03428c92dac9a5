/**
 * The node's CSR, checked by two independent readers: @peculiar/x509 (what the server's node-join endpoint parses it
 * with, signature included) and, when installed, `openssl req -verify`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync, webcrypto } from 'node:crypto';
import { test } from 'node:test';
import { certificateRequestPem, newKeyAndCertificateRequest } from './certificate-request.js';

async function parse(pem: string) {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as never);
  return new x509.Pkcs10CertificateRequest(pem);
}

test('the CSR names the node, carries the key and verifies with its own signature', async () => {
  const { keyPem, csrPem } = await newKeyAndCertificateRequest('worker-1');
  assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n$/);
  assert.match(csrPem, /^-----BEGIN CERTIFICATE REQUEST-----\n([A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END CERTIFICATE REQUEST-----\n$/);
  const csr = await parse(csrPem);
  assert.equal(csr.subject, 'CN=worker-1');
  assert.equal((csr.signatureAlgorithm as { name?: string }).name, 'ECDSA');
  assert.equal(await csr.verify(), true);
  // The CSR's public key is the private key's.
  const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
  assert.deepEqual(Buffer.from(csr.publicKey.rawData), fromKey);
});

test('long names (multi-byte lengths) and a changed byte: verify says so', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const name = `n-${'x'.repeat(200)}`;
  const pem = certificateRequestPem(name, privateKey, publicKey);
  const csr = await parse(pem);
  assert.equal(csr.subject, `CN=${name}`);
  assert.equal(await csr.verify(), true);
  // Flip one byte of the name inside the signed part: still parses, no longer verifies.
  const der = Buffer.from(pem.replace(/-----[A-Z ]+-----|\n/g, ''), 'base64');
  const at = der.indexOf(Buffer.from('xxxx'));
  der[at] = 'y'.charCodeAt(0);
  const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE REQUEST-----\n`;
  assert.equal(await (await parse(tampered)).verify(), false);
});

test('openssl reads and verifies it', async (t) => {
  const { csrPem } = await newKeyAndCertificateRequest('node-a.example');
  let out;
  try {
    out = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      const child = execFile('openssl', ['req', '-noout', '-verify', '-subject'], (err, stdout, stderr) => (err ? reject(Object.assign(err, { stderr })) : resolve({ stdout, stderr })));
      child.stdin!.end(csrPem);
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      // .ci/run installs openssl: CI must not skip.
      if (process.env.CI === 'true') throw new Error('CI=true but openssl is not installed');
      return t.skip('openssl is not installed');
    }
    throw err;
  }
  assert.match(`${out.stdout}${out.stderr}`, /verify OK/i);
  assert.match(out.stdout, /CN\s*=\s*node-a\.example/);
});
