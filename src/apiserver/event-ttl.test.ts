import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../../test/helpers/test-server.js';
import { sweepExpiredEvents } from './event-ttl.js';

describe('event TTL', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ datastore: 'memory', controlPlane: false });
  });
  after(async () => {
    await s?.stop();
  });

  it('deletes Events whose last activity is older than the TTL, and keeps the rest', async () => {
    // "now" is 10 hours ahead of the real clock, so creation times (real) are older than every timestamp below.
    const now = Date.now() + 10 * 3_600_000;
    const ago = (ms: number) => new Date(now - ms).toISOString();
    const ev = (name: string, last: string, extra: Record<string, unknown> = {}) => ({
      metadata: { name },
      involvedObject: { kind: 'Pod', name: 'p', namespace: 'default' },
      reason: 'Test',
      message: name,
      type: 'Normal',
      lastTimestamp: last,
      ...extra,
    });
    await s.request('POST', '/api/v1/namespaces/default/events', ev('old', ago(2 * 3_600_000)));
    await s.request('POST', '/api/v1/namespaces/default/events', ev('recent', ago(30 * 60_000)));
    await s.request('POST', '/api/v1/namespaces/default/events', ev('series', ago(3 * 3_600_000), { series: { count: 3, lastObservedTime: ago(60_000) } }));
    const { ops, cache } = s.running.api;
    const { resources } = await import('./registry/index.js');
    const events = resources.find((r) => r.group === '' && r.plural === 'events')!;
    const deleted = await sweepExpiredEvents(ops, cache, events, 3_600_000, now);
    assert.equal(deleted, 1);
    const left = await s.request('GET', '/api/v1/namespaces/default/events');
    assert.deepEqual(left.json.items.map((e: any) => e.metadata.name).sort(), ['recent', 'series']);
  });
});
