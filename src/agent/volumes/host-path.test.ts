import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkHostPathType } from './host-path.js';

test('hostPath types: create what *OrCreate asks for, check the rest with upstream messages', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-hostpath-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'd'));
  await writeFile(join(dir, 'f'), 'x');
  const sock = join(dir, 's.sock');
  const server = createServer();
  await new Promise<void>((r) => server.listen(sock, r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const p = (n: string) => join(dir, n);

  const cases: [string, string | undefined, string | undefined][] = [
    [p('anything-missing'), undefined, undefined],
    [p('new/dir/deep'), 'DirectoryOrCreate', undefined],
    [p('d'), 'Directory', undefined],
    [p('f'), 'Directory', `hostPath type check failed: ${p('f')} is not a directory`],
    [p('missing'), 'Directory', `hostPath type check failed: ${p('missing')} is not a directory`],
    [p('f'), 'DirectoryOrCreate', `hostPath type check failed: ${p('f')} is not a directory`],
    [p('newfile'), 'FileOrCreate', undefined],
    [p('f'), 'File', undefined],
    [p('d'), 'File', `hostPath type check failed: ${p('d')} is not a file`],
    [sock, 'Socket', undefined],
    [p('f'), 'Socket', `hostPath type check failed: ${p('f')} is not a socket file`],
    ['/dev/null', 'CharDevice', undefined],
    [p('f'), 'CharDevice', `hostPath type check failed: ${p('f')} is not a character device`],
    [p('f'), 'BlockDevice', `hostPath type check failed: ${p('f')} is not a block device`],
    [p('f'), 'Fifo', 'Fifo is an invalid volume type'],
  ];
  for (const [path, type, want] of cases) assert.equal(await checkHostPathType(path, type), want, `${type} ${path}`);
  assert.ok((await stat(p('new/dir/deep'))).isDirectory());
  assert.equal((await stat(p('new/dir/deep'))).mode & 0o777, 0o755);
  assert.ok((await stat(p('newfile'))).isFile());
  assert.match((await checkHostPathType(p('no-parent/file'), 'FileOrCreate'))!, /^hostPath type check failed: ENOENT/);
  assert.equal(await checkHostPathType(p('open'), 'DirectoryOrCreate', 0o777), undefined);
  assert.equal((await stat(p('open'))).mode & 0o777, 0o777);
});
