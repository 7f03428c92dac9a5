import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonMergePatch } from '../../client/json-merge-patch.js';
import type { Pod } from './objects.js';
import { statusPatch } from './stage-engine.js';

describe('statusPatch', () => {
  it('carries the new status whole, removes what it dropped, and is conditional on the resourceVersion read', () => {
    const before = { metadata: { name: 'p', resourceVersion: '41' }, status: { phase: 'Pending', message: 'waiting', conditions: [{ type: 'PodScheduled', status: 'True' }] } } as Pod;
    const after = { metadata: { name: 'p', resourceVersion: '41' }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], podIP: '10.42.0.5' } } as Pod;
    const patch = statusPatch(before, after);
    assert.deepEqual(patch, { metadata: { resourceVersion: '41' }, status: { phase: 'Running', message: null, conditions: [{ type: 'Ready', status: 'True' }], podIP: '10.42.0.5' } });
    assert.deepEqual((jsonMergePatch(structuredClone(before), patch) as Pod).status, after.status);
  });
});
