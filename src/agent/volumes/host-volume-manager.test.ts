import assert from 'node:assert/strict';
import { lstat, mkdtemp, readdir, readFile, readlink, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { ConfigMap, PersistentVolume, PersistentVolumeClaim, Pod, Secret, Volume } from 'kubernetes-types/core/v1.js';
import { FakeClock } from '../../client/testing/fake-clock.js';
import { HostVolumeManager, memoryVolumeSize } from './host-volume-manager.js';
import { HostMounter, NoMounter, parseMountInfo } from './mounts.js';
import { VolumeError } from './types.js';
import type { VolumeSources } from './volume-sources.js';
import type { ServiceAccountTokenRequest } from './token-cache.js';

const isRoot = process.getuid?.() === 0;

class MemorySources implements VolumeSources {
  configMaps = new Map<string, ConfigMap>();
  secrets = new Map<string, Secret>();
  claims = new Map<string, PersistentVolumeClaim>();
  volumes = new Map<string, PersistentVolume>();
  allocatable: Record<string, string> | undefined = { cpu: '2', memory: '4Gi' };
  async getConfigMap(ns: string, name: string) {
    return this.configMaps.get(`${ns}/${name}`);
  }
  async getSecret(ns: string, name: string) {
    return this.secrets.get(`${ns}/${name}`);
  }
  async getPersistentVolumeClaim(ns: string, name: string) {
    return this.claims.get(`${ns}/${name}`);
  }
  async getPersistentVolume(name: string) {
    return this.volumes.get(name);
  }
  async getNodeAllocatable() {
    return this.allocatable;
  }
  tokenRequests: ServiceAccountTokenRequest[] = [];
  now = () => new Date();
  async requestServiceAccountToken(req: ServiceAccountTokenRequest) {
    this.tokenRequests.push(req);
    return { token: `token-${this.tokenRequests.length}-for-${req.podName}`, expirationTimestamp: new Date(this.now().getTime() + req.expirationSeconds * 1000) };
  }
}

async function fixture(t: TestContext, opts: { mount?: boolean } = {}) {
  const root = await realpath(await mkdtemp(join(tmpdir(), 'skiff-volumes-')));
  const sources = new MemorySources();
  const clock = new FakeClock(new Date('2025-02-03T04:05:06Z'));
  const mgr = new HostVolumeManager({ rootDir: join(root, 'pods'), sources, nodeName: 'node-a', clock, mounter: opts.mount ? new HostMounter() : new NoMounter() });
  // Unmount whatever a failed test left, then remove the dir.
  t.after(async () => {
    for (const uid of await mgr.listPods()) await mgr.tearDownPod(uid).catch(() => {});
    if (opts.mount) {
      const left = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')).filter((m) => m.startsWith(root));
      for (const m of left.sort((a, b) => b.length - a.length)) await new HostMounter().unmount(m).catch(() => {});
    }
    await rm(root, { recursive: true, force: true });
  });
  return { root, sources, clock, mgr };
}

function pod(uid: string, volumes: Volume[], extra: Partial<Pod['metadata']> = {}): Pod {
  return {
    metadata: { name: `p-${uid}`, namespace: 'default', uid, labels: { app: 'web' }, ...extra },
    spec: { containers: [{ name: 'app', image: 'i', resources: { limits: { memory: '128Mi' } } }], volumes },
  };
}

async function mounted(path: string): Promise<boolean> {
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')).includes(path);
}

const volumeError = (re: RegExp, permanent: boolean) => (e: unknown) => e instanceof VolumeError && re.test(e.message) && e.permanent === permanent;

test('emptyDir on disk: a world-writable dir per pod and volume, gone after teardown; listPods from disk', async (t) => {
  const { mgr, root } = await fixture(t);
  const vols = await mgr.setUpPod(pod('u1', [{ name: 'scratch', emptyDir: {} }]));
  const dir = vols.get('scratch')!.hostPath;
  assert.equal(dir, join(root, 'pods', 'u1', 'volumes', 'kubernetes.io~empty-dir', 'scratch'));
  assert.equal((await stat(dir)).mode & 0o777, 0o777);
  assert.equal(vols.get('scratch')!.readOnly, false);
  await mgr.setUpPod(pod('u2', [{ name: 'e', emptyDir: {} }]));
  await mgr.setUpPod(pod('no-volumes', []));
  assert.deepEqual(await mgr.listPods(), ['u1', 'u2']);
  await mgr.tearDownPod('u1');
  await assert.rejects(lstat(join(root, 'pods', 'u1')), { code: 'ENOENT' });
  assert.deepEqual(await mgr.listPods(), ['u2']);
  await mgr.tearDownPod('u1'); // idempotent
});

test('emptyDir medium Memory: tmpfs with the size limit, unmounted on teardown', { skip: !isRoot && process.env.CI !== 'true' ? 'mounting tmpfs needs root' : false }, async (t) => {
  const { mgr, root } = await fixture(t, { mount: true });
  const p = pod('mem', [{ name: 'cache', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } }]);
  const dir = (await mgr.setUpPod(p)).get('cache')!.hostPath;
  assert.equal(await mounted(dir), true);
  const line = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').find((l) => l.split(' ')[4] === dir)!;
  assert.match(line, /tmpfs.*size=16384k/);
  await mgr.setUpPod(p); // a second sync does not stack a second mount
  assert.equal(parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')).filter((m) => m === dir).length, 1);
  await mgr.tearDownPod('mem');
  assert.equal(await mounted(dir), false);
  await assert.rejects(lstat(join(root, 'pods', 'mem')), { code: 'ENOENT' });
});

test('memory volume size: sizeLimit capped by the pod memory limit', () => {
  const p = pod('x', []);
  assert.equal(memoryVolumeSize(p, '1Gi'), 128n * 1024n * 1024n);
  assert.equal(memoryVolumeSize(p, '16Mi'), 16n * 1024n * 1024n);
  assert.equal(memoryVolumeSize({ ...p, spec: { containers: [{ name: 'c' }] } }, undefined), undefined);
});

test('configMap: contents follow updates of the object through the ..data swap; missing objects and keys', async (t) => {
  const { mgr, sources, clock } = await fixture(t);
  sources.configMaps.set('default/cfg', { metadata: { name: 'cfg' }, data: { 'a.conf': 'v1', old: 'x' } });
  const p = pod('u1', [{ name: 'config', configMap: { name: 'cfg' } }]);
  const { hostPath: dir, readOnly } = (await mgr.setUpPod(p)).get('config')!;
  assert.equal(readOnly, true);
  assert.equal(await readFile(join(dir, 'a.conf'), 'utf8'), 'v1');
  assert.equal((await stat(join(dir, 'a.conf'))).mode & 0o777, 0o644);
  const before = await readlink(join(dir, '..data'));

  await mgr.setUpPod(p);
  assert.equal(await readlink(join(dir, '..data')), before, 'an unchanged object is not rewritten');

  clock.advance(61_000);
  sources.configMaps.set('default/cfg', { metadata: { name: 'cfg' }, data: { 'a.conf': 'v2', added: 'y' } });
  await mgr.setUpPod(p);
  assert.notEqual(await readlink(join(dir, '..data')), before);
  assert.equal(await readFile(join(dir, 'a.conf'), 'utf8'), 'v2');
  assert.equal(await readFile(join(dir, 'added'), 'utf8'), 'y');
  await assert.rejects(lstat(join(dir, 'old')), { code: 'ENOENT' });
  assert.deepEqual((await readdir(dir)).filter((e) => e.startsWith('..2025')).length, 1, 'one timestamped dir left');

  sources.configMaps.delete('default/cfg');
  await assert.rejects(mgr.setUpPod(p), volumeError(/^MountVolume.SetUp failed for volume "config" : configmap "cfg" not found$/, false));
  const optional = pod('u2', [{ name: 'config', configMap: { name: 'cfg', optional: true } }]);
  const optDir = (await mgr.setUpPod(optional)).get('config')!.hostPath;
  assert.deepEqual((await readdir(optDir)).filter((e) => !e.startsWith('..')), []);

  sources.configMaps.set('default/cfg', { metadata: { name: 'cfg' }, data: {} });
  await assert.rejects(mgr.setUpPod(pod('u3', [{ name: 'c', configMap: { name: 'cfg', items: [{ key: 'k', path: 'k' }] } }])), volumeError(/non-existent config key: k/, false));
});

test('secret: decoded files 0644 by default, item modes, update propagation', async (t) => {
  const { mgr, sources } = await fixture(t);
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  sources.secrets.set('default/creds', { metadata: { name: 'creds' }, data: { user: b64('admin'), pw: b64('s3cret') } });
  const p = pod('u1', [{ name: 'creds', secret: { secretName: 'creds', items: [{ key: 'pw', path: 'auth/password', mode: 0o400 }, { key: 'user', path: 'user' }] } }]);
  const dir = (await mgr.setUpPod(p)).get('creds')!.hostPath;
  assert.equal(await readFile(join(dir, 'auth', 'password'), 'utf8'), 's3cret');
  assert.equal((await stat(join(dir, 'auth', 'password'))).mode & 0o777, 0o400);
  assert.equal((await stat(join(dir, 'user'))).mode & 0o777, 0o644);
  sources.secrets.set('default/creds', { metadata: { name: 'creds' }, data: { user: b64('root'), pw: b64('s3cret') } });
  await mgr.setUpPod(p);
  assert.equal(await readFile(join(dir, 'user'), 'utf8'), 'root');
  sources.secrets.delete('default/creds');
  await assert.rejects(mgr.setUpPod(p), volumeError(/secret "creds" not found/, false));
});

test('secret volumes live on tmpfs when the agent can mount', { skip: !isRoot && process.env.CI !== 'true' ? 'mounting tmpfs needs root' : false }, async (t) => {
  const { mgr, sources } = await fixture(t, { mount: true });
  sources.secrets.set('default/s', { metadata: { name: 's' }, data: { k: Buffer.from('v').toString('base64') } });
  const dir = (await mgr.setUpPod(pod('sec', [{ name: 's', secret: { secretName: 's' } }]))).get('s')!.hostPath;
  assert.equal(await mounted(dir), true);
  assert.equal(await readFile(join(dir, 'k'), 'utf8'), 'v');
  await mgr.tearDownPod('sec');
  assert.equal(await mounted(dir), false);
});

test('downwardAPI: labels follow pod updates; resource fields use node allocatable for unset limits', async (t) => {
  const { mgr } = await fixture(t);
  const vol: Volume = {
    name: 'info',
    downwardAPI: {
      items: [
        { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
        { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
        { path: 'cpu_limit', resourceFieldRef: { containerName: 'app', resource: 'limits.cpu', divisor: '1m' } },
        { path: 'mem_limit', resourceFieldRef: { containerName: 'app', resource: 'limits.memory', divisor: '1Mi' } },
      ],
    },
  };
  const dir = (await mgr.setUpPod(pod('u1', [vol]))).get('info')!.hostPath;
  assert.equal(await readFile(join(dir, 'labels'), 'utf8'), 'app="web"');
  assert.equal(await readFile(join(dir, 'name'), 'utf8'), 'p-u1');
  assert.equal(await readFile(join(dir, 'cpu_limit'), 'utf8'), '2000');
  assert.equal(await readFile(join(dir, 'mem_limit'), 'utf8'), '128');
  await mgr.setUpPod(pod('u1', [vol], { labels: { app: 'web', tier: 'front' } }));
  assert.equal(await readFile(join(dir, 'labels'), 'utf8'), 'app="web"\ntier="front"');
});

test('projected: configMap, secret, downwardAPI and a pod-bound token in one directory; the token renewed at 80 % of its lifetime', async (t) => {
  const { mgr, sources, clock } = await fixture(t);
  sources.now = () => clock.now();
  sources.configMaps.set('default/kube-root-ca.crt', { metadata: { name: 'kube-root-ca.crt' }, data: { 'ca.crt': 'CERT' } });
  sources.secrets.set('default/s', { metadata: { name: 's' }, data: { k: Buffer.from('v').toString('base64') } });
  const vol: Volume = {
    name: 'kube-api-access',
    projected: {
      defaultMode: 0o440,
      sources: [
        { serviceAccountToken: { path: 'token', expirationSeconds: 3607 } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { secret: { name: 's' } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
        { configMap: { name: 'absent', optional: true } },
      ],
    },
  };
  const dir = (await mgr.setUpPod(pod('u1', [vol]))).get('kube-api-access')!.hostPath;
  assert.deepEqual((await readdir(dir)).filter((e) => !e.startsWith('..')).sort(), ['ca.crt', 'k', 'namespace', 'token']);
  assert.equal(await readFile(join(dir, 'ca.crt'), 'utf8'), 'CERT');
  assert.equal(await readFile(join(dir, 'namespace'), 'utf8'), 'default');
  assert.equal(await readFile(join(dir, 'token'), 'utf8'), 'token-1-for-p-u1');
  assert.deepEqual(sources.tokenRequests[0], { namespace: 'default', serviceAccountName: 'default', audience: undefined, expirationSeconds: 3607, podName: 'p-u1', podUid: 'u1' });
  assert.equal((await stat(join(dir, 'ca.crt'))).mode & 0o777, 0o440);
  // Syncs before 80 % of 3607 s keep the token; after, a new one is written.
  clock.advance(2800 * 1000);
  await mgr.setUpPod(pod('u1', [vol]));
  assert.equal(await readFile(join(dir, 'token'), 'utf8'), 'token-1-for-p-u1');
  clock.advance(100 * 1000);
  await mgr.setUpPod(pod('u1', [vol]));
  assert.equal(await readFile(join(dir, 'token'), 'utf8'), 'token-2-for-p-u1');
  await assert.rejects(
    mgr.setUpPod(pod('u2', [{ name: 'p', projected: { sources: [{ secret: { name: 'nope' } }] } }])),
    volumeError(/secret "nope" not found/, false),
  );
});

test('hostPath: the host path itself, type checked', async (t) => {
  const { mgr, root } = await fixture(t);
  const vols = await mgr.setUpPod(pod('u1', [{ name: 'h', hostPath: { path: join(root, 'host', 'data'), type: 'DirectoryOrCreate' } }]));
  assert.deepEqual(vols.get('h'), { hostPath: join(root, 'host', 'data'), readOnly: false });
  assert.ok((await stat(join(root, 'host', 'data'))).isDirectory());
  await assert.rejects(
    mgr.setUpPod(pod('u2', [{ name: 'h', hostPath: { path: join(root, 'missing'), type: 'Directory' } }])),
    volumeError(new RegExp(`hostPath type check failed: ${join(root, 'missing')} is not a directory`), false),
  );
});

test('persistentVolumeClaim: waits for the claim to bind, then the bound PV path; wrong node or claimRef refused', async (t) => {
  const { mgr, sources, root } = await fixture(t);
  const path = join(root, 'storage', 'pvc-c1_default_data');
  const p = pod('u1', [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }]);
  await assert.rejects(mgr.setUpPod(p), volumeError(/persistentvolumeclaim "data" not found/, false));
  sources.claims.set('default/data', { metadata: { name: 'data', namespace: 'default', uid: 'c1' }, spec: {}, status: { phase: 'Pending' } });
  await assert.rejects(mgr.setUpPod(p), volumeError(/PVC default\/data has non-bound phase \("Pending"\) or empty pvc.Spec.VolumeName \(""\)/, false));

  sources.claims.set('default/data', { metadata: { name: 'data', namespace: 'default', uid: 'c1' }, spec: { volumeName: 'pvc-c1' }, status: { phase: 'Bound' } });
  const pv: PersistentVolume = {
    metadata: { name: 'pvc-c1', annotations: { 'pv.kubernetes.io/provisioned-by': 'skiff.dev/local-path' } },
    spec: {
      hostPath: { path, type: 'DirectoryOrCreate' },
      claimRef: { namespace: 'default', name: 'data', uid: 'c1' },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['node-a'] }] }] } },
    },
  };
  sources.volumes.set('pvc-c1', pv);
  const vols = await mgr.setUpPod(p);
  assert.deepEqual(vols.get('data'), { hostPath: path, readOnly: false });
  assert.equal((await stat(path)).mode & 0o777, 0o777, 'local-path directories are world-writable, as k3s makes them');

  sources.volumes.set('pvc-c1', { ...pv, spec: { ...pv.spec, claimRef: { name: 'data', namespace: 'default', uid: 'other' } } });
  await assert.rejects(mgr.setUpPod(p), volumeError(/ClaimRef UID "other" does not point to claim UID "c1"/, false));
  sources.volumes.set('pvc-c1', {
    ...pv,
    spec: { ...pv.spec, nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['node-b'] }] }] } } },
  });
  await assert.rejects(mgr.setUpPod(p), volumeError(/node affinity to node-b/, true));
});

test('an unsupported volume type is a permanent error; the other volumes are still set up', async (t) => {
  const { mgr, root } = await fixture(t);
  const p = pod('u1', [{ name: 'nfs', nfs: { server: 'x', path: '/' } }, { name: 'scratch', emptyDir: {} }]);
  await assert.rejects(mgr.setUpPod(p), volumeError(/volume type nfs is not supported by skiff/, true));
  assert.ok((await stat(join(root, 'pods', 'u1', 'volumes', 'kubernetes.io~empty-dir', 'scratch'))).isDirectory());
});
