import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { selects, tryLabelSelector } from './selects.js';

describe('selects (selector lookups)', () => {
  const labels = { app: 'web', tier: 'front' };
  const rows: [string, Parameters<typeof selects>[0], Record<string, string> | undefined, boolean][] = [
    ['matchLabels that match', { matchLabels: { app: 'web' } }, labels, true],
    ['matchLabels that do not match', { matchLabels: { app: 'db' } }, labels, false],
    ['matchExpressions In', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['front', 'back'] }] }, labels, true],
    ['matchExpressions DoesNotExist on a present key', { matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, labels, false],
    ['an empty selector selects nothing here (it would claim the whole namespace)', {}, labels, false],
    ['a nil selector selects nothing', undefined, labels, false],
    ['a selector that does not convert selects nothing', { matchExpressions: [{ key: 'tier', operator: 'Near' }] }, labels, false],
    ['an object without labels', { matchLabels: { app: 'web' } }, undefined, false],
  ];
  for (const [name, selector, l, want] of rows) {
    it(name, () => assert.equal(selects(selector, l), want));
  }

  it('tryLabelSelector converts, or answers undefined instead of throwing', () => {
    assert.equal(tryLabelSelector({ matchExpressions: [{ key: 'k', operator: 'Near' }] }), undefined);
    assert.deepEqual(tryLabelSelector({ matchLabels: { a: 'b' } })?.requirements, [{ key: 'a', operator: '=', values: ['b'] }]);
  });
});
