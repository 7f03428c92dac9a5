import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyExistsError, StoreError, StoreFullError } from '../storage/store.js';
import { translateStoreError } from './store-errors.js';

describe('translateStoreError', () => {
  it('reports a full datastore as 500 InternalError naming the cause, like kube-apiserver for etcd NOSPACE', () => {
    const s = translateStoreError(new StoreFullError('sqlite store "/x.db": database or disk is full (SQLITE_FULL)'));
    assert.ok(s);
    assert.equal(s.code, 500);
    assert.equal(s.reason, 'InternalError');
    assert.match(s.status.message ?? '', /^Internal error occurred: the datastore is out of space: .*database or disk is full/);
    assert.equal(s.status.kind, 'Status');
    assert.equal(s.status.status, 'Failure');
  });
  it('leaves other store errors to their callers', () => {
    assert.equal(translateStoreError(new KeyExistsError('/registry/x')), undefined);
    assert.equal(translateStoreError(new StoreError('store is closed')), undefined);
    assert.equal(translateStoreError(new Error('boom')), undefined);
  });
});
