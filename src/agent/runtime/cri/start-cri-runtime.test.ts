/**
 * The agent's start path for the cri runtime on a fresh data dir: skiff's own containerd, the air-gap directory
 * imported, the pause image built because it cannot be pulled; then `skiff images import` while it runs and after.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildBusyboxImage } from '../../images/busybox-rootfs.js';
import { airGapImageDir } from '../../images/image-import.js';
import { skipUnlessContainerd } from './cri-test-env.js';
import { hostRuntimeHandlers, importImageCommand, startCriRuntime } from './start-cri-runtime.js';

test('startCriRuntime on a fresh data dir, then skiff images import', skipUnlessContainerd(), async () => {
  const dataDir = await mkdtemp('/tmp/skcri-start-');
  const pauseImage = 'registry.k8s.io/pause:skiff-start-test';
  try {
    await mkdir(airGapImageDir(dataDir), { recursive: true });
    await writeFile(join(airGapImageDir(dataDir), 'app.tar'), (await buildBusyboxImage('docker.io/skiff/airgap:v1')).archive);
    await writeFile(join(dataDir, 'registries.yaml'), 'mirrors: {}\n');
    const started = performance.now();
    const cri = await startCriRuntime({ dataDir, pauseImage, privateRegistryFile: join(dataDir, 'registries.yaml') });
    process.stderr.write(`cri agent start (containerd + air-gap import + pause image build): ${Math.round(performance.now() - started)} ms\n`);
    try {
      assert.ok(cri.containerd, 'skiff runs its own containerd');
      assert.deepEqual(cri.sandboxImage, { image: pauseImage, source: 'built' });
      assert.ok(await cri.runtime.imageStatus({ image: 'docker.io/skiff/airgap:v1' }));
      assert.ok(await cri.runtime.imageStatus({ image: pauseImage }));
      assert.ok((await readdir(join(dataDir, 'agent', 'etc', 'containerd'))).includes('config.toml'));
      const file = join(dataDir, 'later.tar');
      await writeFile(file, (await buildBusyboxImage('docker.io/skiff/later:v1')).archive);
      assert.deepEqual(await importImageCommand(file, { dataDir }), { images: ['docker.io/skiff/later:v1'] });
      assert.ok(await cri.runtime.imageStatus({ image: 'docker.io/skiff/later:v1' }));
    } finally {
      await cri.stop();
    }
    // Nothing answers now: the archive waits in the air-gap directory for the next start.
    const file = join(dataDir, 'offline.tar');
    await writeFile(file, (await buildBusyboxImage('docker.io/skiff/offline:v1')).archive);
    assert.deepEqual(await importImageCommand(file, { dataDir }), { images: [], deferredTo: join(airGapImageDir(dataDir), 'offline.tar') });
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('hostRuntimeHandlers: runc-compatible runtimes found on the host become RuntimeClass handlers, as k3s registers them', () => {
  assert.deepEqual(hostRuntimeHandlers(() => undefined), {});
  assert.deepEqual(hostRuntimeHandlers((name) => (name === 'crun' ? '/usr/bin/crun' : undefined)), { crun: '/usr/bin/crun' });
});
