import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computePrevious, computeUsage, MetricsStore, type MetricsBatch, type MetricsPoint } from './metrics-store.js';
import { formatBytes, formatDuration, formatNanoCores } from './quantities.js';

const p = (timestamp: number, cpuNs: number, mem = 1024, startTime = 0): MetricsPoint => ({ timestamp, startTime, cumulativeCpuNs: cpuNs, memoryWorkingSetBytes: mem });

describe('computeUsage (metrics-server resourceUsage)', () => {
  const cases: Array<{ name: string; last: MetricsPoint; prev: MetricsPoint; want: ReturnType<typeof computeUsage> }> = [
    { name: 'half a core over 15 s', last: p(115_000, 7.5e9 + 1e9, 2048), prev: p(100_000, 1e9), want: { cpuNanoCores: 5e8, memoryBytes: 2048, timestamp: 115_000, windowMs: 15_000 } },
    { name: 'idle', last: p(20_000, 5), prev: p(10_000, 5), want: { cpuNanoCores: 0, memoryBytes: 1024, timestamp: 20_000, windowMs: 10_000 } },
    { name: 'two cores over 1.5 s', last: p(1_500, 3e9), prev: p(0, 0), want: { cpuNanoCores: 2e9, memoryBytes: 1024, timestamp: 1_500, windowMs: 1_500 } },
    { name: 'truncated to whole nanocores', last: p(3_000, 1e9), prev: p(0, 0), want: { cpuNanoCores: 333_333_333, memoryBytes: 1024, timestamp: 3_000, windowMs: 3_000 } },
    { name: 'counter went backwards', last: p(20_000, 1), prev: p(10_000, 5), want: 'unexpected decrease in cumulative CPU usage value' },
    { name: 'same time', last: p(10_000, 9), prev: p(10_000, 5), want: 'the two samples have the same time' },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(computeUsage(c.last, c.prev), c.want));
});

describe('computePrevious (which sample a new one is measured against)', () => {
  const cases: Array<{ name: string; args: Parameters<typeof computePrevious>; want: MetricsPoint | undefined }> = [
    { name: 'nothing stored', args: [p(10, 1), undefined, undefined], want: undefined },
    { name: 'newer than last: last becomes previous', args: [p(20, 2), p(10, 1), p(5, 0)], want: p(10, 1) },
    { name: 'same time as last (agent answered from cache): previous kept', args: [p(10, 2), p(10, 1), p(5, 0)], want: p(5, 0) },
    { name: 'older than previous: dropped', args: [p(4, 2), p(10, 1), p(5, 0)], want: undefined },
    { name: 'restarted container: not measured against the old instance', args: [p(20, 2, 1024, 15), p(10, 100), undefined, false], want: undefined },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(computePrevious(...c.args), c.want));
});

function batch(t: number, node: number, containers: Record<string, [number, number?]>): MetricsBatch {
  return {
    nodes: new Map([['n1', p(t, node, 4096)]]),
    pods: new Map([['ns/web', { namespace: 'ns', name: 'web', containers: new Map(Object.entries(containers).map(([k, [cpu, start]]) => [k, p(t, cpu, 512, start ?? 0)])) }]]),
  };
}

describe('MetricsStore', () => {
  it('has no metrics after one scrape, then rates from the last two (window and timestamp of the newer)', () => {
    const s = new MetricsStore();
    s.store(batch(0, 0, { a: [0], b: [0] }));
    assert.equal(s.node('n1'), undefined);
    assert.equal(s.pod('ns', 'web'), undefined);
    s.store(batch(15_000, 30e9, { a: [7.5e9], b: [0] }));
    assert.deepEqual(s.node('n1'), { cpuNanoCores: 2e9, memoryBytes: 4096, timestamp: 15_000, windowMs: 15_000 });
    const pod = s.pod('ns', 'web')!;
    assert.deepEqual(pod.containers.map((c) => [c.name, c.cpuNanoCores]), [['a', 5e8], ['b', 0]]);
    assert.equal(pod.windowMs, 15_000);
    s.store(batch(30_000, 45e9, { a: [9e9], b: [1.5e9] }));
    assert.deepEqual(s.pod('ns', 'web')!.containers.map((c) => c.cpuNanoCores), [1e8, 1e8]);
  });

  it('leaves out a pod while one of its containers has a single sample (a new or restarted container)', () => {
    const s = new MetricsStore();
    s.store(batch(0, 0, { a: [0] }));
    s.store(batch(15_000, 1, { a: [1e9], b: [0] }));
    assert.equal(s.pod('ns', 'web'), undefined, 'b is new');
    s.store(batch(30_000, 2, { a: [2e9], b: [5e8, 20_000] }));
    assert.equal(s.pod('ns', 'web'), undefined, 'b restarted: its counter starts again');
    s.store(batch(45_000, 3, { a: [3e9], b: [2e9, 20_000] }));
    assert.deepEqual(s.pod('ns', 'web')!.containers.map((c) => c.cpuNanoCores), [66_666_666, 1e8]);
  });

  it('forgets a node that did not answer (no stale metrics), and needs two samples again', () => {
    const s = new MetricsStore();
    s.store(batch(0, 0, { a: [0] }));
    s.store(batch(15_000, 15e9, { a: [0] }));
    assert.ok(s.node('n1'));
    s.store({ nodes: new Map(), pods: new Map() });
    assert.equal(s.node('n1'), undefined);
    assert.equal(s.pod('ns', 'web'), undefined);
    s.store(batch(45_000, 30e9, { a: [0] }));
    assert.equal(s.node('n1'), undefined);
  });
});

describe('wire forms', () => {
  it('quantities and durations as metrics-server writes them', () => {
    assert.equal(formatNanoCores(241001773), '241001773n');
    assert.equal(formatNanoCores(0), '0');
    assert.equal(formatBytes(176128), '172Ki');
    assert.equal(formatBytes(64 * 1024 * 1024), '64Mi');
    assert.equal(formatBytes(1000), '1000');
    assert.equal(formatDuration(15_000), '15s');
    assert.equal(formatDuration(15_012), '15.012s');
    assert.equal(formatDuration(60_500), '1m0.5s');
    assert.equal(formatDuration(500), '500ms');
  });
});
