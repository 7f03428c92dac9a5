import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { isStatusError } from '../../api/status.js';
import { serviceAccountAdmission, TOKEN_MOUNT_PATH } from './service-account.js';
import type { AdmissionAttributes, AdmissionContext } from './types.js';

function ctx(accounts: Record<string, KubeObject>): AdmissionContext & { lookups: number } {
  const c = {
    lookups: 0,
    list: () => [],
    cached: () => undefined,
    get: async (_g: string, _p: string, ns: string, name: string) => {
      c.lookups++;
      return accounts[`${ns}/${name}`];
    },
  };
  return c;
}

function attrs(pod: KubeObject): AdmissionAttributes {
  return {
    operation: 'CREATE',
    resource: { group: '', plural: 'pods' } as AdmissionAttributes['resource'],
    subresource: '',
    namespace: 'ns',
    name: pod.metadata.name ?? '',
    object: pod,
    user: { username: 'u', groups: [] },
    dryRun: false,
    onFinish() {},
    warn() {},
  };
}

const pod = (spec: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}): KubeObject => ({
  metadata: { name: 'p', namespace: 'ns', ...metadata },
  spec: { initContainers: [{ name: 'init', image: 'i' }], containers: [{ name: 'a', image: 'i' }, { name: 'b', image: 'i', volumeMounts: [{ name: 'own', mountPath: TOKEN_MOUNT_PATH }] }], ...spec },
});

const sa = (name: string, extra: Record<string, unknown> = {}): KubeObject => ({ metadata: { name, namespace: 'ns', uid: `uid-${name}` }, ...extra });

describe('ServiceAccount admission', () => {
  const plugin = serviceAccountAdmission({ defaultLookupAttempts: 3, retryIntervalMs: 1 });

  it('defaults the account, adds the token volume once and mounts it where nothing else is mounted', async () => {
    const p = pod();
    await plugin.admit(attrs(p), ctx({ 'ns/default': sa('default', { imagePullSecrets: [{ name: 'reg' }] }) }));
    const spec = p.spec as any;
    assert.equal(spec.serviceAccountName, 'default');
    assert.equal(spec.volumes.length, 1);
    const vol = spec.volumes[0];
    assert.match(vol.name, /^kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    assert.deepEqual(vol.projected.sources.map((s: any) => Object.keys(s)[0]), ['serviceAccountToken', 'configMap', 'downwardAPI']);
    assert.equal(vol.projected.defaultMode, 0o644);
    assert.deepEqual(spec.initContainers[0].volumeMounts, [{ name: vol.name, readOnly: true, mountPath: TOKEN_MOUNT_PATH }]);
    assert.deepEqual(spec.containers[0].volumeMounts, [{ name: vol.name, readOnly: true, mountPath: TOKEN_MOUNT_PATH }]);
    assert.deepEqual(spec.containers[1].volumeMounts, [{ name: 'own', mountPath: TOKEN_MOUNT_PATH }], 'an existing mount at the path wins');
    assert.deepEqual(spec.imagePullSecrets, [{ name: 'reg' }]);
  });

  const automount: Array<[string, unknown, unknown, boolean]> = [
    ['neither says', undefined, undefined, true],
    ['account says no', undefined, false, false],
    ['pod says no', false, true, false],
    ['pod says yes over the account', true, false, true],
  ];
  for (const [name, podSays, saSays, want] of automount) {
    it(`automount: ${name}`, async () => {
      const p = pod(podSays === undefined ? {} : { automountServiceAccountToken: podSays });
      await plugin.admit(attrs(p), ctx({ 'ns/default': sa('default', saSays === undefined ? {} : { automountServiceAccountToken: saSays }) }));
      assert.equal(((p.spec as any).volumes ?? []).length, want ? 1 : 0);
    });
  }

  it('refuses a pod naming a missing account in upstream words, asking once; a missing default is asked for again', async () => {
    const c = ctx({});
    await assert.rejects(Promise.resolve(plugin.admit(attrs(pod({ serviceAccountName: 'nobody' })), c)), (e: unknown) => {
      assert.ok(isStatusError(e));
      assert.equal(e.code, 403);
      assert.equal(e.message, 'pods "p" is forbidden: error looking up service account ns/nobody: serviceaccount "nobody" not found');
      return true;
    });
    assert.equal(c.lookups, 1);
    const d = ctx({});
    await assert.rejects(Promise.resolve(plugin.admit(attrs(pod()), d)), /serviceaccount "default" not found/);
    assert.equal(d.lookups, 3);
  });

  it('leaves mirror pods alone', async () => {
    const p = pod({}, { annotations: { 'kubernetes.io/config.mirror': 'x' } });
    await plugin.admit(attrs(p), ctx({}));
    assert.equal((p.spec as any).serviceAccountName, undefined);
  });
});
