import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { resolveSubPath, SubPathError } from './sub-path.js';

test('subPath: resolved inside the volume, created when missing, every escape refused', async (t) => {
  const base = await realpath(await mkdtemp(join(tmpdir(), 'skiff-subpath-')));
  t.after(() => rm(base, { recursive: true, force: true }));
  const vol = join(base, 'vol');
  const outside = join(base, 'outside');
  await mkdir(join(vol, 'data'), { recursive: true, mode: 0o750 });
  await mkdir(outside);
  await writeFile(join(vol, 'data', 'file'), 'x');
  await symlink('data', join(vol, 'inner-link'));
  await symlink(outside, join(vol, 'out-abs'));
  await symlink('../outside', join(vol, 'out-rel'));
  await symlink('/etc', join(vol, 'data', 'etc'));

  const ok: [string, string][] = [
    ['data/file', join(vol, 'data', 'file')],
    ['inner-link/file', join(vol, 'data', 'file')],
    ['./data//file', join(vol, 'data', 'file')],
    ['new/nested', join(vol, 'new', 'nested')],
  ];
  for (const [sub, want] of ok) assert.equal(await resolveSubPath(vol, sub), want, sub);
  assert.ok((await stat(join(vol, 'new', 'nested'))).isDirectory(), 'missing subPath directories are created');

  const refused: [string, RegExp][] = [
    ['/etc', /must not be an absolute path/],
    ['../outside', /must not contain '\.\.'/],
    ['data/../../outside', /must not contain '\.\.'/],
    ['out-abs', /not within volume path/],
    ['out-rel/x', /not within volume path/],
    ['data/etc/passwd', /not within volume path/],
  ];
  for (const [sub, re] of refused) await assert.rejects(resolveSubPath(vol, sub), (e: unknown) => e instanceof SubPathError && re.test(e.message), sub);
  await assert.rejects(stat(join(outside, 'x')), { code: 'ENOENT' }, 'nothing was created outside');
  await assert.rejects(resolveSubPath(vol, 'absent', { create: false }), /does not exist/);
});
