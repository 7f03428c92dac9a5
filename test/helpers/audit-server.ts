/**
 * `skiff server` as a child process with an audit policy and a JSON-lines audit log in its temp data dir (the
 * before() of the audit e2e tests), and the log's events as parsed objects. after(): stopServerAndRemoveDir(a.server, a.dir).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnServerInTempDir, type DirServer } from './stop-server.js';

export interface AuditServer extends DirServer {
  /** `<dir>/audit/audit.log`, the --audit-log-path. */
  logPath: string;
  /** Every event in the log now, oldest first (throws while the log does not exist yet: use it inside eventually). */
  events(): Promise<any[]>;
}

/**
 * Starts `skiff server --audit-policy-file <dir>/policy.yaml --audit-log-path <dir>/audit/audit.log` with
 * spawnServerInTempDir (a new temp dir named after `prefix`), with `extraArgs` after those.
 */
export async function spawnAuditServer(prefix: string, policy: string, extraArgs: string[] = []): Promise<AuditServer> {
  const s = await spawnServerInTempDir(prefix, { files: { 'policy.yaml': policy }, args: (dir) => ['--audit-policy-file', join(dir, 'policy.yaml'), '--audit-log-path', join(dir, 'audit', 'audit.log'), ...extraArgs] });
  const logPath = join(s.dir, 'audit', 'audit.log');
  const events = async () => (await readFile(logPath, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return { ...s, logPath, events };
}
