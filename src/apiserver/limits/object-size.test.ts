import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StatusError } from '../../api/status.js';
import { MAX_OBJECT_BYTES, checkObjectSize } from './object-size.js';

describe('checkObjectSize', () => {
  const object = (bytes: number, filler = 'x') => {
    const shell = '{"data":{"a":""}}';
    return `{"data":{"a":"${filler.repeat(Math.floor((bytes - shell.length) / Buffer.byteLength(filler)))}"}}`;
  };

  it('accepts objects up to 3 MiB', () => {
    assert.equal(MAX_OBJECT_BYTES, 3145728);
    checkObjectSize('{}');
    const atLimit = object(MAX_OBJECT_BYTES);
    assert.equal(Buffer.byteLength(atLimit), MAX_OBJECT_BYTES);
    checkObjectSize(atLimit);
  });

  it('refuses larger ones with 413 RequestEntityTooLarge, counting UTF-8 bytes', () => {
    for (const json of [object(MAX_OBJECT_BYTES + 1), object(MAX_OBJECT_BYTES + 3, 'é')]) {
      assert.throws(
        () => checkObjectSize(json),
        (err: unknown) => err instanceof StatusError && err.code === 413 && err.reason === 'RequestEntityTooLarge' && err.message === 'Request entity too large: limit is 3145728',
      );
    }
    // 2 MiB of 'é' is 4 MiB of UTF-8 although the string is shorter than the limit.
    assert.throws(() => checkObjectSize(object(4 * 1024 * 1024, 'é')), StatusError);
  });
});
