/**
 * Tokens as k3s separates them, with real `skiff server` processes on one etcd: the agent token (--agent-token) joins
 * agents only — a server given it cannot join the cluster's datastore, while the server token can — and neither token
 * is an API credential.
 *   npx tsc -p tsconfig.json && node --test dist/test/node-authorizer-tokens.test.js
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { haveEtcd } from '../src/storage/etcd-store-testing.js';
import { etcdServerGroup } from './helpers/etcd-servers.js';

function skipReason(): string | false {
  if (haveEtcd()) return false;
  if (process.env.CI === 'true') throw new Error('etcd is not installed, and CI=true forbids skipping the token test');
  return 'etcd is not installed on this machine';
}

function statusWithBearer(url: string, ca: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    https
      .get(`${url}/api/v1/namespaces/kube-system/secrets`, { ca, agent: false, headers: { Authorization: `Bearer ${token}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject);
  });
}

describe('server token and agent token', { skip: skipReason() }, () => {
  const group = etcdServerGroup('skiff-tokens', 'skiff-tokens-');
  after(() => group.stopAll());

  it('the agent token joins no server, the server token does; neither reads the API', async () => {
    await group.startEtcd();
    const start = (extra: string[]) => group.start(['--disable-agent', ...extra]);
    const a = await start(['--agent-token', 'agents-only-secret']);
    const serverToken = (await readFile(join(a.dir, 'server', 'token'), 'utf8')).trim();
    const agentToken = (await readFile(join(a.dir, 'server', 'agent-token'), 'utf8')).trim();
    assert.match(serverToken, /^K10[0-9a-f]{64}::server:/);
    assert.match(agentToken, /^K10[0-9a-f]{64}::node:agents-only-secret$/);

    await assert.rejects(start(['--token', agentToken]), /bootstrap data of a cluster with another token|belongs to a cluster/);
    const b = await start(['--token', serverToken]);
    assert.ok(b.s.url);

    const ca = await readFile(join(a.dir, 'server', 'tls', 'server-ca.crt'), 'utf8');
    for (const t of [serverToken, agentToken, 'agents-only-secret']) assert.equal(await statusWithBearer(a.s.url, ca, t), 401, t.slice(0, 12));
  });
});
