import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createWorkQueue } from '../client/workqueue.js';
import { find, parseExposition } from './parse-exposition.js';
import { controlPlaneRegistry } from './registries.js';

describe('workqueue metrics (client-go queueMetrics semantics)', () => {
  it('counts adds once per dirty key, depth down on get, queue and work durations, retries', async () => {
    const name = `unit-${process.pid}-${Date.now()}`;
    const q = createWorkQueue();
    q.add('a');
    q.instrument(name); // 'a' was waiting: counted as added now
    q.add('b');
    q.add('b'); // already queued: not an add
    const scrape = async () => parseExposition(await controlPlaneRegistry().text());
    let e = await scrape();
    assert.equal(find(e, 'workqueue_adds_total', { name })[0]!.value, 2);
    assert.equal(find(e, 'workqueue_depth', { name })[0]!.value, 2);
    const key = await q.get();
    e = await scrape();
    assert.equal(find(e, 'workqueue_depth', { name })[0]!.value, 1);
    assert.equal(find(e, 'workqueue_queue_duration_seconds_count', { name })[0]!.value, 1);
    assert.ok(find(e, 'workqueue_longest_running_processor_seconds', { name })[0]!.value >= 0);
    q.addRateLimited(key!);
    q.done(key!);
    e = await scrape();
    assert.equal(find(e, 'workqueue_work_duration_seconds_count', { name })[0]!.value, 1);
    assert.equal(find(e, 'workqueue_retries_total', { name })[0]!.value, 1);
    q.shutDown();
    e = await scrape();
    assert.deepEqual(find(e, 'workqueue_unfinished_work_seconds', { name }), []);
  });
});
