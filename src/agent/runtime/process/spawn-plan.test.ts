import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { detectCgroupLayout, cpuSharesToWeight } from './cgroups.js';
import { sandboxPlan, shellQuote, workloadPlan } from './spawn-plan.js';

const allNs = { pid: true, ipc: true, uts: true, mount: true, net: true };

test('sandboxPlan: unshare flags follow the namespaces the pod owns', () => {
  const cases: Array<[string, typeof allNs, string[], string[]]> = [
    ['pod network', allNs, ['--pid', '--fork', '--mount-proc', '--mount', '--uts', '--ipc', '--net'], []],
    ['host network', { ...allNs, net: false }, ['--pid', '--mount', '--uts', '--ipc'], ['--net']],
    ['hostPID: no fork, no /proc remount', { ...allNs, pid: false }, ['--mount', '--uts', '--ipc'], ['--pid', '--fork', '--mount-proc']],
  ];
  for (const [name, ns, present, absent] of cases) {
    const plan = sandboxPlan(ns, 'web-0');
    assert.equal(plan.file, '/usr/bin/unshare', name);
    for (const flag of present) assert.ok(plan.args.includes(flag), `${name}: ${flag}`);
    for (const flag of absent) assert.ok(!plan.args.slice(0, plan.args.indexOf('--')).includes(flag), `${name}: no ${flag}`);
    assert.equal(plan.args.at(-1), 'web-0', `${name}: hostname is an argument, never spliced into the script`);
  }
});

test('workloadPlan: nsenter, cgroup join, workdir, setpriv, script and mounts in order', () => {
  const base = { initPid: 42, namespaces: allNs, cgroupProcsFiles: ['/cg/a/cgroup.procs', '/cg/b/cgroup.procs'], workingDir: '/srv', argv: ['/bin/echo', 'a b'] };
  const plain = workloadPlan(base);
  assert.equal(plain.file, '/usr/bin/nsenter');
  assert.deepEqual(plain.args.slice(0, plain.args.indexOf('--')), ['-t', '42', '-m', '-u', '-i', '-n', '-p']);
  assert.deepEqual(plain.args.slice(plain.args.indexOf('skiff-init') + 1), ['2', '/cg/a/cgroup.procs', '/cg/b/cgroup.procs', '/srv', '/bin/echo', 'a b']);

  const secure = workloadPlan({ ...base, security: { runAsUser: 1000, runAsGroup: 2000 } });
  const tail = secure.args.slice(secure.args.indexOf('/srv') + 1);
  assert.deepEqual(tail, ['/usr/bin/setpriv', '--reuid=1000', '--regid=2000', '--clear-groups', '--', '/bin/echo', 'a b']);

  const tty = workloadPlan({ ...base, tty: true });
  assert.deepEqual(tty.args.slice(tty.args.indexOf('/srv') + 1), ['/usr/bin/script', '-q', '-e', '-c', `/bin/echo 'a b'`, '/dev/null']);

  const mounted = workloadPlan({ ...base, mounts: [{ hostPath: '/data/v', containerPath: '/etc/config', readonly: true }] });
  const after = mounted.args.slice(mounted.args.indexOf('skiff-init') + 4);
  assert.equal(after[0], '/', 'the outer wrapper stays at / until the mounts are made');
  assert.deepEqual(after.slice(1, 6), ['/usr/bin/unshare', '--mount', '--propagation', 'slave', '--']);
  assert.deepEqual(after.slice(after.indexOf('skiff-mount') + 1), ['1', '/data/v', '/etc/config', 'ro', '/srv', '/bin/echo', 'a b']);

  const exec = workloadPlan({ ...base, mountNsPath: '/proc/77/ns/mnt' });
  assert.ok(exec.args.includes('--mount=/proc/77/ns/mnt') && !exec.args.includes('-m'));

  const rootless = workloadPlan({ ...base, initPid: 0 });
  assert.deepEqual(rootless, { file: '/bin/echo', args: ['a b'] });
});

test('shellQuote keeps plain words and quotes the rest', () => {
  const cases: Array<[string, string]> = [
    ['echo', 'echo'],
    ['a b', `'a b'`],
    [`it's`, `'it'\\''s'`],
    ['$HOME', `'$HOME'`],
  ];
  for (const [input, want] of cases) assert.equal(shellQuote(input), want);
});

test('detectCgroupLayout: v1 hybrid (cpu and cpuacct apart), co-mounted v1, and v2', () => {
  const hybrid = [
    '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
    '33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct',
    '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
    '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
    '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  ].join('\n');
  const v1 = detectCgroupLayout(hybrid)!;
  assert.equal(v1.version, 1);
  assert.deepEqual(Object.fromEntries(v1.mounts), { cpu: '/sys/fs/cgroup/cpu', cpuacct: '/sys/fs/cgroup/cpuacct', memory: '/sys/fs/cgroup/memory' });
  const co = detectCgroupLayout('32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct')!;
  assert.deepEqual(Object.fromEntries(co.mounts), { cpu: '/sys/fs/cgroup/cpu,cpuacct', cpuacct: '/sys/fs/cgroup/cpu,cpuacct' });
  const v2 = detectCgroupLayout('29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate')!;
  assert.equal(v2.version, 2);
  assert.equal(detectCgroupLayout('1 0 0:1 / / rw - ext4 /dev/vda rw'), undefined);
});

test('cpuSharesToWeight matches runc at the ends and the default', () => {
  assert.equal(cpuSharesToWeight(2), 1);
  assert.equal(cpuSharesToWeight(262144), 10000);
  assert.equal(cpuSharesToWeight(1024), 39);
});
