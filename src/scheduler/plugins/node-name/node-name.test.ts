import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describe, frameworkFor, makeNode, makePod, runFilter, snapshotOf } from '../../testing/wrappers.js';

const cases = [
  { name: 'no spec.nodeName fits any node', nodeName: undefined, want: ['Success'] },
  { name: 'the named node fits', nodeName: 'n1', want: ['Success'] },
  { name: 'another node is unresolvable', nodeName: 'n2', want: ['UnschedulableAndUnresolvable', "node(s) didn't match the requested node name"] },
];
for (const tc of cases) {
  it(`NodeName: ${tc.name}`, () => {
    const snap = snapshotOf([makeNode('n1')]);
    const fwk = frameworkFor(['NodeName'], snap);
    assert.deepEqual(describe(runFilter(fwk, makePod('p', { nodeName: tc.nodeName }), snap.get('n1')!)), tc.want);
  });
}
