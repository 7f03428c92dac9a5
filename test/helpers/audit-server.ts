/**
 * `skiff server` as a child process with an audit policy and a JSON-lines audit log in its temp data dir (the
 * before() of the audit e2e tests), and the log's events as parsed objects. after(): stopServerAndRemoveDir(a.server, a.dir).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubectlFor, type Kubectl } from './kubectl.js';
import { spawnServer, type ServerProcess } from './server-process.js';

export interface AuditServer {
  dir: string;
  /** `<dir>/audit/audit.log`, the --audit-log-path. */
  logPath: string;
  server: ServerProcess;
  /** kubectl (the default minor) with the server's admin kubeconfig. */
  k: Kubectl;
  /** Every event in the log now, oldest first (throws while the log does not exist yet: use it inside eventually). */
  events(): Promise<any[]>;
}

/**
 * Starts `skiff server --audit-policy-file <dir>/policy.yaml --audit-log-path <dir>/audit/audit.log` on port 0 in a
 * new temp dir named after `prefix` (CoreDNS off), with `extraArgs` after those. On failure the dir is removed.
 */
export async function spawnAuditServer(prefix: string, policy: string, extraArgs: string[] = []): Promise<AuditServer> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const logPath = join(dir, 'audit', 'audit.log');
  try {
    await writeFile(join(dir, 'policy.yaml'), policy);
    const server = await spawnServer(['--data-dir', dir, '--https-listen-port', '0', '--bind-address', '127.0.0.1', '--disable', 'coredns', '--audit-policy-file', join(dir, 'policy.yaml'), '--audit-log-path', logPath, ...extraArgs], 30_000);
    const events = async () => (await readFile(logPath, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l));
    return { dir, logPath, server, k: kubectlFor(join(dir, 'kubeconfig.yaml')), events };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
