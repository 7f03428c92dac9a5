import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../../api/object.js';
import { isStatusError, notFound } from '../../../api/status.js';
import type { ResourceDefinition, SubresourceApi } from '../../registry/types.js';
import { TokenIssuer } from './token-issuer.js';
import { tokenRequestSubresource } from './token-request.js';

const NOW = new Date('2026-03-01T00:00:00Z');

function api(objects: Record<string, KubeObject>): SubresourceApi {
  return {
    get: async (def, ns, name) => {
      const o = objects[`${def.plural}/${ns}/${name}`];
      if (!o) throw notFound({ resource: def.plural, name });
      return o;
    },
    list: async () => [],
    update: async (_d, o) => o,
    delete: async () => {},
    resource: (_g, plural) => ({ plural }) as ResourceDefinition,
  };
}

const objects: Record<string, KubeObject> = {
  'serviceaccounts/ns/robot': { metadata: { name: 'robot', namespace: 'ns', uid: 'sa-1' } },
  'pods/ns/web': { metadata: { name: 'web', namespace: 'ns', uid: 'pod-1' }, spec: { serviceAccountName: 'robot', nodeName: 'n1' } },
  'nodes//n1': { metadata: { name: 'n1', uid: 'node-1' } },
};

const claimsOf = (tr: any) => JSON.parse(Buffer.from(tr.status.token.split('.')[1], 'base64url').toString());

describe('TokenRequest (serviceaccounts/token)', () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const sub = tokenRequestSubresource(new TokenIssuer({ key: privateKey, now: () => NOW }));
  const request = (name: string, spec: Record<string, unknown>, dryRun = false) => sub.action!(api(objects), 'ns', name, { spec }, { dryRun, now: NOW }) as Promise<any>;

  it('defaults: the API audiences, an hour, no binding', async () => {
    const tr = await request('robot', {});
    assert.deepEqual(tr.spec.audiences, ['https://kubernetes.default.svc.cluster.local', 'k3s']);
    assert.equal(tr.spec.expirationSeconds, 3600);
    assert.equal(tr.status.expirationTimestamp, '2026-03-01T01:00:00Z');
    assert.equal(tr.metadata.name, 'robot');
    const c = claimsOf(tr);
    assert.equal(c.exp - c.iat, 3600);
    assert.equal(c['kubernetes.io'].pod, undefined);
  });

  it("the kubelet's 3607 s for a pod: a year in the JWT with warnafter, 3607 s in the status; the pod's node recorded", async () => {
    const tr = await request('robot', { expirationSeconds: 3607, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'web', uid: 'pod-1' } });
    assert.equal(tr.status.expirationTimestamp, '2026-03-01T01:00:07Z');
    const c = claimsOf(tr);
    assert.equal(c.exp - c.iat, 365 * 86400);
    assert.equal(c['kubernetes.io'].warnafter, c.iat + 3607);
    assert.deepEqual(c['kubernetes.io'].pod, { name: 'web', uid: 'pod-1' });
    assert.deepEqual(c['kubernetes.io'].node, { name: 'n1', uid: 'node-1' });
  });

  const refusals: Array<[string, string, Record<string, unknown>, number, RegExp]> = [
    ['too short', 'robot', { expirationSeconds: 599 }, 422, /spec\.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes/],
    ['too long', 'robot', { expirationSeconds: 2 ** 32 + 1 }, 422, /may not specify a duration larger than 2\^32 seconds/],
    ['missing account', 'ghost', {}, 404, /serviceaccounts "ghost" not found/],
    ['missing pod', 'robot', { boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'gone' } }, 404, /pods "gone" not found/],
    ['stale uid', 'robot', { boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'web', uid: 'pod-0' } }, 409, /the UID in the bound object reference \(pod-0\) does not match the UID in record/],
    ['unsupported kind', 'robot', { boundObjectRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'd' } }, 400, /cannot bind token for serviceaccount "robot" to object of type apps\/v1, Kind=Deployment/],
  ];
  for (const [name, sa, spec, code, message] of refusals) {
    it(`refuses: ${name} (${code})`, async () => {
      await assert.rejects(request(sa, spec), (e: unknown) => isStatusError(e) && e.code === code && message.test(e.message));
    });
  }

  it('a dry run issues no token', async () => {
    const tr = await request('robot', {}, true);
    assert.equal(tr.status.token, '');
  });
});
