import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, request, type Server } from 'node:https';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { isStatusError } from '../../api/status.js';
import { Authenticator, bearerToken } from './authenticator.js';
import { formatFullToken } from '../../api/cluster-token.js';
import { ensurePki, type Pki } from './pki.js';
import type { UserInfo } from './user-info.js';

const DAY = 24 * 60 * 60 * 1000;
const SECRET = 'b5a1c0ffee0ddba11deadbeef0123456789abcdef0123456789abcdef0123456';

interface Reply {
  status: number;
  user?: UserInfo | null;
}

interface ClientOptions {
  cert?: string;
  key?: string;
  headers?: Record<string, string>;
}

describe('Authenticator over a real TLS connection', () => {
  let dirs: string[] = [];
  let pki: Pki;
  let otherPki: Pki;
  let expiredAdmin: { cert: string; key: string };
  let server: Server;
  let port: number;

  async function call(opts: ClientOptions): Promise<Reply> {
    const req = request({
      host: '127.0.0.1',
      port,
      path: '/whoami',
      ca: pki.caCertPem,
      cert: opts.cert,
      key: opts.key,
      headers: opts.headers,
      agent: false,
    });
    req.end();
    const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
    let body = '';
    for await (const chunk of res) body += chunk;
    return { status: res.statusCode ?? 0, ...(JSON.parse(body) as { user?: UserInfo | null }) };
  }

  before(async () => {
    const tmp = async () => {
      const d = await mkdtemp(join(tmpdir(), 'skiff-authn-'));
      dirs.push(d);
      return d;
    };
    // An admin certificate issued two years ago by the same CA: expired today. The second ensurePki
    // call on that directory renews the leaves and keeps the CA.
    const dataDir = await tmp();
    const old = await ensurePki(dataDir, { now: new Date(Date.now() - 2 * 365 * DAY) });
    expiredAdmin = { cert: old.adminCertPem, key: old.adminKeyPem };
    pki = await ensurePki(dataDir, {});
    assert.equal(pki.caCertPem, old.caCertPem);
    otherPki = await ensurePki(await tmp(), {});

    const authn = new Authenticator({
      caCertPem: pki.caCertPem,
      tokenAuthenticators: [
        { authenticateToken: (t) => (t === 'sa-token' ? { username: 'system:serviceaccount:default:builder', groups: ['system:serviceaccounts', 'system:authenticated'] } : undefined) },
      ],
    });
    server = createServer(
      { key: pki.servingKeyPem, cert: pki.servingCertPem, ca: pki.caCertPem, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        Promise.resolve().then(() => authn.authenticate(req)).then(
          (user) => res.writeHead(200).end(JSON.stringify({ user: user ?? null })),
          (err: unknown) => {
            if (isStatusError(err)) res.writeHead(err.code).end(JSON.stringify({}));
            else res.writeHead(500).end(JSON.stringify({ error: String(err) }));
          },
        );
      },
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    server?.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
    dirs = [];
  });

  it('maps a client certificate from the cluster CA to CN and O groups', async () => {
    const reply = await call({ cert: pki.adminCertPem, key: pki.adminKeyPem });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.user, { username: 'system:admin', groups: ['system:masters', 'system:authenticated'] });
  });

  it('rejects with 401 a client certificate from a different CA', async () => {
    const reply = await call({ cert: otherPki.adminCertPem, key: otherPki.adminKeyPem });
    assert.equal(reply.status, 401);
  });

  it('rejects with 401 an expired client certificate from the cluster CA', async () => {
    const reply = await call({ cert: expiredAdmin.cert, key: expiredAdmin.key });
    assert.equal(reply.status, 401);
  });

  it('rejects with 401 a certificate of the cluster CA that is not for client authentication', async () => {
    const reply = await call({ cert: pki.servingCertPem, key: pki.servingKeyPem });
    assert.equal(reply.status, 401);
  });

  it('returns no user for a request without credentials', async () => {
    const reply = await call({});
    assert.equal(reply.status, 200);
    assert.equal(reply.user, null);
  });

  it('refuses with 401 the cluster token, bare and in K10 form: it joins nodes and is no identity (k3s)', async () => {
    for (const token of [SECRET, formatFullToken(SECRET, pki.caHash), `K10${pki.caHash}::node:${SECRET}`]) {
      const reply = await call({ headers: { authorization: `Bearer ${token}` } });
      assert.equal(reply.status, 401, token.slice(0, 8));
    }
  });

  it('asks the token authenticators in order', async () => {
    const reply = await call({ headers: { authorization: 'Bearer sa-token' } });
    assert.equal(reply.user?.username, 'system:serviceaccount:default:builder');
    assert.equal((await call({ headers: { authorization: 'Bearer sa-token-x' } })).status, 401);
  });

  it('accepts a valid token even when the client certificate is from another CA', async () => {
    const reply = await call({ cert: otherPki.adminCertPem, key: otherPki.adminKeyPem, headers: { authorization: 'Bearer sa-token' } });
    assert.equal(reply.status, 200);
    assert.equal(reply.user?.username, 'system:serviceaccount:default:builder');
  });
});

describe('bearerToken', () => {
  const cases: Array<[string, Record<string, string>, string | undefined]> = [
    ['Bearer scheme', { authorization: 'Bearer abc.def' }, 'abc.def'],
    ['scheme is case-insensitive', { authorization: 'bearer abc' }, 'abc'],
    ['empty token is no token', { authorization: 'Bearer ' }, undefined],
    ['basic auth is not a bearer token', { authorization: 'Basic dXNlcjpwYXNz' }, undefined],
    [
      'websocket subprotocol',
      { 'sec-websocket-protocol': `v4.channel.k8s.io, base64url.bearer.authorization.k8s.io.${Buffer.from('tok-1').toString('base64url')}` },
      'tok-1',
    ],
    ['no headers', {}, undefined],
  ];
  for (const [name, headers, want] of cases) {
    it(name, () => assert.equal(bearerToken(headers), want));
  }
});
