/**
 * Client certificates for RBAC tests: CN=user, O=each group, clientAuth, signed by a cluster CA with openssl, as an
 * administrator would issue them (the API server's x509 authenticator sees exactly what a real user presents).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ClientCert {
  certPem: string;
  keyPem: string;
  certFile: string;
  keyFile: string;
}

export function issueClientCert(caCertFile: string, caKeyFile: string, dir: string, user: string, groups: string[] = []): ClientCert {
  const work = mkdtempSync(join(dir, 'client-cert-'));
  const key = join(work, 'client.key');
  const csr = join(work, 'client.csr');
  const crt = join(work, 'client.crt');
  const ext = join(work, 'client.ext');
  const subject = `/CN=${user}${groups.map((g) => `/O=${g}`).join('')}`;
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  execFileSync('openssl', ['req', '-new', '-key', key, '-subj', subject, '-out', csr]);
  writeFileSync(ext, 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n');
  execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', caCertFile, '-CAkey', caKeyFile, '-CAcreateserial', '-CAserial', join(work, 'ca.srl'), '-days', '1', '-extfile', ext, '-out', crt], { stdio: 'ignore' });
  return { certPem: readFileSync(crt, 'utf8'), keyPem: readFileSync(key, 'utf8'), certFile: crt, keyFile: key };
}
