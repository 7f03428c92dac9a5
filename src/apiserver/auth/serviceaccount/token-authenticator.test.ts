import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../../api/object.js';
import { isStatusError } from '../../../api/status.js';
import { signJwt } from './jwt.js';
import { ServiceAccountTokenAuthenticator, type ServiceAccountObjects } from './token-authenticator.js';
import { DEFAULT_API_AUDIENCES, DEFAULT_ISSUER, TokenIssuer } from './token-issuer.js';

const T0 = Date.parse('2026-03-01T00:00:00Z');

function world() {
  const objects = new Map<string, KubeObject>();
  const put = (plural: string, ns: string, name: string, uid: string, extra: Partial<KubeObject['metadata']> = {}) =>
    objects.set(`${plural}/${ns}/${name}`, { metadata: { name, namespace: ns || undefined, uid, ...extra } });
  put('serviceaccounts', 'team', 'robot', 'sa-1');
  put('pods', 'team', 'web', 'pod-1');
  put('secrets', 'team', 'tok', 'sec-1');
  put('nodes', '', 'n1', 'node-1');
  const lookup: ServiceAccountObjects = { get: async (plural, ns, name) => objects.get(`${plural}/${ns}/${name}`) };
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  let now = T0;
  const clock = () => new Date(now);
  const issuer = new TokenIssuer({ key: privateKey, now: clock });
  const authn = new ServiceAccountTokenAuthenticator({ keys: [createPublicKey(privateKey)], issuers: [DEFAULT_ISSUER], apiAudiences: DEFAULT_API_AUDIENCES, objects: lookup, now: clock });
  return { objects, put, issuer, authn, privateKey, advance: (s: number) => (now += s * 1000) };
}

const sa = { name: 'robot', uid: 'sa-1' };

describe('ServiceAccountTokenAuthenticator', () => {
  it('authenticates a bound token as the account, with the pod and node in extra', async () => {
    const w = world();
    const { token } = w.issuer.issueBound({ namespace: 'team', serviceAccount: sa, audiences: DEFAULT_API_AUDIENCES, expirationSeconds: 3600, pod: { name: 'web', uid: 'pod-1' }, node: { name: 'n1', uid: 'node-1' } });
    const user = await w.authn.authenticateToken(token);
    assert.equal(user?.username, 'system:serviceaccount:team:robot');
    assert.equal(user?.uid, 'sa-1');
    assert.deepEqual(user?.groups, ['system:serviceaccounts', 'system:serviceaccounts:team', 'system:authenticated']);
    assert.deepEqual(user?.extra?.['authentication.kubernetes.io/pod-name'], ['web']);
    assert.deepEqual(user?.extra?.['authentication.kubernetes.io/node-uid'], ['node-1']);
    assert.match(user?.extra?.['authentication.kubernetes.io/credential-id']?.[0] ?? '', /^JTI=[0-9a-f-]{36}$/);
  });

  it('passes over tokens that are not its own', async () => {
    const w = world();
    assert.equal(await w.authn.authenticateToken('K10abc::server:secret'), undefined);
    assert.equal(await w.authn.authenticateToken('a.b'), undefined);
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    assert.equal(await w.authn.authenticateToken(signJwt({ iss: 'https://dex.example', sub: 'x' }, privateKey, 'k')), undefined);
  });

  // Each case changes one thing of a valid pod-bound token and expects a refusal with this reason.
  const refusals: Array<[string, (w: ReturnType<typeof world>) => string, RegExp]> = [
    ['expired', (w) => { const t = w.issuer.issueBound({ namespace: 'team', serviceAccount: sa, audiences: DEFAULT_API_AUDIENCES, expirationSeconds: 600 }).token; w.advance(600); return t; }, /expired/],
    ['another audience', (w) => w.issuer.issueBound({ namespace: 'team', serviceAccount: sa, audiences: ['vault'], expirationSeconds: 600 }).token, /audiences/],
    ['pod deleted', (w) => { const t = w.issuer.issueBound({ namespace: 'team', serviceAccount: sa, audiences: DEFAULT_API_AUDIENCES, expirationSeconds: 600, pod: { name: 'web', uid: 'pod-1' } }).token; w.objects.delete('pods/team/web'); return t; }, /pod team\/web has been deleted/],
    ['pod replaced', (w) => { const t = w.issuer.issueBound({ namespace: 'team', serviceAccount: sa, audiences: DEFAULT_API_AUDIENCES, expirationSeconds: 600, pod: { name: 'web', uid: 'pod-1' } }).token; w.put('pods', 'team', 'web', 'pod-2'); return t; }, /pod UID \(pod-2\) does not match claim \(pod-1\)/],
    ['pod terminating for over a minute', (w) => { w.put('pods', 'team', 'web', 'pod-1', { deletionTimestamp: new Date(T0 - 61_000).toISOString() }); return w.issuer.issueBound({ namespace: 'team', serviceAccount: sa, audiences: DEFAULT_API_AUDIENCES, expirationSeconds: 600, pod: { name: 'web', uid: 'pod-1' } }).token; }, /its pod was deleted/],
    ['secret deleted', (w) => { const t = w.issuer.issueBound({ namespace: 'team', serviceAccount: sa, audiences: DEFAULT_API_AUDIENCES, expirationSeconds: 600, secret: { name: 'tok', uid: 'sec-1' } }).token; w.objects.delete('secrets/team/tok'); return t; }, /secret team\/tok has been deleted/],
    ['account re-created', (w) => { const t = w.issuer.issueBound({ namespace: 'team', serviceAccount: sa, audiences: DEFAULT_API_AUDIENCES, expirationSeconds: 600 }).token; w.put('serviceaccounts', 'team', 'robot', 'sa-2'); return t; }, /service account UID/],
    ['signed by another key', (w) => { const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' }); return new TokenIssuer({ key: privateKey, now: w.issuer.now }).issueBound({ namespace: 'team', serviceAccount: sa, audiences: DEFAULT_API_AUDIENCES, expirationSeconds: 600 }).token; }, /invalid signature/],
    ['alg none', (w) => { const t = w.issuer.issueBound({ namespace: 'team', serviceAccount: sa, audiences: DEFAULT_API_AUDIENCES, expirationSeconds: 600 }).token.split('.'); return `${Buffer.from('{"alg":"none"}').toString('base64url')}.${t[1]}.`; }, /invalid signature/],
  ];
  for (const [name, make, reason] of refusals) {
    it(`refuses: ${name}`, async () => {
      const w = world();
      const token = make(w);
      const review = await w.authn.review(token);
      assert.ok(review && 'error' in review, `refused: ${JSON.stringify(review)}`);
      assert.match(review.error, reason);
      await assert.rejects(Promise.resolve(w.authn.authenticateToken(token)), (e: unknown) => isStatusError(e) && e.code === 401);
    });
  }

  it('a pod terminating for less than a minute still vouches for its token (claims.go grace)', async () => {
    const w = world();
    w.put('pods', 'team', 'web', 'pod-1', { deletionTimestamp: new Date(T0 - 30_000).toISOString() });
    const { token } = w.issuer.issueBound({ namespace: 'team', serviceAccount: sa, audiences: DEFAULT_API_AUDIENCES, expirationSeconds: 600, pod: { name: 'web', uid: 'pod-1' } });
    assert.equal((await w.authn.authenticateToken(token))?.username, 'system:serviceaccount:team:robot');
  });

  it('legacy tokens work while their Secret holds them', async () => {
    const w = world();
    const token = w.issuer.issueLegacy('team', sa, 'tok');
    assert.ok((await w.authn.review(token)) && 'error' in (await w.authn.review(token))!, 'not in the secret yet');
    w.objects.set('secrets/team/tok', { metadata: { name: 'tok', namespace: 'team', uid: 'sec-1' }, data: { token: Buffer.from(token).toString('base64') } } as KubeObject);
    assert.equal((await w.authn.authenticateToken(token))?.username, 'system:serviceaccount:team:robot');
    w.objects.delete('secrets/team/tok');
    await assert.rejects(Promise.resolve(w.authn.authenticateToken(token)));
  });

  it('publishes a JWKS whose key id is in the token header', () => {
    const w = world();
    const { token } = w.issuer.issueBound({ namespace: 'team', serviceAccount: sa, audiences: ['x'], expirationSeconds: 600 });
    const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString());
    const jwks = w.issuer.jwks();
    assert.equal(jwks.keys[0]!.kid, header.kid);
    assert.equal(jwks.keys[0]!.alg, 'ES256');
    assert.equal(jwks.keys[0]!.d, undefined, 'no private part');
  });
});
