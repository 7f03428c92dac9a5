import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from './fake-clock.js';

describe('FakeClock', () => {
  it('fires due timers in due order, at their due time, including timers set while firing', () => {
    const clock = new FakeClock(0);
    const fired: string[] = [];
    const at = (name: string) => () => fired.push(`${name}@${clock.now().getTime()}`);
    clock.setTimeout(at('c'), 30);
    clock.setTimeout(at('a'), 10);
    clock.setTimeout(at('b'), 10);
    clock.setTimeout(() => {
      at('d')();
      clock.setTimeout(at('e'), 5);
      clock.setTimeout(at('late'), 100);
    }, 20);
    clock.advance(29);
    assert.deepEqual(fired, ['a@10', 'b@10', 'd@20', 'e@25']);
    assert.equal(clock.now().getTime(), 29);
    clock.advance(1);
    assert.deepEqual(fired.slice(4), ['c@30']);
    assert.equal(clock.pendingTimers, 1);
    assert.equal(clock.nextTimerIn(), 90);
  });

  it('cancelled timers never fire; set() moves time and fires what fell due', () => {
    const clock = new FakeClock(new Date('2025-01-01T00:00:00Z'));
    let fired = 0;
    const t = clock.setTimeout(() => fired++, 1000);
    clock.setTimeout(() => fired++, 2000);
    t.cancel();
    clock.set(new Date('2025-01-01T00:00:05Z'));
    assert.equal(fired, 1);
    assert.equal(clock.now().toISOString(), '2025-01-01T00:00:05.000Z');
  });

  it('advanceAsync lets promise chains started by a timer set further timers', async () => {
    const clock = new FakeClock(0);
    const fired: number[] = [];
    clock.setTimeout(() => {
      void Promise.resolve().then(() => clock.setTimeout(() => fired.push(clock.now().getTime()), 10));
    }, 10);
    await clock.advanceAsync(50);
    assert.deepEqual(fired, [20]);
  });
});
