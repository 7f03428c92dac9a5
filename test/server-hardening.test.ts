/**
 * The server stays up and tells the truth (issue 6, hardening): request deadlines that leave watches alone, bounded
 * connections, 429 beyond the in-flight limits, 431 for huge headers, HTTP/1.0 framing, early answers that do not wait
 * for the body, /readyz that follows the datastore (etcd stopped or frozen, a full disk) while /livez stays about the
 * process, and a server that restarts on a full disk, serves reads and refuses writes with a Status that says why.
 *
 * Deadlines here are real Node server timers (they cannot be injected), so the tests use short ones (hundreds of ms).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { ensurePki, type Pki } from '../src/apiserver/auth/pki.js';

const DAY_MS = 24 * 60 * 60 * 1000;
import type { ApiServerOptions } from '../src/apiserver/server.js';
import { haveEtcd, startTestEtcd, type TestEtcd } from '../src/storage/etcd-store-testing.js';
import { openStore } from '../src/storage/open-store.js';
import type { Store } from '../src/storage/store.js';
import { fillDisk, mountTinyTmpfs } from '../src/storage/tmpfs-testing.js';
import { startBareApiServer, type Reply } from './helpers/api-server.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const USER_TOKEN = 'alice-token';

/** A real API server on 127.0.0.1:0 over `store`, with the admin client certificate for requests. */
async function startServer(store: Store, extra: Partial<ApiServerOptions> = {}) {
  const s = await startBareApiServer({
    store,
    // An ordinary user (not in system:masters, which the in-flight limits let through).
    authenticator: { tokenAuthenticators: [{ authenticateToken: (t: string) => (t === USER_TOKEN ? { username: 'alice', groups: ['system:authenticated'] } : undefined) }] },
    server: extra,
  });
  return { ...s, send: (method: string, path: string, body?: unknown, anonymous = false) => s.send(method, path, body, { anonymous }) };
}

interface RawTls {
  sock: tls.TLSSocket;
  /** Everything received so far. */
  text(): string;
  /** Resolves with how the connection ended ('end', 'error: CODE') or 'open' after ms. */
  ended(ms: number): Promise<string>;
  write(data: string | Buffer): boolean;
}

/** A raw TLS connection (optionally from another loopback address, optionally without a client certificate). */
function rawTls(port: number, pki: Pki, opts: { anonymous?: boolean; localAddress?: string; allowHalfOpen?: boolean } = {}): Promise<RawTls> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({
      host: '127.0.0.1',
      port,
      ca: pki.caCertPem,
      servername: 'localhost',
      localAddress: opts.localAddress,
      allowHalfOpen: opts.allowHalfOpen,
      ...(opts.anonymous ? {} : { cert: pki.adminCertPem, key: pki.adminKeyPem }),
    } as tls.ConnectionOptions);
    let text = '';
    let ending: string | undefined;
    const waiters: (() => void)[] = [];
    const settle = (how: string) => {
      ending ??= how;
      for (const w of waiters.splice(0)) w();
    };
    sock.on('data', (d) => (text += d.toString('latin1')));
    sock.on('end', () => settle('end'));
    sock.on('close', () => settle('end'));
    sock.on('error', (e: NodeJS.ErrnoException) => {
      settle(`error: ${e.code}`);
      reject(e);
    });
    sock.once('secureConnect', () =>
      resolve({
        sock,
        text: () => text,
        write: (d) => sock.write(d),
        ended: (ms) =>
          new Promise((done) => {
            if (ending) return done(ending);
            const timer = setTimeout(() => done('open'), ms);
            waiters.push(() => {
              clearTimeout(timer);
              done(ending!);
            });
          }),
      }),
    );
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
  return Date.now() - start;
}

describe('request deadlines, connection bounds and refusals', () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  let store: Store;
  before(async () => {
    store = await openStore('memory://');
    s = await startServer(store, {
      requestTimeoutMs: 1000,
      headersTimeoutMs: 500,
      maxConnectionsPerClient: 20,
      maxRequestsInflight: 3,
      maxMutatingRequestsInflight: 2,
    });
  });
  after(async () => {
    await s?.stop();
    await store?.close();
  });

  it('cuts a request whose body trickles in at the request deadline', async () => {
    const c = await rawTls(s.api.port, s.pki);
    c.write('POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 3000000\r\n\r\n{');
    const started = Date.now();
    const feeder = setInterval(() => c.sock.writable && c.write('"'), 100);
    try {
      const how = await c.ended(5000);
      assert.notEqual(how, 'open', 'the connection outlived the 1 s request deadline by 4 s');
      assert.ok(Date.now() - started < 3000, `cut after ${Date.now() - started} ms`);
    } finally {
      clearInterval(feeder);
      c.sock.destroy();
    }
  });

  it('cuts a connection whose headers do not arrive within the header deadline', async () => {
    const c = await rawTls(s.api.port, s.pki);
    c.write('GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\n');
    const how = await c.ended(3000);
    assert.notEqual(how, 'open');
    assert.match(c.text(), /^HTTP\/1\.1 408 /);
    c.sock.destroy();
  });

  it('closes connections that never send a request, or never finish the TLS handshake, at the header deadline', async () => {
    const silent = await rawTls(s.api.port, s.pki, { anonymous: true });
    const started = Date.now();
    assert.notEqual(await silent.ended(3000), 'open', 'a silent TLS connection stayed open');
    assert.ok(Date.now() - started < 2000, `closed after ${Date.now() - started} ms`);
    const raw = net.connect(s.api.port, '127.0.0.1');
    raw.on('error', () => {});
    const closed = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 3000);
      raw.on('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    raw.destroy();
    assert.equal(closed, true, 'a connection without a TLS handshake stayed open');
  });

  it('answers an anonymous request with a declared 3 MB body at once and closes, without waiting for the body', async () => {
    const c = await rawTls(s.api.port, s.pki, { anonymous: true });
    c.write('POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 3000000\r\n\r\n{"a');
    const how = await c.ended(800);
    assert.match(c.text(), /^HTTP\/1\.1 401 /);
    assert.match(c.text(), /\r\nconnection: close\r\n/i);
    assert.equal(how, 'end', 'the connection stayed open after the 401');
  });

  it('answers 413 to a client still uploading an oversized body, without a reset that would lose the answer', async () => {
    const c = await rawTls(s.api.port, s.pki, { allowHalfOpen: true });
    let writeError: string | undefined;
    c.sock.on('error', (e: NodeJS.ErrnoException) => (writeError = e.code));
    const size = 4 * 1024 * 1024;
    c.write(`POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n\r\n`);
    const chunk = Buffer.alloc(256 * 1024, 97);
    for (let sent = 0; sent < size && !writeError; sent += chunk.length) {
      c.write(chunk);
      await sleep(5);
    }
    await c.ended(3000);
    assert.match(c.text(), /^HTTP\/1\.1 413 /);
    assert.equal(writeError, undefined, 'the upload was reset');
    c.sock.destroy();
  });

  it('answers 413 to a chunked body (no Content-Length) that grows past the limit, and keeps serving', async () => {
    const c = await rawTls(s.api.port, s.pki, { allowHalfOpen: true });
    c.sock.on('error', () => {});
    c.write('POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunk = Buffer.alloc(256 * 1024, 97);
    for (let sent = 0; sent < 4 * 1024 * 1024 && !/^HTTP\/1\.1 /.test(c.text()); sent += chunk.length) {
      c.write(`${chunk.length.toString(16)}\r\n`);
      c.write(chunk);
      c.write('\r\n');
      await sleep(5);
    }
    await c.ended(3000);
    assert.match(c.text(), /^HTTP\/1\.1 413 /);
    c.sock.destroy();
    const after = await s.send('GET', '/api/v1/namespaces/default');
    assert.equal(after.status, 200);
  });

  it('survives the reported flood: 300 anonymous connections declaring 3 MB bodies are refused or answered 401 and closed', async () => {
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    const attempts = await Promise.allSettled(
      Array.from({ length: 300 }, async () => {
        const c = await rawTls(s.api.port, s.pki, { anonymous: true, localAddress: '127.0.0.3' });
        c.sock.on('error', () => {});
        c.write('POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 3000000\r\n\r\n{');
        return { ending: await c.ended(5000), text: c.text() };
      }),
    );
    const answered = attempts.filter((a) => a.status === 'fulfilled').map((a) => (a as PromiseFulfilledResult<{ ending: string; text: string }>).value);
    // Over the per-client bound (20 here) connections are refused at once; the others get their 401 and are closed.
    assert.ok(answered.length >= 20, `only ${answered.length} connections were served`);
    assert.equal(answered.filter((a) => a.ending === 'open').length, 0, 'connections left open after their 401');
    // Every answer is a 401; a connection closed without one was refused (a loaded machine can finish the TLS handshake
    // of a connection the bound then closes). Nothing else: no 2xx, no 5xx, no body read.
    const firstLines = answered.map((a) => a.text.split('\r\n')[0] ?? '');
    const odd = firstLines.filter((l) => l !== '' && !l.startsWith('HTTP/1.1 401'));
    assert.deepEqual(odd, [], `answers other than 401: ${[...new Set(odd)].join(' | ')}`);
    assert.ok(firstLines.filter((l) => l.startsWith('HTTP/1.1 401')).length >= 20, `401s: ${firstLines.filter((l) => l.startsWith('HTTP/1.1 401')).length} of ${answered.length} answered`);
    await until('file handles back', async () => fds() < before + 20, 5000);
    assert.equal((await s.send('GET', '/api/v1/namespaces')).status, 200);
  });

  it('leaves a watch open past the request deadline, still delivering events', async () => {
    const c = await rawTls(s.api.port, s.pki);
    c.write('GET /api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=false HTTP/1.1\r\nHost: x\r\n\r\n');
    await sleep(2200);
    assert.equal(await c.ended(0), 'open', 'the watch was cut');
    const created = await s.send('POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'after-deadline' } });
    assert.equal(created.status, 201);
    await until('the watch event', async () => c.text().includes('"after-deadline"'), 3000);
    c.sock.destroy();
  });

  it('answers 429 with Retry-After: 1 and a Status beyond the mutating in-flight limit; system:masters and health exempt', async () => {
    // Two writes held in flight: their bodies are not complete yet.
    const held = [await rawTls(s.api.port, s.pki), await rawTls(s.api.port, s.pki)];
    for (const c of held) c.write('POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{');
    await sleep(100);
    const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'third' } });
    const alice = await rawTls(s.api.port, s.pki, { anonymous: true });
    alice.write(`POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${USER_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    await alice.ended(3000);
    const [head, text] = alice.text().split('\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 429 /);
    assert.match(head, /\r\nretry-after: 1\r\n/i);
    const refused = JSON.parse(text);
    assert.equal(refused.kind, 'Status');
    assert.equal(refused.reason, 'TooManyRequests');
    assert.equal(refused.code, 429);
    // The admin (system:masters) is served even now, as kube-apiserver does.
    assert.equal((await s.send('POST', '/api/v1/namespaces/default/configmaps', JSON.parse(body))).status, 201);
    assert.equal((await s.send('GET', '/api/v1/namespaces/default/configmaps')).status, 200, 'reads have their own budget');
    assert.equal((await s.send('GET', '/readyz')).status, 200);
    for (const c of held) c.sock.destroy();
    await until('the held writes to be released', async () => (await s.send('POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'fourth' } })).status === 201, 3000);
  });

  it('bounds connections per client address: the 21st from one address is closed at once, other addresses are served', async () => {
    const conns: RawTls[] = [];
    for (let i = 0; i < 20; i++) conns.push(await rawTls(s.api.port, s.pki));
    await assert.rejects(
      rawTls(s.api.port, s.pki).then((c) => c.ended(1000).then((how) => (how === 'open' ? c : Promise.reject(new Error(how))))),
      'a 21st connection from 127.0.0.1 was accepted',
    );
    const other = await rawTls(s.api.port, s.pki, { localAddress: '127.0.0.2' });
    other.write('GET /version HTTP/1.1\r\nHost: x\r\n\r\n');
    await until('an answer to another address', async () => other.text().startsWith('HTTP/1.1 200'), 3000);
    other.sock.destroy();
    for (const c of conns) c.sock.destroy();
    await until('connections from 127.0.0.1 accepted again', async () => (await s.send('GET', '/version').catch(() => ({ status: 0 }))).status === 200, 3000);
  });

  it('answers a 70 KB header with 431 instead of a reset', async () => {
    const head = Buffer.from(`GET /version HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`);
    const c = await rawTls(s.api.port, s.pki, { allowHalfOpen: true });
    c.sock.on('error', () => {});
    for (let i = 0; i < head.length; i += 8192) {
      c.write(head.subarray(i, i + 8192));
      await sleep(5);
    }
    const how = await c.ended(3000);
    assert.match(c.text(), /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    assert.equal(how, 'end');
    c.sock.destroy();
  });

  it('answers 431 to curl, which keeps sending its headers (it saw "Send failure: Broken pipe" before)', async (t) => {
    const curl = await promisify(execFile)('curl', ['--version']).catch(() => undefined);
    if (!curl) return t.skip('curl not installed');
    const r = await promisify(execFile)('curl', ['-sS', '-k', '-o', '/dev/null', '-w', '%{http_code}', '-H', `X-Big: ${'a'.repeat(70_000)}`, `https://127.0.0.1:${s.api.port}/healthz`]).catch((e: { stdout?: string; stderr?: string }) => e);
    assert.equal(r.stdout, '431', `curl: ${r.stderr}`);
  });

  it('never sends chunked encoding to an HTTP/1.0 client', async () => {
    for (const path of ['/api/v1/namespaces', '/api/v1/namespaces/default', '/openapi/v2', '/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1']) {
      const c = await rawTls(s.api.port, s.pki);
      c.write(`GET ${path} HTTP/1.0\r\n\r\n`);
      assert.equal(await c.ended(5000), 'end', path);
      const [head, body] = c.text().split('\r\n\r\n');
      assert.match(head, /^HTTP\/1\.1 200 /, path);
      assert.doesNotMatch(head, /transfer-encoding/i, path);
      if (!path.includes('watch')) assert.doesNotThrow(() => JSON.parse(body), path);
    }
  });
});

describe('readiness follows an etcd datastore', { skip: !haveEtcd() && 'no etcd binary on PATH' }, () => {
  let etcd: TestEtcd;
  let store: Store;
  let s: Awaited<ReturnType<typeof startServer>>;
  before(async () => {
    etcd = await startTestEtcd();
    store = await openStore(`etcd://${etcd.endpoint}/hardening`);
    s = await startServer(store, { datastoreHealth: { intervalMs: 200, timeoutMs: 500 }, requestTimeoutMs: 1500 });
  });
  after(async () => {
    etcd?.signal('SIGCONT');
    await s?.stop();
    await store?.close();
    await etcd?.stop();
  });

  const readyz = () => s.send('GET', '/readyz?verbose', undefined, true);

  it('is ready, with kube-apiserver\'s check list', async () => {
    const r = await readyz();
    assert.equal(r.status, 200);
    assert.match(r.text, /^\[\+\]ping ok\n\[\+\]etcd ok\n/);
    assert.match(r.text, /readyz check passed\n$/);
  });

  it('reports etcd failed while it is frozen (SIGSTOP), keeps /livez ok, and recovers after SIGCONT', async () => {
    etcd.signal('SIGSTOP');
    try {
      await until('/readyz to fail', async () => (await readyz()).status === 500, 5000);
      const r = await readyz();
      assert.match(r.text, /\[-\]etcd failed: reason withheld\n/);
      assert.match(r.text, /readyz check failed\n?$/);
      assert.equal((await s.send('GET', '/readyz', undefined, true)).status, 500);
      const live = await s.send('GET', '/livez', undefined, true);
      assert.equal(live.status, 200);
      assert.equal(live.text, 'ok');
      // A request that needs the frozen etcd gets kube-apiserver's 504 at the request deadline instead of hanging.
      const started = Date.now();
      const write = await s.send('POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'frozen' } });
      assert.equal(write.status, 504, write.text);
      assert.equal(write.json.reason, 'Timeout');
      assert.ok(Date.now() - started < 3000, `answered after ${Date.now() - started} ms`);
    } finally {
      etcd.signal('SIGCONT');
    }
    await until('/readyz to recover', async () => (await readyz()).status === 200, 10_000);
  });

  it('reports etcd failed while it is down, and recovers when it is back', async () => {
    etcd.signal('SIGKILL');
    await until('/readyz to fail', async () => (await readyz()).status === 500, 5000);
    assert.equal((await s.send('GET', '/livez', undefined, true)).status, 200);
    await etcd.restart();
    await until('/readyz to recover', async () => (await readyz()).status === 200, 15_000);
  });
});

describe('an etcd over its space quota (NOSPACE alarm)', { skip: !haveEtcd() && 'no etcd binary on PATH' }, () => {
  let etcd: TestEtcd;
  let store: Store;
  let s: Awaited<ReturnType<typeof startServer>>;
  before(async () => {
    etcd = await startTestEtcd(['--quota-backend-bytes', String(8 * 1024 * 1024)]);
    store = await openStore(`etcd://${etcd.endpoint}/nospace`);
    s = await startServer(store, { datastoreHealth: { intervalMs: 200, timeoutMs: 1000 } });
  });
  after(async () => {
    await s?.stop();
    await store?.close();
    await etcd?.stop();
  });

  it('refuses writes with a Status that names the cause, keeps serving reads, and is not ready', async () => {
    let refused: Reply | undefined;
    for (let i = 0; i < 40 && !refused; i++) {
      const r = await s.send('POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `big-${i}` }, data: { x: 'x'.repeat(900 * 1024) } });
      if (r.status !== 201) refused = r;
    }
    assert.ok(refused, 'etcd took 36 MB within an 8 MB quota');
    assert.equal(refused.status, 500);
    assert.equal(refused.json?.reason, 'InternalError');
    assert.match(refused.json.message, /database space exceeded/);
    assert.equal((await s.send('GET', '/api/v1/namespaces/default/configmaps')).status, 200);
    const ready = await s.send('GET', '/readyz?verbose', undefined, true);
    assert.equal(ready.status, 500);
    assert.match(ready.text, /\[-\]etcd failed: reason withheld/);
    assert.equal((await s.send('GET', '/livez', undefined, true)).status, 200);
  });
});

const mount = mountTinyTmpfs('24m');

describe('a full disk (SQLite on a small tmpfs)', { skip: mount === undefined && 'cannot mount a tmpfs here (needs root)' }, () => {
  let server: TestServer | undefined;
  let filler: string | undefined;
  let refill: string | undefined;
  const dataDir = mount ? join(mount.dir, 'data') : '';
  const cm = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { payload: 'x'.repeat(64 * 1024) } });

  after(async () => {
    try {
      await server?.stop();
    } finally {
      mount?.unmount();
    }
  });

  it('refuses writes with a Status that names the cause, serves reads, and readiness says so; /livez stays ok', async () => {
    server = await startTestServer({ controlPlane: false, dataDir });
    for (let i = 0; i < 5; i++) assert.equal((await server.request('POST', '/api/v1/namespaces/default/configmaps', cm(`before-${i}`))).status, 201);
    filler = fillDisk(mount!.dir);
    let refused: Reply | undefined;
    for (let i = 0; i < 20 && !refused; i++) {
      const r = await server.request('POST', '/api/v1/namespaces/default/configmaps', cm(`full-${i}`));
      if (r.status !== 201) refused = r;
    }
    assert.ok(refused, 'every write succeeded on a full disk');
    assert.equal(refused.status, 500);
    assert.equal(refused.json?.kind, 'Status');
    assert.equal(refused.json.reason, 'InternalError');
    assert.match(refused.json.message, /out of space|disk is full/);
    const list = await server.request('GET', '/api/v1/namespaces/default/configmaps');
    assert.equal(list.status, 200);
    assert.ok(list.json.items.length >= 5);
    const ready = await server.request('GET', '/readyz?verbose');
    assert.equal(ready.status, 500);
    assert.match(ready.text, /\[-\]etcd failed: reason withheld/);
    assert.equal((await server.request('GET', '/livez')).status, 200);
  });

  it('restarts on the full disk: reads served, writes refused with a Status, nothing acknowledged lost', async () => {
    assert.ok(server && filler);
    const acknowledged = (await server.request('GET', '/api/v1/namespaces/default/configmaps')).json.items.map((i: any) => i.metadata.name).sort();
    const port = server.port;
    const kubeconfig = statSync(server.kubeconfig);
    await server.stop();
    server = undefined;
    // The same port, as a real server has: the kubeconfig's content is then unchanged and must not be rewritten.
    server = await startTestServer({ controlPlane: false, dataDir, port });
    assert.equal(statSync(server.kubeconfig).mtimeMs, kubeconfig.mtimeMs);
    const list = await server.request('GET', '/api/v1/namespaces/default/configmaps');
    assert.equal(list.status, 200);
    assert.deepEqual(list.json.items.map((i: any) => i.metadata.name).sort(), acknowledged);
    const refused = await server.request('POST', '/api/v1/namespaces/default/configmaps', cm('after-restart'));
    assert.equal(refused.status, 500);
    assert.match(refused.json?.message ?? '', /out of space|disk is full/);
  });

  it('restarts on the full disk with certificates due for renewal: keeps the valid ones on disk and serves', async () => {
    assert.ok(server && filler);
    const port = server.port;
    await server.stop();
    server = undefined;
    // Serving and kubelet-client certificates issued 300 days ago by the same CA: renewal is due (65 days left).
    const tlsDir = join(dataDir, 'server', 'tls');
    for (const f of ['serving-kube-apiserver', 'client-kube-apiserver']) for (const ext of ['crt', 'key']) unlinkSync(join(tlsDir, `${f}.${ext}`));
    const backdated = await ensurePki(dataDir, { now: new Date(Date.now() - 300 * DAY_MS) });
    assert.deepEqual(backdated.generated, ['serving', 'kubelet-client']);
    refill = fillDisk(mount!.dir, 'filler-2');
    server = await startTestServer({ controlPlane: false, dataDir, port });
    const presented = await new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
        resolve(socket.getPeerCertificate().valid_to);
        socket.end();
      });
      socket.on('error', reject);
    });
    assert.equal(Date.parse(presented), Date.parse(new X509Certificate(backdated.servingCertPem).validTo));
    assert.equal((await server.request('GET', '/api/v1/namespaces/default/configmaps')).status, 200);
    assert.equal(readFileSync(join(tlsDir, 'serving-kube-apiserver.crt'), 'utf8'), backdated.servingCertPem);
  });

  it('takes writes again and turns ready once space is freed', async () => {
    assert.ok(server && filler);
    unlinkSync(filler);
    filler = undefined;
    if (refill) unlinkSync(refill);
    assert.equal((await server.request('POST', '/api/v1/namespaces/default/configmaps', cm('after-space'))).status, 201);
    await until('/readyz ok', async () => (await server!.request('GET', '/readyz')).status === 200, 10_000);
  });
});
