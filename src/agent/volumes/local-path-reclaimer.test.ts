import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { FakeClient } from '../../client/testing/fake-client.js';
import { FakeClock } from '../../client/testing/fake-clock.js';
import { FakeInformerFactory } from '../../client/testing/fake-informer-factory.js';
import { Nodes, PersistentVolumes } from '../../client/resources.js';
import { LocalPathReclaimer, LOCAL_PATH_FINALIZER, STORAGE_ROOT_ANNOTATION } from './local-path-reclaimer.js';

async function fixture(t: TestContext) {
  const base = await realpath(await mkdtemp(join(tmpdir(), 'skiff-reclaim-')));
  t.after(() => rm(base, { recursive: true, force: true }));
  const storageRoot = join(base, 'storage');
  const clock = new FakeClock();
  const client = new FakeClient({ clock });
  const informers = new FakeInformerFactory();
  client.seed(Nodes, { metadata: { name: 'node-a' } });
  const reclaimer = new LocalPathReclaimer({ client, informers, nodeName: 'node-a', storageRoot, clock });
  const inf = informers.informerFor(PersistentVolumes);
  const sync = async (name: string) => {
    const obj = client.peek(PersistentVolumes, '', name);
    if (obj) inf.update(obj);
    else inf.delete({ metadata: { name } });
    await reclaimer.syncVolume(name);
  };
  return { base, storageRoot, client, reclaimer, sync };
}

function pv(name: string, path: string, opts: { node?: string; policy?: string; phase?: string } = {}): KubeObject {
  return {
    metadata: {
      name,
      annotations: { 'pv.kubernetes.io/provisioned-by': 'skiff.dev/local-path', 'local.path.provisioner/selected-node': opts.node ?? 'node-a' },
      finalizers: ['kubernetes.io/pv-protection', LOCAL_PATH_FINALIZER],
    },
    spec: { hostPath: { path, type: 'DirectoryOrCreate' }, persistentVolumeReclaimPolicy: opts.policy ?? 'Delete', capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'] },
    status: { phase: opts.phase ?? 'Bound' },
  };
}

async function withData(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'file'), 'data');
  return dir;
}

test('annotates its node with the storage root', async (t) => {
  const f = await fixture(t);
  await f.reclaimer.annotateNode();
  assert.equal(f.client.peek(Nodes, '', 'node-a')!.metadata.annotations?.[STORAGE_ROOT_ANNOTATION], f.storageRoot);
});

test('Released with Delete: data removed, finalizer dropped, volume deleted; Bound volumes and other nodes left alone', async (t) => {
  const f = await fixture(t);
  const mine = await withData(join(f.storageRoot, 'pvc-1_default_a'));
  const bound = await withData(join(f.storageRoot, 'pvc-2_default_b'));
  const elsewhere = await withData(join(f.storageRoot, 'pvc-3_default_c'));
  f.client.seed(PersistentVolumes, pv('pvc-1', mine, { phase: 'Released' }), pv('pvc-2', bound), pv('pvc-3', elsewhere, { node: 'node-b', phase: 'Released' }));
  for (const n of ['pvc-1', 'pvc-2', 'pvc-3']) await f.sync(n);
  await assert.rejects(stat(mine), { code: 'ENOENT' });
  // The fake client keeps the object while the other finalizer (pv-protection, the binder's) is there.
  const gone = f.client.peek(PersistentVolumes, '', 'pvc-1')!;
  assert.ok(gone.metadata.deletionTimestamp);
  assert.deepEqual(gone.metadata.finalizers, ['kubernetes.io/pv-protection']);
  assert.ok((await stat(bound)).isDirectory());
  assert.ok((await stat(elsewhere)).isDirectory());
});

test('Retain: deleting the volume keeps the data and releases the finalizer', async (t) => {
  const f = await fixture(t);
  const dir = await withData(join(f.storageRoot, 'pvc-4_default_d'));
  f.client.seed(PersistentVolumes, { ...pv('pvc-4', dir, { policy: 'Retain', phase: 'Released' }), metadata: { ...pv('pvc-4', dir).metadata, finalizers: [LOCAL_PATH_FINALIZER] } });
  await f.sync('pvc-4');
  assert.ok(f.client.peek(PersistentVolumes, '', 'pvc-4'), 'Released + Retain: nothing happens');
  await f.client.delete(PersistentVolumes, '', 'pvc-4');
  await f.sync('pvc-4');
  assert.equal(f.client.peek(PersistentVolumes, '', 'pvc-4'), undefined);
  assert.equal((await stat(join(dir, 'file'))).isFile(), true);
});

test('a path outside the storage root is never removed', async (t) => {
  const f = await fixture(t);
  const outside = await withData(join(f.base, 'precious'));
  f.client.seed(PersistentVolumes, pv('pvc-5', outside, { phase: 'Released' }), pv('pvc-6', f.storageRoot, { phase: 'Released' }));
  await assert.rejects(f.sync('pvc-5'), /is not inside the storage root/);
  await assert.rejects(f.sync('pvc-6'), /is not inside the storage root/);
  assert.ok((await stat(join(outside, 'file'))).isFile());
  assert.deepEqual(f.client.peek(PersistentVolumes, '', 'pvc-5')!.metadata.finalizers, ['kubernetes.io/pv-protection', LOCAL_PATH_FINALIZER]);
});
