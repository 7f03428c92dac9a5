import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { semanticEqual } from './semantic-equal.js';

describe('semanticEqual', () => {
  const cases: [string, unknown, unknown, boolean][] = [
    ['key order does not matter', { a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 }, true],
    ['an absent key equals one set to undefined', { a: 1 }, { a: 1, b: undefined }, true],
    ['an empty list equals a missing one', { subsets: [] }, {}, true],
    ['an empty map equals null', { labels: {} }, { labels: null }, true],
    ['list order matters', [1, 2], [2, 1], false],
    ['a changed value is seen', { a: { b: 'x' } }, { a: { b: 'y' } }, false],
    ['an empty string is not missing', { a: '' }, {}, false],
    ['zero is not missing', { a: 0 }, {}, false],
    ['a non-empty list is not a map', [1], { 0: 1 }, false],
  ];
  for (const [name, a, b, want] of cases) {
    it(name, () => {
      assert.equal(semanticEqual(a, b), want);
      assert.equal(semanticEqual(b, a), want, 'symmetric');
    });
  }
});
