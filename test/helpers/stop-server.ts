/** The before() and after() of a test that runs one `skiff server` process on a temp data dir. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubectlFor, type Kubectl } from './kubectl.js';
import { spawnServer, stopChild, type ServerProcess } from './server-process.js';

export interface DirServer {
  /** The temp dir: the server's --data-dir, its kubeconfig.yaml, and the files given. */
  dir: string;
  server: ServerProcess;
  /** kubectl (the default minor) with the server's admin kubeconfig. */
  k: Kubectl;
}

/**
 * Writes `files` (name → text) into a new temp dir named after `prefix`, then starts `skiff server` on it on port 0,
 * 127.0.0.1, CoreDNS off, with `args(dir)` after those (flags that name the files); 30 s to become ready. On failure
 * the dir is removed. The after(): stopServerAndRemoveDir(s?.server, s?.dir).
 */
export async function spawnServerInTempDir(prefix: string, { files = {}, args = () => [] }: { files?: Record<string, string>; args?: (dir: string) => string[] } = {}): Promise<DirServer> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    const server = await spawnServer(['--data-dir', dir, '--https-listen-port', '0', '--bind-address', '127.0.0.1', '--disable', 'coredns', ...args(dir)], 30_000);
    return { dir, server, k: kubectlFor(join(dir, 'kubeconfig.yaml')) };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Stops `server` if it still runs (SIGTERM; SIGKILL after 15 s), then removes its data dir `dir`. */
export async function stopServerAndRemoveDir(server: ServerProcess | undefined, dir: string | undefined): Promise<void> {
  if (server) await stopChild(server.child);
  if (dir) await rm(dir, { recursive: true, force: true });
}
