import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { slowStartBatch } from './slow-start.js';

describe('slowStartBatch', () => {
  it('runs all calls in batches of 1, 2, 4, ... with each index once', async () => {
    const calls: number[] = [];
    const batchSizes: number[] = [];
    let startedInBatch = 0;
    const r = await slowStartBatch(10, 1, async (i) => {
      calls.push(i);
      startedInBatch++;
      // A batch's calls all start before any of them resumes: the first to resume sees the whole batch.
      await Promise.resolve();
      if (startedInBatch > 0) batchSizes.push(startedInBatch);
      startedInBatch = 0;
    });
    assert.deepEqual(r, { attempted: 10, successes: 10 });
    assert.deepEqual(calls, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(batchSizes, [1, 2, 4, 3]);
  });

  it('stops after the first batch with a failure and reports what was attempted', async () => {
    const calls: number[] = [];
    const r = await slowStartBatch(10, 1, async (i) => {
      calls.push(i);
      if (i === 2) throw new Error('quota exceeded');
    });
    assert.deepEqual(calls, [0, 1, 2], 'the batch of 4 never starts');
    assert.equal(r.attempted, 3);
    assert.equal(r.successes, 2);
    assert.equal((r.error as Error).message, 'quota exceeded');
  });

  it('does nothing for zero calls', async () => {
    assert.deepEqual(await slowStartBatch(0, 1, async () => assert.fail('called')), { attempted: 0, successes: 0 });
  });
});
