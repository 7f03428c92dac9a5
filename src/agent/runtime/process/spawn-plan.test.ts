import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { detectCgroupLayout, cpuSharesToWeight } from './cgroups.js';
import type { Capabilities } from '../types.js';
import { ALL_CAPABILITIES, capabilityMask, containerCapabilities, DEFAULT_CAPABILITIES } from './capabilities.js';
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

test('workloadPlan: nsenter, unshare for the container\'s own namespaces, cgroup join, mounts, workdir, setpriv, script', () => {
  const base = { initPid: 42, namespaces: allNs, cgroupProcsFiles: ['/cg/a/cgroup.procs', '/cg/b/cgroup.procs'], workingDir: '/srv', argv: ['/bin/echo', 'a b'] };
  const initArgs = (plan: { args: string[] }) => plan.args.slice(plan.args.indexOf('skiff-init') + 1);
  const afterStderr = (plan: { args: string[] }) => initArgs(plan).slice(1);
  const beforeShell = (plan: { args: string[] }) => plan.args.slice(0, plan.args.indexOf('/bin/sh'));

  // shareProcessNamespace: nsenter enters the pod's pid namespace (and forks); no unshare without mounts.
  const shared = workloadPlan({ ...base, pidNamespace: 'pod' });
  assert.equal(shared.file, '/usr/bin/nsenter');
  assert.deepEqual(beforeShell(shared), ['-t', '42', '-m', '-u', '-i', '-n', '-p', '--']);
  assert.deepEqual(initArgs(shared), ['2', '2', '/cg/a/cgroup.procs', '/cg/b/cgroup.procs', '0', '-1', '/srv', '/bin/echo', 'a b']);

  // The default for a pod with a pid namespace is the pod's (records of older supervisors); a container's own: unshare
  // forks into a new pid namespace with its own /proc, and nsenter does not enter the pod's.
  assert.deepEqual(workloadPlan(base), shared);
  const own = workloadPlan({ ...base, pidNamespace: 'container' });
  assert.deepEqual(beforeShell(own), ['-t', '42', '-m', '-u', '-i', '-n', '--', '/usr/bin/unshare', '--mount', '--propagation', 'slave', '--pid', '--fork', '--mount-proc', '--']);
  assert.equal(initArgs(own)[0], '3', 'the workload\'s stderr is fd 3: fd 2 carries what unshare says');
  // kubectl debug --target: nsenter enters (and forks into) the target's pid namespace; unshare mounts its /proc.
  const target = workloadPlan({ ...base, pidNamespace: 'target', pidNsPath: '/proc/88/ns/pid' });
  assert.deepEqual(beforeShell(target), ['-t', '42', '-m', '-u', '-i', '-n', '--pid=/proc/88/ns/pid', '--', '/usr/bin/unshare', '--mount', '--propagation', 'slave', '--mount-proc', '--']);
  assert.equal(initArgs(target)[0], '2');
  const host = workloadPlan({ ...base, namespaces: { ...allNs, pid: false }, pidNamespace: 'host' });
  assert.deepEqual(beforeShell(host), ['-t', '42', '-m', '-u', '-i', '-n', '--']);

  const secure = workloadPlan({ ...base, security: { runAsUser: 1000, runAsGroup: 2000, noNewPrivileges: true }, capabilities: ['CHOWN', 'KILL'] });
  assert.deepEqual(afterStderr(secure).slice(6), ['/usr/bin/setpriv', '--reuid=1000', '--regid=2000', '--clear-groups', '--bounding-set=-all,+chown,+kill', '--inh-caps=-all', '--no-new-privs', '--', '/bin/echo', 'a b']);
  const noCaps = workloadPlan({ ...base, capabilities: [] });
  assert.deepEqual(afterStderr(noCaps).slice(6), ['/usr/bin/setpriv', '--bounding-set=-all', '--inh-caps=-all', '--', '/bin/echo', 'a b']);
  const nnp = workloadPlan({ ...base, security: { noNewPrivileges: true } });
  assert.deepEqual(afterStderr(nnp).slice(6), ['/usr/bin/setpriv', '--no-new-privs', '--', '/bin/echo', 'a b'], 'no_new_privs without a user change');

  const tty = workloadPlan({ ...base, tty: true });
  assert.deepEqual(afterStderr(tty).slice(6), ['/usr/bin/script', '-q', '-e', '-c', `/bin/echo 'a b'`, '/dev/null']);

  const mounts = [
    { hostPath: '/data/v', containerPath: '/etc/config', readonly: true },
    { hostPath: '/data/w', containerPath: '/work', readonly: false },
  ];
  const mounted = workloadPlan({ ...base, pidNamespace: 'pod', mounts });
  assert.deepEqual(beforeShell(mounted), ['-t', '42', '-m', '-u', '-i', '-n', '-p', '--', '/usr/bin/unshare', '--mount', '--propagation', 'slave', '--']);
  assert.deepEqual(afterStderr(mounted).slice(3), ['2', '/data/v', '/etc/config', 'ro', '/data/w', '/work', 'rw', '-1', '/srv', '/bin/echo', 'a b']);

  // readOnlyRootFilesystem: the read-write volumes are listed to be made writable again after the remount.
  const readonly = workloadPlan({ ...base, pidNamespace: 'pod', mounts, readonlyRootfs: true });
  assert.deepEqual(afterStderr(readonly).slice(3), ['2', '/data/v', '/etc/config', 'ro', '/data/w', '/work', 'rw', '1', '/work', '/srv', '/bin/echo', 'a b']);
  assert.ok(beforeShell(readonly).includes('/usr/bin/unshare'), 'a read-only root needs a mount namespace of its own');

  // exec: the container's own mount and pid namespaces, nothing unshared, nothing mounted.
  const exec = workloadPlan({ ...base, mountNsPath: '/proc/77/ns/mnt', pidNsPath: '/proc/77/ns/pid' });
  assert.deepEqual(beforeShell(exec), ['-t', '42', '--mount=/proc/77/ns/mnt', '-u', '-i', '-n', '--pid=/proc/77/ns/pid', '--']);

  // Without root: the argv itself, with what setpriv can do unprivileged (no capabilities to drop).
  assert.deepEqual(workloadPlan({ ...base, initPid: 0, capabilities: ['CHOWN'] }), { file: '/bin/echo', args: ['a b'] });
  assert.deepEqual(workloadPlan({ ...base, initPid: 0, security: { noNewPrivileges: true } }), { file: '/usr/bin/setpriv', args: ['--no-new-privs', '--', '/bin/echo', 'a b'] });
});

test('sandboxPlan: the pod\'s resolv.conf is bind-mounted in its mount namespace, the path an argument', () => {
  const plan = sandboxPlan(allNs, 'web-0', '/state/sandboxes/x/resolv.conf');
  assert.match(plan.args.at(-4)!, /mount --bind "\$2" \/etc\/resolv.conf/);
  assert.deepEqual(plan.args.slice(-2), ['web-0', '/state/sandboxes/x/resolv.conf']);
  assert.doesNotMatch(sandboxPlan(allNs, 'web-0').args.join(' '), /resolv/);
});

test('containerCapabilities: containerd\'s defaults, ALL, add and drop with or without CAP_, unknown names refused', () => {
  const defaults = [...DEFAULT_CAPABILITIES].sort();
  const cases: Array<[string, Capabilities | undefined, string[]]> = [
    ['none given', undefined, defaults],
    ['add one, drop one', { add: ['net_admin'], drop: ['CAP_KILL'] }, [...defaults.filter((c) => c !== 'KILL'), 'NET_ADMIN'].sort()],
    ['drop ALL, add back', { add: ['NET_BIND_SERVICE'], drop: ['ALL'] }, ['NET_BIND_SERVICE']],
    ['add ALL, drop one', { add: ['all'], drop: ['SYS_ADMIN'] }, ALL_CAPABILITIES.filter((c) => c !== 'SYS_ADMIN').sort()],
    ['add and drop ALL', { add: ['ALL'], drop: ['ALL'] }, []],
  ];
  for (const [name, caps, want] of cases) assert.deepEqual([...containerCapabilities(caps)].sort(), want, name);
  assert.throws(() => containerCapabilities({ add: ['NET_ADMIM'], drop: [] }), /unknown capability "NET_ADMIM"/);
  // Docker's and containerd's default bounding set as /proc/<pid>/status shows it.
  assert.equal(capabilityMask(containerCapabilities(undefined)), '00000000a80425fb');
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
