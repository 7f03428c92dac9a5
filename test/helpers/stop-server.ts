/** The after() of a test that runs one `skiff server` process on a temp data dir. */
import { rm } from 'node:fs/promises';
import { stopChild, type ServerProcess } from './server-process.js';

/** Stops `server` if it still runs (SIGTERM; SIGKILL after 15 s), then removes its data dir `dir`. */
export async function stopServerAndRemoveDir(server: ServerProcess | undefined, dir: string | undefined): Promise<void> {
  if (server) await stopChild(server.child);
  if (dir) await rm(dir, { recursive: true, force: true });
}
