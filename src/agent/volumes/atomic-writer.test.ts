import assert from 'node:assert/strict';
import { lstat, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FakeClock } from '../../client/testing/fake-clock.js';
import { AtomicWriter, invalidPayloadPath, type Payload } from './atomic-writer.js';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-atomic-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const payload = (entries: Record<string, string | [string, number]>): Payload =>
  new Map(Object.entries(entries).map(([k, v]) => [k, typeof v === 'string' ? { data: Buffer.from(v), mode: 0o644 } : { data: Buffer.from(v[0]), mode: v[1] }]));

test('first write: a timestamped dir, ..data pointing at it, user-visible names linked through ..data', async (t) => {
  const dir = await tempDir(t);
  const clock = new FakeClock(new Date('2025-03-04T05:06:07Z'));
  const w = new AtomicWriter(join(dir, 'vol'), clock);
  assert.equal(await w.write(payload({ 'app.conf': 'a=1', 'nested/deep/x.txt': ['x', 0o600] })), true);

  const entries = (await readdir(join(dir, 'vol'))).sort();
  const ts = entries.find((e) => e.startsWith('..2025_03_04_05_06_07.'));
  assert.ok(ts, `timestamped dir in ${entries.join(' ')}`);
  assert.deepEqual(entries.filter((e) => e !== ts), ['..data', 'app.conf', 'nested']);
  assert.equal(await readlink(join(dir, 'vol', '..data')), ts);
  assert.equal(await readlink(join(dir, 'vol', 'app.conf')), '..data/app.conf');
  assert.equal(await readlink(join(dir, 'vol', 'nested')), '..data/nested');
  assert.equal(await readFile(join(dir, 'vol', 'app.conf'), 'utf8'), 'a=1');
  assert.equal(await readFile(join(dir, 'vol', 'nested', 'deep', 'x.txt'), 'utf8'), 'x');
  assert.equal((await stat(join(dir, 'vol', 'nested', 'deep', 'x.txt'))).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, 'vol', 'app.conf'))).mode & 0o777, 0o644);
});

test('an unchanged payload is not rewritten; a change swaps ..data, drops removed names and the old dir', async (t) => {
  const dir = await tempDir(t);
  const clock = new FakeClock(new Date('2025-03-04T05:06:07Z'));
  const target = join(dir, 'vol');
  const w = new AtomicWriter(target, clock);
  await w.write(payload({ a: '1', b: '2' }));
  const first = await readlink(join(target, '..data'));
  assert.equal(await w.write(payload({ a: '1', b: '2' })), false);
  assert.equal(await readlink(join(target, '..data')), first);

  // A reader that resolved `a` before the swap keeps the old content until it reopens.
  const oldReal = join(target, first, 'a');
  clock.advance(1000);
  assert.equal(await w.write(payload({ a: '10', c: '3' })), true);
  const second = await readlink(join(target, '..data'));
  assert.notEqual(second, first);
  assert.equal(await readFile(join(target, 'a'), 'utf8'), '10');
  assert.equal(await readFile(join(target, 'c'), 'utf8'), '3');
  await assert.rejects(lstat(join(target, 'b')), { code: 'ENOENT' });
  await assert.rejects(lstat(oldReal), { code: 'ENOENT' }, 'the old timestamped dir is removed');
  assert.deepEqual((await readdir(target)).sort(), ['..data', second, 'a', 'c'].sort());

  // A mode change alone is a change.
  assert.equal(await w.write(payload({ a: ['10', 0o400], c: '3' })), true);
  assert.equal((await stat(join(target, 'a'))).mode & 0o777, 0o400);
});

test('a user-visible name removed by hand, or a stray file, is repaired on the next write', async (t) => {
  const dir = await tempDir(t);
  const target = join(dir, 'vol');
  const w = new AtomicWriter(target, new FakeClock());
  await w.write(payload({ a: '1' }));
  await rm(join(target, 'a'));
  await writeFile(join(target, 'stray'), 'x');
  assert.equal(await w.write(payload({ a: '1' })), true);
  assert.equal(await readFile(join(target, 'a'), 'utf8'), '1');
  await assert.rejects(lstat(join(target, 'stray')), { code: 'ENOENT' });
});

test('an empty payload leaves only ..data and an empty timestamped dir', async (t) => {
  const dir = await tempDir(t);
  const target = join(dir, 'vol');
  const w = new AtomicWriter(target, new FakeClock());
  await w.write(payload({ a: '1' }));
  await w.write(new Map());
  assert.deepEqual((await readdir(target)).filter((e) => !e.startsWith('..')), []);
});

test('payload paths: relative, no .. elements, no ..-prefixed names', async (t) => {
  const cases: [string, string | undefined][] = [
    ['a', undefined],
    ['a/b/c.txt', undefined],
    ['', 'path must not be empty'],
    ['/etc/passwd', 'invalid path: must be relative path: /etc/passwd'],
    ['../x', "invalid path: must not contain '..': ../x"],
    ['a/../../x', "invalid path: must not contain '..': a/../../x"],
    ['..data', "invalid path: must not start with '..': ..data"],
  ];
  for (const [path, want] of cases) assert.equal(invalidPayloadPath(path), want, path);
  const dir = await tempDir(t);
  await assert.rejects(new AtomicWriter(join(dir, 'v'), new FakeClock()).write(payload({ '../escape': 'x' })), /must not contain '\.\.'/);
  await assert.rejects(lstat(join(dir, 'escape')), { code: 'ENOENT' });
});
