import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { configmaps } from '../registry/configmaps.js';
import { persistentvolumeclaims } from '../registry/persistentvolumeclaims.js';
import type { ResourceDefinition } from '../registry/types.js';
import { defaultStorageClassAdmission } from './default-storage-class.js';
import { pluginApplies, type AdmissionAttributes, type AdmissionContext, type Operation } from './types.js';

const DEFAULT = { 'storageclass.kubernetes.io/is-default-class': 'true' };

function sc(name: string, annotations: Record<string, string> = {}, created = '2026-01-01T00:00:00Z'): KubeObject {
  return { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name, annotations, creationTimestamp: created }, provisioner: 'skiff.dev/local-path' } as KubeObject;
}

function claim(spec: Record<string, unknown> = {}, annotations?: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'data', namespace: 'default', ...(annotations ? { annotations } : {}) },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, ...spec },
  };
}

/** Runs the plugin as the chain would; returns the object after admission, or undefined when the plugin does not apply. */
async function admit(
  classes: KubeObject[],
  object: KubeObject,
  opts: { operation?: Operation; resource?: ResourceDefinition; subresource?: string; oldObject?: KubeObject } = {},
): Promise<KubeObject | undefined> {
  const plugin = defaultStorageClassAdmission();
  const ctx: AdmissionContext = {
    list: (group, plural) => (group === 'storage.k8s.io' && plural === 'storageclasses' ? classes : []),
    cached: () => undefined,
    get: async () => undefined,
  };
  const attrs: AdmissionAttributes = {
    operation: opts.operation ?? 'CREATE',
    resource: opts.resource ?? persistentvolumeclaims,
    subresource: opts.subresource ?? '',
    namespace: 'default',
    name: object.metadata.name ?? '',
    object: structuredClone(object),
    ...(opts.oldObject ? { oldObject: opts.oldObject } : {}),
    user: { username: 'u', groups: [] },
    dryRun: false,
    onFinish: () => {},
    warn: () => {},
  };
  if (!pluginApplies(plugin, attrs)) return undefined;
  await plugin.admit(attrs, ctx);
  return attrs.object;
}

const classOf = (o: KubeObject | undefined) => (o?.spec as { storageClassName?: string | null } | undefined)?.storageClassName;

describe('DefaultStorageClass admission', () => {
  it('CREATE: a claim without storageClassName gets the default class', async () => {
    const out = await admit([sc('fast'), sc('local-path', DEFAULT)], claim());
    assert.equal(classOf(out), 'local-path');
    assert.deepEqual((out!.spec as { resources: unknown }).resources, { requests: { storage: '1Gi' } }, 'the rest of the spec is kept');
  });

  it('CREATE: the beta default annotation counts too', async () => {
    assert.equal(classOf(await admit([sc('old', { 'storageclass.beta.kubernetes.io/is-default-class': 'true' })], claim())), 'old');
  });

  it('CREATE: a storageClassName of null is absent, as a nil pointer upstream', async () => {
    assert.equal(classOf(await admit([sc('local-path', DEFAULT)], claim({ storageClassName: null }))), 'local-path');
  });

  it('CREATE: "" (no class, asked for explicitly), a named class, or the beta class annotation are left alone', async () => {
    const classes = [sc('local-path', DEFAULT)];
    assert.equal(classOf(await admit(classes, claim({ storageClassName: '' }))), '');
    assert.equal(classOf(await admit(classes, claim({ storageClassName: 'fast' }))), 'fast');
    assert.equal(classOf(await admit(classes, claim({}, { 'volume.beta.kubernetes.io/storage-class': 'fast' }))), undefined);
  });

  it('CREATE: no default class (none marked, or marked "false") leaves the claim without one', async () => {
    assert.equal(classOf(await admit([], claim())), undefined);
    assert.equal(classOf(await admit([sc('fast'), sc('slow', { 'storageclass.kubernetes.io/is-default-class': 'false' })], claim())), undefined);
  });

  it('CREATE: of several default classes the newest wins, then the first by name', async () => {
    const older = sc('a-old', DEFAULT, '2026-01-01T00:00:00Z');
    const newer = sc('z-new', DEFAULT, '2026-02-01T00:00:00Z');
    assert.equal(classOf(await admit([older, newer], claim())), 'z-new');
    assert.equal(classOf(await admit([sc('b', DEFAULT), sc('a', DEFAULT)], claim())), 'a');
  });

  it('UPDATE, DELETE, subresources and other resources are not its business', async () => {
    const classes = [sc('local-path', DEFAULT)];
    assert.equal(await admit(classes, claim(), { operation: 'UPDATE', oldObject: claim() }), undefined);
    assert.equal(await admit(classes, claim(), { operation: 'DELETE', oldObject: claim() }), undefined);
    assert.equal(await admit(classes, claim(), { subresource: 'status' }), undefined);
    assert.equal(await admit(classes, { metadata: { name: 'data', namespace: 'default' } }, { resource: configmaps }), undefined);
  });
});

describe('PersistentVolumeClaim update: retroactive default class assignment', () => {
  const validate = (old: KubeObject, next: KubeObject) => persistentvolumeclaims.strategy.validateUpdate!(next, old).map((e) => `${e.field}: ${e.detail}`);

  it('allows setting storageClassName on a claim created without one', () => {
    assert.deepEqual(validate(claim(), claim({ storageClassName: 'local-path' })), []);
  });

  it('refuses changing a class once set (also "" and the beta annotation), and setting "" later', () => {
    const immutable = [/^spec: Forbidden: spec is immutable after creation/];
    for (const [old, next] of [
      [claim({ storageClassName: 'fast' }), claim({ storageClassName: 'local-path' })],
      [claim({ storageClassName: '' }), claim({ storageClassName: 'local-path' })],
      [claim({}, { 'volume.beta.kubernetes.io/storage-class': 'fast' }), claim({ storageClassName: 'local-path' }, { 'volume.beta.kubernetes.io/storage-class': 'fast' })],
      [claim(), claim({ storageClassName: '' })],
    ] as const) {
      const errs = validate(old, next);
      assert.equal(errs.length, 1, `${JSON.stringify(old.spec)} -> ${JSON.stringify(next.spec)}: ${errs.join('; ')}`);
      assert.match(errs[0]!, immutable[0]!);
    }
  });
});
