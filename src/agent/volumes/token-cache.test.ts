import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Clock } from '../../client/types.js';
import { requiresRefresh, ServiceAccountTokenCache, type ServiceAccountTokenRequest } from './token-cache.js';

function fakeClock(start: number): Clock & { t: number } {
  const c = { t: start, now: () => new Date(c.t), setTimeout: () => ({ cancel() {} }) };
  return c;
}

describe('requiresRefresh (kubelet token manager rule)', () => {
  const issuedAt = Date.parse('2026-01-01T00:00:00Z');
  const cases: Array<[string, number, number, boolean]> = [
    ['fresh', 3607, 60, false],
    ['just before 80 %', 3600, 2879, false],
    ['at 80 %', 3600, 2880, true],
    ['long-lived, before a day', 7 * 86400, 86399, false],
    ['long-lived, after a day', 7 * 86400, 86401, true],
  ];
  for (const [name, ttl, afterS, want] of cases) {
    it(name, () => {
      const issued = { token: 't', expirationTimestamp: new Date(issuedAt + ttl * 1000) };
      assert.equal(requiresRefresh(issued, ttl, new Date(issuedAt + afterS * 1000)), want);
    });
  }
});

describe('ServiceAccountTokenCache', () => {
  it('reuses a token until 80 % of its lifetime, per pod and audience, and forgets a pod', async () => {
    const clock = fakeClock(Date.parse('2026-01-01T00:00:00Z'));
    const asked: ServiceAccountTokenRequest[] = [];
    const cache = new ServiceAccountTokenCache(async (req) => {
      asked.push(req);
      return { token: `tok-${asked.length}`, expirationTimestamp: new Date(clock.t + req.expirationSeconds * 1000) };
    }, clock);
    const req = { namespace: 'ns', serviceAccountName: 'default', expirationSeconds: 3600, podName: 'p', podUid: 'u1' };
    assert.equal(await cache.get(req), 'tok-1');
    clock.t += 2000 * 1000;
    assert.equal(await cache.get(req), 'tok-1');
    assert.equal(await cache.get({ ...req, audience: 'vault' }), 'tok-2');
    clock.t += 900 * 1000; // 2900 s of 3600: past 80 %
    assert.equal(await cache.get(req), 'tok-3');
    cache.forgetPod('u1');
    assert.equal(await cache.get(req), 'tok-4');
    assert.equal(asked[1]!.audience, 'vault');
  });
});
