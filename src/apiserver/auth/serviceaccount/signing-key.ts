/**
 * The service account signing key, `<data-dir>/server/tls/service.key` (where k3s keeps its own): an ECDSA P-256
 * private key in PKCS#8 PEM, generated on first start and reused after, so tokens stay valid across restarts. An RSA
 * key placed there by hand is used as it is (RS256). Servers sharing a datastore must share the key, as they share the
 * CA (a key that is not the CA's is not published through the datastore today: see README.md).
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../pki.js';
import { algorithmOf } from './jwt.js';

export function serviceAccountKeyPath(dataDir: string): string {
  return join(dataDir, 'server', 'tls', 'service.key');
}

/** The signing key on disk, created (mode 0600, written atomically) when there is none. */
export async function ensureServiceAccountKey(dataDir: string): Promise<KeyObject> {
  const path = serviceAccountKeyPath(dataDir);
  let pem: string | undefined;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (pem === undefined) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    await mkdir(join(dataDir, 'server', 'tls'), { recursive: true, mode: 0o700 });
    await writeFileAtomic(path, pem, 0o600);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new Error(`service account key ${path} is not a PEM private key: ${(err as Error).message}`, { cause: err });
  }
  algorithmOf(key);
  return key;
}

/** The signing key's PKCS#8 PEM (created when missing), for the cluster bootstrap data HA servers share. */
export async function serviceAccountKeyPem(dataDir: string): Promise<string> {
  return (await ensureServiceAccountKey(dataDir)).export({ format: 'pem', type: 'pkcs8' }) as string;
}
