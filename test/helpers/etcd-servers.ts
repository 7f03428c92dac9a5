/** Several `skiff server` processes on one test etcd (HA and token tests): start them, then stop it all after. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestEtcd, type TestEtcd } from '../../src/storage/etcd-store-testing.js';
import { spawnServer, waitExit, type ServerProcess } from './server-process.js';

export interface EtcdServerGroup {
  /** Starts the group's etcd (call it first, in the test). */
  startEtcd(): Promise<void>;
  /** A server on its own temp data dir, its datastore etcd://<endpoint>/<keyPrefix>; `extra` flags after those. */
  start(extra?: string[]): Promise<{ s: ServerProcess; dir: string }>;
  /** For after(): kill -9 every server started, stop etcd, remove the data dirs. */
  stopAll(): Promise<void>;
}

export function etcdServerGroup(keyPrefix: string, tmpPrefix: string): EtcdServerGroup {
  let etcd: TestEtcd | undefined;
  const servers: ServerProcess[] = [];
  const dirs: string[] = [];
  return {
    async startEtcd() {
      etcd = await startTestEtcd();
    },
    async start(extra = []) {
      const dir = await mkdtemp(join(tmpdir(), tmpPrefix));
      dirs.push(dir);
      const s = await spawnServer(['--data-dir', dir, '--https-listen-port', '0', '--bind-address', '127.0.0.1', '--datastore-endpoint', `etcd://${etcd!.endpoint}/${keyPrefix}`, ...extra]);
      servers.push(s);
      return { s, dir };
    },
    async stopAll() {
      for (const s of servers) {
        s.child.kill('SIGKILL');
        await waitExit(s.child);
      }
      await etcd?.stop();
      for (const d of dirs) await rm(d, { recursive: true, force: true });
    },
  };
}
