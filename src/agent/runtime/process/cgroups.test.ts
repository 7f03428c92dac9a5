/**
 * The cgroup file mapping on both layouts, against fake cgroup trees in a temporary directory: this machine mounts
 * cgroup v1 (its unified hierarchy holds no controllers), so v2 limits cannot be exercised on a real kernel here. The
 * e2e tests cover v1 for real (memory limits and OOMKilled, CPU quota, pids); these check that each limit and usage lands
 * in the file, and in the units, that runc writes and reads on each layout.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Cgroup, cpuSharesToWeight, detectCgroupLayout, type CgroupLayout } from './cgroups.js';

const root = mkdtempSync(join(tmpdir(), 'skiff-cgroups-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
const read = (...parts: string[]) => readFileSync(join(...parts), 'utf8').trim();

describe('detectCgroupLayout', () => {
  it('finds the v1 controllers of a hybrid machine, and the unified mount of a v2 one', () => {
    const hybrid = [
      '25 24 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755',
      '26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate',
      '28 25 0:25 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,memory',
      '29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct',
      '30 25 0:27 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,pids',
    ].join('\n');
    const v1 = detectCgroupLayout(hybrid)!;
    assert.equal(v1.version, 1);
    assert.deepEqual(Object.fromEntries(v1.mounts), { memory: '/sys/fs/cgroup/memory', cpu: '/sys/fs/cgroup/cpu,cpuacct', cpuacct: '/sys/fs/cgroup/cpu,cpuacct', pids: '/sys/fs/cgroup/pids' });
    const unified = detectCgroupLayout('30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot')!;
    assert.deepEqual(unified, { version: 2, mounts: new Map([['unified', '/sys/fs/cgroup']]) });
    assert.equal(detectCgroupLayout('22 1 0:21 / /proc rw - proc proc rw'), undefined);
  });
});

describe('cgroup v2 (a fake unified tree)', () => {
  const mount = join(root, 'v2');
  mkdirSync(mount);
  writeFileSync(join(mount, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma misc\n');
  writeFileSync(join(mount, 'cgroup.subtree_control'), '\n');
  const layout: CgroupLayout = { version: 2, mounts: new Map([['unified', mount]]) };

  it('creates each level, enabling cpu, memory, pids and cpuset for the children', () => {
    const cg = new Cgroup(layout, '/skiff-kubepods/burstable/pod1/c1');
    // The kernel lists a child's controllers once its parent enabled them; the fake tree is told so at each level.
    cg.create();
    assert.equal(read(mount, 'cgroup.subtree_control'), '+cpu +memory +pids +cpuset');
    assert.deepEqual(cg.dirs(), [join(mount, 'skiff-kubepods/burstable/pod1/c1')]);
    assert.deepEqual(cg.procsFiles(), [join(mount, 'skiff-kubepods/burstable/pod1/c1/cgroup.procs')]);
  });

  it('writes limits as runc does on v2: memory.max, cpu.weight from shares, cpu.max, pids.max; "max" for none', () => {
    const cg = new Cgroup(layout, '/skiff-kubepods/burstable/pod1/c1');
    const dir = cg.dir('unified')!;
    cg.setResources({ memoryLimitBytes: 64 * 1024 * 1024, cpuShares: 512, cpuQuota: 50_000, cpuPeriod: 100_000, pidsLimit: 100 });
    assert.equal(read(dir, 'memory.max'), '67108864');
    assert.equal(read(dir, 'cpu.weight'), String(cpuSharesToWeight(512)));
    assert.equal(read(dir, 'cpu.max'), '50000 100000');
    assert.equal(read(dir, 'pids.max'), '100');
    cg.setResources({ memoryLimitBytes: 0, cpuQuota: 0, pidsLimit: 0 });
    assert.equal(read(dir, 'memory.max'), 'max');
    assert.equal(read(dir, 'cpu.max'), 'max 100000');
    assert.equal(read(dir, 'pids.max'), 'max');
  });

  it('reads usage from memory.current, memory.stat, cpu.stat, memory.events and pids.current', () => {
    const cg = new Cgroup(layout, '/skiff-kubepods/burstable/pod1/c1');
    const dir = cg.dir('unified')!;
    writeFileSync(join(dir, 'memory.current'), '10485760\n');
    writeFileSync(join(dir, 'memory.stat'), 'anon 4194304\nfile 6291456\ninactive_file 2097152\npgfault 120\npgmajfault 3\n');
    writeFileSync(join(dir, 'cpu.stat'), 'usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n');
    writeFileSync(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n');
    writeFileSync(join(dir, 'pids.current'), '3\n');
    writeFileSync(join(dir, 'cgroup.procs'), '101\n102\n');
    assert.deepEqual(cg.memory(7), { usageBytes: 10485760, workingSetBytes: 8388608, rssBytes: 4194304, pageFaults: 120, majorPageFaults: 3, timestamp: 7 });
    assert.deepEqual(cg.cpu(7), { usageCoreNanoSeconds: 2_500_000_000, timestamp: 7 });
    assert.equal(cg.oomKills(), 1);
    assert.equal(cg.processCount(), 3);
    assert.deepEqual(cg.pids(), [101, 102]);
  });

  it('maps shares to weight as runc: 2 → 1, 1024 → 39, 262144 → 10000', () => {
    assert.deepEqual([2, 1024, 262144, 1, 10 ** 9].map(cpuSharesToWeight), [1, 39, 10000, 1, 10000]);
  });
});

describe('cgroup v1 (fake hierarchies)', () => {
  const mounts = new Map<string, string>();
  for (const c of ['memory', 'cpu', 'cpuacct', 'pids', 'cpuset']) {
    const m = join(root, 'v1', c);
    mkdirSync(m, { recursive: true });
    mounts.set(c, m);
  }
  const layout: CgroupLayout = { version: 1, mounts };

  // (A new cpuset level inheriting its parent's cpus and mems needs the kernel's files: the e2e tests cover it.)
  it('creates the path in every hierarchy', () => {
    const cg = new Cgroup(layout, '/skiff-kubepods/pod2');
    cg.create();
    assert.deepEqual(cg.dirs(), [...mounts.values()].map((m) => join(m, 'skiff-kubepods/pod2')));
  });

  it('writes limits in v1 files and units: limit_in_bytes, shares (at least 2), cfs quota and period, -1 for none', () => {
    const cg = new Cgroup(layout, '/skiff-kubepods/pod2');
    cg.setResources({ memoryLimitBytes: 32 * 1024 * 1024, cpuShares: 1, cpuQuota: 20_000, cpuPeriod: 100_000, pidsLimit: 50 });
    assert.equal(read(cg.dir('memory')!, 'memory.limit_in_bytes'), '33554432');
    assert.equal(read(cg.dir('cpu')!, 'cpu.shares'), '2');
    assert.equal(read(cg.dir('cpu')!, 'cpu.cfs_quota_us'), '20000');
    assert.equal(read(cg.dir('cpu')!, 'cpu.cfs_period_us'), '100000');
    assert.equal(read(cg.dir('pids')!, 'pids.max'), '50');
    cg.setResources({ memoryLimitBytes: 0, cpuQuota: 0 });
    assert.equal(read(cg.dir('memory')!, 'memory.limit_in_bytes'), '-1');
    assert.equal(read(cg.dir('cpu')!, 'cpu.cfs_quota_us'), '-1');
  });

  it('reads usage from memory.usage_in_bytes and memory.stat totals, cpuacct.usage, memory.oom_control', () => {
    const cg = new Cgroup(layout, '/skiff-kubepods/pod2');
    writeFileSync(join(cg.dir('memory')!, 'memory.usage_in_bytes'), '5000000\n');
    writeFileSync(join(cg.dir('memory')!, 'memory.stat'), 'cache 100\nrss 200\ntotal_rss 3000000\ntotal_inactive_file 1000000\ntotal_pgfault 9\ntotal_pgmajfault 1\n');
    writeFileSync(join(cg.dir('cpuacct')!, 'cpuacct.usage'), '123456789\n');
    writeFileSync(join(cg.dir('memory')!, 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
    assert.deepEqual(cg.memory(1), { usageBytes: 5_000_000, workingSetBytes: 4_000_000, rssBytes: 3_000_000, pageFaults: 9, majorPageFaults: 1, timestamp: 1 });
    assert.deepEqual(cg.cpu(1), { usageCoreNanoSeconds: 123456789, timestamp: 1 });
    assert.equal(cg.oomKills(), 2);
  });

  it('refuses paths that leave the hierarchy', () => {
    assert.throws(() => new Cgroup(layout, 'relative/path'), /invalid cgroup path/);
    assert.throws(() => new Cgroup(layout, '/skiff-kubepods/../../etc'), /invalid cgroup path/);
  });
});
