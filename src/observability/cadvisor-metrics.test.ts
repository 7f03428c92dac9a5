import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderCadvisorMetrics } from './cadvisor-metrics.js';
import { find, parseExposition } from './parse-exposition.js';

describe('/metrics/cadvisor exposition', () => {
  it('renders cAdvisor names, labels and timestamps; leaves out readings the runtime lacks', () => {
    const text = renderCadvisorMetrics([
      { namespace: 'default', pod: 'web', container: '', id: '/kubepods/podu1', image: '', name: '', cpuSeconds: 3.5, cpuTimestampMs: 1700000000123, workingSetBytes: 4096, memoryTimestampMs: 1700000000124 },
      { namespace: 'default', pod: 'web', container: 'app', id: '/kubepods/podu1/c1', image: 'docker.io/library/busybox:latest', name: 'c1', cpuSeconds: 1.25, workingSetBytes: 1024 },
      { namespace: 'default', pod: 'web', container: 'side"car', id: '/kubepods/podu1/c2', image: 'x', name: 'c2' },
    ]);
    const e = parseExposition(text);
    assert.equal(e.types.get('container_cpu_usage_seconds_total'), 'counter');
    assert.equal(e.types.get('container_memory_working_set_bytes'), 'gauge');
    const cpu = find(e, 'container_cpu_usage_seconds_total');
    assert.deepEqual(cpu.map((s) => [s.labels.container, s.value, s.timestampMs]), [['', 3.5, 1700000000123], ['app', 1.25, undefined]]);
    assert.deepEqual(Object.keys(cpu[1]!.labels).sort(), ['container', 'id', 'image', 'name', 'namespace', 'pod']);
    assert.equal(cpu[1]!.labels.image, 'docker.io/library/busybox:latest');
    assert.deepEqual(find(e, 'container_memory_working_set_bytes').map((s) => s.value), [4096, 1024]);
    assert.deepEqual(find(e, 'container_cpu_usage_seconds_total', { container: 'side"car' }), []);
  });
});
