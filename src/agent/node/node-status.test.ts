import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NetworkInterfaceInfo } from 'node:os';
import { DEFAULT_EVICTION_HARD, parseEvictionThresholds } from './eviction-thresholds.js';
import { parseCpuMax, parseMeminfo } from './host-measurements.js';
import { goArch, parseOsRelease } from './host-facts.js';
import {
  computeAllocatable,
  computeCapacity,
  computeNodeAddresses,
  computeNodeConditions,
  computeNodeLabels,
  nodeStatusChanged,
  parseNodeLabel,
  parseNodeTaint,
  readyWords,
} from './node-status.js';

const Gi = 1024 ** 3;
const defaults = parseEvictionThresholds(DEFAULT_EVICTION_HARD);
const healthy = { MemoryPressure: false, DiskPressure: false, PIDPressure: false };

test('capacity and allocatable as the kubelet reports them', () => {
  const machine = { cpuMilli: 4000, memoryBytes: 16 * Gi, ephemeralStorageBytes: 100 * Gi };
  assert.deepEqual(computeCapacity(machine), { cpu: '4', memory: '16777216Ki', pods: '110', 'ephemeral-storage': '104857600Ki' });
  // memory minus 100Mi (102400Ki); ephemeral-storage minus 10%, in bytes.
  assert.deepEqual(computeAllocatable(machine, defaults), { cpu: '4', memory: '16674816Ki', pods: '110', 'ephemeral-storage': '96636764160' });
  assert.deepEqual(computeCapacity({ cpuMilli: 1500, memoryBytes: 1024 }, 20), { cpu: '1500m', memory: '1Ki', pods: '20' });
  assert.equal(computeAllocatable({ cpuMilli: 1000, memoryBytes: 50 * 1024 * 1024 }, defaults).memory, '0Ki');
});

test('conditions: kubelet words, heartbeat always now, transition only on change, others kept', () => {
  const t0 = new Date('2025-01-01T00:00:00Z');
  const t1 = new Date('2025-01-01T00:00:10Z');
  const first = computeNodeConditions([{ type: 'NetworkUnavailable', status: 'False', reason: 'RouteCreated' }], healthy, [], t0);
  assert.deepEqual(
    first.map((c) => [c.type, c.status, c.reason, c.message]),
    [
      ['NetworkUnavailable', 'False', 'RouteCreated', undefined],
      ['MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'],
      ['DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'],
      ['PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'],
      ['Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'],
    ],
  );
  const second = computeNodeConditions(first, { ...healthy, DiskPressure: true }, ['container runtime is down'], t1);
  const by = (type: string) => second.find((c) => c.type === type)!;
  assert.deepEqual([by('DiskPressure').status, by('DiskPressure').reason, by('DiskPressure').message], ['True', 'KubeletHasDiskPressure', 'kubelet has disk pressure']);
  assert.deepEqual([by('Ready').status, by('Ready').reason, by('Ready').message], ['False', 'KubeletNotReady', 'container runtime is down']);
  assert.equal(by('Ready').lastTransitionTime, '2025-01-01T00:00:10Z');
  assert.equal(by('MemoryPressure').lastTransitionTime, '2025-01-01T00:00:00Z');
  assert.equal(by('MemoryPressure').lastHeartbeatTime, '2025-01-01T00:00:10Z');
  assert.equal(readyWords(['a', 'b']).message, '[a, b]');
});

test('a status that differs only in heartbeat times has not changed', () => {
  const t0 = new Date('2025-01-01T00:00:00Z');
  const a = { conditions: computeNodeConditions([], healthy, [], t0), capacity: { cpu: '4' } };
  const b = { conditions: computeNodeConditions(a.conditions, healthy, [], new Date(t0.getTime() + 10_000)), capacity: { cpu: '4' } };
  assert.equal(nodeStatusChanged(a, b), false);
  assert.equal(nodeStatusChanged(a, { ...b, capacity: { cpu: '2' } }), true);
  assert.equal(nodeStatusChanged(a, { ...b, conditions: computeNodeConditions(a.conditions, healthy, ['x'], t0) }), true);
});

const iface = (address: string, family: 'IPv4' | 'IPv6', internal = false) => ({ address, family, internal }) as NetworkInterfaceInfo;

test('addresses: --node-ip, else the first external IPv4, else IPv6, else loopback; Hostname is the node name', () => {
  const interfaces = { lo: [iface('127.0.0.1', 'IPv4', true)], eth0: [iface('fe80::1', 'IPv6'), iface('169.254.1.1', 'IPv4'), iface('192.168.1.20', 'IPv4')] };
  const cases: [string, Parameters<typeof computeNodeAddresses>[0], string[]][] = [
    ['host address', { nodeName: 'n1', interfaces }, ['InternalIP 192.168.1.20', 'Hostname n1']],
    ['--node-ip', { nodeName: 'n1', interfaces, nodeIPs: ['10.0.0.5', 'fd00::5'] }, ['InternalIP 10.0.0.5', 'InternalIP fd00::5', 'Hostname n1']],
    ['only IPv6', { nodeName: 'n1', interfaces: { eth0: [iface('fd00::9', 'IPv6')] } }, ['InternalIP fd00::9', 'Hostname n1']],
    ['no network', { nodeName: 'n1', interfaces: { lo: [iface('127.0.0.1', 'IPv4', true)] } }, ['InternalIP 127.0.0.1', 'Hostname n1']],
  ];
  for (const [name, input, want] of cases) assert.deepEqual(computeNodeAddresses(input).map((a) => `${a.type} ${a.address}`), want, name);
  assert.throws(() => computeNodeAddresses({ nodeName: 'n', interfaces, nodeIPs: ['10.0.0'] }), { message: 'node IP "10.0.0" is not an IP address' });
});

test('labels: kubelet defaults, roles, user labels over them', () => {
  assert.deepEqual(computeNodeLabels({ nodeName: 'n1', operatingSystem: 'linux', architecture: 'arm64', roles: ['control-plane'], labels: { zone: 'a', 'node.kubernetes.io/instance-type': 'big' } }), {
    'beta.kubernetes.io/arch': 'arm64',
    'beta.kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'arm64',
    'kubernetes.io/hostname': 'n1',
    'kubernetes.io/os': 'linux',
    'node.kubernetes.io/instance-type': 'big',
    'node-role.kubernetes.io/control-plane': 'true',
    zone: 'a',
  });
});

test('--node-label and --node-taint parsing', () => {
  assert.deepEqual(parseNodeLabel('topology.kubernetes.io/zone=z1'), ['topology.kubernetes.io/zone', 'z1']);
  assert.deepEqual(parseNodeLabel('empty='), ['empty', '']);
  assert.throws(() => parseNodeLabel('novalue'), /expected key=value/);
  assert.throws(() => parseNodeLabel('k=bad value'), /node label "k=bad value": value:/);
  assert.deepEqual(parseNodeTaint('dedicated=gpu:NoSchedule'), { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' });
  assert.deepEqual(parseNodeTaint('node-role.kubernetes.io/control-plane:NoExecute'), { key: 'node-role.kubernetes.io/control-plane', effect: 'NoExecute' });
  assert.throws(() => parseNodeTaint('k=v:Sometimes'), /effect: Unsupported value: "Sometimes"/);
  assert.throws(() => parseNodeTaint('k=v'), /expected key=value:Effect/);
});

test('host parsing: meminfo, cpu.max, os-release, Go arch names', () => {
  assert.deepEqual(parseMeminfo('MemTotal:       16318024 kB\nMemAvailable:    8000000 kB\nHugePages_Total:       0\n'), {
    MemTotal: 16318024 * 1024,
    MemAvailable: 8000000 * 1024,
    HugePages_Total: 0,
  });
  assert.equal(parseCpuMax('max 100000\n'), undefined);
  assert.equal(parseCpuMax('150000 100000\n'), 1500);
  assert.equal(parseOsRelease('NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'), 'Debian GNU/Linux 12 (bookworm)');
  assert.equal(parseOsRelease('PRETTY_NAME=Alpine\n'), 'Alpine');
  assert.deepEqual(['x64', 'arm64', 'ia32'].map(goArch), ['amd64', 'arm64', '386']);
});
