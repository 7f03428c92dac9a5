import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { isPodActive, isPodAvailable, isPodReady, isPodTerminating } from './pod-state.js';

function pod(phase: string, ready?: { status: 'True' | 'False'; since?: string }, deleting = false): Pod {
  return {
    metadata: { name: 'p', ...(deleting ? { deletionTimestamp: '2025-01-01T00:00:00Z' } : {}) },
    status: { phase, ...(ready ? { conditions: [{ type: 'Ready', status: ready.status, lastTransitionTime: ready.since }] } : {}) },
  };
}

describe('pod state', () => {
  const now = new Date('2025-01-01T12:00:10Z');

  const available: [string, Pod, number, boolean][] = [
    ['ready with minReadySeconds 0', pod('Running', { status: 'True' }), 0, true],
    ['not ready', pod('Running', { status: 'False', since: '2025-01-01T11:00:00Z' }), 0, false],
    ['ready for longer than minReadySeconds', pod('Running', { status: 'True', since: '2025-01-01T12:00:04Z' }), 5, true],
    ['ready for exactly minReadySeconds is not yet available (strictly before now, as upstream)', pod('Running', { status: 'True', since: '2025-01-01T12:00:05Z' }), 5, false],
    ['ready without a transition time and minReadySeconds > 0', pod('Running', { status: 'True' }), 5, false],
  ];
  for (const [name, p, minReady, want] of available) {
    it(`isPodAvailable: ${name}`, () => assert.equal(isPodAvailable(p, minReady, now), want));
  }

  it('isPodReady reads the Ready condition', () => {
    assert.equal(isPodReady(pod('Running', { status: 'True' })), true);
    assert.equal(isPodReady(pod('Running')), false);
  });

  it('active = neither finished nor being deleted; terminating = being deleted but not finished', () => {
    const rows: [Pod, boolean, boolean][] = [
      [pod('Running'), true, false],
      [pod('Pending'), true, false],
      [pod('Succeeded'), false, false],
      [pod('Failed'), false, false],
      [pod('Running', undefined, true), false, true],
      [pod('Failed', undefined, true), false, false],
    ];
    for (const [p, active, terminating] of rows) {
      assert.equal(isPodActive(p), active, `${p.status?.phase} active`);
      assert.equal(isPodTerminating(p), terminating, `${p.status?.phase} terminating`);
    }
  });
});
