/**
 * Images through a real containerd: pulls from a registry on loopback (plain HTTP through the registries.yaml
 * mirror recipe, a mirror for a registry name that does not resolve, basic auth), the registry's words on a missing
 * image, the air-gap directory import, and the sandbox image built locally when the pause image cannot be pulled.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { registryAuthMissing, registryMissing, startRegistry, type TestRegistry } from '../../../../test/helpers/registry.js';
import { buildBusyboxImage } from '../../images/busybox-rootfs.js';
import { airGapImageDir, importImageDirectory } from '../../images/image-import.js';
import { ensureSandboxImage } from '../../images/sandbox-image.js';
import { isRuntimeError } from '../types.js';
import { CriRuntime } from './cri-runtime.js';
import { skipUnlessContainerd, startCriTestEnv, TEST_PAUSE_IMAGE, type CriTestEnv } from './cri-test-env.js';
import { authForImage, parseRegistries } from './registries.js';

const execFileAsync = promisify(execFile);

function skipUnlessRegistry(): { skip: string | false } {
  const base = skipUnlessContainerd();
  if (base.skip) return base;
  const missing = registryMissing();
  if (missing && process.env.CI === 'true') throw new Error(`CI=true but ${missing}`);
  return { skip: missing ?? false };
}

const USER = 'skiff';
const PASSWORD = 'not-a-secret';

describe('images through a real containerd and a loopback registry', skipUnlessRegistry(), () => {
  let registry: TestRegistry;
  let authRegistry: TestRegistry | undefined;
  let env: CriTestEnv;
  let work: string;
  let pushedDigest: string;
  let pushedConfig: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'skiff-images-'));
    registry = await startRegistry();
    const authMissing = await registryAuthMissing();
    if (authMissing && process.env.CI === 'true') throw new Error(`CI=true but ${authMissing}`);
    if (!authMissing) authRegistry = await startRegistry({ auth: { username: USER, password: PASSWORD } });
    const built = await buildBusyboxImage('docker.io/skiff/app:v1', { Cmd: ['/bin/sh', '-c', 'echo from-the-registry'] });
    pushedDigest = built.manifestDigest;
    pushedConfig = built.configDigest;
    const archive = join(work, 'app.tar');
    await writeFile(archive, built.archive);
    await registry.push(archive, 'skiff/app:v1');
    if (authRegistry) await authRegistry.push(archive, 'skiff/app:v1');
    // k3s's recipe for a plain-HTTP registry: a mirror of itself with an http:// endpoint; and a mirror for a name
    // that does not resolve at all, so a pull can only succeed through the mirror.
    const mirrors = [registry, ...(authRegistry ? [authRegistry] : [])].map((r) => `  "${r.host}":\n    endpoint: ["http://${r.host}"]`).join('\n');
    const yaml = [
      'mirrors:',
      mirrors,
      '  mirror.skiff.invalid:',
      `    endpoint: ["http://${registry.host}"]`,
      'configs:',
      ...(authRegistry ? [`  "${authRegistry.host}":`, `    auth: { username: ${USER}, password: ${PASSWORD} }`] : []),
      '',
    ].join('\n');
    const registries = parseRegistries(yaml, 'test registries.yaml');
    env = await startCriTestEnv({ registries, busybox: false, pause: false });
  });
  after(async () => {
    await env?.cleanup();
    await registry?.stop();
    await authRegistry?.stop();
    await rm(work, { recursive: true, force: true });
  });

  test('pull over plain HTTP: the image id, tags and digests as the registry has them', async () => {
    const ref = `${registry.host}/skiff/app:v1`;
    const started = performance.now();
    const imageRef = await env.runtime.pullImage({ image: ref });
    process.stderr.write(`cri pull from loopback registry: ${Math.round(performance.now() - started)} ms\n`);
    assert.equal(imageRef, pushedConfig);
    const image = await env.runtime.imageStatus({ image: ref });
    assert.ok(image);
    assert.ok(image.repoTags.includes(ref));
    assert.ok(image.repoDigests.includes(`${registry.host}/skiff/app@${pushedDigest}`), JSON.stringify(image.repoDigests));
    assert.ok(image.size > 500_000);
  });

  test('a missing image is ImagePull with the registry\'s words', async () => {
    const ref = `${registry.host}/skiff/missing:v1`;
    await assert.rejects(env.runtime.pullImage({ image: ref }), (err) => {
      assert.ok(isRuntimeError(err, 'ImagePull'), String(err));
      assert.match(err.message, /not found/);
      assert.ok(err.message.includes(ref), err.message);
      return true;
    });
  });

  test('a mirror serves a registry name that does not resolve', async () => {
    const imageRef = await env.runtime.pullImage({ image: 'mirror.skiff.invalid/skiff/app:v1' });
    assert.equal(imageRef, pushedConfig);
  });

  test('credentials from registries.yaml configs, and a refusal without them', async (t) => {
    if (!authRegistry) return t.skip('no bcrypt for htpasswd (python3)');
    const ref = `${authRegistry.host}/skiff/app:v1`;
    await assert.rejects(env.runtime.pullImage({ image: ref }), (err) => isRuntimeError(err, 'ImagePull') && /401|unauthorized/i.test(err.message));
    const registries = parseRegistries(`configs:\n  "${authRegistry.host}":\n    auth: { username: ${USER}, password: ${PASSWORD} }\n`);
    const auth = authForImage(registries, ref);
    assert.deepEqual(auth, { username: USER, password: PASSWORD, auth: undefined, identityToken: undefined, serverAddress: `https://${authRegistry.host}` });
    assert.equal(await env.runtime.pullImage({ image: ref }, auth), pushedConfig);
    // As the agent wires it: the runtime looks the credentials up itself when a pull brings none.
    const wired = new CriRuntime({ endpoint: env.containerd.endpoint, authFor: (image) => authForImage(registries, image) });
    try {
      assert.equal(await wired.pullImage({ image: ref }), pushedConfig);
    } finally {
      await wired.close();
    }
  });

  test('the sandbox image: not pullable here, so built locally; pods then run on it', async () => {
    assert.equal(await env.runtime.imageStatus({ image: TEST_PAUSE_IMAGE }), undefined);
    const started = performance.now();
    assert.equal(await ensureSandboxImage(env.runtime, TEST_PAUSE_IMAGE, { address: env.containerd.socketPath }), 'built');
    process.stderr.write(`cri sandbox image built and imported: ${Math.round(performance.now() - started)} ms\n`);
    assert.equal(await ensureSandboxImage(env.runtime, TEST_PAUSE_IMAGE, { address: env.containerd.socketPath }), 'present');
    const config = env.sandboxConfig('on-local-pause');
    const id = await env.runtime.runPodSandbox(config);
    assert.equal((await env.runtime.podSandboxStatus(id))?.state, 'ready');
    const image = `${registry.host}/skiff/app:v1`;
    const c = await env.runtime.createContainer(
      id,
      { metadata: { name: 'app', attempt: 0 }, image, command: [], args: [], env: [], mounts: [], logPath: 'app/0.log', stdin: false, stdinOnce: false, tty: false, resources: {}, labels: {}, annotations: {} },
      config,
    );
    await env.runtime.startContainer(c);
    for (let i = 0; i < 100; i++) {
      const s = await env.runtime.containerStatus(c);
      if (s?.state === 'exited') {
        assert.equal(s.exitCode, 0);
        assert.equal(s.reason, 'Completed');
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail('the container did not run to completion');
  });

  test('air-gap directory: OCI and docker-save archives, gzip\'d or not, imported; a bad file reported', async () => {
    const dir = airGapImageDir(env.dir);
    await mkdir(dir, { recursive: true });
    const oci = await buildBusyboxImage('docker.io/skiff/airgap-oci:v1');
    await writeFile(join(dir, 'a-oci.tar.gz'), gzipSync(oci.archive));
    await writeFile(join(work, 'for-docker.tar'), (await buildBusyboxImage('docker.io/skiff/airgap-docker:v1')).archive);
    await execFileAsync('skopeo', ['--insecure-policy', 'copy', '--quiet', `oci-archive:${join(work, 'for-docker.tar')}`, `docker-archive:${join(dir, 'b-docker.tar')}:docker.io/skiff/airgap-docker:v1`]);
    await writeFile(join(dir, 'c-broken.tar'), Buffer.from('this is not a tar'));
    await writeFile(join(dir, 'notes.txt'), 'skipped');
    const results = await importImageDirectory(dir, { address: env.containerd.socketPath });
    assert.deepEqual(
      results.map((r) => [r.file.split('/').pop(), r.images, r.error === undefined]),
      [
        ['a-oci.tar.gz', ['docker.io/skiff/airgap-oci:v1'], true],
        ['b-docker.tar', ['docker.io/skiff/airgap-docker:v1'], true],
        ['c-broken.tar', [], false],
      ],
    );
    for (const image of ['docker.io/skiff/airgap-oci:v1', 'docker.io/skiff/airgap-docker:v1']) assert.ok(await env.runtime.imageStatus({ image }), image);
  });
});
