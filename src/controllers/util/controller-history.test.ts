import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { ControllerRevisions } from '../../client/resources.js';
import { ControllerFixture } from './controller-fixture.js';
import { canonicalJson, createControllerRevision, hashRevision, newControllerRevision, templateOfRevision, templatePatch, type RevisionObject } from './controller-history.js';

const owner: KubeObject = { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'web', namespace: 'default', uid: 'u1', annotations: { note: 'x' } } };
const template = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx:1' }] } };

describe('controller history', () => {
  it('hashes data independently of key order, differently for different data and collision counts', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } }), '{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}');
    const h = hashRevision(templatePatch(template));
    assert.match(h, /^[bcdfghjklmnpqrstvwxz2456789]+$/);
    assert.equal(hashRevision({ spec: { template: { $patch: 'replace', spec: template.spec, metadata: template.metadata } } }), h);
    assert.notEqual(hashRevision(templatePatch({ ...template, spec: { containers: [{ name: 'c', image: 'nginx:2' }] } })), h);
    assert.notEqual(hashRevision(templatePatch(template), 1), h);
  });

  it('builds a revision named <owner>-<hash>, labelled, owned, with the template recoverable', () => {
    const rev = newControllerRevision(owner, 'apps/v1', 'StatefulSet', template, 4, 0);
    const hash = rev.metadata.labels!['controller-revision-hash']!;
    assert.equal(rev.metadata.name, `web-${hash}`);
    assert.deepEqual(rev.metadata.labels, { app: 'web', 'controller-revision-hash': hash });
    assert.deepEqual(rev.metadata.annotations, { note: 'x' });
    assert.equal(rev.revision, 4);
    assert.deepEqual(rev.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'u1', controller: true, blockOwnerDeletion: true }]);
    assert.deepEqual(templateOfRevision(rev), template);
  });

  it('on a name clash returns the existing revision if its data is equal, else raises the collision count', async () => {
    const f = new ControllerFixture();
    const same = newControllerRevision(owner, 'apps/v1', 'StatefulSet', template, 1, 0);
    f.seed(ControllerRevisions, same);
    const collision = { count: 0 };
    const got = await createControllerRevision(f.client, owner, 'apps/v1', 'StatefulSet', template, 1, collision);
    assert.equal(got.metadata.name, same.metadata.name);
    assert.equal(collision.count, 0);

    // Another template squatting on the name this template hashes to.
    const f2 = new ControllerFixture();
    const squatter: RevisionObject = { ...same, data: templatePatch({ spec: { containers: [] } }) };
    f2.seed(ControllerRevisions, squatter);
    const c2 = { count: 0 };
    const created = await createControllerRevision(f2.client, owner, 'apps/v1', 'StatefulSet', template, 1, c2);
    assert.equal(c2.count, 1);
    assert.notEqual(created.metadata.name, same.metadata.name);
    assert.deepEqual(templateOfRevision(created), template);
  });
});
