/**
 * A throwaway OCI registry for tests: Debian's docker-registry (distribution 2.8) on 127.0.0.1 at a free port, with
 * storage in a temporary directory, plain HTTP, no auth. Images are pushed with skopeo from OCI archives.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { findBinary } from '../../src/agent/runtime/cri/managed-containerd.js';

const execFileAsync = promisify(execFile);

export interface TestRegistry {
  /** host:port, e.g. 127.0.0.1:41234 (what image references start with). */
  host: string;
  url: string;
  /** Pushes an OCI archive as `<host>/<repository>:<tag>`; returns that reference. */
  push(archive: string, repositoryAndTag: string): Promise<string>;
  stop(): Promise<void>;
}

/** Why a test registry cannot run here, or undefined. */
export function registryMissing(): string | undefined {
  for (const binary of ['docker-registry', 'skopeo']) if (!findBinary(binary)) return `${binary} is not installed (apt-get install docker-registry skopeo)`;
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

export interface TestRegistryOptions {
  /** Require HTTP basic auth with these credentials (htpasswd, bcrypt'd by python3's crypt module). */
  auth?: { username: string; password: string };
}

/** Why a registry with basic auth cannot run here (its htpasswd file needs bcrypt, which python3 provides). */
export async function registryAuthMissing(): Promise<string | undefined> {
  try {
    await bcrypt('probe');
    return undefined;
  } catch (err) {
    return `cannot make a bcrypt htpasswd entry with python3: ${(err as Error).message.split('\n')[0]}`;
  }
}

async function bcrypt(password: string): Promise<string> {
  const { stdout } = await execFileAsync('python3', ['-W', 'ignore', '-c', 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))', password]);
  const hash = stdout.trim();
  if (!hash.startsWith('$2')) throw new Error(`python3 crypt gave no bcrypt hash: ${hash}`);
  return hash;
}

export async function startRegistry(options: TestRegistryOptions = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-registry-'));
  let child: ChildProcess | undefined;
  const stop = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    let authLine = '';
    if (options.auth) {
      await writeFile(join(dir, 'htpasswd'), `${options.auth.username}:${await bcrypt(options.auth.password)}\n`);
      authLine = `auth: { htpasswd: { realm: skiff-test, path: ${join(dir, 'htpasswd')} } }`;
    }
    const creds = options.auth ? ['--dest-creds', `${options.auth.username}:${options.auth.password}`] : [];
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      const host = `127.0.0.1:${port}`;
      await writeFile(
        join(dir, 'config.yml'),
        [
          'version: 0.1',
          'log: { level: warn }',
          `storage: { filesystem: { rootdirectory: ${join(dir, 'data')} }, delete: { enabled: true } }`,
          `http: { addr: "${host}" }`,
          authLine,
          '',
        ].join('\n'),
      );
      const stderr: Buffer[] = [];
      child = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr!.on('data', (c: Buffer) => stderr.push(c));
      const url = `http://${host}`;
      for (let waited = 0; waited < 10_000; waited += 50) {
        if (child.exitCode !== null) break;
        try {
          const probe = await fetch(`${url}/v2/`);
          if (probe.ok || (options.auth && probe.status === 401)) {
            return {
              host,
              url,
              async push(archive, repositoryAndTag) {
                const ref = `${host}/${repositoryAndTag}`;
                await execFileAsync('skopeo', ['--insecure-policy', 'copy', '--quiet', '--dest-tls-verify=false', ...creds, `oci-archive:${archive}`, `docker://${ref}`]);
                return ref;
              },
              stop,
            };
          }
        } catch {
          // not listening yet
        }
        await sleep(50);
      }
      // The port was taken between our probe and the registry's bind: try another.
      if (attempt < 3 && child.exitCode !== null) continue;
      throw new Error(`docker-registry did not start on ${host}: ${Buffer.concat(stderr).toString().trim()}`);
    }
  } catch (err) {
    await stop();
    throw err;
  }
}
