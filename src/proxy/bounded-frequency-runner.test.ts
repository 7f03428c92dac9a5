import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BoundedFrequencyRunner } from './bounded-frequency-runner.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('BoundedFrequencyRunner', () => {
  it('runs a burst at once, then at most one run per interval, coalescing requests', async () => {
    const runs: number[] = [];
    const t0 = Date.now();
    const runner = new BoundedFrequencyRunner(async () => void runs.push(Date.now() - t0), { minIntervalMs: 200, maxIntervalMs: 60_000, burst: 2 });
    runner.run();
    await sleep(5);
    runner.run();
    await sleep(5);
    for (let i = 0; i < 10; i++) runner.run();
    await sleep(450);
    runner.stop();
    assert.equal(runs.length, 3, `runs at ${runs.join(', ')} ms`);
    assert.ok(runs[0]! < 50 && runs[1]! < 50, `the burst ran at once: ${runs.join(', ')}`);
    assert.ok(runs[2]! >= 150, `the third run waited for a token: ${runs[2]} ms`);
  });

  it('never runs twice at the same time, and runs once more for requests made during a run', async () => {
    let active = 0;
    let maxActive = 0;
    let count = 0;
    const runner = new BoundedFrequencyRunner(
      async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        count++;
        await sleep(30);
        active--;
      },
      { minIntervalMs: 1, maxIntervalMs: 60_000, burst: 5 },
    );
    runner.run();
    await sleep(5);
    runner.run();
    runner.run();
    await sleep(100);
    runner.stop();
    assert.equal(maxActive, 1);
    assert.equal(count, 2);
  });
});
