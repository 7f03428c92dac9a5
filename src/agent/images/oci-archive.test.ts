import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { findStaticBusybox, isStaticElf } from './busybox-rootfs.js';
import { buildOciArchive, sha256, writeTar, type TarEntry } from './oci-archive.js';

const execFileAsync = promisify(execFile);

const entries: TarEntry[] = [
  { path: 'bin', type: 'dir', mode: 0o755 },
  { path: 'bin/hello', type: 'file', mode: 0o755, data: Buffer.from('#!/bin/sh\necho hi\n') },
  { path: 'bin/hi', type: 'symlink', mode: 0o777, linkname: 'hello' },
  { path: `deep/${'d'.repeat(90)}/${'f'.repeat(60)}`, type: 'file', mode: 0o600, data: Buffer.alloc(1000, 1), uid: 1000, gid: 1000 },
];

describe('writeTar', () => {
  test('GNU tar reads what we write: names (long ones through the ustar prefix), modes, owners, links, sizes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'skiff-tar-'));
    try {
      await writeFile(join(dir, 'x.tar'), writeTar(entries));
      const { stdout } = await execFileAsync('tar', ['--numeric-owner', '-tvf', join(dir, 'x.tar')]);
      const lines = stdout.trim().split('\n');
      assert.equal(lines.length, 4);
      assert.match(lines[0], /^drwxr-xr-x 0\/0 +0 1970-01-01 00:00 bin\/$/);
      assert.match(lines[1], /^-rwxr-xr-x 0\/0 +18 .* bin\/hello$/);
      assert.match(lines[2], /^lrwxrwxrwx 0\/0 +0 .* bin\/hi -> hello$/);
      assert.match(lines[3], new RegExp(`^-rw------- 1000/1000 +1000 .* deep/d{90}/f{60}$`));
      await execFileAsync('tar', ['-xf', join(dir, 'x.tar'), '-C', dir]);
      assert.equal(await readFile(join(dir, 'bin/hello'), 'utf8'), '#!/bin/sh\necho hi\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  test('a path that cannot be split is refused, naming it', () => {
    assert.throws(() => writeTar([{ path: 'x'.repeat(300), type: 'file', mode: 0o644 }]), /path too long for ustar/);
  });
});

describe('buildOciArchive', () => {
  test('deterministic digests, and an image layout whose blobs match them', async () => {
    const spec = { reference: 'docker.io/skiff/t:v1', layers: [entries], config: { Cmd: ['/bin/hello'] }, architecture: 'amd64', os: 'linux' };
    const a = buildOciArchive(spec);
    const b = buildOciArchive(spec);
    assert.equal(a.manifestDigest, b.manifestDigest);
    assert.ok(a.archive.equals(b.archive));
    const dir = await mkdtemp(join(tmpdir(), 'skiff-oci-'));
    try {
      await writeFile(join(dir, 'img.tar'), a.archive);
      await execFileAsync('tar', ['-xf', join(dir, 'img.tar'), '-C', dir]);
      const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
      assert.equal(index.manifests[0].digest, a.manifestDigest);
      assert.equal(index.manifests[0].annotations['org.opencontainers.image.ref.name'], 'docker.io/skiff/t:v1');
      const manifest = JSON.parse(await readFile(join(dir, 'blobs/sha256', a.manifestDigest.slice(7)), 'utf8'));
      assert.equal(manifest.config.digest, a.configDigest);
      for (const d of [manifest.config, ...manifest.layers]) {
        const blob = await readFile(join(dir, 'blobs/sha256', d.digest.slice(7)));
        assert.equal(sha256(blob), d.digest);
        assert.equal(blob.length, d.size);
      }
      const config = JSON.parse(await readFile(join(dir, 'blobs/sha256', a.configDigest.slice(7)), 'utf8'));
      assert.deepEqual(config.rootfs.diff_ids, [sha256(writeTar(entries))]);
      assert.deepEqual(config.config, { Cmd: ['/bin/hello'] });
      assert.equal(JSON.parse(await readFile(join(dir, 'oci-layout'), 'utf8')).imageLayoutVersion, '1.0.0');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

test('isStaticElf: static busybox yes, node (dynamic) no, a text file no', { skip: findStaticBusybox() ? false : 'no static busybox' }, () => {
  assert.equal(isStaticElf(findStaticBusybox()!), true);
  assert.equal(isStaticElf(process.execPath), false);
  assert.equal(isStaticElf('/etc/hostname'), false);
});
