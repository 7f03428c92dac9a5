import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { MemoryStore } from './memory-store.js';
import { SqliteStore } from './sqlite-store.js';
import type { Store } from './store.js';

const SUPPORTED =
  'memory://, sqlite:///absolute/path.db, sqlite://relative/path.db, etcd://host:port[,host:port...][/prefix], ' +
  'http(s)://host:port[,http(s)://host:port...][/prefix] (etcd; https with --datastore-cafile/-certfile/-keyfile)';

/**
 * Opens the backend named by url (the k3s `--datastore-endpoint` idea):
 * - `memory://` — in-process, nothing survives a restart (tests, throwaway clusters);
 * - `sqlite:///abs/path.db` or `sqlite://relative/path.db` (relative to the working directory);
 * - `etcd://host:port[,host:port...][/prefix]` or `http://host:port[,http://host:port...][/prefix]` — an etcd v3
 *   cluster shared by several servers; connects and checks that etcd answers before resolving (see parseEtcdUrl).
 * Anything else is refused with an error that names the url and the supported schemes.
 */
/** PEM files for an etcd datastore over TLS (k3s's --datastore-cafile, --datastore-certfile, --datastore-keyfile). */
export interface DatastoreTlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

export async function openStore(url: string, tlsFiles: DatastoreTlsFiles = {}): Promise<Store> {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'memory':
      if (url.length > 'memory://'.length) throw new Error(`datastore ${JSON.stringify(url)}: memory:// takes no path or options`);
      return new MemoryStore();
    case 'sqlite': {
      const path = url.slice('sqlite://'.length);
      if (path === '') throw new Error(`datastore ${JSON.stringify(url)}: sqlite:// needs a file path, e.g. sqlite:///var/lib/skiff/state.db`);
      // kine accepts `?_journal=WAL&cache=shared`; we set our own pragmas, and silently creating a file whose
      // name contains the query would be worse than refusing.
      if (path.includes('?')) throw new Error(`datastore ${JSON.stringify(url)}: sqlite:// takes no query options`);
      return new SqliteStore(isAbsolute(path) ? path : resolve(path));
    }
    case 'etcd':
    case 'http':
    case 'https': {
      // Loaded on demand: the gRPC stack costs ~70 ms of start-up that SQLite and memory servers do not need.
      const { EtcdStore, parseEtcdUrl } = await import('./etcd-store.js');
      const { endpoints, prefix, tls } = parseEtcdUrl(url);
      const given = tlsFiles.caFile !== undefined || tlsFiles.certFile !== undefined || tlsFiles.keyFile !== undefined;
      if (given && !tls) throw new Error(`datastore ${JSON.stringify(url)}: --datastore-cafile, --datastore-certfile and --datastore-keyfile are for etcd over TLS: use https://host:port`);
      if ((tlsFiles.certFile === undefined) !== (tlsFiles.keyFile === undefined)) throw new Error('--datastore-certfile and --datastore-keyfile go together (a client certificate and its key)');
      const read = async (file: string | undefined, what: string) => {
        if (file === undefined) return undefined;
        try {
          return await readFile(file);
        } catch (err) {
          throw new Error(`cannot read the datastore ${what} ${file}: ${(err as Error).message}`);
        }
      };
      const tlsOptions = tls ? { ca: await read(tlsFiles.caFile, 'CA file'), cert: await read(tlsFiles.certFile, 'certificate file'), key: await read(tlsFiles.keyFile, 'key file') } : undefined;
      try {
        return await EtcdStore.connect({ endpoints, prefix, ...(tlsOptions ? { tls: tlsOptions } : {}) });
      } catch (err) {
        throw new Error(`datastore ${JSON.stringify(url)}: ${(err as Error).message}`, { cause: err });
      }
    }
    default:
      throw new Error(`datastore ${JSON.stringify(url)}: unsupported scheme; use one of ${SUPPORTED}`);
  }
}
