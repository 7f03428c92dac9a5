import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  computeNodePressure,
  DEFAULT_EVICTION_HARD,
  parseEvictionThresholds,
  signalsCrossed,
  type NodeSample,
} from './eviction-thresholds.js';

const Mi = 1024 * 1024;
const Gi = 1024 * Mi;
const defaults = parseEvictionThresholds(DEFAULT_EVICTION_HARD);

function sample(o: { memFree?: number; diskFreePct?: number; inodesFreePct?: number; imageFreePct?: number; pids?: [number, number] } = {}): NodeSample {
  const fs = (pct: number, inodesPct: number) => ({ capacityBytes: 100 * Gi, availableBytes: (pct / 100) * 100 * Gi, inodes: 1_000_000, inodesFree: inodesPct * 10_000 });
  return {
    memory: { capacityBytes: 8 * Gi, availableBytes: o.memFree ?? 4 * Gi },
    nodefs: fs(o.diskFreePct ?? 50, o.inodesFreePct ?? 50),
    ...(o.imageFreePct !== undefined ? { imagefs: fs(o.imageFreePct, 50) } : {}),
    ...(o.pids ? { pids: { running: o.pids[0], max: o.pids[1] } } : {}),
  };
}

test('kubelet default hard thresholds: which signals a sample crosses', () => {
  const cases: [string, NodeSample, string[]][] = [
    ['healthy', sample(), []],
    ['memory just above 100Mi', sample({ memFree: 100 * Mi }), []],
    ['memory below 100Mi', sample({ memFree: 100 * Mi - 1 }), ['memory.available']],
    // Without a dedicated image filesystem the nodefs is also the imagefs, whose threshold is 15%.
    ['disk 12% free: imagefs (same fs) crosses 15%', sample({ diskFreePct: 12 }), ['imagefs.available']],
    ['disk 9% free', sample({ diskFreePct: 9 }), ['nodefs.available', 'imagefs.available']],
    ['dedicated imagefs 10% free', sample({ imageFreePct: 10 }), ['imagefs.available']],
    ['inodes 4% free', sample({ inodesFreePct: 4 }), ['nodefs.inodesFree', 'imagefs.inodesFree']],
    ['no pid threshold by default', sample({ pids: [32_000, 32_768] }), []],
  ];
  for (const [name, s, want] of cases) assert.deepEqual(signalsCrossed(s, defaults), want, name);
});

test('configured thresholds: quantities, percentages and pid.available', () => {
  const t = parseEvictionThresholds({ 'memory.available': '1Gi', 'pid.available': '10%' });
  assert.deepEqual(signalsCrossed(sample({ memFree: Gi - 1, pids: [29_500, 32_768] }), t), ['memory.available', 'pid.available']);
  assert.deepEqual(signalsCrossed(sample({ pids: [100, 32_768] }), t), []);
});

test('unmeasured parts never cross', () => {
  assert.deepEqual(signalsCrossed({}, defaults), []);
  // btrfs reports no inodes: no inode signal.
  assert.deepEqual(signalsCrossed({ nodefs: { capacityBytes: 100, availableBytes: 50, inodes: 0, inodesFree: 0 } }, defaults), []);
});

test('bad thresholds are refused, naming the entry', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ 'memory.free': '1Gi' }, /eviction threshold "memory.free": unknown signal/],
    [{ 'memory.available': 'lots' }, /memory.available="lots": expected a quantity like 100Mi or a percentage like 10%/],
    [{ 'nodefs.available': '120%' }, /at most 100%/],
  ];
  for (const [spec, message] of cases) assert.throws(() => parseEvictionThresholds(spec), { message });
});

test('pressure holds for the transition period after the last crossing, then clears', () => {
  const period = 300_000;
  let r = computeNodePressure(['memory.available'], {}, 1_000, period);
  assert.deepEqual(r.pressure, { MemoryPressure: true, DiskPressure: false, PIDPressure: false });
  r = computeNodePressure([], r.history, 1_000 + period - 1, period);
  assert.equal(r.pressure.MemoryPressure, true);
  r = computeNodePressure([], r.history, 1_000 + period, period);
  assert.equal(r.pressure.MemoryPressure, false);
  assert.deepEqual(r.history, {});
  // A period of 0 follows the measurement exactly.
  assert.equal(computeNodePressure(['nodefs.available'], {}, 5, 0).pressure.DiskPressure, true);
  assert.equal(computeNodePressure([], { DiskPressure: 5 }, 5, 0).pressure.DiskPressure, false);
});
