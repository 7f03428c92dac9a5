import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { isPodActive, isPodAvailable, isPodReady, isPodTerminal, isPodTerminating, podKey, podReadyTime } from './pod.js';

function pod(phase: string, ready?: { status: 'True' | 'False'; since?: string }, deleting = false): Pod {
  return {
    metadata: { namespace: 'ns', name: 'p', ...(deleting ? { deletionTimestamp: '2025-01-01T00:00:00Z' } : {}) },
    status: { phase, ...(ready ? { conditions: [{ type: 'Ready', status: ready.status, lastTransitionTime: ready.since }] } : {}) },
  };
}

describe('pod predicates', () => {
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

  it('isPodReady and podReadyTime read the Ready condition', () => {
    assert.equal(isPodReady(pod('Running', { status: 'True' })), true);
    assert.equal(isPodReady(pod('Running', { status: 'False' })), false);
    assert.equal(isPodReady(pod('Running')), false);
    assert.equal(podReadyTime(pod('Running', { status: 'True', since: '2025-01-01T12:00:04Z' })), Date.UTC(2025, 0, 1, 12, 0, 4));
    assert.equal(podReadyTime(pod('Running', { status: 'False', since: '2025-01-01T12:00:04Z' })), undefined);
  });

  // [pod, terminal, active, terminating]
  const rows: [string, Pod, boolean, boolean, boolean][] = [
    ['Pending', pod('Pending'), false, true, false],
    ['Running', pod('Running'), false, true, false],
    ['Succeeded', pod('Succeeded'), true, false, false],
    ['Failed', pod('Failed'), true, false, false],
    ['Unknown', pod('Unknown'), false, true, false],
    ['Running, being deleted', pod('Running', undefined, true), false, false, true],
    ['Failed, being deleted', pod('Failed', undefined, true), true, false, false],
    ['no status at all', { metadata: { name: 'p' } }, false, true, false],
  ];
  for (const [name, p, terminal, active, terminating] of rows) {
    it(`terminal / active / terminating: ${name}`, () => {
      assert.equal(isPodTerminal(p), terminal, 'terminal');
      assert.equal(isPodActive(p), active, 'active');
      assert.equal(isPodTerminating(p), terminating, 'terminating');
    });
  }

  it('podKey is namespace/name', () => {
    assert.equal(podKey(pod('Running')), 'ns/p');
    assert.equal(podKey({ metadata: { name: 'x' } }), '/x');
  });
});
