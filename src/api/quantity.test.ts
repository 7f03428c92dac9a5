import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QuantityError, canonicalQuantity, compareQuantities, formatQuantity, parseQuantity, toMilli, toUnits, quantityFromMilli, addQuantities } from './quantity.js';

test('parse gives exact milli-units and whole units', () => {
  const cases: [string, bigint, bigint][] = [
    ['100m', 100n, 1n],
    ['1', 1000n, 1n],
    ['0.5', 500n, 1n],
    ['1.5', 1500n, 2n],
    ['1Ki', 1024000n, 1024n],
    ['1Gi', 1073741824000n, 1073741824n],
    ['128Mi', 134217728000n, 134217728n],
    ['1e3', 1000000n, 1000n],
    ['1E3', 1000000n, 1000n],
    ['2k', 2000000n, 2000n],
    ['1M', 1000000000n, 1000000n],
    ['.5', 500n, 1n],
    ['-100m', -100n, 0n],
    ['+2', 2000n, 2n],
    ['1n', 1n, 1n],
    ['250u', 1n, 1n],
  ];
  for (const [s, milli, units] of cases) {
    const q = parseQuantity(s);
    assert.equal(toMilli(q), milli, `${s} milli`);
    assert.equal(toUnits(q), units, `${s} units`);
  }
});

test('canonical form is what kubectl shows back', () => {
  const cases: [string, string][] = [
    ['0.5', '500m'],
    ['1.5Gi', '1536Mi'],
    ['1000', '1k'],
    ['1500', '1500'],
    ['1e3', '1e3'],
    ['1200e0', '1200'],
    ['10Gi', '10Gi'],
    ['1024Mi', '1Gi'],
    ['1000Mi', '1000Mi'],
    ['0.5Ki', '512'],
    ['100m', '100m'],
    ['0', '0'],
    ['0Gi', '0'],
    ['-1.5', '-1500m'],
    ['0.1m', '100u'],
    ['2000M', '2G'],
  ];
  for (const [s, want] of cases) assert.equal(canonicalQuantity(s), want, s);
});

test('malformed quantities are refused with upstream messages', () => {
  for (const bad of ['', 'abc', '1.2.3', ' 1', '1 ', '.', '1Qi']) {
    assert.throws(() => parseQuantity(bad), QuantityError, bad);
  }
  assert.throws(() => parseQuantity('1Kk'), /unable to parse quantity's suffix/);
  assert.throws(() => parseQuantity('1Kb'), /quantities must match/);
  assert.throws(() => parseQuantity('x1'), /quantities must match the regular expression/);
});

test('compare and add work across suffix families', () => {
  assert.equal(compareQuantities(parseQuantity('1Gi'), parseQuantity('1G')), 1);
  assert.equal(compareQuantities(parseQuantity('500m'), parseQuantity('0.5')), 0);
  assert.equal(compareQuantities(parseQuantity('1k'), parseQuantity('1Ki')), -1);
  assert.equal(formatQuantity(addQuantities(parseQuantity('512Mi'), parseQuantity('512Mi'))), '1Gi');
  assert.equal(formatQuantity(quantityFromMilli(250)), '250m');
});
