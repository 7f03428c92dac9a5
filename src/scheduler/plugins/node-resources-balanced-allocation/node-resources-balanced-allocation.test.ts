import assert from 'node:assert/strict';
import { describe as group, it } from 'node:test';
import { frameworkFor, makeNode, makePod, scoreNodes, snapshotOf } from '../../testing/wrappers.js';
import type { Pod } from '../../framework/types.js';
import { balancedResourceScore } from './node-resources-balanced-allocation.js';

group('NodeResourcesBalancedAllocation', () => {
  const nodes = [makeNode('half', { cpu: '4', memory: '32Gi' }), makeNode('small', { cpu: '4', memory: '8Gi' })];
  const used = makePod('used', { nodeName: 'half', cpu: '1', memory: '8Gi' });
  const cases: { name: string; pod: Pod; want: Record<string, number> | 'skipped' }[] = [
    // half: cpu 2/4 = 0.5, memory 16/32 = 0.5 -> std 0 -> 100. small: cpu 0.25, memory 1 -> std 0.375 -> 62.
    { name: 'balanced use scores highest', pod: makePod('p', { cpu: '1', memory: '8Gi' }), want: { half: 100, small: 62 } },
    // half: cpu 3/4, memory 24/32 -> 100. small: cpu 0.5, memory 16/8 capped at 1 -> std 0.25 -> 75.
    { name: 'fractions are capped at 1', pod: makePod('p', { cpu: '2', memory: '16Gi' }), want: { half: 100, small: 75 } },
    { name: 'best-effort pods are not scored (kubernetes#129138)', pod: makePod('p'), want: 'skipped' },
  ];
  for (const tc of cases) {
    it(tc.name, () => {
      const fwk = frameworkFor([{ name: 'NodeResourcesBalancedAllocation' }], snapshotOf(nodes, [used]));
      const scores = scoreNodes(fwk, tc.pod);
      const got = Object.fromEntries([...scores].map(([n, s]) => [n, s.NodeResourcesBalancedAllocation]));
      if (tc.want === 'skipped') assert.deepEqual(got, { half: undefined, small: undefined });
      else assert.deepEqual(got, tc.want);
    });
  }

  it('uses the population standard deviation for more than two resources', () => {
    // fractions 0.2, 0.5, 0.8: mean 0.5, std sqrt(0.06) = 0.2449 -> 75.
    assert.equal(balancedResourceScore([2, 5, 8], [10, 10, 10]), 75);
    // Resources without allocatable are left out: one fraction left -> std 0.
    assert.equal(balancedResourceScore([2, 5], [10, 0]), 100);
  });
});
