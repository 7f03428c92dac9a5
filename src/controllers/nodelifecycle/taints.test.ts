import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Taint, Toleration } from 'kubernetes-types/core/v1.js';
import { computeZoneState } from './zone-state.js';
import { getMatchingTolerations, getMinTolerationSeconds, toleratesTaint } from './taints.js';

const unreachable: Taint = { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' };
const gpu: Taint = { key: 'gpu', value: 'a100', effect: 'NoExecute' };

test('toleratesTaint', () => {
  const cases: { name: string; tol: Toleration; taint: Taint; want: boolean }[] = [
    { name: 'Exists on the key', tol: { key: unreachable.key, operator: 'Exists' }, taint: unreachable, want: true },
    { name: 'empty key with Exists matches all', tol: { operator: 'Exists' }, taint: gpu, want: true },
    { name: 'other effect', tol: { key: unreachable.key, operator: 'Exists', effect: 'NoSchedule' }, taint: unreachable, want: false },
    { name: 'Equal with the value', tol: { key: 'gpu', value: 'a100', effect: 'NoExecute' }, taint: gpu, want: true },
    { name: 'Equal with another value', tol: { key: 'gpu', operator: 'Equal', value: 'h100' }, taint: gpu, want: false },
    { name: 'other key', tol: { key: 'gpu', operator: 'Exists' }, taint: unreachable, want: false },
  ];
  for (const c of cases) assert.equal(toleratesTaint(c.tol, c.taint), c.want, c.name);
});

test('getMatchingTolerations and getMinTolerationSeconds', () => {
  const cases: { name: string; tolerations: Toleration[]; taints: Taint[]; want: [boolean, number] }[] = [
    { name: 'no toleration: evict now', tolerations: [], taints: [unreachable], want: [false, 0] },
    { name: 'forever', tolerations: [{ key: unreachable.key, operator: 'Exists' }], taints: [unreachable], want: [true, -1] },
    {
      name: 'the smallest of the used tolerations',
      tolerations: [
        { key: unreachable.key, operator: 'Exists', tolerationSeconds: 300 },
        { key: 'gpu', operator: 'Exists', tolerationSeconds: 30 },
      ],
      taints: [unreachable, gpu],
      want: [true, 30],
    },
    { name: 'negative means now', tolerations: [{ operator: 'Exists', tolerationSeconds: -5 }], taints: [unreachable], want: [true, 0] },
    { name: 'one taint not tolerated', tolerations: [{ key: 'gpu', operator: 'Exists' }], taints: [unreachable, gpu], want: [false, 0] },
  ];
  for (const c of cases) {
    const { allTolerated, used } = getMatchingTolerations(c.taints, c.tolerations);
    assert.deepEqual([allTolerated, allTolerated ? getMinTolerationSeconds(used) : 0], c.want, c.name);
  }
});

test('computeZoneState', () => {
  const cases: { name: string; statuses: (string | undefined)[]; want: string }[] = [
    { name: 'all ready', statuses: ['True', 'True'], want: 'Normal' },
    { name: 'one of three down', statuses: ['True', 'True', 'Unknown'], want: 'Normal' },
    { name: 'none ready', statuses: ['Unknown', undefined], want: 'FullDisruption' },
    { name: 'three of five down (60% >= 55%)', statuses: ['True', 'True', 'False', 'Unknown', 'Unknown'], want: 'PartialDisruption' },
    { name: 'two of three down: fewer than 3 unhealthy', statuses: ['True', 'False', 'Unknown'], want: 'Normal' },
  ];
  for (const c of cases) assert.equal(computeZoneState(c.statuses).state, c.want, c.name);
});
