import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTime, rfc3339, rfc3339Micro } from './time.js';

describe('wire times', () => {
  const rows: [string, Date | number, string, string][] = [
    ['whole second', new Date('2025-03-04T05:06:07Z'), '2025-03-04T05:06:07Z', '2025-03-04T05:06:07.000000Z'],
    ['milliseconds are truncated, not rounded', new Date('2025-03-04T05:06:07.999Z'), '2025-03-04T05:06:07Z', '2025-03-04T05:06:07.999000Z'],
    ['epoch milliseconds', 1_000, '1970-01-01T00:00:01Z', '1970-01-01T00:00:01.000000Z'],
    ['a local-offset Date is written in UTC', new Date('2025-03-04T07:06:07.120+02:00'), '2025-03-04T05:06:07Z', '2025-03-04T05:06:07.120000Z'],
  ];
  for (const [name, t, seconds, micro] of rows) {
    it(`rfc3339 / rfc3339Micro: ${name}`, () => {
      assert.equal(rfc3339(t), seconds);
      assert.equal(rfc3339Micro(t), micro);
    });
  }

  it('an invalid date is refused with the value named', () => {
    assert.throws(() => rfc3339(new Date('nope')), /invalid time/);
    assert.throws(() => rfc3339Micro(Number.NaN), /NaN/);
  });

  const parsed: [string | undefined | null, number | undefined][] = [
    ['2025-03-04T05:06:07Z', Date.UTC(2025, 2, 4, 5, 6, 7)],
    ['2025-03-04T05:06:07.120000Z', Date.UTC(2025, 2, 4, 5, 6, 7, 120)],
    ['2025-03-04T07:06:07+02:00', Date.UTC(2025, 2, 4, 5, 6, 7)],
    ['', undefined],
    [undefined, undefined],
    [null, undefined],
    ['yesterday', undefined],
  ];
  for (const [value, want] of parsed) {
    it(`parseTime(${JSON.stringify(value)})`, () => assert.equal(parseTime(value), want));
  }

  it('round trip: parseTime(rfc3339(t)) is t to the second', () => {
    const t = Date.UTC(2030, 11, 31, 23, 59, 59, 500);
    assert.equal(parseTime(rfc3339(t)), t - 500);
    assert.equal(parseTime(rfc3339Micro(t)), t);
  });
});
