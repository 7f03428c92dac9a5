import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SortedKeys } from './sorted-keys.js';

function all(keys: SortedKeys, from = ''): string[] {
  const out: string[] = [];
  keys.scan(from, (k) => {
    out.push(k);
    return true;
  });
  return out;
}

describe('SortedKeys', () => {
  it('keeps any insertion order sorted across many blocks, and scans from any key', () => {
    const keys = new SortedKeys();
    const inserted: string[] = [];
    // A fixed pseudo-random order, enough keys for several block splits.
    for (let i = 0; i < 5000; i++) {
      const k = `/registry/pods/ns${(i * 7919) % 13}/p${(i * 104729) % 5000}`;
      keys.insert(k);
      inserted.push(k);
    }
    const sorted = [...inserted].sort();
    assert.equal(keys.size, 5000);
    assert.deepEqual(all(keys), sorted);
    for (const from of ['/registry/pods/ns7/', '/registry/pods/ns7/p2500', '/registry/pods/ns99', '', '~']) {
      assert.deepEqual(all(keys, from), sorted.filter((k) => k >= from), `from ${from}`);
    }
  });

  it('scan stops when visit returns false', () => {
    const keys = new SortedKeys();
    for (const k of ['c', 'a', 'b', 'd']) keys.insert(k);
    const seen: string[] = [];
    keys.scan('b', (k) => {
      seen.push(k);
      return k < 'c';
    });
    assert.deepEqual(seen, ['b', 'c']);
  });

  it('retain drops keys and keeps order', () => {
    const keys = new SortedKeys();
    for (let i = 0; i < 2000; i++) keys.insert(String(i).padStart(4, '0'));
    keys.retain((k) => Number(k) % 3 === 0);
    assert.equal(keys.size, 667);
    assert.deepEqual(all(keys), Array.from({ length: 667 }, (_, i) => String(i * 3).padStart(4, '0')));
    keys.insert('0001');
    assert.deepEqual(all(keys).slice(0, 3), ['0000', '0001', '0003']);
  });
});
