import assert from 'node:assert/strict';
import { setImmediate as turn } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { SharedLineDecoder } from './shared-line-decoder.js';

describe('SharedLineDecoder', () => {
  const line = (rv: number, name = 'a') => JSON.stringify({ type: 'MODIFIED', object: { apiVersion: 'v1', kind: 'Pod', metadata: { name, resourceVersion: String(rv) } } });

  test('the same text, arriving as separate strings, decodes to one shared value; other text to its own', () => {
    const d = new SharedLineDecoder({ freeze: false });
    const text = line(1);
    const a = d.decode(text.slice(0));
    const b = d.decode(`${text.slice(0, 10)}${text.slice(10)}`);
    assert.equal(a, b);
    assert.deepEqual(a, JSON.parse(text));
    const other = d.decode(line(2));
    assert.notEqual(other, a);
    // Same length, different text.
    const sameLength = d.decode(line(1, 'b'));
    assert.equal(line(1, 'b').length, text.length);
    assert.notEqual(sameLength, a);
    assert.equal((sameLength as { object: { metadata: { name: string } } }).object.metadata.name, 'b');
  });

  test('lines are forgotten at the end of the turn and beyond the capacity', async () => {
    const d = new SharedLineDecoder({ freeze: false, capacity: 2 });
    const first = d.decode(line(1));
    d.decode(line(2));
    d.decode(line(3));
    assert.notEqual(d.decode(line(1)), first, 'pushed out by two newer lines');
    const again = d.decode(line(3));
    assert.equal(d.decode(line(3)), again);
    await turn();
    assert.notEqual(d.decode(line(3)), again, 'a later turn parses again');
  });

  test('with freeze, a reader that mutates a shared value throws instead of changing it for the others', () => {
    const d = new SharedLineDecoder({ freeze: true });
    const ev = d.decode(line(1)) as { object: { metadata: { name: string; labels?: object } } };
    assert.throws(() => {
      ev.object.metadata.name = 'changed';
    }, TypeError);
    assert.throws(() => {
      ev.object.metadata.labels = {};
    }, TypeError);
    assert.equal(ev.object.metadata.name, 'a');
  });

  test('text that is not JSON throws as JSON.parse does, and is not remembered', () => {
    const d = new SharedLineDecoder();
    assert.throws(() => d.decode('{"type":'), SyntaxError);
    assert.throws(() => d.decode('{"type":'), SyntaxError);
  });
});
