import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { answerClientErrors } from './client-errors.js';
import { listen, rawExchange } from './socket-testing.js';

/** A request head with a 70 KB header, sent in 16 KiB pieces as a client would. */
function bigHeaderRequest(): Buffer[] {
  const raw = Buffer.from(`GET /version HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`);
  const parts: Buffer[] = [];
  for (let i = 0; i < raw.length; i += 16384) parts.push(raw.subarray(i, i + 16384));
  return parts;
}

describe('answerClientErrors', () => {
  it('answers a 70 KB header with 431 and closes cleanly, without resetting the client', async () => {
    const srv = await listen((_req, res) => res.end('ok'), { maxHeaderSize: 16 * 1024 });
    answerClientErrors(srv.server, { lingerMs: 1000 });
    try {
      for (let i = 0; i < 5; i++) {
        const r = await rawExchange(srv.port, bigHeaderRequest(), 3000, 5, true);
        assert.match(r.text, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
        assert.equal(r.ending, 'end');
      }
      assert.equal((await fetch(`http://127.0.0.1:${srv.port}/`)).status, 200);
    } finally {
      await srv.close();
    }
  });

  it('answers a malformed request with 400', async () => {
    const srv = await listen((_req, res) => res.end('ok'));
    answerClientErrors(srv.server);
    try {
      const r = await rawExchange(srv.port, ['NOT HTTP AT ALL\r\n\r\n'], 2000);
      assert.match(r.text, /^HTTP\/1\.1 400 Bad Request\r\n/);
    } finally {
      await srv.close();
    }
  });

  it('answers 408 when the body does not arrive within the request timeout', async () => {
    const srv = await listen(
      (req, res) => {
        req.resume();
        req.on('end', () => res.end('ok'));
      },
      { requestTimeout: 300, headersTimeout: 200, connectionsCheckingInterval: 50 },
    );
    answerClientErrors(srv.server, { lingerMs: 200 });
    try {
      const r = await rawExchange(srv.port, ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'], 3000, 150);
      assert.match(r.text, /^HTTP\/1\.1 408 Request Timeout\r\n/);
      assert.notEqual(r.ending, 'open');
    } finally {
      await srv.close();
    }
  });
});
