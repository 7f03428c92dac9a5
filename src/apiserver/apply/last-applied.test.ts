import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { serverSideApply } from './apply.js';
import { LAST_APPLIED_ANNOTATION, lastAppliedAllows, syncLastApplied } from './last-applied.js';

const TYPE = 'io.k8s.api.core.v1.ConfigMap';
const now = new Date('2026-12-07T19:00:00Z');

/** A ConfigMap as `kubectl apply -f` (client-side) leaves it: its fields owned by kubectl-client-side-apply. */
function clientSideApplied(data: Record<string, string>): KubeObject {
  const config = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'm', namespace: 'default' }, data };
  return {
    ...config,
    metadata: {
      ...config.metadata,
      annotations: { [LAST_APPLIED_ANNOTATION]: `${JSON.stringify(config)}\n` },
      managedFields: [
        {
          manager: 'kubectl-client-side-apply',
          operation: 'Update',
          apiVersion: 'v1',
          time: '2026-12-07T18:00:00Z',
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:data': Object.fromEntries(Object.keys(data).map((k) => [`f:${k}`, {}])), 'f:metadata': { 'f:annotations': { '.': {}, [`f:${LAST_APPLIED_ANNOTATION}`]: {} } } },
        },
      ],
    },
  } as KubeObject;
}

const applied = (data: Record<string, string>) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'm' }, data }) as KubeObject;

describe('client-side to server-side apply migration', () => {
  it('conflicts over fields of the last-applied annotation are allowed; others are not', () => {
    const live = clientSideApplied({ a: '1', b: '2' });
    const first = serverSideApply({ live, applied: applied({ a: '9' }), manager: 'kubectl', force: false, typeName: TYPE, now });
    assert.ok(first.conflicts);
    assert.equal(lastAppliedAllows(live, first.conflicts, TYPE), true);
    // A field added by someone else since (not in the annotation) keeps its conflict.
    const other = { ...live, data: { ...(live as any).data, c: '3' } } as KubeObject;
    (other.metadata.managedFields as any[]).push({ manager: 'other', operation: 'Update', apiVersion: 'v1', time: '2026-12-07T18:30:00Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:data': { 'f:c': {} } } });
    const second = serverSideApply({ live: other, applied: applied({ a: '9', c: '4' }), manager: 'kubectl', force: false, typeName: TYPE, now });
    assert.ok(second.conflicts);
    assert.equal(lastAppliedAllows(other, second.conflicts, TYPE), false);
  });

  it('no annotation, or one that is not JSON, allows nothing', () => {
    const live = clientSideApplied({ a: '1' });
    const conflicts = serverSideApply({ live, applied: applied({ a: '9' }), manager: 'kubectl', force: false, typeName: TYPE, now }).conflicts!;
    const bare = { ...live, metadata: { ...live.metadata, annotations: {} } } as KubeObject;
    assert.equal(lastAppliedAllows(bare, conflicts, TYPE), false);
    const garbage = { ...live, metadata: { ...live.metadata, annotations: { [LAST_APPLIED_ANNOTATION]: '{not json' } } } as KubeObject;
    assert.equal(lastAppliedAllows(garbage, conflicts, TYPE), false);
  });

  it('the annotation is rewritten to the applied configuration, without itself', () => {
    const live = clientSideApplied({ a: '1' });
    const config = { ...applied({ a: '9' }), metadata: { name: 'm', annotations: { [LAST_APPLIED_ANNOTATION]: 'stale', team: 'x' } } } as KubeObject;
    const result = structuredClone(live);
    syncLastApplied(live, config, result);
    assert.deepEqual(JSON.parse(result.metadata.annotations![LAST_APPLIED_ANNOTATION]), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'm', annotations: { team: 'x' } }, data: { a: '9' } });
    // Objects that never had the annotation do not get one.
    const plain = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'm' } } as KubeObject;
    const out = structuredClone(plain);
    syncLastApplied(plain, config, out);
    assert.equal(out.metadata.annotations, undefined);
  });
});
