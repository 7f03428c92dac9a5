/**
 * The plain-HTTP fast path (fast-http.ts) on real loopback sockets: framing both ways, back-pressure, backends and
 * clients that leave, and the same answers as the http-module path (a second IngressProxy with fastPath: false) for
 * everything the fast path hands over.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { Backend, RouteTable } from './compute-routes.js';
import { createDefaultCertificate } from './default-certificate.js';
import { ChunkedScanner } from './fast-http.js';
import { IngressProxy } from './ingress-proxy.js';

const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;
const listen = <S extends net.Server>(s: S) => new Promise<S>((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)));

/** Sends raw bytes, collects everything until the proxy closes or `until` matches; never rejects. */
function raw(port: number, data: string | Buffer, until?: RegExp, ms = 3000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(data));
    let text = '';
    const done = (closed: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve({ text, closed });
    };
    const timer = setTimeout(() => done(false), ms);
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (until?.test(text)) done(false);
    });
    s.on('error', () => {});
    s.on('close', () => done(true));
  });
}

/** A response as a comparable string: status line and body, without Date. */
const answer = (r: { text: string; closed: boolean }) => `${r.text.replace(/\r\nDate: [^\r]*/gi, '')}${r.closed ? ' <closed>' : ''}`;

describe('IngressProxy fast path', () => {
  let web: http.Server;
  let rawBackend: net.Server;
  let fast: IngressProxy;
  let slow: IngressProxy;
  const uploads: { bytes: number; complete: boolean; closed: boolean; req: http.IncomingMessage }[] = [];
  let pauseUploads = false;
  let rawMode = '';
  /** Bytes the /flood handler has handed to its socket so far. */
  let flooded = 0;

  before(async () => {
    web = await listen(
      http.createServer((req, res) => {
        if (req.url === '/echo') {
          // Answers chunked (no length), the request body's size and trailers echoed in pieces.
          const parts: Buffer[] = [];
          req.on('data', (c: Buffer) => parts.push(c));
          req.on('end', () => {
            res.write(`got ${Buffer.concat(parts).length} `);
            res.write(Buffer.concat(parts).toString('latin1').slice(0, 20));
            res.end(' end');
          });
          return;
        }
        if (req.url === '/sink') {
          const u = { bytes: 0, complete: false, closed: false, req };
          uploads.push(u);
          req.on('close', () => (u.closed = true));
          req.on('data', (c: Buffer) => (u.bytes += c.length));
          if (pauseUploads) req.pause();
          req.on('end', () => {
            u.complete = true;
            res.end(`sank ${u.bytes}`);
          });
          return;
        }
        if (req.url === '/flood') {
          // 64 MiB in 1 MiB writes that respect back-pressure.
          flooded = 0;
          const chunk = Buffer.alloc(1 << 20, 2);
          res.setHeader('content-length', 64 << 20);
          const pump = () => {
            while (flooded < 64 << 20) {
              flooded += chunk.length;
              if (!res.write(chunk)) return void res.once('drain', pump);
            }
            res.end();
          };
          return pump();
        }
        if (req.url === '/proto') return void res.end(`proto ${req.headers['x-forwarded-proto']} port ${req.headers['x-forwarded-port']} ${req.method} `);
        res.end(`hello ${req.method} ${req.url} ${req.headers['x-forwarded-for']}`);
      }),
    );
    web.on('upgrade', (_req, socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: Upgrade\r\n\r\nhello\n');
      socket.pipe(socket);
    });
    rawBackend = await listen(
      net.createServer((s) => {
        s.on('data', () => {
          if (rawMode === 'close-before') s.destroy();
          else if (rawMode === 'close-mid') s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten..');
          else if (rawMode === 'until-close') s.end('HTTP/1.1 200 OK\r\nX-Mode: eof\r\n\r\nbody that ends at close');
          else if (rawMode === 'continue') s.write('HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=9\r\n\r\nok');
          else if (rawMode === 'bad') s.end('HTTP/1.1 200 OK\r\nBad Header\r\n\r\n');
          else if (rawMode === 'split') s.end('HTTP/1.1 200 OK\r\nX-A: 1\nX-Injected: 2\r\nContent-Length: 0\r\n\r\n');
        });
        s.on('error', () => {});
      }),
    );
    const cert = await createDefaultCertificate();
    const be = (name: string, ports: number[]): Backend => ({ name, endpoints: ports.map((p) => `127.0.0.1:${p}`) });
    const table: RouteTable = {
      hosts: new Map([
        ['web.test', [{ pathType: 'Prefix', path: '/', backend: be('ns/web:80', [portOf(web)]) }]],
        ['raw.test', [{ pathType: 'Prefix', path: '/', backend: be('ns/raw:80', [portOf(rawBackend)]) }]],
        ['empty.test', [{ pathType: 'Prefix', path: '/', backend: be('ns/empty:80', []) }]],
      ]),
      wildcards: new Map(),
      anyHost: [],
      certificates: new Map(),
      warnings: [],
      ingressWarnings: [],
    };
    fast = new IngressProxy({ bindAddress: '127.0.0.1', httpPort: 0, httpsPort: 0, defaultCertificate: cert });
    slow = new IngressProxy({ bindAddress: '127.0.0.1', httpPort: 0, httpsPort: 0, defaultCertificate: cert, fastPath: false });
    for (const p of [fast, slow]) {
      await p.listen();
      p.setTable(table);
    }
  });
  after(async () => {
    await fast.close();
    await slow.close();
    web.close();
    rawBackend.close();
  });

  it('ChunkedScanner finds the end of a chunked body across any split and rejects malformed ones', () => {
    const body = Buffer.from('5;ext=1\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\nNEXT');
    for (let cut = 0; cut <= body.length; cut++) {
      const s = new ChunkedScanner();
      const first = s.feed(body.subarray(0, cut));
      const end = first >= 0 ? first : cut + s.feed(body.subarray(cut));
      assert.equal(end, body.length - 4, `split at ${cut}`);
    }
    assert.throws(() => new ChunkedScanner().feed(Buffer.from('zz\r\n')));
    assert.throws(() => new ChunkedScanner().feed(Buffer.from('2\r\nabc\r\n')));
    assert.throws(() => new ChunkedScanner().feed(Buffer.from('1234567890abc\r\n')));
  });

  it('chunked both ways: a chunked upload reaches the backend whole, a chunked answer comes back whole', async () => {
    const req = 'POST /echo HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n';
    const r = await raw(fast.httpPort, req, /0\r\n\r\n$/);
    assert.match(r.text, /^HTTP\/1.1 200 OK\r\n/);
    assert.match(r.text, /\r\nTransfer-Encoding: chunked\r\n/i);
    assert.match(r.text, /\r\nConnection: keep-alive\r\n/);
    const body = r.text.slice(r.text.indexOf('\r\n\r\n') + 4).replace(/[0-9a-f]+\r\n([^]*?)\r\n/g, '$1');
    assert.equal(body, 'got 11 hello world end');
    // Split in every way the network may split it: byte by byte.
    const s = net.connect(fast.httpPort, '127.0.0.1');
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    for (const ch of req) {
      s.write(ch);
      await new Promise((r) => setImmediate(r));
    }
    await new Promise<void>((resolve) => {
      const t = setInterval(() => /0\r\n\r\n$/.test(got) && (clearInterval(t), resolve()), 10);
    });
    s.destroy();
    assert.match(got, /got 11 /);
  });

  it('a response that ends at close reaches the client chunked, on a connection that stays open; 1xx are skipped', async () => {
    rawMode = 'until-close';
    const r = await raw(fast.httpPort, 'GET / HTTP/1.1\r\nHost: raw.test\r\n\r\n', /0\r\n\r\n$/);
    assert.match(r.text, /^HTTP\/1.1 200 OK\r\nX-Mode: eof\r\n/);
    assert.match(r.text, /\r\nTransfer-Encoding: chunked\r\n\r\n17\r\nbody that ends at close\r\n0\r\n\r\n$/);
    assert.equal(r.closed, false);
    rawMode = 'continue';
    const c = await raw(fast.httpPort, 'GET / HTTP/1.1\r\nHost: raw.test\r\n\r\n', /\r\n\r\nok$/);
    assert.match(c.text, /^HTTP\/1.1 200 OK\r\nContent-Length: 2\r\n/);
    assert.doesNotMatch(c.text, /103|Keep-Alive: timeout=9/);
  });

  it('a backend that closes: before answering a 502 with the reason, mid-answer the client connection is closed', async () => {
    rawMode = 'close-before';
    const before = await raw(fast.httpPort, 'GET / HTTP/1.1\r\nHost: raw.test\r\n\r\n', /ECONNRESET\n$/);
    assert.match(before.text, /^HTTP\/1.1 502 Bad Gateway\r\n[^]*\r\n\r\nBad Gateway: ns\/raw:80 endpoint 127\.0\.0\.1:\d+: ECONNRESET\n$/);
    rawMode = 'close-mid';
    const mid = await raw(fast.httpPort, 'GET / HTTP/1.1\r\nHost: raw.test\r\n\r\n');
    assert.equal(mid.closed, true);
    assert.match(mid.text, /^HTTP\/1.1 200 OK\r\n[^]*only ten\.\.$/);
    rawMode = 'bad';
    const bad = await raw(fast.httpPort, 'GET / HTTP/1.1\r\nHost: raw.test\r\n\r\n', /\n$/);
    assert.match(bad.text, /^HTTP\/1.1 502 Bad Gateway\r\n/);
    rawMode = 'split';
    const split = await raw(fast.httpPort, 'GET / HTTP/1.1\r\nHost: raw.test\r\n\r\n', /\n$/);
    assert.match(split.text, /^HTTP\/1.1 502 Bad Gateway\r\n/, 'a bare LF in a response header is not passed on');
  });

  it('back-pressure: a backend that does not read holds the client back instead of the proxy buffering the upload', async () => {
    pauseUploads = true;
    uploads.length = 0;
    const total = 64 << 20;
    const s = net.connect(fast.httpPort, '127.0.0.1');
    s.on('error', () => {});
    s.write(`POST /sink HTTP/1.1\r\nHost: web.test\r\nContent-Length: ${total}\r\n\r\n`);
    const chunk = Buffer.alloc(1 << 20, 1);
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!s.write(chunk)) return void s.once('drain', pump);
      }
    };
    pump();
    await new Promise((r) => setTimeout(r, 1000));
    const accepted = s.bytesWritten;
    assert.ok(accepted < 24 << 20, `the client got only socket buffers' worth through (${accepted} bytes of ${total})`);
    // Let the backend read: the whole upload arrives and the answer comes back.
    pauseUploads = false;
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    const deadline = Date.now() + 30_000;
    assert.ok(uploads[0], 'the request reached the backend');
    uploads[0].req.resume();
    while (!got.includes(`sank ${total}`) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    s.destroy();
    assert.match(got, new RegExp(`sank ${total}$`));
  });

  it('back-pressure: a client that does not read holds the backend back instead of the proxy buffering the answer', async () => {
    const s = net.connect(fast.httpPort, '127.0.0.1');
    s.on('error', () => {});
    s.pause();
    s.write('GET /flood HTTP/1.1\r\nHost: web.test\r\n\r\n');
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok(flooded > 0 && flooded < 24 << 20, `the backend could write only socket buffers' worth (${flooded} bytes of ${64 << 20})`);
    let n = 0;
    s.on('data', (d: Buffer) => (n += d.length));
    s.resume();
    const deadline = Date.now() + 30_000;
    while (n < 64 << 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    s.destroy();
    assert.ok(n > 64 << 20, `all of it arrives, with its head (${n} bytes)`);
  });

  it('HTTPS: an Upgrade becomes a two-way stream', async () => {
    const got = await new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: fast.httpsPort, servername: 'web.test', rejectUnauthorized: false }, () =>
        s.write('GET /ws HTTP/1.1\r\nHost: web.test\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n'),
      );
      let text = '';
      s.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (text.endsWith('hello\n')) s.write('ping\n');
        if (text.endsWith('ping\n')) {
          s.destroy();
          resolve(text);
        }
      });
      s.on('error', reject);
      setTimeout(() => reject(new Error(`no echo: ${JSON.stringify(text)}`)), 5000);
    });
    assert.match(got, /^HTTP\/1.1 101 /);
  });

  it('a client that leaves mid-body aborts the upload to the backend', async () => {
    uploads.length = 0;
    const s = net.connect(fast.httpPort, '127.0.0.1');
    s.write('POST /sink HTTP/1.1\r\nHost: web.test\r\nContent-Length: 1000000\r\n\r\n' + 'x'.repeat(1000));
    const deadline = Date.now() + 5000;
    while (!(uploads[0]?.bytes === 1000) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(uploads[0]?.bytes, 1000);
    assert.equal(uploads[0]?.closed, false);
    s.destroy();
    while (!uploads[0]!.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(uploads[0]!.closed, true, "the backend's request ends with the client");
    assert.equal(uploads[0]!.complete, false);
  });

  it('pipelined requests are answered in order; Connection: close ends the connection after its answer', async () => {
    const r = await raw(fast.httpPort, 'GET /1 HTTP/1.1\r\nHost: web.test\r\n\r\nGET /2 HTTP/1.1\r\nHost: web.test\r\n\r\nGET /3 HTTP/1.1\r\nHost: web.test\r\nConnection: close\r\n\r\n');
    assert.equal(r.closed, true);
    assert.deepEqual([...r.text.matchAll(/hello GET (\/\d)/g)].map((m) => m[1]), ['/1', '/2', '/3']);
    assert.match(r.text, /Connection: close\r\n[^]*hello GET \/3 127\.0\.0\.1$/);
  });

  it('HTTPS: after the handshake the same fast path (X-Forwarded-Proto https), handing over to the http path as plain HTTP does', async () => {
    const text = await new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: fast.httpsPort, servername: 'web.test', rejectUnauthorized: false }, () => {
        s.write('GET /proto HTTP/1.1\r\nHost: web.test\r\n\r\nPOST /echo HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
        s.write('POST /proto HTTP/1.1\r\nHost: web.test\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx');
      });
      let got = '';
      s.on('data', (d: Buffer) => {
        got += d.toString('latin1');
        if (/proto https port \d+ POST $/.test(got)) {
          s.destroy();
          resolve(got);
        }
      });
      s.on('error', reject);
      setTimeout(() => reject(new Error(`no answer: ${JSON.stringify(got)}`)), 5000);
    });
    assert.match(text, new RegExp(`proto https port ${fast.httpsPort} GET `));
    assert.match(text, /got 3 \r\n3\r\nabc\r\n/);
    assert.match(text, /HTTP\/1.1 100 Continue/, 'the Expect request went to the http server');
  });

  it('a connection moves to the http path for a request it does not handle, and keeps being served', async () => {
    const r = await raw(
      fast.httpPort,
      'GET /a HTTP/1.1\r\nHost: web.test\r\n\r\nGET /b HTTP/1.1\r\nHost: web.test\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhiGET /c HTTP/1.1\r\nHost: web.test\r\n\r\n',
      /hello GET \/c 127\.0\.0\.1$/,
    );
    assert.deepEqual([...r.text.matchAll(/hello (?:GET|POST) (\/\w)/g)].map((m) => m[1]), ['/a', '/b', '/c']);
  });

  it('answers whatever it hands over as the http-module path does (404, 503, heads over 16 KiB, malformed heads, HTTP/1.0)', async () => {
    const cases = [
      'GET / HTTP/1.1\r\nHost: nowhere.test\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: empty.test\r\n\r\n',
      `GET / HTTP/1.1\r\nHost: web.test\r\nX-Big: ${'a'.repeat(17_000)}\r\n\r\n`,
      `GET / HTTP/1.1\r\nHost: web.test\r\nX-Big: ${'a'.repeat(17_000)}`,
      'GET / HTTP/1.1\r\nHost: web.test\r\nBad Header: x\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: web.test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
      'POST / HTTP/1.1\r\nHost: web.test\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'GET / HTTP/1.1\r\n\r\n',
      'GET / HTTP/1.0\r\nHost: web.test\r\n\r\n',
      'GET http://web.test/abs HTTP/1.1\r\nHost: web.test\r\n\r\n',
      'GET / HTTP/1.1\nHost: web.test\n\n',
    ];
    for (const c of cases) {
      // Done at a whole answer (the bodies here end in a newline or the client address) or when the proxy closes.
      const whole = /(\r\n\r\n[^]*\n|127\.0\.0\.1)$/;
      const [f, s] = await Promise.all([raw(fast.httpPort, c, whole, 5000), raw(slow.httpPort, c, whole, 5000)]);
      assert.equal(answer(f), answer(s), JSON.stringify(c.slice(0, 60)));
    }
  });
});
