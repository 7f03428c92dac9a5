/**
 * Service account tokens against a real `skiff server` (in this process, port 0) driven by the real kubectl:
 * TokenRequest (`kubectl create token`), bound tokens and what invalidates them, TokenReview, OIDC discovery, and
 * the refusals (too short a duration, a foreign audience, a forged or expired token).
 */
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { signJwt, keyIdOf } from '../src/apiserver/auth/serviceaccount/jwt.js';
import { kubectlFor, kubectlSkip, type Kubectl } from './helpers/kubectl.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const skip = kubectlSkip();

function decodePart(token: string, i: number): any {
  return JSON.parse(Buffer.from(token.split('.')[i]!, 'base64url').toString('utf8'));
}

describe('service account tokens (TokenRequest, TokenReview, OIDC discovery)', { skip }, () => {
  let srv: TestServer;
  let k: Kubectl;
  let ca: string;

  /** A request that presents only `token` (no client certificate). */
  function withToken(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any; text: string }> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = https.request(
        { host: '127.0.0.1', port: srv.port, method, path, ca, agent: false, headers: { Authorization: `Bearer ${token}`, ...(payload ? { 'Content-Type': 'application/json' } : {}) } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => {
            let json: any;
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode ?? 0, json, text });
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  const whoami = async (token: string) => withToken(token, 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' });

  before(async () => {
    srv = await startTestServer();
    k = kubectlFor(srv.kubeconfig);
    ca = readFileSync(join(srv.dataDir, 'server', 'tls', 'server-ca.crt'), 'utf8');
  });
  after(async () => {
    await srv?.stop();
  });

  it('kubectl create token issues a bound JWT that authenticates as the service account, and keeps its key in service.key', async () => {
    const sa = await k.json(['get', 'serviceaccount', 'default', '-n', 'default']);
    const r = await k(['create', 'token', 'default', '-n', 'default']);
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    const header = decodePart(token, 0);
    const claims = decodePart(token, 1);
    assert.equal(header.alg, 'ES256');
    assert.equal(claims.iss, 'https://kubernetes.default.svc.cluster.local');
    assert.deepEqual(claims.aud, ['https://kubernetes.default.svc.cluster.local', 'k3s']);
    assert.equal(claims.sub, 'system:serviceaccount:default:default');
    assert.equal(claims.exp - claims.iat, 3600);
    assert.deepEqual(claims['kubernetes.io'].serviceaccount, { name: 'default', uid: sa.metadata.uid });
    assert.equal(claims['kubernetes.io'].namespace, 'default');
    const me = await whoami(token);
    assert.equal(me.status, 201, me.text);
    assert.equal(me.json.status.userInfo.username, 'system:serviceaccount:default:default');
    assert.equal(me.json.status.userInfo.uid, sa.metadata.uid);
    assert.deepEqual(me.json.status.userInfo.groups, ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated']);
    // The key is the one kept in the data dir.
    const key = createPrivateKey(readFileSync(join(srv.dataDir, 'server', 'tls', 'service.key'), 'utf8'));
    assert.equal(header.kid, keyIdOf(createPublicKey(key)));
  });

  it('--duration sets the expiry; under 10 minutes is refused in upstream words', async () => {
    const r = await k(['create', 'token', 'default', '-n', 'default', '--duration', '2h']);
    assert.equal(r.code, 0, r.stderr);
    const claims = decodePart(r.stdout.trim(), 1);
    assert.equal(claims.exp - claims.iat, 7200);
    const short = await k(['create', 'token', 'default', '-n', 'default', '--duration', '5m']);
    assert.notEqual(short.code, 0);
    assert.match(short.stderr, /spec\.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes/);
    const missing = await k(['create', 'token', 'nobody', '-n', 'default']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /serviceaccounts "nobody" not found/);
  });

  it('a token for another audience is refused by the API but passes a TokenReview for that audience', async () => {
    const r = await k(['create', 'token', 'default', '-n', 'default', '--audience', 'vault']);
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    assert.deepEqual(decodePart(token, 1).aud, ['vault']);
    assert.equal((await whoami(token)).status, 401);
    const review = (audiences?: string[]) =>
      // --validate=false: kubectl's client-side validation of a kind without PATCH lists CRDs, which skiff does not serve.
      k(['create', '--validate=false', '-f', '-', '-o', 'json'], { input: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, ...(audiences ? { audiences } : {}) } }) });
    const ok = await review(['vault']);
    assert.equal(ok.code, 0, ok.stderr);
    const status = JSON.parse(ok.stdout).status;
    assert.equal(status.authenticated, true);
    assert.equal(status.user.username, 'system:serviceaccount:default:default');
    assert.deepEqual(status.audiences, ['vault']);
    const no = JSON.parse((await review()).stdout).status;
    assert.equal(no.authenticated, false);
    assert.match(no.error, /audiences/);
  });

  it('a token bound to a pod carries the pod and stops working once the pod is deleted', async () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bound', namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } };
    assert.equal((await k(['create', '-f', '-'], { input: JSON.stringify(pod) })).code, 0);
    const created = await k.json(['get', 'pod', 'bound', '-n', 'default']);
    const r = await k(['create', 'token', 'default', '-n', 'default', '--bound-object-kind', 'Pod', '--bound-object-name', 'bound']);
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    assert.deepEqual(decodePart(token, 1)['kubernetes.io'].pod, { name: 'bound', uid: created.metadata.uid });
    const me = await whoami(token);
    assert.equal(me.status, 201, me.text);
    assert.deepEqual(me.json.status.userInfo.extra['authentication.kubernetes.io/pod-name'], ['bound']);
    assert.deepEqual(me.json.status.userInfo.extra['authentication.kubernetes.io/pod-uid'], [created.metadata.uid]);
    assert.equal((await k(['delete', 'pod', 'bound', '-n', 'default', '--grace-period=0', '--force'])).code, 0);
    const after = await whoami(token);
    assert.equal(after.status, 401, after.text);
    assert.equal(after.json.reason, 'Unauthorized');
    // A pod of another service account cannot be bound.
    await k(['create', 'serviceaccount', 'other', '-n', 'default']);
    assert.equal((await k(['create', '-f', '-'], { input: JSON.stringify({ ...pod, metadata: { name: 'other-pod', namespace: 'default' }, spec: { ...pod.spec, serviceAccountName: 'other' } }) })).code, 0);
    const wrong = await k(['create', 'token', 'default', '-n', 'default', '--bound-object-kind', 'Pod', '--bound-object-name', 'other-pod']);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /cannot bind token for serviceaccount "default" to pod running with different serviceaccount name/);
    await k(['delete', 'pod', 'other-pod', '-n', 'default', '--grace-period=0', '--force']);
  });

  it('deleting the service account invalidates its tokens, even when one of the same name comes back', async () => {
    await k(['create', 'serviceaccount', 'shortlived', '-n', 'default']);
    const token = (await k(['create', 'token', 'shortlived', '-n', 'default'])).stdout.trim();
    assert.equal((await whoami(token)).status, 201);
    await k(['delete', 'serviceaccount', 'shortlived', '-n', 'default']);
    assert.equal((await whoami(token)).status, 401);
    await k(['create', 'serviceaccount', 'shortlived', '-n', 'default']);
    assert.equal((await whoami(token)).status, 401);
  });

  it('forged, expired and malformed tokens get 401', async () => {
    const sa = await k.json(['get', 'serviceaccount', 'default', '-n', 'default']);
    const now = Math.floor(Date.now() / 1000);
    const claims = (exp: number) => ({
      iss: 'https://kubernetes.default.svc.cluster.local',
      aud: ['https://kubernetes.default.svc.cluster.local'],
      sub: 'system:serviceaccount:default:default',
      iat: exp - 3600,
      nbf: exp - 3600,
      exp,
      'kubernetes.io': { namespace: 'default', serviceaccount: { name: 'default', uid: sa.metadata.uid } },
    });
    const serverKey = createPrivateKey(readFileSync(join(srv.dataDir, 'server', 'tls', 'service.key'), 'utf8'));
    const kid = keyIdOf(createPublicKey(serverKey));
    // Sanity: the same claims, valid, signed with the server's key, are accepted, so the refusals below are about
    // the one thing each changes.
    assert.equal((await whoami(signJwt(claims(now + 600), serverKey, kid))).status, 201);
    assert.equal((await whoami(signJwt(claims(now - 10), serverKey, kid))).status, 401, 'expired');
    const { privateKey: other } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    assert.equal((await whoami(signJwt(claims(now + 600), other, kid))).status, 401, 'signed with another key');
    const valid = signJwt(claims(now + 600), serverKey, kid);
    const [h, , s] = valid.split('.');
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims(now + 600), sub: 'system:serviceaccount:kube-system:default' })).toString('base64url')}.${s}`;
    assert.equal((await whoami(tampered)).status, 401, 'tampered claims');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${valid.split('.')[1]}.`;
    assert.equal((await whoami(none)).status, 401, 'alg none');
    assert.equal((await whoami('not-a-token')).status, 401, 'garbage');
  });

  it('serves OIDC discovery, and the JWKS verifies the tokens', async () => {
    const conf = JSON.parse((await k(['get', '--raw', '/.well-known/openid-configuration'])).stdout);
    assert.equal(conf.issuer, 'https://kubernetes.default.svc.cluster.local');
    assert.equal(conf.jwks_uri, 'https://kubernetes.default.svc.cluster.local/openid/v1/jwks');
    assert.deepEqual(conf.id_token_signing_alg_values_supported, ['ES256']);
    const jwks = JSON.parse((await k(['get', '--raw', '/openid/v1/jwks'])).stdout);
    assert.equal(jwks.keys.length, 1);
    const token = (await k(['create', 'token', 'default', '-n', 'default'])).stdout.trim();
    assert.equal(jwks.keys[0].kid, decodePart(token, 0).kid);
    const pub = createPublicKey({ key: jwks.keys[0], format: 'jwk' });
    const [h, p, s] = token.split('.');
    assert.equal(verify('sha256', Buffer.from(`${h}.${p}`), { key: pub, dsaEncoding: 'ieee-p1363' }, Buffer.from(s!, 'base64url')), true);
    // Discovery lists the token API for clients that look.
    const core = JSON.parse((await k(['get', '--raw', '/api/v1'])).stdout);
    assert.ok(core.resources.some((r: any) => r.name === 'serviceaccounts/token' && r.kind === 'TokenRequest'));
    const authn = JSON.parse((await k(['get', '--raw', '/apis/authentication.k8s.io/v1'])).stdout);
    assert.ok(authn.resources.some((r: any) => r.name === 'tokenreviews' && r.verbs.includes('create')));
  });
});

describe('kube-root-ca.crt and legacy token Secrets (controllers)', { skip }, () => {
  let srv: TestServer;
  let k: Kubectl;
  let ca: string;
  const NS = 'sa-ctl';

  const whoamiStatus = (token: string) =>
    new Promise<number>((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: srv.port, method: 'POST', path: '/apis/authentication.k8s.io/v1/selfsubjectreviews', ca, agent: false, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }));
    });

  async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await fn();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  before(async () => {
    srv = await startTestServer();
    k = kubectlFor(srv.kubeconfig);
    ca = readFileSync(join(srv.dataDir, 'server', 'tls', 'server-ca.crt'), 'utf8');
    assert.equal((await k(['create', 'namespace', NS])).code, 0);
  });
  after(async () => {
    await srv?.stop();
  });

  const rootCa = async (ns: string) => {
    const r = await k(['get', 'configmap', 'kube-root-ca.crt', '-n', ns, '-o', 'json']);
    return r.code === 0 ? JSON.parse(r.stdout) : undefined;
  };

  it('every namespace gets kube-root-ca.crt with the cluster CA, recreated when deleted and restored when edited', async () => {
    for (const ns of ['default', 'kube-system', NS]) {
      const cm = await eventually(`kube-root-ca.crt in ${ns}`, () => rootCa(ns));
      assert.equal(cm.data['ca.crt'], ca);
    }
    const before = await rootCa(NS);
    assert.equal((await k(['delete', 'configmap', 'kube-root-ca.crt', '-n', NS])).code, 0);
    const again = await eventually('a recreated kube-root-ca.crt', async () => {
      const cm = await rootCa(NS);
      return cm && cm.metadata.uid !== before.metadata.uid ? cm : undefined;
    });
    assert.equal(again.data['ca.crt'], ca);
    assert.equal((await k(['patch', 'configmap', 'kube-root-ca.crt', '-n', NS, '--type', 'merge', '-p', '{"data":{"ca.crt":"forged","extra":"x"}}'])).code, 0);
    const restored = await eventually('a restored kube-root-ca.crt', async () => {
      const cm = await rootCa(NS);
      return cm && cm.data['ca.crt'] === ca ? cm : undefined;
    });
    assert.deepEqual(Object.keys(restored.data), ['ca.crt']);
  });

  it('a kubernetes.io/service-account-token Secret is filled with a working token, revoked when the Secret is deleted', async () => {
    const sa = await eventually('the default ServiceAccount', async () => {
      const r = await k(['get', 'serviceaccount', 'default', '-n', NS, '-o', 'json']);
      return r.code === 0 ? JSON.parse(r.stdout) : undefined;
    });
    const secret = { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/service-account-token', metadata: { name: 'legacy', namespace: NS, annotations: { 'kubernetes.io/service-account.name': 'default' } } };
    assert.equal((await k(['create', '-f', '-'], { input: JSON.stringify(secret) })).code, 0);
    const filled = await eventually('the token in the Secret', async () => {
      const s = await k.json(['get', 'secret', 'legacy', '-n', NS]);
      return s.data?.token ? s : undefined;
    });
    assert.equal(Buffer.from(filled.data['ca.crt'], 'base64').toString(), ca);
    assert.equal(Buffer.from(filled.data.namespace, 'base64').toString(), NS);
    assert.equal(filled.metadata.annotations['kubernetes.io/service-account.uid'], sa.metadata.uid);
    const token = Buffer.from(filled.data.token, 'base64').toString();
    assert.equal(decodePart(token, 1).iss, 'kubernetes/serviceaccount');
    assert.equal(await whoamiStatus(token), 201);
    assert.equal((await k(['delete', 'secret', 'legacy', '-n', NS])).code, 0);
    assert.equal(await whoamiStatus(token), 401);
  });

  it('token Secrets of a deleted ServiceAccount are deleted with it', async () => {
    assert.equal((await k(['create', 'serviceaccount', 'temp', '-n', NS])).code, 0);
    const secret = { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/service-account-token', metadata: { name: 'temp-token', namespace: NS, annotations: { 'kubernetes.io/service-account.name': 'temp' } } };
    assert.equal((await k(['create', '-f', '-'], { input: JSON.stringify(secret) })).code, 0);
    await eventually('the token', async () => ((await k.json(['get', 'secret', 'temp-token', '-n', NS])).data?.token ? true : undefined));
    assert.equal((await k(['delete', 'serviceaccount', 'temp', '-n', NS])).code, 0);
    await eventually('the Secret to go', async () => ((await k(['get', 'secret', 'temp-token', '-n', NS])).code !== 0 ? true : undefined));
  });
});
