import assert from 'node:assert/strict';
import { describe as group, it } from 'node:test';
import { describe, frameworkFor, makeNode, makePod, runFilter, scoreNodes, snapshotOf } from '../../testing/wrappers.js';
import type { Pod } from '../../framework/types.js';
import type { Container } from 'kubernetes-types/core/v1.js';

const c = (name: string, requests: Record<string, string>, extra: Partial<Container> = {}): Container => ({ name, image: 'app:1', resources: { requests }, ...extra });

group('NodeResourcesFit Filter', () => {
  // One node: 4 cpu, 8Gi, 3 pods, 10Gi ephemeral storage, 2 GPUs; already running a 1 cpu / 2Gi pod.
  const node = makeNode('n1', { cpu: '4', memory: '8Gi', pods: '3', ephemeralStorage: '10Gi', extended: { 'example.com/gpu': '2' } });
  const running = makePod('running', { nodeName: 'n1', cpu: '1', memory: '2Gi' });
  const cases: { name: string; pod: Pod; existing?: Pod[]; args?: Record<string, unknown>; want: string[] }[] = [
    { name: 'fits next to the running pod', pod: makePod('p', { cpu: '3', memory: '6Gi' }), want: ['Success'] },
    { name: 'no requests: only the pod count matters', pod: makePod('p'), want: ['Success'] },
    { name: 'one millicore too many', pod: makePod('p', { cpu: '3001m' }), want: ['Unschedulable', 'Insufficient cpu'] },
    { name: 'every insufficient resource is reported, in upstream order', pod: makePod('p', { cpu: '4', memory: '7Gi', ephemeralStorage: '11Gi' }), want: ['Unschedulable', 'Insufficient cpu', 'Insufficient memory', 'Insufficient ephemeral-storage'] },
    {
      name: 'pod count limit',
      pod: makePod('p', { cpu: '100m' }),
      existing: [makePod('a', { nodeName: 'n1' }), makePod('b', { nodeName: 'n1' })],
      want: ['Unschedulable', 'Too many pods'],
    },
    { name: 'extended resource within allocatable', pod: makePod('p', { extended: { 'example.com/gpu': '2' } }), want: ['Success'] },
    { name: 'extended resource over allocatable', pod: makePod('p', { extended: { 'example.com/gpu': '3' } }), want: ['Unschedulable', 'Insufficient example.com/gpu'] },
    { name: 'extended resource the node lacks', pod: makePod('p', { extended: { 'example.com/fpga': '1' } }), want: ['Unschedulable', 'Insufficient example.com/fpga'] },
    { name: 'ignored extended resource', pod: makePod('p', { extended: { 'example.com/fpga': '1' } }), args: { ignoredResources: ['example.com/fpga'] }, want: ['Success'] },
    { name: 'ignored resource group', pod: makePod('p', { extended: { 'example.com/fpga': '1' } }), args: { ignoredResourceGroups: ['example.com'] }, want: ['Success'] },
    {
      // Init containers run one at a time: the pod needs max(sum of containers, largest init) = 3.5 cpu.
      name: 'an init container larger than the app containers decides',
      pod: makePod('p', { containers: [c('a', { cpu: '1' }), c('b', { cpu: '1' })], initContainers: [c('init', { cpu: '3500m' })] }),
      want: ['Unschedulable', 'Insufficient cpu'],
    },
    {
      name: 'init containers smaller than the sum do not add',
      pod: makePod('p', { containers: [c('a', { cpu: '1500m' }), c('b', { cpu: '1500m' })], initContainers: [c('init', { cpu: '2' })] }),
      want: ['Success'],
    },
    {
      // A sidecar (restartPolicy Always) keeps running: 2 + 1.5 = 3.5 cpu.
      name: 'a sidecar init container adds to the sum',
      pod: makePod('p', { containers: [c('a', { cpu: '2' })], initContainers: [c('proxy', { cpu: '1500m' }, { restartPolicy: 'Always' })] }),
      want: ['Unschedulable', 'Insufficient cpu'],
    },
    { name: 'pod overhead counts', pod: makePod('p', { cpu: '2800m', overhead: { cpu: '250m' } }), want: ['Unschedulable', 'Insufficient cpu'] },
    { name: 'pod overhead within room', pod: makePod('p', { cpu: '2500m', overhead: { cpu: '250m' } }), want: ['Success'] },
  ];
  for (const tc of cases) {
    it(tc.name, () => {
      const snap = snapshotOf([node], [running, ...(tc.existing ?? [])]);
      const fwk = frameworkFor([{ name: 'NodeResourcesFit', args: tc.args }], snap);
      assert.deepEqual(describe(runFilter(fwk, tc.pod, snap.get('n1')!)), tc.want);
    });
  }

  it('an assumed pod takes room before its binding is observed', () => {
    const snap = snapshotOf([node], [running]);
    const fwk = frameworkFor(['NodeResourcesFit'], snap);
    const pod = makePod('p', { cpu: '2' });
    assert.deepEqual(describe(runFilter(fwk, pod, snap.get('n1')!)), ['Success']);
    snap.assumePod(makePod('other', { nodeName: 'n1', cpu: '2' }));
    assert.deepEqual(describe(runFilter(fwk, pod, snap.get('n1')!)), ['Unschedulable', 'Insufficient cpu']);
    snap.forgetPod(makePod('other', { nodeName: 'n1', cpu: '2' }));
    assert.deepEqual(describe(runFilter(fwk, pod, snap.get('n1')!)), ['Success']);
  });
});

group('NodeResourcesFit Score', () => {
  // half: 4 cpu / 32Gi with 1 cpu / 8Gi used; small: 4 cpu / 8Gi, empty.
  const nodes = [makeNode('half', { cpu: '4', memory: '32Gi' }), makeNode('small', { cpu: '4', memory: '8Gi' })];
  const used = makePod('used', { nodeName: 'half', cpu: '1', memory: '8Gi' });
  const cases: { name: string; pod: Pod; strategy?: string; want: Record<string, number> }[] = [
    // LeastAllocated: mean over cpu and memory of (free after placing / allocatable) * 100, truncated.
    // half: cpu (4000-2000)/4000 -> 50, memory (32-16)/32 -> 50 => 50. small: cpu 75, memory 0 => 37.
    { name: 'least allocated', pod: makePod('p', { cpu: '1', memory: '8Gi' }), want: { half: 50, small: 37 } },
    // No requests count as 100m / 200Mi. half: cpu (4000-1100)/4000 -> 72, memory (32768Mi-8392Mi)/32768Mi -> 74 => 73.
    // small: cpu (4000-100)/4000 -> 97, memory (8192-200)/8192 -> 97 => 97.
    { name: 'best-effort pods count the non-zero defaults', pod: makePod('p'), want: { half: 73, small: 97 } },
    // MostAllocated: half: cpu 50, memory 50 => 50; small: cpu 25, memory 100 => 62.
    { name: 'most allocated', pod: makePod('p', { cpu: '1', memory: '8Gi' }), strategy: 'MostAllocated', want: { half: 50, small: 62 } },
  ];
  for (const tc of cases) {
    it(tc.name, () => {
      const snap = snapshotOf(nodes, [used]);
      const fwk = frameworkFor([{ name: 'NodeResourcesFit', args: tc.strategy ? { scoringStrategy: { type: tc.strategy } } : undefined }], snap);
      const scores = scoreNodes(fwk, tc.pod);
      assert.deepEqual(Object.fromEntries([...scores].map(([n, s]) => [n, s.NodeResourcesFit])), tc.want);
    });
  }

  it('refuses resource weights outside 1..100', () => {
    assert.throws(() => frameworkFor([{ name: 'NodeResourcesFit', args: { scoringStrategy: { resources: [{ name: 'cpu', weight: 0 }] } } }], snapshotOf([])), /should be in the range \[1, 100\]/);
  });
});
