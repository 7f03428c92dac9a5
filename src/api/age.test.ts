import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ageOf, formatAge, humanDuration } from './age.js';

const s = 1000;
const m = 60 * s;
const h = 60 * m;
const d = 24 * h;

test('humanDuration matches kubectl for each range boundary', () => {
  const cases: [number, string][] = [
    [-2 * s, '<invalid>'],
    [-1500, '0s'],
    [0, '0s'],
    [5 * s, '5s'],
    [119 * s, '119s'],
    [2 * m, '2m'],
    [2 * m + 3 * s, '2m3s'],
    [9 * m + 59 * s, '9m59s'],
    [10 * m + 30 * s, '10m'],
    [179 * m, '179m'],
    [3 * h, '3h'],
    [3 * h + 10 * m, '3h10m'],
    [8 * h + 5 * m, '8h'],
    [47 * h, '47h'],
    [2 * d, '2d'],
    [2 * d + 3 * h, '2d3h'],
    [7 * d + 23 * h, '7d23h'],
    [8 * d + 5 * h, '8d'],
    [729 * d, '729d'],
    [730 * d, '2y'],
    [2 * 365 * d + 30 * d, '2y30d'],
    [8 * 365 * d + 100 * d, '8y'],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms}ms`);
});

test('formatAge and ageOf measure from a timestamp to now', () => {
  const now = new Date('2024-05-01T12:00:00Z');
  assert.equal(formatAge(new Date('2024-05-01T11:55:00Z'), now), '5m');
  assert.equal(ageOf('2024-04-28T09:00:00Z', now), '3d3h');
  assert.equal(ageOf(undefined, now), '<unknown>');
  assert.equal(ageOf('not a time', now), '<unknown>');
  assert.equal(ageOf('2024-05-01T12:00:10Z', now), '<invalid>');
});
