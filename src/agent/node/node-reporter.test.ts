import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { Leases, Nodes } from '../../client/resources.js';
import { FakeClient } from '../../client/testing/fake-client.js';
import { FakeClock } from '../../client/testing/fake-clock.js';
import type { Lease, Node } from '../simulated/objects.js';
import type { NodeSample } from './eviction-thresholds.js';
import type { HostFacts } from './host-facts.js';
import type { NodeMeasurements } from './host-measurements.js';
import type { MachineCapacity } from './node-status.js';
import { NodeReporter, type NodeReporterOptions } from './node-reporter.js';

const Gi = 1024 ** 3;

/** Measurements a test sets by hand. */
class FakeMeasurements implements NodeMeasurements {
  machine: MachineCapacity = { cpuMilli: 2000, memoryBytes: 8 * Gi, ephemeralStorageBytes: 50 * Gi };
  now: NodeSample = {
    memory: { availableBytes: 4 * Gi, capacityBytes: 8 * Gi },
    nodefs: { availableBytes: 25 * Gi, capacityBytes: 50 * Gi, inodes: 1000, inodesFree: 500 },
  };
  async capacity() {
    return this.machine;
  }
  async sample() {
    return structuredClone(this.now);
  }
}

const host: HostFacts = {
  hostname: 'box',
  kernelVersion: '6.1.0-test',
  osImage: 'Debian GNU/Linux 12 (bookworm)',
  operatingSystem: 'linux',
  architecture: 'amd64',
  machineID: 'm1',
  systemUUID: 'u1',
  bootID: 'b1',
  interfaces: {},
};

function setup(over: Partial<NodeReporterOptions> = {}) {
  const clock = new FakeClock(Date.UTC(2025, 0, 1, 0, 0, 0));
  const client = new FakeClient({ clock });
  const measurements = new FakeMeasurements();
  let problems: string[] = [];
  const reporter = new NodeReporter({
    client,
    clock,
    nodeName: 'n1',
    host,
    measurements,
    containerRuntimeVersion: 'process://0.1.0',
    runtimeProblems: () => problems,
    nodeIPs: ['10.0.0.5'],
    ...over,
  });
  const node = () => client.peek<Node>(Nodes, '', 'n1')!;
  const cond = (type: string) => node().status?.conditions?.find((c) => c.type === type);
  const statusPosts = () => client.actions.filter((a) => a.verb === 'updateStatus').length;
  return { clock, client, measurements, reporter, node, cond, statusPosts, setProblems: (p: string[]) => (problems = p) };
}

test('registration: the Node with labels, taints, capacity, addresses, nodeInfo and Ready; then its Lease', async () => {
  const h = setup({ roles: ['control-plane'], labels: { zone: 'a' }, taints: [{ key: 'dedicated', value: 'x', effect: 'NoSchedule' }] });
  await h.reporter.start();
  const n = h.node();
  assert.equal(n.metadata.labels?.['node-role.kubernetes.io/control-plane'], 'true');
  assert.equal(n.metadata.labels?.zone, 'a');
  assert.deepEqual(n.spec?.taints, [{ key: 'dedicated', value: 'x', effect: 'NoSchedule' }]);
  assert.deepEqual(n.status?.capacity, { cpu: '2', memory: '8388608Ki', pods: '110', 'ephemeral-storage': '52428800Ki' });
  assert.deepEqual(n.status?.allocatable, { cpu: '2', memory: '8286208Ki', pods: '110', 'ephemeral-storage': '48318382080' });
  assert.deepEqual(n.status?.addresses, [{ type: 'InternalIP', address: '10.0.0.5' }, { type: 'Hostname', address: 'n1' }]);
  assert.equal(n.status?.daemonEndpoints?.kubeletEndpoint?.Port, 10250);
  assert.deepEqual(
    [n.status?.nodeInfo?.containerRuntimeVersion, n.status?.nodeInfo?.kubeletVersion, n.status?.nodeInfo?.osImage, n.status?.nodeInfo?.machineID],
    ['process://0.1.0', 'v1.32.0-skiff', 'Debian GNU/Linux 12 (bookworm)', 'm1'],
  );
  assert.equal(h.cond('Ready')?.status, 'True');
  const lease = h.client.peek<Lease>(Leases, 'kube-node-lease', 'n1')!;
  assert.equal(lease.spec?.holderIdentity, 'n1');
  assert.equal(lease.metadata.ownerReferences?.[0]?.uid, n.metadata.uid);
  await h.reporter.stop();
});

test('status is posted when it changes and every 5 min otherwise; the Lease every 10 s', async () => {
  const h = setup();
  await h.reporter.start();
  const leaseRenewals = () => h.client.actions.filter((a) => a.verb === 'update' && a.resource === 'leases').length;
  assert.equal(h.statusPosts(), 0);
  await h.clock.advanceAsync(60_000);
  assert.equal(h.statusPosts(), 0, 'nothing changed: no post');
  assert.equal(leaseRenewals(), 6);

  h.measurements.now.memory!.availableBytes = 50 * 1024 * 1024;
  await h.clock.advanceAsync(10_000);
  assert.equal(h.statusPosts(), 1);
  assert.deepEqual([h.cond('MemoryPressure')?.status, h.cond('MemoryPressure')?.reason], ['True', 'KubeletHasInsufficientMemory']);
  assert.equal(h.cond('MemoryPressure')?.lastTransitionTime, '2025-01-01T00:01:10Z');

  // Memory recovers, but the pressure holds for the 5 min transition period.
  h.measurements.now.memory!.availableBytes = 4 * Gi;
  await h.clock.advanceAsync(290_000);
  assert.equal(h.cond('MemoryPressure')?.status, 'True');
  await h.clock.advanceAsync(10_000);
  assert.equal(h.cond('MemoryPressure')?.status, 'False');

  const posts = h.statusPosts();
  const heartbeat = h.cond('Ready')?.lastHeartbeatTime;
  await h.clock.advanceAsync(290_000);
  assert.equal(h.statusPosts(), posts);
  await h.clock.advanceAsync(10_000);
  assert.equal(h.statusPosts(), posts + 1, 'unchanged for 5 min: posted anyway');
  assert.notEqual(h.cond('Ready')?.lastHeartbeatTime, heartbeat);
  assert.equal(h.cond('Ready')?.lastTransitionTime, '2025-01-01T00:00:00Z');
  await h.reporter.stop();
});

test('runtime problems make the node NotReady in kubelet words; requestStatusSync posts at once', async () => {
  const h = setup();
  await h.reporter.start();
  h.setProblems(['container runtime is down']);
  h.reporter.requestStatusSync();
  await h.clock.advanceAsync(0);
  assert.deepEqual([h.cond('Ready')?.status, h.cond('Ready')?.reason, h.cond('Ready')?.message], ['False', 'KubeletNotReady', 'container runtime is down']);
  h.setProblems([]);
  await h.clock.advanceAsync(10_000);
  assert.deepEqual([h.cond('Ready')?.status, h.cond('Ready')?.reason], ['True', 'KubeletReady']);
  await h.reporter.stop();
});

test('a condition changed by someone else (Unknown from the node lifecycle controller) is corrected at the next tick', async () => {
  const h = setup();
  await h.reporter.start();
  const n = h.node();
  n.status!.conditions = n.status!.conditions!.map((c) => (c.type === 'Ready' ? { ...c, status: 'Unknown', reason: 'NodeStatusUnknown' } : c));
  await h.client.updateStatus(Nodes, '', n);
  await h.clock.advanceAsync(10_000);
  assert.equal(h.cond('Ready')?.status, 'True');
  await h.reporter.stop();
});

test('an existing Node is adopted: labels merged, its taints and podCIDR kept, status posted', async () => {
  const h = setup({ labels: { zone: 'b' }, taints: [{ key: 'new', effect: 'NoSchedule' }] });
  h.client.seed(Nodes, {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'n1', labels: { keep: 'me', zone: 'a' } },
    spec: { podCIDR: '10.42.3.0/24', podCIDRs: ['10.42.3.0/24'], taints: [{ key: 'old', effect: 'NoSchedule' }] },
  } as KubeObject);
  await h.reporter.start();
  const n = h.node();
  assert.equal(n.metadata.labels?.keep, 'me');
  assert.equal(n.metadata.labels?.zone, 'b');
  assert.equal(n.metadata.labels?.['kubernetes.io/hostname'], 'n1');
  assert.deepEqual(n.spec?.taints, [{ key: 'old', effect: 'NoSchedule' }]);
  assert.equal(h.cond('Ready')?.status, 'True');
  assert.deepEqual(await h.reporter.waitForPodCIDR(), ['10.42.3.0/24']);
  await h.reporter.stop();
});

test('waitForPodCIDR polls until the IPAM controller assigns one; stop ends heartbeats', async () => {
  const h = setup();
  await h.reporter.start();
  const waiting = h.reporter.waitForPodCIDR();
  await h.clock.advanceAsync(1_000);
  await h.client.patch(Nodes, '', 'n1', 'merge', { spec: { podCIDR: '10.42.0.0/24', podCIDRs: ['10.42.0.0/24'] } });
  await h.clock.advanceAsync(1_000);
  assert.deepEqual(await waiting, ['10.42.0.0/24']);
  await h.reporter.stop();
  const writes = h.client.actions.length;
  await h.clock.advanceAsync(600_000);
  assert.equal(h.client.actions.length, writes);
  assert.equal(h.clock.pendingTimers, 0);
});

test('registration is retried with backoff until the API answers', async () => {
  const h = setup();
  let failures = 3;
  h.client.prependReactor('create', 'nodes', () => {
    if (failures-- > 0) throw new Error('connection refused');
    return undefined;
  });
  const started = h.reporter.start();
  await h.clock.advanceAsync(100 + 200 + 400);
  await started;
  assert.equal(h.cond('Ready')?.status, 'True');
  await h.reporter.stop();
});
