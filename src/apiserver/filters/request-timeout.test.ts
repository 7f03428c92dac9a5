import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { parseGoDuration, withRequestTimeout } from './request-timeout.js';
import { listen } from './socket-testing.js';

describe('parseGoDuration', () => {
  const cases: [string, number | undefined][] = [
    ['30s', 30_000],
    ['1m30s', 90_000],
    ['500ms', 500],
    ['1.5s', 1500],
    ['2h', 7_200_000],
    ['', undefined],
    ['30', undefined],
    ['abc', undefined],
    ['5s garbage', undefined],
  ];
  for (const [text, want] of cases) it(JSON.stringify(text), () => assert.equal(parseGoDuration(text), want));
});

describe('withRequestTimeout', () => {
  let srv: Awaited<ReturnType<typeof listen>>;
  const late: ServerResponse[] = [];
  let lateWriteErrors = 0;
  before(async () => {
    srv = await listen(
      withRequestTimeout(
        (req, res) => {
          const delay = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('delay') ?? 0);
          if (req.url?.startsWith('/stream')) {
            res.writeHead(200);
            res.write('partial');
            return;
          }
          setTimeout(() => {
            try {
              // A handler that answers after the deadline must neither throw nor reach the client.
              res.writeHead(200, { 'Content-Type': 'application/json' });
              res.end('{"late":true}');
            } catch {
              lateWriteErrors++;
            }
            late.push(res);
          }, delay);
        },
        { timeoutMs: 300 },
      ),
    );
  });
  after(() => srv.close());
  const base = () => `http://127.0.0.1:${srv.port}`;

  it('answers in time when the handler does', async () => {
    const r = await fetch(`${base()}/api/v1/pods?delay=10`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { late: true });
  });

  it('answers 504 Timeout in upstream words at the deadline, and drops the handler\'s late answer', async () => {
    const started = Date.now();
    const r = await fetch(`${base()}/api/v1/pods?delay=800`);
    assert.equal(r.status, 504);
    assert.ok(Date.now() - started < 700, `after ${Date.now() - started} ms`);
    const status = (await r.json()) as { reason: string; code: number; message: string };
    assert.equal(status.reason, 'Timeout');
    assert.equal(status.code, 504);
    assert.equal(status.message, 'Timeout: request did not complete within requested timeout - context deadline exceeded');
    await new Promise((r2) => setTimeout(r2, 700));
    assert.equal(lateWriteErrors, 0);
  });

  it('takes a shorter ?timeout= from the client, never a longer one, and refuses an invalid one', async () => {
    let started = Date.now();
    assert.equal((await fetch(`${base()}/api/v1/pods?delay=250&timeout=100ms`)).status, 504);
    assert.ok(Date.now() - started < 250);
    started = Date.now();
    assert.equal((await fetch(`${base()}/api/v1/pods?delay=800&timeout=10m`)).status, 504);
    assert.ok(Date.now() - started < 700);
    const bad = await fetch(`${base()}/api/v1/pods?timeout=soon`);
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { message: string }).message, /invalid timeout specified in the request URL/);
  });

  it('leaves watches and health alone', async () => {
    const ac = new AbortController();
    const started = Date.now();
    assert.equal((await fetch(`${base()}/api/v1/pods?watch=true&delay=500`, { signal: ac.signal })).status, 200);
    assert.ok(Date.now() - started >= 450);
    assert.equal((await fetch(`${base()}/readyz?delay=500`)).status, 200);
  });

  it('cuts the connection when the answer had already started', async () => {
    const r = await fetch(`${base()}/stream`);
    assert.equal(r.status, 200);
    await assert.rejects(r.text());
  });
});
