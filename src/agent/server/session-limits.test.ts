/**
 * The agent API's bounds on a real socket: concurrent streaming sessions per client identity and in total (429 with a
 * Status beyond, admitted again once one ends), the idle timeout of a streaming connection, and the handshake
 * deadlines (request head, SPDY streams).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { ensurePki, type Pki } from '../../apiserver/auth/pki.js';
import { AgentServer } from './agent-server.js';
import { HostProcessBackend } from './host-process-backend.js';
import { SessionLimiter } from './session-limits.js';

describe('SessionLimiter', () => {
  it('admits up to the per-client and the total limit, and again after a release', () => {
    const l = new SessionLimiter({ maxSessionsPerClient: 2, maxSessionsTotal: 3 });
    const a1 = l.acquire('a');
    const a2 = l.acquire('a');
    assert.ok('release' in a1 && 'release' in a2);
    const a3 = l.acquire('a');
    assert.ok('refusal' in a3);
    assert.equal(a3.refusal.code, 429);
    assert.equal(a3.refusal.reason, 'TooManyRequests');
    assert.equal(a3.refusal.message, 'too many streaming sessions for user "a": 2 open, at most 2');
    assert.ok('release' in l.acquire('b'));
    const b2 = l.acquire('b');
    assert.ok('refusal' in b2);
    assert.equal(b2.refusal.message, 'too many streaming sessions on this node: 3 open, at most 3');
    a1.release();
    a1.release(); // idempotent
    assert.equal(l.active(), 2);
    assert.equal(l.active('a'), 1);
    assert.ok('release' in l.acquire('b'));
    assert.ok('refusal' in l.acquire('c'));
  });

  it('holds a proxying identity (the API server, for every user) to the total limit only', () => {
    const l = new SessionLimiter({ maxSessionsPerClient: 2, maxSessionsTotal: 3 });
    for (let i = 0; i < 3; i++) assert.ok('release' in l.acquire('kube-apiserver-kubelet-client', false), `session ${i + 1}`);
    const over = l.acquire('kube-apiserver-kubelet-client', false);
    assert.ok('refusal' in over);
    assert.equal(over.refusal.message, 'too many streaming sessions on this node: 3 open, at most 3');
  });
});

describe('AgentServer streaming bounds', () => {
  let dir: string;
  let pki: Pki;
  let backend: HostProcessBackend;
  let counted: AgentServer;
  let timed: AgentServer;
  const open: WebSocket[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-agent-limits-'));
    pki = await ensurePki(join(dir, 'pki'));
    backend = new HostProcessBackend({ dir: join(dir, 'pods') });
    await backend.addPod({ metadata: { name: 'p', namespace: 'ns', uid: 'u1' }, spec: { containers: [{ name: 'c', image: 'x', command: ['sleep', '3600'] }] } });
    const tls = { ca: pki.caCertPem, cert: pki.servingCertPem, key: pki.servingKeyPem };
    counted = new AgentServer({ backend, tls, host: '127.0.0.1', port: 0, limits: { maxSessionsPerClient: 2, maxSessionsTotal: 3 } });
    await counted.start();
    timed = new AgentServer({ backend, tls, host: '127.0.0.1', port: 0, limits: { idleTimeoutMs: 400, handshakeTimeoutMs: 400 } });
    await timed.start();
  });
  after(async () => {
    for (const ws of open) ws.terminate();
    await counted?.close();
    await timed?.close();
    await backend?.close();
    await rm(dir, { recursive: true, force: true });
  });

  type Outcome = { ws: WebSocket } | { status: number; body: string; retryAfter?: string };
  function execSession(server: AgentServer, who: 'admin' | 'apiserver', command = ['sleep', '30']): Promise<Outcome> {
    const q = command.map((c) => `command=${encodeURIComponent(c)}`).join('&');
    const [cert, key] = who === 'admin' ? [pki.adminCertPem, pki.adminKeyPem] : [pki.kubeletClientCertPem, pki.kubeletClientKeyPem];
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${server.port}/exec/ns/p/c?${q}&output=1`, ['v5.channel.k8s.io'], { ca: pki.caCertPem, cert, key });
      ws.on('open', () => {
        open.push(ws);
        resolve({ ws });
      });
      ws.on('unexpected-response', (_req, res: IncomingMessage) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, retryAfter: res.headers['retry-after'] as string | undefined }));
      });
      ws.on('error', reject);
    });
  }
  const closed = (ws: WebSocket) => new Promise<number>((resolve) => (ws.readyState === ws.CLOSED ? resolve(-1) : ws.once('close', (code) => resolve(code))));

  it('refuses the session over the per-client and the total limit with 429 and a Status, and admits again once one ends', async () => {
    const a1 = await execSession(counted, 'admin');
    const a2 = await execSession(counted, 'admin');
    assert.ok('ws' in a1 && 'ws' in a2);
    const a3 = await execSession(counted, 'admin');
    assert.ok('status' in a3, 'a third session of the same client');
    assert.equal(a3.status, 429);
    assert.equal(a3.retryAfter, '1');
    const status = JSON.parse(a3.body);
    assert.deepEqual(
      { kind: status.kind, status: status.status, reason: status.reason, code: status.code, message: status.message },
      { kind: 'Status', status: 'Failure', reason: 'TooManyRequests', code: 429, message: 'too many streaming sessions for user "system:admin": 2 open, at most 2' },
    );
    // Another identity still gets in, up to the total.
    const s1 = await execSession(counted, 'apiserver');
    assert.ok('ws' in s1);
    const s2 = await execSession(counted, 'apiserver');
    assert.ok('status' in s2);
    assert.equal(s2.status, 429);
    assert.match(JSON.parse(s2.body).message, /^too many streaming sessions on this node: 3 open, at most 3$/);
    assert.equal(counted.activeSessions(), 3);
    assert.equal(counted.activeSessions('system:admin'), 2);
    // One ends: its slot is free again.
    a1.ws.close();
    await closed(a1.ws);
    await waitFor(() => counted.activeSessions() === 2, 'the session released');
    const again = await execSession(counted, 'apiserver');
    assert.ok('ws' in again, 'admitted once a session ended');
    // Sessions that end by themselves release their slot too.
    for (const o of [a2, s1, again]) if ('ws' in o) o.ws.close();
    await waitFor(() => counted.activeSessions() === 0, 'every session released');
    const short = await execSession(counted, 'admin', ['true']);
    assert.ok('ws' in short);
    await closed(short.ws);
    await waitFor(() => counted.activeSessions() === 0, 'a finished session released');
    // Refused requests (no upgrade, unknown pod) are not counted.
    assert.equal(counted.activeSessions(), 0);
  });

  it('closes a streaming connection idle for longer than the idle timeout, not one that talks', async () => {
    const quiet = await execSession(timed, 'admin', ['sleep', '30']);
    assert.ok('ws' in quiet);
    const started = Date.now();
    const code = await closed(quiet.ws);
    const took = Date.now() - started;
    assert.equal(code, 1006, 'dropped, no close frame');
    assert.ok(took >= 300 && took < 5_000, `closed after ${took} ms`);
    // Output every 100 ms keeps the connection alive past the timeout.
    const chatty = await execSession(timed, 'admin', ['sh', '-c', 'for i in 1 2 3 4 5 6 7 8 9 10; do echo $i; sleep 0.1; done']);
    assert.ok('ws' in chatty);
    assert.equal(await closed(chatty.ws), 1000, 'ended normally after ~1 s of output');
  });

  it('drops a client that does not finish its request head, or its SPDY streams, within the handshake timeout', async () => {
    const socket = await tlsOpen(timed.port);
    let answer = '';
    socket.on('data', (c: Buffer) => (answer += c.toString('latin1')));
    socket.write('GET /exec/ns/p/c?command=true&output=1 HTTP/1.1\r\nHost: x\r\n');
    const started = Date.now();
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    assert.match(answer, /^HTTP\/1.1 408 Request Timeout/);
    assert.ok(Date.now() - started < 5_000, `closed after ${Date.now() - started} ms`);

    const spdy = await tlsOpen(timed.port);
    let got = '';
    spdy.on('data', (c: Buffer) => (got += c.toString('latin1')));
    spdy.write('POST /exec/ns/p/c?command=true&output=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n');
    const t0 = Date.now();
    await new Promise<void>((resolve) => spdy.once('close', () => resolve()));
    assert.match(got, /^HTTP\/1.1 101 /);
    assert.ok(Date.now() - t0 < 5_000, `closed after ${Date.now() - t0} ms`);

    // The deadlines are for the handshake only: a log stream (kubectl logs -f) outlives them.
    const logs = await tlsOpen(timed.port);
    let body = '';
    let ended = false;
    logs.on('data', (c: Buffer) => (body += c.toString('latin1')));
    logs.on('close', () => (ended = true));
    logs.write('GET /containerLogs/ns/p/c?follow=true HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 1_500));
    assert.match(body, /^HTTP\/1.1 200 /);
    assert.equal(ended, false, 'the log stream is still open after the handshake and idle timeouts');
    logs.destroy();
  });

  // Found by test/agent-api-fuzz.test.ts: these connections stayed open for good (nobody read the socket, so the
  // client's FIN went unseen) and kept their session slot, until 32 of them locked the client out with 429s.
  it('closes the connection of a refused upgrade request and frees its slot, whatever the client does after', async () => {
    const before = counted.openConnections;
    for (const request of [
      'GET /exec/ns/p/c?command=true&output=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: MDEyMzQ1Njc4OWFiY2RlZg==\r\nSec-WebSocket-Protocol: v9.channel.k8s.io\r\n\r\n',
      'POST /exec/ns/p/c?command=true HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n',
    ]) {
      const s = await tlsOpen(counted.port, true);
      let got = '';
      s.on('data', (c: Buffer) => (got += c.toString('latin1')));
      s.write(request);
      // The client keeps its side open (and even writes more): the server must end the connection anyway.
      await new Promise<void>((resolve) => s.once('end', () => resolve()));
      s.write('more bytes after the answer');
      assert.match(got, /^HTTP\/1.1 400 /);
      await waitFor(() => counted.openConnections === before && counted.activeSessions() === 0, `connection closed and slot freed (${counted.openConnections} open, ${counted.activeSessions()} sessions)`);
      s.destroy();
    }
  });

  it('ends a SPDY session whose client half-closes the connection', async () => {
    const s = await tlsOpen(counted.port, true);
    let got = '';
    s.on('data', (c: Buffer) => (got += c.toString('latin1')));
    s.write('POST /portForward/ns/p HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\n\r\n');
    await waitFor(() => got.startsWith('HTTP/1.1 101 '), 'the 101');
    await waitFor(() => counted.activeSessions() === 1, 'the session counted');
    s.end();
    await new Promise<void>((resolve) => s.once('end', () => resolve()));
    await waitFor(() => counted.activeSessions() === 0, 'the session released');
    s.destroy();
  });

  function tlsOpen(port: number, allowHalfOpen = false): Promise<TLSSocket> {
    return new Promise((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port, ca: pki.caCertPem, cert: pki.adminCertPem, key: pki.adminKeyPem, servername: 'localhost', allowHalfOpen } as ConnectionOptions, () => resolve(s));
      s.on('error', reject);
    });
  }
});

async function waitFor(pred: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
