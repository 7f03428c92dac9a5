import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import type { Lister } from '../../client/types.js';
import { controllerRefOf, isControlledBy, newControllerRef, resolveControllerRef } from './owner-references.js';

describe('controller references', () => {
  const owner: KubeObject = { metadata: { namespace: 'ns', name: 'web', uid: 'u-1' } };
  const lister: Lister = {
    get: (namespace, name) => (namespace === 'ns' && name === 'web' ? owner : undefined),
    list: () => [owner],
    byIndex: () => [],
  };
  const ref = newControllerRef(owner, 'apps/v1', 'ReplicaSet');

  const rows: [string, Parameters<typeof resolveControllerRef>[3], string, KubeObject | undefined][] = [
    ['the live owner of that kind, name and uid', ref, 'ns', owner],
    ['another kind', { ...ref, kind: 'Deployment' }, 'ns', undefined],
    ['a stale uid (the owner was deleted and made again under the same name)', { ...ref, uid: 'u-0' }, 'ns', undefined],
    ['an owner that is not in the cache', { ...ref, name: 'gone' }, 'ns', undefined],
    ['the owner is looked up in the dependent\'s namespace', ref, 'other', undefined],
    ['no reference', undefined, 'ns', undefined],
  ];
  for (const [name, r, namespace, want] of rows) {
    it(`resolveControllerRef: ${name}`, () => assert.equal(resolveControllerRef(lister, 'ReplicaSet', namespace, r), want));
  }

  it('controllerRefOf finds the controller among the owners; isControlledBy compares uids', () => {
    const pod: KubeObject = { metadata: { name: 'p', ownerReferences: [{ ...ref, controller: false, uid: 'x' }, ref] } };
    assert.equal(controllerRefOf(pod)?.uid, 'u-1');
    assert.equal(isControlledBy(pod, owner), true);
    assert.equal(isControlledBy(pod, { metadata: { uid: 'u-2' } }), false);
    assert.deepEqual(ref, { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'u-1', controller: true, blockOwnerDeletion: true });
  });
});
