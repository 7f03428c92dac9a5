import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cgroupMountPoints, podCgroupPaths, removePodCgroups, removePodLogDirectory } from './pod-leftovers.js';

test('cgroupMountPoints: v1 controllers, named hierarchies and cgroup2, nothing else', () => {
  const mountinfo = [
    '30 25 0:26 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory',
    '31 25 0:27 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,name=systemd',
    '32 25 0:28 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw',
    '33 25 0:29 / /tmp rw - ext4 /dev/vda rw',
  ].join('\n');
  assert.deepEqual(cgroupMountPoints(mountinfo), ['/sys/fs/cgroup/memory', '/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified']);
});

test('podCgroupPaths: every QoS level of podCgroupParent', () => {
  assert.deepEqual(podCgroupPaths('/skiff-kubepods/', 'u1'), ['/skiff-kubepods/podu1', '/skiff-kubepods/burstable/podu1', '/skiff-kubepods/besteffort/podu1']);
});

test('removePodCgroups removes empty pod directories deepest first; removePodLogDirectory only the pod of that uid', async () => {
  const root = await mkdtemp(join(tmpdir(), 'pod-leftovers-'));
  try {
    // A plain directory tree stands in for a hierarchy: rmdir behaves the same on empty directories.
    await mkdir(join(root, 'memory', 'kp', 'besteffort', 'podu1', 'ctr'), { recursive: true });
    await mkdir(join(root, 'memory', 'kp', 'besteffort', 'podu2'), { recursive: true });
    assert.deepEqual(removePodCgroups('kp', 'u1', [join(root, 'memory')]), []);
    assert.deepEqual(await readdir(join(root, 'memory', 'kp', 'besteffort')), ['podu2']);
    await mkdir(join(root, 'logs', 'ns_a_u1', 'c'), { recursive: true });
    await writeFile(join(root, 'logs', 'ns_a_u1', 'c', '0.log'), 'x');
    await mkdir(join(root, 'logs', 'ns_b_u2'), { recursive: true });
    await removePodLogDirectory(join(root, 'logs'), 'u1');
    assert.deepEqual(await readdir(join(root, 'logs')), ['ns_b_u2']);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
