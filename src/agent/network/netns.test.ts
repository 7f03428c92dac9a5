import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetns, deleteNetns, isNetns, listNetns, netnsPath, uniqueNetnsName } from './netns.js';
import { inNetns, realNetworkSkipReason } from './network-testing.js';

const skip = await realNetworkSkipReason();
let runDir: string;

before(async () => {
  runDir = join(await mkdtemp(join(tmpdir(), 'skiff-netns-')), 'netns');
});

after(async () => {
  for (const name of await listNetns(runDir)) await deleteNetns(name, runDir).catch(() => undefined);
  await rm(join(runDir, '..'), { recursive: true, force: true });
});

test('names: unique, and refused when they could escape the run dir', () => {
  assert.notEqual(uniqueNetnsName(), uniqueNetnsName());
  assert.match(uniqueNetnsName('pod'), /^pod-[0-9a-f]{24}$/);
  for (const bad of ['', '.', '..', '../etc', 'a/b', '-x']) assert.throws(() => netnsPath(bad, '/run/x'), /network namespace name/, bad);
  assert.equal(netnsPath('ok_1.2-3', '/run/x'), '/run/x/ok_1.2-3');
});

test('create gives a separate namespace with only lo; delete is idempotent', { skip }, async () => {
  const name = uniqueNetnsName('t');
  const path = await createNetns(name, runDir);
  assert.equal(path, join(runDir, name));
  assert.equal(await isNetns(path), true);
  assert.deepEqual(await listNetns(runDir), [name]);
  const mine = (await stat('/proc/self/ns/net')).ino;
  assert.notEqual((await stat(path)).ino, mine, 'a new namespace, not the host one');
  const links = JSON.parse((await inNetns(path, ['ip', '-j', 'link'])).stdout) as Array<{ ifname: string }>;
  assert.deepEqual(links.map((l) => l.ifname), ['lo']);
  await assert.rejects(createNetns(name, runDir), /already exists/);
  assert.equal(await isNetns(path), true, 'a refused create leaves the existing namespace alone');

  await deleteNetns(name, runDir);
  assert.equal(await isNetns(path), false);
  await assert.rejects(stat(path), { code: 'ENOENT' });
  assert.equal((await readFile('/proc/self/mountinfo', 'utf8')).includes(path), false, 'unmounted');
  await deleteNetns(name, runDir); // again: fine
  assert.deepEqual(await listNetns(runDir), []);
});

test('isNetns: /proc/self/ns/net yes; a plain file, a missing path and "" no', async () => {
  assert.equal(await isNetns('/proc/self/ns/net'), true);
  assert.equal(await isNetns('/proc/self/status'), false);
  assert.equal(await isNetns('/nonexistent/netns'), false);
  assert.equal(await isNetns(''), false);
});
