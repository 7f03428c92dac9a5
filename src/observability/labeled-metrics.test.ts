import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exponentialBuckets, LabeledCounter, LabeledGauge, LabeledHistogram } from './labeled-metrics.js';
import { find, parseExposition } from './parse-exposition.js';
import { MetricsRegistry } from './registries.js';

describe('labeled metrics', () => {
  it('renders counters per label combination, cells kept between calls', async () => {
    const r = new MetricsRegistry();
    const c = new LabeledCounter('t_requests_total', 'Requests.', ['verb', 'code']).register(r);
    const cell = c.child('GET', '200');
    cell.inc();
    cell.inc(2);
    assert.equal(c.child('GET', '200'), cell);
    c.child('POST', '201').inc();
    const e = parseExposition(await r.text());
    assert.equal(e.types.get('t_requests_total'), 'counter');
    assert.deepEqual(find(e, 't_requests_total').map((s) => [s.labels, s.value]), [
      [{ verb: 'GET', code: '200' }, 3],
      [{ verb: 'POST', code: '201' }, 1],
    ]);
  });

  it('renders histograms cumulatively with +Inf, _sum and _count; a value on a bound falls in that bucket', async () => {
    const r = new MetricsRegistry();
    const h = new LabeledHistogram('t_seconds', 'Latency.', ['op'], [0.1, 1, 10]).register(r);
    const cell = h.child('get');
    for (const v of [0.05, 0.1, 0.5, 1, 20]) cell.observe(v);
    const e = parseExposition(await r.text());
    assert.equal(e.types.get('t_seconds'), 'histogram');
    assert.deepEqual(find(e, 't_seconds_bucket', { op: 'get' }).map((s) => [s.labels.le, s.value]), [['0.1', 2], ['1', 4], ['10', 4], ['+Inf', 5]]);
    assert.equal(find(e, 't_seconds_count')[0]!.value, 5);
    assert.ok(Math.abs(find(e, 't_seconds_sum')[0]!.value - 21.65) < 1e-9);
  });

  it('escapes label values so the exposition still parses', async () => {
    const r = new MetricsRegistry();
    const c = new LabeledCounter('t_total', 'x', ['name']).register(r);
    const nasty = 'a"b\\c\nd';
    c.child(nasty).inc();
    const e = parseExposition(await r.text());
    assert.equal(find(e, 't_total')[0]!.labels.name, nasty);
  });

  it('recomputes a gauge from its source at every scrape, dropping values gone from it', async () => {
    const r = new MetricsRegistry();
    let values: [string[], number][] = [[['pods'], 3], [['nodes'], 1]];
    new LabeledGauge('t_objects', 'Objects.', ['resource'], () => values).register(r);
    assert.deepEqual(find(parseExposition(await r.text()), 't_objects').map((s) => [s.labels.resource, s.value]), [['pods', 3], ['nodes', 1]]);
    values = [[['pods'], 5]];
    assert.deepEqual(find(parseExposition(await r.text()), 't_objects').map((s) => [s.labels.resource, s.value]), [['pods', 5]]);
  });

  it('renders a gauge whose source fails without samples, and the rest of the scrape still', async () => {
    const r = new MetricsRegistry();
    new LabeledGauge('t_broken', 'Broken.', [], async () => {
      throw new Error('runtime down');
    }).register(r);
    new LabeledCounter('t_fine_total', 'Fine.', []).register(r).child().inc();
    const e = parseExposition(await r.text());
    assert.deepEqual(find(e, 't_broken'), []);
    assert.equal(find(e, 't_fine_total')[0]!.value, 1);
  });

  it('refuses the wrong number of label values and buckets that do not increase', () => {
    const c = new LabeledCounter('t2_total', 'x', ['a', 'b']);
    assert.throws(() => c.child('only-one'), /want 2 label values \(a, b\), got 1/);
    assert.throws(() => new LabeledHistogram('t3', 'x', [], [1, 1]), /buckets must increase/);
  });

  it('builds client_golang exponential buckets', () => {
    assert.deepEqual(exponentialBuckets(0.001, 2, 4), [0.001, 0.002, 0.004, 0.008]);
    assert.equal(exponentialBuckets(10e-9, 10, 10).length, 10);
    assert.ok(Math.abs(exponentialBuckets(10e-9, 10, 10)[9]! - 10) < 1e-9);
  });
});
