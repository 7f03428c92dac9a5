import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseExposition } from './parse-exposition.js';

describe('parseExposition', () => {
  it('reads samples, labels, special values and timestamps', () => {
    const e = parseExposition('# HELP x_total X.\n# TYPE x_total counter\nx_total{a="1",b="q\\"x"} 2 1700000000000\ny +Inf\nz NaN\n');
    assert.equal(e.types.get('x_total'), 'counter');
    assert.deepEqual(e.samples[0], { name: 'x_total', labels: { a: '1', b: 'q"x' }, value: 2, timestampMs: 1700000000000 });
    assert.equal(e.samples[1]!.value, Infinity);
    assert.ok(Number.isNaN(e.samples[2]!.value));
  });
  it('refuses what Prometheus refuses', () => {
    assert.throws(() => parseExposition('1bad 1\n'), /bad metric name/);
    assert.throws(() => parseExposition('x{a="1} 1\n'), /unterminated|want/);
    assert.throws(() => parseExposition('x{a="1",a="2"} 1\n'), /label a twice/);
    assert.throws(() => parseExposition('x one\n'), /bad value/);
  });
});
