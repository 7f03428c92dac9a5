import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { withMaxInFlightLimit } from './max-in-flight.js';
import { listen } from './socket-testing.js';

describe('withMaxInFlightLimit', () => {
  // Requests whose path starts with /hold/ wait until released; the rest answer at once.
  const held: ServerResponse[] = [];
  const releaseAll = () => {
    for (const res of held.splice(0)) res.end('released');
  };
  const filtered = withMaxInFlightLimit(
    (req, res) => {
      if (req.url?.startsWith('/hold/') || req.url?.includes('watch=true') || req.url?.startsWith('/readyz')) {
        res.writeHead(200);
        res.flushHeaders();
        held.push(res);
        return;
      }
      res.end('done');
    },
    { maxRequestsInflight: 2, maxMutatingRequestsInflight: 1 },
  );
  let srv: Awaited<ReturnType<typeof listen>>;
  const base = () => `http://127.0.0.1:${srv.port}`;
  const controllers: AbortController[] = [];
  /** Starts a request and resolves once its headers arrived (held requests stay open). */
  const open = async (path: string, method = 'GET') => {
    const ac = new AbortController();
    controllers.push(ac);
    return fetch(base() + path, { method, signal: ac.signal });
  };
  before(async () => {
    srv = await listen(filtered);
  });
  after(async () => {
    releaseAll();
    for (const ac of controllers) ac.abort();
    await srv.close();
  });

  it('answers 429 with Retry-After: 1 and a TooManyRequests Status beyond the read limit, and serves again after', async () => {
    await open('/hold/a');
    await open('/hold/b');
    assert.deepEqual(filtered.inFlight(), { reads: 2, writes: 0 });
    const refused = await fetch(`${base()}/api/v1/pods`);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '1');
    const status = (await refused.json()) as { kind: string; reason: string; code: number; message: string; details: { retryAfterSeconds: number } };
    assert.equal(status.kind, 'Status');
    assert.equal(status.reason, 'TooManyRequests');
    assert.equal(status.code, 429);
    assert.equal(status.message, 'Too many requests, please try again later.');
    assert.equal(status.details.retryAfterSeconds, 1);
    // Writes have their own budget.
    assert.equal((await fetch(`${base()}/api/v1/namespaces/default/configmaps`, { method: 'POST' })).status, 200);
    releaseAll();
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(filtered.inFlight(), { reads: 0, writes: 0 });
    assert.equal((await fetch(`${base()}/api/v1/pods`)).status, 200);
  });

  it('limits writes separately, and frees the slot of a client that went away', async () => {
    const ac = new AbortController();
    await fetch(`${base()}/hold/w`, { method: 'PUT', signal: ac.signal });
    assert.equal((await fetch(`${base()}/api/v1/namespaces/default/configmaps`, { method: 'POST' })).status, 429);
    assert.equal((await fetch(`${base()}/api/v1/pods`)).status, 200);
    ac.abort();
    for (let i = 0; i < 100 && filtered.inFlight().writes > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(filtered.inFlight().writes, 0);
    held.splice(0);
    assert.equal((await fetch(`${base()}/api/v1/namespaces/default/configmaps`, { method: 'POST' })).status, 200);
  });

  it('never counts watches or health checks', async () => {
    for (let i = 0; i < 5; i++) await open(`/api/v1/pods?watch=true&n=${i}`);
    for (let i = 0; i < 3; i++) await open(`/readyz?n=${i}`);
    assert.deepEqual(filtered.inFlight(), { reads: 0, writes: 0 });
    await open('/hold/c');
    await open('/hold/d');
    assert.equal((await fetch(`${base()}/api/v1/pods`)).status, 429);
    const health = await open('/readyz');
    assert.equal(health.status, 200);
    releaseAll();
  });
});

describe('withMaxInFlightLimit with an exemption', () => {
  it('serves a request over the limit when exempt says so (system:masters upstream), and refuses the rest', async () => {
    const held: ServerResponse[] = [];
    let asked = 0;
    const filtered = withMaxInFlightLimit(
      (req, res) => {
        if (req.url === '/hold') {
          res.writeHead(200);
          res.flushHeaders();
          held.push(res);
          return;
        }
        res.end('served');
      },
      {
        maxRequestsInflight: 1,
        maxMutatingRequestsInflight: 1,
        exempt: async (req) => {
          asked++;
          return req.headers['x-test-privileged'] === 'yes';
        },
      },
    );
    const srv = await listen(filtered);
    const base = `http://127.0.0.1:${srv.port}`;
    const ac = new AbortController();
    try {
      assert.equal((await fetch(`${base}/free`)).status, 200);
      assert.equal(asked, 0, 'exempt was asked under the limit');
      await fetch(`${base}/hold`, { signal: ac.signal });
      assert.equal((await fetch(`${base}/x`)).status, 429);
      const privileged = await fetch(`${base}/x`, { headers: { 'x-test-privileged': 'yes' } });
      assert.equal(privileged.status, 200);
      assert.equal(await privileged.text(), 'served');
      assert.equal(asked, 2);
    } finally {
      for (const res of held) res.end();
      ac.abort();
      await srv.close();
    }
  });
});
