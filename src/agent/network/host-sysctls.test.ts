import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureIpForward, readBridgeNfCallIptables } from './host-sysctls.js';

test('ensureIpForward turns 0 into 1 and reports it; 1 stays untouched', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-sysctl-'));
  try {
    const path = join(dir, 'ip_forward');
    await writeFile(path, '0\n');
    assert.deepEqual(await ensureIpForward(path), { before: '0', changed: true });
    assert.equal(await readFile(path, 'utf8'), '1\n');
    assert.deepEqual(await ensureIpForward(path), { before: '1', changed: false });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('readBridgeNfCallIptables: 1, 0, or missing when br_netfilter is not loaded', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-sysctl-'));
  try {
    const path = join(dir, 'bridge-nf-call-iptables');
    assert.equal(await readBridgeNfCallIptables(path), 'missing');
    await writeFile(path, '0\n');
    assert.equal(await readBridgeNfCallIptables(path), '0');
    await writeFile(path, '1\n');
    assert.equal(await readBridgeNfCallIptables(path), '1');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
