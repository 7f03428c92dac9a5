/**
 * The admin kubeconfig that `skiff server` ensures at every start, shaped like the one k3s writes
 * (cluster, user and context all named `default`, credentials inline as base64 data), so the file
 * works on its own when copied to another machine (k3s-io/docs: docs/cluster-access.md).
 */
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname } from 'node:path';
import { stringify } from 'yaml';
import { writeFileAtomic } from '../apiserver/auth/pki.js';

export interface KubeconfigOptions {
  /** API server URL, e.g. from kubeconfigServerUrl(). */
  server: string;
  /** PEM of the cluster CA that signed the serving certificate. */
  caPem: string;
  /** PEM client certificate and its private key (the `system:admin` pair). */
  clientCertPem: string;
  clientKeyPem: string;
  /** File mode; 0o600 by default, because the file grants cluster-admin. */
  mode?: number;
}

const NAME = 'default';

/** The kubeconfig document as YAML text; pure, for callers that print or embed it. */
export function renderKubeconfig(opts: Omit<KubeconfigOptions, 'mode'>): string {
  const b64 = (pem: string) => Buffer.from(pem, 'utf8').toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: NAME, cluster: { server: opts.server, 'certificate-authority-data': b64(opts.caPem) } }],
    users: [{ name: NAME, user: { 'client-certificate-data': b64(opts.clientCertPem), 'client-key-data': b64(opts.clientKeyPem) } }],
    contexts: [{ name: NAME, context: { cluster: NAME, user: NAME } }],
    'current-context': NAME,
    preferences: {},
  }, { lineWidth: 0 });
}

/**
 * Writes the kubeconfig to `path` through a temporary file and rename, so kubectl never reads half a
 * file, and with exactly `mode` even when an older file had another mode (k3s-io/k3s#389: a
 * world-readable admin kubeconfig). Missing parent folders are created.
 *
 * A file that already holds exactly this content is left alone (at most its mode is corrected): a
 * restart must not need free disk space, or a server on a full disk could never start again to serve
 * reads. Resolves true when the file was (re)written.
 */
export async function writeKubeconfig(path: string, opts: KubeconfigOptions): Promise<boolean> {
  const mode = opts.mode ?? 0o600;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) throw new Error(`writeKubeconfig: invalid mode ${mode.toString(8)} for ${path}`);
  const content = renderKubeconfig(opts);
  const existing = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (existing === content) {
    if (((await stat(path)).mode & 0o777) !== mode) await chmod(path, mode);
    return false;
  }
  // 0755, not 0700: with --write-kubeconfig-mode 644 other users must be able to reach the file.
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  await writeFileAtomic(path, content, mode);
  return true;
}

/**
 * The server URL to put in the kubeconfig: loopback when listening on every address or on loopback
 * (the serving certificate always covers 127.0.0.1), else the bind address itself.
 */
export function kubeconfigServerUrl(bindAddress: string, port: number): string {
  if (bindAddress === '' || bindAddress === '0.0.0.0' || bindAddress === '127.0.0.1' || bindAddress === '::') {
    return `https://127.0.0.1:${port}`;
  }
  return isIP(bindAddress) === 6 ? `https://[${bindAddress}]:${port}` : `https://${bindAddress}:${port}`;
}
