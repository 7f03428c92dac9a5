import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { backoffRemainingMs, formatIndexes, nextBackoffRecord, parseIndexes } from './job-util.js';

describe('completed indexes text', () => {
  const cases: { given: number[]; want: string }[] = [
    { given: [], want: '' },
    { given: [0], want: '0' },
    { given: [1, 2], want: '1,2' },
    { given: [1, 3, 4, 5, 7], want: '1,3-5,7' },
    { given: [0, 1, 2, 3, 9, 10], want: '0-3,9,10' },
  ];
  for (const c of cases) {
    it(`formats ${JSON.stringify(c.given)} as ${JSON.stringify(c.want)} and parses it back`, () => {
      assert.equal(formatIndexes(c.given), c.want);
      assert.deepEqual(parseIndexes(c.want, 100), c.given);
    });
  }
  it('drops indexes at or above completions and malformed parts', () => {
    assert.deepEqual(parseIndexes('1,3-6,x,9', 5), [1, 3, 4]);
  });
});

function finished(phase: string, at: number): Pod {
  return {
    status: { phase, containerStatuses: [{ name: 'c', image: 'i', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, finishedAt: new Date(at).toISOString() } } }] },
  };
}

describe('pod failure backoff', () => {
  const t0 = Date.UTC(2025, 0, 1);
  it('doubles from 10 s per failure since the last success, capped at 6 min', () => {
    const cases: { failures: number; want: number }[] = [
      { failures: 1, want: 10_000 },
      { failures: 2, want: 20_000 },
      { failures: 3, want: 40_000 },
      { failures: 7, want: 360_000 },
      { failures: 20, want: 360_000 },
    ];
    for (const c of cases) assert.equal(backoffRemainingMs({ failuresAfterLastSuccess: c.failures, lastFailureTime: t0 }, t0), c.want, `${c.failures} failures`);
    assert.equal(backoffRemainingMs({ failuresAfterLastSuccess: 2, lastFailureTime: t0 }, t0 + 15_000), 5_000);
    assert.equal(backoffRemainingMs({ failuresAfterLastSuccess: 2, lastFailureTime: t0 }, t0 + 25_000), 0);
    assert.equal(backoffRemainingMs({ failuresAfterLastSuccess: 0 }, t0), 0);
  });
  it('a success resets the count; failures after it still count', () => {
    const rec = nextBackoffRecord({ failuresAfterLastSuccess: 4, lastFailureTime: t0 }, [finished('Succeeded', t0 + 10)], [finished('Failed', t0 + 5), finished('Failed', t0 + 20)]);
    assert.deepEqual(rec, { failuresAfterLastSuccess: 1, lastFailureTime: t0 + 20 });
    assert.deepEqual(nextBackoffRecord({ failuresAfterLastSuccess: 1, lastFailureTime: t0 }, [], [finished('Failed', t0 + 50)]), {
      failuresAfterLastSuccess: 2,
      lastFailureTime: t0 + 50,
    });
  });
});
