/**
 * Cluster bootstrap data in the datastore, as k3s does it: the first server stores its CA certificate and key there,
 * encrypted with a key derived from the cluster token; every later server on the same datastore (HA on etcd) takes
 * that CA instead of making its own, so one kubeconfig and one agent token work against all of them. A server started
 * with another token cannot decrypt it and refuses to start, saying which token it needs.
 */
import { createCipheriv, createDecipheriv, pbkdf2Sync, randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseToken } from '../api/cluster-token.js';
import { writeFileAtomic } from '../apiserver/auth/pki.js';
import { KeyExistsError, RevisionConflictError, type Store } from '../storage/store.js';
import { createLogger } from '../log/logger.js';

const log = createLogger('server');

export const BOOTSTRAP_KEY = '/bootstrap/skiff';
/** k3s derives its bootstrap key with PBKDF2 and 4096 iterations: the token is random, so start-up stays fast. */
const ITERATIONS = 4096;

interface BootstrapData {
  caCertPem: string;
  caKeyPem: string;
  /** The service account signing key (server/tls/service.key), so every server checks every server's tokens. */
  serviceKeyPem?: string;
  /**
   * `--secrets-encryption`'s EncryptionConfiguration file, so every server reads what every server encrypted (k3s
   * keeps it in its bootstrap data too). Absent while the cluster does not encrypt.
   */
  encryptionConfig?: string;
}

interface Sealed {
  v: 1;
  salt: string;
  iv: string;
  tag: string;
  data: string;
}

function keyFor(secret: string, salt: Buffer): Buffer {
  return pbkdf2Sync(secret, salt, ITERATIONS, 32, 'sha256');
}

export function seal(data: BootstrapData, secret: string): string {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyFor(secret, salt), iv);
  const enc = Buffer.concat([cipher.update(JSON.stringify(data), 'utf8'), cipher.final()]);
  const sealed: Sealed = { v: 1, salt: salt.toString('base64'), iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: enc.toString('base64') };
  return JSON.stringify(sealed);
}

export type { BootstrapData };

export function unseal(text: string, secret: string): BootstrapData {
  const s = JSON.parse(text) as Sealed;
  const decipher = createDecipheriv('aes-256-gcm', keyFor(secret, Buffer.from(s.salt, 'base64')), Buffer.from(s.iv, 'base64'));
  decipher.setAuthTag(Buffer.from(s.tag, 'base64'));
  try {
    const plain = Buffer.concat([decipher.update(Buffer.from(s.data, 'base64')), decipher.final()]).toString('utf8');
    return JSON.parse(plain) as BootstrapData;
  } catch {
    throw new Error(
      'the datastore holds the bootstrap data of a cluster with another token: start this server with --token set to the token of the first server (its <data-dir>/server/token)',
    );
  }
}

/** The token secret this server will use: the flag, else the token file, else undefined (a new one is generated). */
export async function tokenSecret(dataDir: string, flag: string | undefined): Promise<string | undefined> {
  if (flag) return parseToken(flag).secret;
  try {
    const text = (await readFile(join(dataDir, 'server', 'token'), 'utf8')).trim();
    return text ? parseToken(text).secret : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Before the PKI is loaded: if the datastore already holds a CA, write it into this data dir (replacing a different
 * local CA, because the cluster's wins), and the cluster's service account key likewise. Returns true when the CA
 * was written.
 */
export async function adoptClusterCA(sealed: string, dataDir: string, secret: string | undefined): Promise<boolean> {
  if (!secret) throw new Error('the datastore already belongs to a cluster: start this server with --token set to the token of the first server');
  const data = unseal(sealed, secret);
  const dir = join(dataDir, 'server', 'tls');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (data.serviceKeyPem !== undefined) {
    // The cluster's service account key, like k3s's bootstrap data: tokens one server issues work against all.
    const keyPath = join(dir, 'service.key');
    const currentKey = await readFile(keyPath, 'utf8').catch(() => undefined);
    if (currentKey !== data.serviceKeyPem) {
      if (currentKey !== undefined) log.warn("replacing the local service account key with the cluster's from the datastore", { dir });
      await writeFileAtomic(keyPath, data.serviceKeyPem, 0o600);
    }
  }
  const certPath = join(dir, 'server-ca.crt');
  let current: string | undefined;
  try {
    current = await readFile(certPath, 'utf8');
  } catch {
    current = undefined;
  }
  if (current === data.caCertPem) return false;
  if (current !== undefined) log.warn("replacing the local CA with the cluster's CA from the datastore", { dir });
  await writeFileAtomic(join(dir, 'server-ca.key'), data.caKeyPem, 0o600);
  await writeFileAtomic(certPath, data.caCertPem, 0o600);
  return true;
}

/**
 * After the PKI is loaded: the first server publishes its CA (and service account key). Returns false when another
 * server won the race.
 */
export async function publishClusterCA(store: Store, secret: string, caCertPem: string, caKeyPem: string, serviceKeyPem?: string, encryptionConfig?: string): Promise<boolean> {
  try {
    await store.create(BOOTSTRAP_KEY, seal({ caCertPem, caKeyPem, ...(serviceKeyPem !== undefined ? { serviceKeyPem } : {}), ...(encryptionConfig !== undefined ? { encryptionConfig } : {}) }, secret));
    return true;
  } catch (err) {
    if (err instanceof KeyExistsError) return false;
    throw err;
  }
}

/**
 * Changes the cluster's bootstrap data with a compare-and-swap (servers may write it at once: a conflict re-reads and
 * applies `change` again). `change` returns undefined to leave it as it is.
 */
export async function updateBootstrap(store: Store, secret: string, change: (data: BootstrapData) => BootstrapData | undefined): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const { kv } = await store.get(BOOTSTRAP_KEY);
    if (!kv) throw new Error('the datastore has no bootstrap data to update');
    const next = change(unseal(kv.value, secret));
    if (!next) return;
    try {
      await store.update(BOOTSTRAP_KEY, seal(next, secret), kv.modRevision);
      return;
    } catch (err) {
      if (!(err instanceof RevisionConflictError)) throw err;
    }
  }
  throw new Error('the bootstrap data kept changing while this server wrote it; try again');
}
