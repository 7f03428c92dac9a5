import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CronSyntaxError, parseCronFields } from './cron-fields.js';

describe('parseCronFields', () => {
  it('reads the five fields, names, steps, lists and descriptors', () => {
    const f = parseCronFields('*/15 2-4 1,15 JAN-mar mon-FRI').fields!;
    assert.deepEqual([...f[0]!.values], [0, 15, 30, 45]);
    assert.deepEqual([...f[1]!.values], [2, 3, 4]);
    assert.deepEqual([...f[2]!.values], [1, 15]);
    assert.deepEqual([...f[3]!.values], [1, 2, 3]);
    assert.deepEqual([...f[4]!.values], [1, 2, 3, 4, 5]);
    assert.equal(parseCronFields('@weekly').fields![4]!.values.has(0), true);
    assert.deepEqual(parseCronFields('CRON_TZ=Europe/Berlin 0 0 * * *').zone, 'Europe/Berlin');
    assert.equal(parseCronFields('@every 1h30m').everyMs, 5_400_000);
  });

  // robfig/cron's words, which kube-apiserver answers with in spec.schedule's Invalid value.
  const refused: [string, string][] = [
    ['0 0 * * 0-1000000', 'end of range (1000000) above maximum (6): 0-1000000'],
    ['0 0 0 * *', 'beginning of range (0) below minimum (1): 0'],
    ['0 5-2 * * *', 'beginning of range (5) beyond end of range (2): 5-2'],
    ['*/0 * * * *', 'step of range should be a positive number: */0'],
    ['0 0 * * 99999999999999999999', 'failed to parse int from 99999999999999999999: strconv.Atoi: parsing "99999999999999999999": value out of range'],
    ['x * * * *', 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'],
    ['1-2-3 * * * *', 'too many hyphens: 1-2-3'],
    ['1/2/3 * * * *', 'too many slashes: 1/2/3'],
    ['* * * *', 'expected exactly 5 fields, found 4: [* * * *]'],
    ['@fortnightly', 'unrecognized descriptor: @fortnightly'],
    ['@every 1y', 'failed to parse duration @every 1y: time: invalid duration "1y"'],
  ];
  for (const [schedule, message] of refused) {
    it(`refuses ${schedule}`, () => {
      assert.throws(() => parseCronFields(schedule), (err: unknown) => err instanceof CronSyntaxError && err.message === message);
    });
  }
});
