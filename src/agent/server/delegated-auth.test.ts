import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClient } from '../../client/testing/fake-client.js';
import { bearerToken, DelegatedAuth } from './delegated-auth.js';

describe('DelegatedAuth (kubelet webhook authentication and authorization)', () => {
  const setup = () => {
    let now = 1_000_000;
    const client = new FakeClient();
    const reviews: any[] = [];
    client.prependReactor('create', 'tokenreviews', (a) => {
      const spec = (a.object as any).spec;
      reviews.push(a.object);
      return { ...(a.object as object), status: spec.token === 'good' ? { authenticated: true, user: { username: 'system:serviceaccount:mon:prometheus', uid: 'u1', groups: ['system:serviceaccounts'] } } : { authenticated: false } };
    });
    let allow = false;
    client.prependReactor('create', 'subjectaccessreviews', (a) => {
      reviews.push(a.object);
      return { ...(a.object as object), status: { allowed: allow } };
    });
    const auth = new DelegatedAuth({ client, nodeName: 'n1', now: () => now });
    return { auth, reviews, advance: (ms: number) => (now += ms), setAllow: (v: boolean) => (allow = v) };
  };

  it('asks a TokenReview, then a SubjectAccessReview on nodes/<subresource> of this node', async () => {
    const { auth, reviews, setAllow } = setup();
    assert.equal(await auth.authenticate('bad'), undefined);
    const id = await auth.authenticate('good');
    assert.deepEqual(id, { username: 'system:serviceaccount:mon:prometheus', uid: 'u1', groups: ['system:serviceaccounts'] });
    setAllow(true);
    assert.equal(await auth.authorize(id!, 'get', 'metrics'), true);
    const sar = reviews.at(-1);
    assert.equal(sar.kind, 'SubjectAccessReview');
    assert.deepEqual(sar.spec, { user: id!.username, groups: id!.groups, uid: 'u1', resourceAttributes: { verb: 'get', group: '', version: 'v1', resource: 'nodes', subresource: 'metrics', name: 'n1' } });
  });

  it('caches as kubelet: tokens 2 min, allowed 5 min, denied 30 s', async () => {
    const { auth, reviews, advance, setAllow } = setup();
    const id = (await auth.authenticate('good'))!;
    await auth.authenticate('good');
    assert.equal(reviews.length, 1);
    advance(121_000);
    await auth.authenticate('good');
    assert.equal(reviews.length, 2);
    assert.equal(await auth.authorize(id, 'get', 'metrics'), false);
    setAllow(true);
    advance(29_000);
    assert.equal(await auth.authorize(id, 'get', 'metrics'), false, 'a denial is kept 30 s');
    advance(2_000);
    assert.equal(await auth.authorize(id, 'get', 'metrics'), true);
    setAllow(false);
    advance(299_000);
    assert.equal(await auth.authorize(id, 'get', 'metrics'), true, 'an allowance is kept 5 min');
    // Another subresource is another question.
    assert.equal(await auth.authorize(id, 'get', 'proxy'), false);
  });

  it('reads bearer tokens', () => {
    assert.equal(bearerToken('Bearer abc.def'), 'abc.def');
    assert.equal(bearerToken('bearer abc'), 'abc');
    assert.equal(bearerToken('Basic abc'), undefined);
    assert.equal(bearerToken(undefined), undefined);
  });
});
