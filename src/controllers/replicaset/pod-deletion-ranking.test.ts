import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { deletionCost, podsToDelete } from './pod-deletion-ranking.js';
import { rfc3339 } from '../../api/time.js';

const NOW = new Date(Date.UTC(2025, 0, 1, 12, 0, 0));
const ago = (s: number) => rfc3339(new Date(NOW.getTime() - s * 1000));

function pod(name: string, o: { node?: string; phase?: string; readySecondsAgo?: number; createdSecondsAgo?: number; uid?: string; cost?: string; restarts?: number } = {}): Pod {
  return {
    metadata: {
      name,
      namespace: 'default',
      uid: o.uid ?? name,
      ...(o.createdSecondsAgo !== undefined ? { creationTimestamp: ago(o.createdSecondsAgo) } : {}),
      ...(o.cost !== undefined ? { annotations: { 'controller.kubernetes.io/pod-deletion-cost': o.cost } } : {}),
    },
    spec: { containers: [], ...(o.node ? { nodeName: o.node } : {}) },
    status: {
      phase: o.phase ?? (o.readySecondsAgo !== undefined ? 'Running' : 'Pending'),
      ...(o.readySecondsAgo !== undefined ? { conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: ago(o.readySecondsAgo) }] } : {}),
      ...(o.restarts !== undefined ? { containerStatuses: [{ name: 'c', restartCount: o.restarts, ready: true, image: '', imageID: '' }] } : {}),
    },
  };
}

const running = { phase: 'Running' } as const;

describe('podsToDelete', () => {
  const cases: { name: string; pods: Pod[]; related?: Pod[]; diff: number; want: string[] }[] = [
    {
      name: 'unassigned before assigned, whatever the phase',
      pods: [pod('assigned-pending', { node: 'n1' }), pod('unassigned', { phase: 'Running' })],
      diff: 1,
      want: ['unassigned'],
    },
    {
      name: 'Pending < Unknown < Running',
      pods: [pod('running', { node: 'n', ...running }), pod('unknown', { node: 'n', phase: 'Unknown' }), pod('pending', { node: 'n' })],
      diff: 2,
      want: ['pending', 'unknown'],
    },
    {
      name: 'not ready before ready',
      pods: [pod('ready', { node: 'n', readySecondsAgo: 5 }), pod('not-ready', { node: 'n', ...running })],
      diff: 1,
      want: ['not-ready'],
    },
    {
      name: 'lower deletion cost first, even if ready for less time',
      pods: [pod('young', { node: 'n', readySecondsAgo: 5 }), pod('cheap-old', { node: 'n', readySecondsAgo: 5000, cost: '-10' })],
      diff: 1,
      want: ['cheap-old'],
    },
    {
      name: 'doubled up on a node with related pods first',
      pods: [pod('alone', { node: 'n1', readySecondsAgo: 100 }), pod('crowded', { node: 'n2', readySecondsAgo: 100 })],
      related: [pod('sibling-1', { node: 'n2', ...running }), pod('sibling-2', { node: 'n2', ...running }), pod('done', { node: 'n1', phase: 'Succeeded' })],
      diff: 1,
      want: ['crowded'],
    },
    {
      name: 'ready for less time first',
      pods: [pod('long', { node: 'n', readySecondsAgo: 36_000 }), pod('short', { node: 'n', readySecondsAgo: 60 })],
      diff: 1,
      want: ['short'],
    },
    {
      name: 'ready times in the same log2 bucket: the uid decides, not the seconds',
      pods: [pod('b-slightly-newer', { node: 'n', readySecondsAgo: 1000, uid: 'b' }), pod('a-slightly-older', { node: 'n', readySecondsAgo: 1010, uid: 'a' })],
      diff: 1,
      want: ['a-slightly-older'],
    },
    {
      name: 'more restarts first',
      pods: [pod('stable', { node: 'n', readySecondsAgo: 100, restarts: 0 }), pod('flaky', { node: 'n', readySecondsAgo: 100, restarts: 3 })],
      diff: 1,
      want: ['flaky'],
    },
    {
      name: 'newer pods first, pods without a creation time before all',
      pods: [pod('old', { node: 'n', ...running, createdSecondsAgo: 86_400 }), pod('new', { node: 'n', ...running, createdSecondsAgo: 30 }), pod('no-time', { node: 'n', ...running })],
      diff: 2,
      want: ['no-time', 'new'],
    },
    {
      name: 'diff covering every pod returns them all',
      pods: [pod('a'), pod('b')],
      diff: 5,
      want: ['a', 'b'],
    },
  ];
  for (const tc of cases) {
    it(tc.name, () => {
      assert.deepEqual(podsToDelete(tc.pods, tc.related ?? [], tc.diff, NOW).map((p) => p.metadata!.name), tc.want);
    });
  }
});

describe('deletionCost', () => {
  const cases: [string | undefined, number][] = [
    [undefined, 0],
    ['100', 100],
    ['-7', -7],
    ['-007', -7],
    ['0', 0],
    ['+1', 0],
    ['007', 0],
    ['2147483648', 0],
    ['abc', 0],
  ];
  for (const [value, want] of cases) {
    it(`${JSON.stringify(value)} -> ${want}`, () => {
      const p: Pod = { metadata: value === undefined ? {} : { annotations: { 'controller.kubernetes.io/pod-deletion-cost': value } } };
      assert.equal(deletionCost(p), want);
    });
  }
});
