/**
 * A throwaway one-member etcd for tests and benchmarks of EtcdStore: free loopback ports, a temporary data dir,
 * killed and removed by stop(). Needs the `etcd` binary (Debian: etcd-server).
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestEtcd {
  /** `127.0.0.1:port` of the client URL. */
  endpoint: string;
  /** SIGKILL, then start again on the same ports and data (a crashed member coming back). */
  restart(): Promise<void>;
  /** Sends a signal to the running etcd (SIGSTOP freezes it, SIGCONT thaws it, SIGKILL ends it until restart()). */
  signal(signal: NodeJS.Signals): void;
  /** Stops etcd (SIGKILL after 3 s) and removes its data dir. Idempotent. */
  stop(): Promise<void>;
}

/** True when an `etcd` binary is on PATH. */
export function haveEtcd(): boolean {
  return spawnSync('etcd', ['--version']).error === undefined;
}

/** A port that was free a moment ago on 127.0.0.1 (etcd cannot be told to pick one itself). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** PEM files for an etcd that serves TLS and requires client certificates (--client-cert-auth). */
export interface TestEtcdTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** A client certificate the CA signed, for the health check. */
  clientCertFile: string;
  clientKeyFile: string;
}

/**
 * Starts etcd (with `extraArgs`, e.g. a small --quota-backend-bytes) and resolves once its /health endpoint says so
 * (within 15 s). With `tls`, clients must speak TLS and present a certificate of its CA.
 */
export async function startTestEtcd(extraArgs: string[] = [], tls?: TestEtcdTls): Promise<TestEtcd> {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-etcd-'));
  const clientPort = await freePort();
  const peerPort = await freePort();
  const name = `skiff-test-${process.pid}-${clientPort}`;
  const client = `${tls ? 'https' : 'http'}://127.0.0.1:${clientPort}`;
  const tlsArgs = tls ? ['--cert-file', tls.certFile, '--key-file', tls.keyFile, '--client-cert-auth', '--trusted-ca-file', tls.caFile] : [];
  const tlsOptions = tls ? { ca: readFileSync(tls.caFile), cert: readFileSync(tls.clientCertFile), key: readFileSync(tls.clientKeyFile) } : undefined;
  const peer = `http://127.0.0.1:${peerPort}`;
  let proc: ChildProcess | undefined;
  let log = '';
  let stopped = false;

  async function launch(state: 'new' | 'existing'): Promise<void> {
    const p = spawn(
      'etcd',
      [
        '--name', name, '--data-dir', join(dir, 'data'),
        '--listen-client-urls', client, '--advertise-client-urls', client,
        '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
        '--initial-cluster', `${name}=${peer}`, '--initial-cluster-state', state,
        '--initial-cluster-token', name,
        ...tlsArgs,
        ...extraArgs,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    proc = p;
    p.stderr!.on('data', (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4000);
    });
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (p.exitCode !== null || p.signalCode !== null) throw new Error(`etcd exited (${p.exitCode ?? p.signalCode}):\n${log}`);
      try {
        if ((await health(`${client}/health`, tlsOptions)) === 'true') return;
      } catch (err) {
        // Connection refused until etcd listens; anything else is worth seeing in the timeout message.
        if ((err as { cause?: { code?: string } }).cause?.code !== 'ECONNREFUSED') log += `\nhealth check: ${String(err)}`;
      }
      if (Date.now() > deadline) {
        p.kill('SIGKILL');
        throw new Error(`etcd did not become healthy within 15 s:\n${log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async function kill(signal: NodeJS.Signals): Promise<void> {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill(signal);
    // etcd can take seconds to exit on SIGTERM; never let that hold a run up.
    const timer = setTimeout(() => p.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }

  // A test runner that exits without calling stop() must not leave etcd behind.
  const onExit = () => proc?.kill('SIGKILL');
  process.once('exit', onExit);
  try {
    await launch('new');
  } catch (err) {
    process.removeListener('exit', onExit);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    endpoint: `127.0.0.1:${clientPort}`,
    signal(signal) {
      proc?.kill(signal);
    },
    async restart() {
      await kill('SIGKILL');
      await launch('existing');
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await kill('SIGTERM');
      process.removeListener('exit', onExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** etcd's /health answer ("true" when healthy), over HTTPS with a client certificate when given. */
async function health(url: string, tls?: { ca: Buffer; cert: Buffer; key: Buffer }): Promise<string | undefined> {
  if (!tls) {
    const res = await fetch(url);
    return res.ok ? ((await res.json()) as { health?: string }).health : undefined;
  }
  return new Promise((resolve, reject) => {
    const req = request(url, { ...tls, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        try {
          resolve(res.statusCode === 200 ? (JSON.parse(body) as { health?: string }).health : undefined);
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => reject(Object.assign(new Error(err.message), { cause: { code: err.code } })));
    req.end();
  });
}
