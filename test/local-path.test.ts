/**
 * Persistent volumes end to end on a real API server with its controllers, scheduler and a simulated node: a claim of
 * the default class (local-path, WaitForFirstConsumer) and a pod that uses it; the scheduler selects the node, the
 * provisioner creates a hostPath PV with node affinity, the binder binds it; the node's volume manager (run here
 * in-process against a temp dir) makes the directory; deleting the pod and the claim releases the volume and the
 * node's reclaimer removes the data and the PV.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { HostVolumeManager } from '../src/agent/volumes/host-volume-manager.js';
import { LocalPathReclaimer, STORAGE_ROOT_ANNOTATION } from '../src/agent/volumes/local-path-reclaimer.js';
import { NoMounter } from '../src/agent/volumes/mounts.js';
import { clientVolumeSources } from '../src/agent/volumes/volume-sources.js';
import { SharedInformerFactory } from '../src/client/informer.js';
import { RestClient } from '../src/client/rest-client.js';
import { eventually } from './helpers/eventually.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const NODE = 'sim-node-0';

describe('local-path volumes', () => {
  let s: TestServer;
  let storage: string;
  let reclaimer: LocalPathReclaimer;
  let informers: SharedInformerFactory;
  let running: Promise<void>;

  before(async () => {
    s = await startTestServer({ simulateNodes: 1 });
    storage = await realpath(await mkdtemp(join(tmpdir(), 'skiff-local-path-')));
    const client = new RestClient(s.running.api.inProcessTransport());
    informers = new SharedInformerFactory(client);
    reclaimer = new LocalPathReclaimer({ client, informers, nodeName: NODE, storageRoot: join(storage, 'storage'), annotateRetryMs: 100 });
    reclaimer.start();
    informers.start();
    running = reclaimer.run();
  });

  after(async () => {
    reclaimer?.stop();
    informers?.stop();
    await running;
    await s?.stop();
    if (storage) await rm(storage, { recursive: true, force: true });
  });

  it('the default StorageClass exists at first start', async () => {
    const sc = (await s.request('GET', '/apis/storage.k8s.io/v1/storageclasses/local-path')).json;
    assert.equal(sc.provisioner, 'skiff.dev/local-path');
    assert.equal(sc.volumeBindingMode, 'WaitForFirstConsumer');
    assert.equal(sc.reclaimPolicy, 'Delete');
    assert.equal(sc.metadata.annotations['storageclass.kubernetes.io/is-default-class'], 'true');
  });

  it('a claim binds to a PV on the pod node; deleting pod and claim removes the data and the PV', async () => {
    await eventually('the node annotated with its storage root', async () => {
      const node = (await s.request('GET', `/api/v1/nodes/${NODE}`)).json;
      return node.metadata?.annotations?.[STORAGE_ROOT_ANNOTATION] === join(storage, 'storage');
    });
    const created = await s.request('POST', '/api/v1/namespaces/default/persistentvolumeclaims', {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'data' },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '2Gi' } } },
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.json.spec.storageClassName, 'local-path', 'the DefaultStorageClass admission plugin names the default class');
    // What `kubectl get pvc` prints in its STORAGECLASS column.
    const table = await s.request('GET', '/api/v1/namespaces/default/persistentvolumeclaims/data', undefined, { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
    const column = table.json.columnDefinitions.findIndex((c: { name: string }) => c.name === 'StorageClass');
    assert.equal(table.json.rows[0].cells[column], 'local-path');
    const ev = await eventually('the WaitForFirstConsumer event', async () => {
      const list = (await s.request('GET', '/api/v1/namespaces/default/events?fieldSelector=involvedObject.name=data')).json.items;
      return list.find((e: { reason: string }) => e.reason === 'WaitForFirstConsumer');
    });
    assert.equal(ev.message, 'waiting for first consumer to be created before binding');
    assert.equal((await s.request('GET', '/api/v1/namespaces/default/persistentvolumeclaims/data')).json.status.phase, 'Pending');

    const pod = await s.request('POST', '/api/v1/namespaces/default/pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'app' },
      spec: { containers: [{ name: 'app', image: 'busybox', volumeMounts: [{ name: 'data', mountPath: '/data' }] }], volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }] },
    });
    assert.equal(pod.status, 201, pod.text);

    const claim = await eventually('the claim Bound', async () => {
      const c = (await s.request('GET', '/api/v1/namespaces/default/persistentvolumeclaims/data')).json;
      return c.status?.phase === 'Bound' ? c : undefined;
    });
    const scheduled: Pod = await eventually('the pod scheduled', async () => {
      const p = (await s.request('GET', '/api/v1/namespaces/default/pods/app')).json;
      return p.spec?.nodeName ? p : undefined;
    });
    assert.equal(scheduled.spec!.nodeName, NODE);
    assert.equal(claim.metadata.annotations['volume.kubernetes.io/selected-node'], NODE);
    assert.equal(claim.spec.volumeName, `pvc-${claim.metadata.uid}`);
    assert.equal(claim.spec.storageClassName, 'local-path');
    assert.deepEqual(claim.status.capacity, { storage: '2Gi' });

    const pv = (await s.request('GET', `/api/v1/persistentvolumes/${claim.spec.volumeName}`)).json;
    const path = join(storage, 'storage', `${claim.spec.volumeName}_default_data`);
    assert.equal(pv.status.phase, 'Bound');
    assert.deepEqual(pv.spec.hostPath, { path, type: 'DirectoryOrCreate' });
    assert.deepEqual(pv.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values, [NODE]);
    assert.equal(pv.spec.claimRef.uid, claim.metadata.uid);

    // What the node agent does for the pod: the claim's volume is the PV's directory, created on first use.
    const volumes = new HostVolumeManager({ rootDir: join(storage, 'pods'), sources: clientVolumeSources(new RestClient(s.running.api.inProcessTransport()), NODE), nodeName: NODE, mounter: new NoMounter() });
    const mounted = (await volumes.setUpPod(scheduled)).get('data')!;
    assert.equal(mounted.hostPath, path);
    await writeFile(join(path, 'kept.txt'), 'hello');
    assert.equal(await readFile(join(path, 'kept.txt'), 'utf8'), 'hello');

    // The claim waits for its pod (pvc-protection), then goes; the PV is released and reclaimed on the node.
    assert.ok([200, 202].includes((await s.request('DELETE', '/api/v1/namespaces/default/persistentvolumeclaims/data')).status));
    assert.ok((await s.request('GET', '/api/v1/namespaces/default/persistentvolumeclaims/data')).json.metadata.deletionTimestamp);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok((await stat(path)).isDirectory(), 'data kept while the pod still uses the claim');
    assert.ok([200, 202].includes((await s.request('DELETE', '/api/v1/namespaces/default/pods/app', { gracePeriodSeconds: 0 })).status));
    await volumes.tearDownPod(scheduled.metadata!.uid!);

    await eventually('the claim gone', async () => (await s.request('GET', '/api/v1/namespaces/default/persistentvolumeclaims/data')).status === 404);
    await eventually('the PV gone', async () => (await s.request('GET', `/api/v1/persistentvolumes/${claim.spec.volumeName}`)).status === 404, 15_000);
    await assert.rejects(stat(path), { code: 'ENOENT' });
  });
});
