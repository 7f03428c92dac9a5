import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_WATCH_LIMITS, WatchRegistry, type WatchStream } from './watch.js';

function fakeStream(registry: WatchRegistry, buffered: number) {
  const s = {
    buffered,
    stopped: false,
    stop() {
      s.stopped = true;
      registry.delete(s as unknown as WatchStream);
    },
  };
  registry.add(s as unknown as WatchStream);
  return s;
}

test('past the total bound, the watchers furthest behind are closed until half the bound is free', () => {
  const registry = new WatchRegistry({ ...DEFAULT_WATCH_LIMITS, maxTotalBytes: 1000 });
  const streams = [100, 500, 50, 400, 300].map((b) => fakeStream(registry, b));
  registry.wrote(900);
  assert.deepEqual(streams.map((s) => s.stopped), [false, false, false, false, false], 'under the bound nothing is counted');
  registry.wrote(200);
  // 1,350 buffered > 1,000: close 500 (850), then 400 (450 <= 500).
  assert.deepEqual(streams.map((s) => s.stopped), [false, true, false, true, false]);
  assert.equal(registry.size, 3);
});

test('closeAll ends every watch', () => {
  const registry = new WatchRegistry(DEFAULT_WATCH_LIMITS);
  const streams = [1, 2, 3].map((b) => fakeStream(registry, b));
  registry.closeAll();
  assert.ok(streams.every((s) => s.stopped));
  assert.equal(registry.size, 0);
});
