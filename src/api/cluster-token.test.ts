import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatFullToken, parseToken } from './cluster-token.js';

const HASH = 'ab'.repeat(32);

describe('parseToken', () => {
  it('splits the K10 form', () => {
    assert.deepEqual(parseToken(`K10${HASH}::server:abc`), { secret: 'abc', caHash: HASH, user: 'server' });
    assert.deepEqual(parseToken(`K10${HASH}::abc`), { secret: 'abc', caHash: HASH, user: undefined });
  });
  it('keeps a bare secret as is, trimmed', () => {
    assert.deepEqual(parseToken(' abc \n'), { secret: 'abc' });
  });
  it('rejects malformed K10 tokens', () => {
    assert.throws(() => parseToken('K10abc::server:x'), /malformed CA hash/);
    assert.throws(() => parseToken(`K10${HASH}::server:`), /empty secret/);
    assert.throws(() => parseToken('   '), /empty/);
  });
  it('reads back what formatFullToken writes', () => {
    assert.deepEqual(parseToken(formatFullToken('s3cret', HASH)), { secret: 's3cret', caHash: HASH, user: 'server' });
  });
  it('shows only the start of a long token in its errors', () => {
    assert.throws(() => parseToken(`K10${'z'.repeat(64)}::server:topsecret`), (err: Error) => !err.message.includes('topsecret') && /"K10zzzzz…"/.test(err.message));
  });
});
