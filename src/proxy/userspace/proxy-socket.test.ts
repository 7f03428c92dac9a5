/**
 * The TCP relay of one proxy socket on loopback, below the backend (userspace-proxier.test.ts covers listeners,
 * balancing, affinity, half-close and the non-reading client): bytes arrive intact both ways when several connections
 * share the read buffers' free list and writes back up; a reset on either side ends the other side at once; every
 * socket is let go afterwards (active returns to 0).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { openProxySocket, type ProxySocket } from './proxy-socket.js';

const EP = '127.0.0.2';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function listen(handler: (c: net.Socket) => void): Promise<net.Server> {
  const s = net.createServer({ allowHalfOpen: true }, handler);
  await new Promise<void>((r) => s.listen(0, EP, () => r()));
  return s;
}

async function until(what: string, ok: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('userspace proxy socket: the TCP relay', { timeout: 30_000 }, () => {
  let proxy: ProxySocket;
  const servers: net.Server[] = [];
  const point = async (server: net.Server) => {
    servers.push(server);
    proxy.setEndpoints([{ ip: EP, port: (server.address() as net.AddressInfo).port } as never], undefined);
  };

  before(async () => {
    proxy = await openProxySocket({ protocol: 'TCP', port: 0, bindAddress: '127.0.0.1', dialTimeoutMs: 500 });
  });
  after(async () => {
    await proxy.close();
    proxy.destroyAll();
    for (const s of servers) s.close();
  });

  it('4 connections at once echo 16 MiB of random bytes each to a client that starts reading late, then in bursts: every byte arrives, in order', async () => {
    // The endpoint echoes what it reads, pausing while its writes back up, so both directions see backpressure.
    await point(
      await listen((c) => {
        c.on('error', () => undefined);
        c.on('data', (d: Buffer) => {
          if (!c.write(d)) {
            c.pause();
            c.once('drain', () => c.resume());
          }
        });
        c.on('end', () => c.end());
      }),
    );
    // More than the kernel buffers between relay and client hold, so the relay's writes to the client back up.
    const SIZE = 16 * 1024 * 1024;
    const payloads = Array.from({ length: 4 }, () => randomBytes(SIZE));
    const one = async (payload: Buffer) => {
      const c = net.connect({ host: '127.0.0.1', port: proxy.port });
      const chunks: Buffer[] = [];
      c.pause();
      setTimeout(() => c.resume(), 500);
      const done = new Promise<void>((resolve, reject) => {
        c.on('data', (d: Buffer) => {
          chunks.push(d);
          // A slow reader: stops now and then so the relay's writes to it back up.
          if (chunks.length % 50 === 0) {
            c.pause();
            setTimeout(() => c.resume(), 5);
          }
        });
        c.on('end', () => resolve());
        c.on('error', reject);
      });
      // Written in uneven pieces, then half-closed: the echo ends after the last byte.
      for (let at = 0; at < SIZE; ) {
        const n = Math.min(SIZE - at, 1 + Math.floor(Math.random() * 100_000));
        if (!c.write(payload.subarray(at, at + n))) await new Promise((r) => c.once('drain', r));
        at += n;
      }
      c.end();
      await done;
      c.destroy();
      const got = Buffer.concat(chunks);
      assert.equal(got.length, SIZE);
      assert.equal(sha(got), sha(payload), 'the echo differs from what was sent');
    };
    await Promise.all(payloads.map(one));
    await until('the relay to let go of every socket', () => proxy.active === 0);
  });

  it('a reset from the endpoint resets the client; a reset from the client ends the endpoint\'s socket', async () => {
    let endpointSide: net.Socket | undefined;
    await point(
      await listen((c) => {
        endpointSide = c;
        c.on('error', () => undefined);
        c.on('data', (d: Buffer) => {
          if (d.toString().includes('reset')) c.resetAndDestroy();
        });
      }),
    );
    // Endpoint → client.
    const c1 = net.connect({ host: '127.0.0.1', port: proxy.port });
    const c1Ended = new Promise<string>((resolve) => {
      c1.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      c1.on('close', () => resolve('closed'));
    });
    c1.write('please reset');
    assert.match(await c1Ended, /ECONNRESET|closed/);
    assert.ok(c1.destroyed);

    // Client → endpoint: the endpoint's socket is ended (the relay closes its side) although it never writes.
    const c2 = net.connect({ host: '127.0.0.1', port: proxy.port });
    c2.write('hello');
    await until('the endpoint to accept', () => endpointSide !== undefined && !endpointSide.destroyed && endpointSide.bytesRead > 0);
    const side = endpointSide!;
    const ended = new Promise((r) => side.once('end', r));
    c2.resetAndDestroy();
    await ended;
    side.destroy();
    await until('the relay to let go of every socket', () => proxy.active === 0);
  });

  it('an endpoint that does not answer within the dial timeout is given up: the client is reset, nothing stays open', async () => {
    // A listener with a backlog of 1 in a stopped process: its accept queue fills, and the next SYNs go unanswered.
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen({ port: 0, host: '${EP}', backlog: 1 }, function () { console.log(this.address().port) })`], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = Number(await new Promise<string>((r) => child.stdout.once('data', (d: Buffer) => r(d.toString()))));
      child.kill('SIGSTOP');
      const fillers = Array.from({ length: 4 }, () => net.connect({ host: EP, port }).on('error', () => undefined));
      await new Promise((r) => setTimeout(r, 100));
      proxy.setEndpoints([{ ip: EP, port } as never], undefined);
      const c = net.connect({ host: '127.0.0.1', port: proxy.port });
      const t0 = Date.now();
      const how = await new Promise<string>((resolve) => {
        c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
        c.on('close', () => resolve('closed'));
      });
      const waited = Date.now() - t0;
      assert.equal(how, 'ECONNRESET');
      assert.ok(waited >= 400 && waited < 5000, `given up after ${waited} ms; the dial timeout is 500 ms`);
      for (const f of fillers) f.destroy();
      await until('the relay to let go of every socket', () => proxy.active === 0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
