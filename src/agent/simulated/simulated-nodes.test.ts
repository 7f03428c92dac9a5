import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { conflict } from '../../api/status.js';
import { rfc3339, rfc3339Micro } from '../../api/time.js';
import { FakeClient } from '../../client/testing/fake-client.js';
import { FakeClock } from '../../client/testing/fake-clock.js';
import { FakeInformerFactory } from '../../client/testing/fake-informer-factory.js';
import { Leases, Nodes, Pods } from '../../client/resources.js';
import type { Client, ResourceType, Watcher } from '../../client/types.js';
import type { Lease, Node, Pod } from './objects.js';
import { SimulatedNodes, type SimulatedNodesOptions } from './simulated-nodes.js';
import type { Stage } from './stage.js';

const T0 = Date.UTC(2025, 0, 1, 0, 0, 0);
const iso = (ms: number) => rfc3339(ms);

/** Lets watch deliveries (microtasks) and the writes they trigger run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

interface Harness {
  clock: FakeClock;
  client: FakeClient;
  informers: FakeInformerFactory;
  sim: SimulatedNodes;
  logs: string[];
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** Feeds the FakeClient's watch streams into the StaticInformers, as real informers would. */
function wire(client: FakeClient, informers: FakeInformerFactory, rt: ResourceType): Watcher {
  const inf = informers.informerFor(rt);
  return client.watch(
    rt,
    '',
    { resourceVersion: '0' },
    (ev) => {
      if (ev.type === 'ADDED' || ev.type === 'MODIFIED') inf.update(ev.object);
      else if (ev.type === 'DELETED') inf.delete(ev.object);
    },
    () => {},
  );
}

/** What the node IPAM controller does: node i gets 10.42.i.0/24. */
async function assignPodCIDRs(client: FakeClient): Promise<void> {
  for (const [i, node] of client.all<Node>(Nodes).entries()) {
    await client.patch(Nodes, '', node.metadata.name!, 'merge', { spec: { podCIDR: `10.42.${i}.0/24`, podCIDRs: [`10.42.${i}.0/24`] } });
  }
  await settle();
}

/** `ipam: false` leaves the nodes without a podCIDR, as on a server where no node IPAM controller runs. */
async function start(opts: Partial<SimulatedNodesOptions> & { client?: Client; fake?: FakeClient; seed?: (c: FakeClient) => void; ipam?: boolean } = {}): Promise<Harness> {
  const clock = new FakeClock(T0);
  const client = opts.fake ?? new FakeClient({ clock });
  opts.seed?.(client);
  const informers = new FakeInformerFactory();
  const watchers = [wire(client, informers, Pods), wire(client, informers, Nodes)];
  await settle();
  const logs: string[] = [];
  const sim = new SimulatedNodes({ client: opts.client ?? client, informers, clock, count: 3, log: (m) => logs.push(m), random: () => 0, ...opts });
  cleanups.push(() => {
    sim.stop();
    for (const w of watchers) w.stop();
  });
  sim.start();
  await sim.waitForRegistration();
  await settle();
  if (opts.ipam !== false) await assignPodCIDRs(client);
  return { clock, client, informers, sim, logs };
}

function boundPod(name: string, nodeName: string, over: { owner?: string; restartPolicy?: string; annotations?: Record<string, string> } = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      ...(over.annotations ? { annotations: over.annotations } : {}),
      ...(over.owner ? { ownerReferences: [{ apiVersion: 'batch/v1', kind: over.owner, name: 'owner', uid: 'owner-uid', controller: true }] } : {}),
    },
    spec: { nodeName, restartPolicy: (over.restartPolicy ?? 'Always') as 'Always', containers: [{ name: 'app', image: 'busybox' }] },
    status: { phase: 'Pending' },
  };
}

const ready = (n: Node | undefined) => n?.status?.conditions?.find((c) => c.type === 'Ready');
const heartbeat = (n: Node | undefined) => ready(n)?.lastHeartbeatTime;
const renewTime = (h: Harness, node: string) => h.client.peek<Lease>(Leases, 'kube-node-lease', node)?.spec?.renewTime;
const podOf = (h: Harness, name: string) => h.client.peek<Pod>(Pods, 'default', name);

describe('SimulatedNodes registration', () => {
  it('registers N Ready nodes like kubelets, each with a Lease in kube-node-lease', async () => {
    const h = await start({ count: 5, capacity: { cpu: '4', memory: '8Gi' } });
    const nodes = h.client.all<Node>(Nodes);
    assert.deepEqual(
      nodes.map((n) => n.metadata.name),
      ['sim-node-0', 'sim-node-1', 'sim-node-2', 'sim-node-3', 'sim-node-4'],
    );
    const n1 = nodes[1]!;
    assert.equal(n1.metadata.labels?.['kubernetes.io/hostname'], 'sim-node-1');
    assert.equal(n1.metadata.labels?.['kubernetes.io/os'], 'linux');
    assert.equal(n1.metadata.labels?.['kubernetes.io/arch'], 'amd64');
    assert.equal(n1.metadata.labels?.['node.kubernetes.io/instance-type'], 'skiff-simulated');
    assert.equal(n1.metadata.labels?.['skiff.dev/simulated'], 'true');
    assert.deepEqual(n1.status?.capacity, { cpu: '4', memory: '8Gi', pods: '110', 'ephemeral-storage': '100Gi' });
    assert.deepEqual(n1.status?.allocatable, n1.status?.capacity);
    assert.equal(n1.status?.nodeInfo?.kubeletVersion, 'v1.32.0-skiff');
    assert.equal(n1.status?.nodeInfo?.containerRuntimeVersion, 'simulated://1.0');
    assert.equal(n1.status?.nodeInfo?.architecture, 'amd64');
    const created = h.client.actions.find((a) => a.verb === 'create' && a.resource === 'nodes' && (a.object as Node).metadata.name === 'sim-node-1');
    assert.deepEqual((created?.object as Node | undefined)?.spec, {}, 'a node registers without a podCIDR: the node IPAM controller assigns it');
    const conds = Object.fromEntries((n1.status?.conditions ?? []).map((c) => [c.type, [c.status, c.lastHeartbeatTime]]));
    assert.deepEqual(conds, {
      Ready: ['True', iso(T0)],
      MemoryPressure: ['False', iso(T0)],
      DiskPressure: ['False', iso(T0)],
      PIDPressure: ['False', iso(T0)],
    });
    const ips = nodes.map((n) => n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address);
    assert.equal(new Set(ips).size, 5, `InternalIPs must be unique: ${ips.join(' ')}`);
    for (const ip of ips) assert.match(ip ?? '', /^10\.\d+\.\d+\.\d+$/);

    const leases = h.client.all<Lease>(Leases);
    assert.equal(leases.length, 5);
    for (const [i, lease] of leases.entries()) {
      assert.equal(lease.metadata.namespace, 'kube-node-lease');
      assert.equal(lease.metadata.name, `sim-node-${i}`);
      assert.equal(lease.spec?.holderIdentity, `sim-node-${i}`);
      assert.equal(lease.spec?.leaseDurationSeconds, 40);
      assert.equal(lease.spec?.renewTime, rfc3339Micro(new Date(T0)));
      assert.deepEqual(lease.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.uid]), [['Node', `sim-node-${i}`, nodes[i]!.metadata.uid]]);
    }
  });

  it('names nodes from the prefix', async () => {
    const h = await start({ count: 2, namePrefix: 'kwok' });
    assert.deepEqual(h.sim.nodeNames, ['kwok-0', 'kwok-1']);
    assert.deepEqual(h.client.all(Nodes).map((n) => n.metadata.name), ['kwok-0', 'kwok-1']);
  });

  it('keeps at most `concurrency` writes in flight while registering many nodes', async () => {
    const fake = new FakeClient({ clock: new FakeClock(T0) });
    let inFlight = 0;
    let maxInFlight = 0;
    const slow = new Proxy(fake, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (prop !== 'create' || typeof v !== 'function') return typeof v === 'function' ? v.bind(target) : v;
        return async (...args: unknown[]) => {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await new Promise<void>((r) => setImmediate(r));
          try {
            return await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          } finally {
            inFlight--;
          }
        };
      },
    });
    await start({ fake, client: slow, count: 300, concurrency: 8 });
    assert.equal(fake.all(Nodes).length, 300);
    assert.equal(fake.all(Leases).length, 300);
    assert.ok(maxInFlight <= 8, `at most 8 creates in flight, saw ${maxInFlight}`);
    assert.ok(maxInFlight > 1, 'registration runs concurrently');
  });

  it('adopts a node left by an earlier run and posts Ready=True for it', async () => {
    const h = await start({
      count: 1,
      seed: (c) =>
        c.seed(Nodes, {
          apiVersion: 'v1',
          kind: 'Node',
          metadata: { name: 'sim-node-0', uid: 'old-uid' },
          status: { conditions: [{ type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', lastHeartbeatTime: '2024-01-01T00:00:00Z', lastTransitionTime: '2024-01-01T00:00:00Z' }] },
        } as KubeObject),
    });
    const node = h.client.peek<Node>(Nodes, '', 'sim-node-0');
    assert.equal(node?.metadata.uid, 'old-uid');
    assert.equal(ready(node)?.status, 'True');
    assert.equal(ready(node)?.reason, 'KubeletReady');
    assert.equal(ready(node)?.lastTransitionTime, iso(T0));
    assert.equal(h.client.peek<Lease>(Leases, 'kube-node-lease', 'sim-node-0')?.metadata.ownerReferences?.[0]?.uid, 'old-uid');
  });

  it('rejects bad options with the field named', () => {
    const base = { client: new FakeClient(), informers: new FakeInformerFactory() };
    assert.throws(() => new SimulatedNodes({ ...base, count: -1 }), /count: Invalid value: -1/);
    assert.throws(() => new SimulatedNodes({ ...base, count: 2, namePrefix: 'Sim_Node' }), /namePrefix: Invalid value: "Sim_Node"/);
    assert.throws(() => new SimulatedNodes({ ...base, count: 1, capacity: { cpu: 'lots' } }), /capacity\.cpu: Invalid value: "lots"/);
    assert.throws(() => new SimulatedNodes({ ...base, count: 1, capacity: { pods: '500' } }), /capacity\.pods: Invalid value: "500": at most 253/);
    assert.throws(() => new SimulatedNodes({ ...base, count: 1, podReadyDelayMs: -1 }), /podReadyDelayMs: Invalid value: -1/);
    assert.throws(
      () => new SimulatedNodes({ ...base, count: 1, stages: [], podReadyDelayMs: 5 }),
      /podReadyDelayMs and podReadyJitterMs apply to the default stages/,
    );
    assert.throws(
      () => new SimulatedNodes({ ...base, count: 1, stages: [{ name: 'x', selector: {}, next: {} } as Stage] }),
      /invalid simulated pod stages: stage "x": selector: must hold at least one expression; stage "x": next: must set at least one of/,
    );
  });
});

describe('SimulatedNodes heartbeats', () => {
  it('renews every Lease after 10 s and posts node status after 60 s', async () => {
    const h = await start();
    await h.clock.advanceAsync(9_999);
    assert.equal(renewTime(h, 'sim-node-0'), rfc3339Micro(new Date(T0)));
    await h.clock.advanceAsync(1);
    for (const n of h.sim.nodeNames) assert.equal(renewTime(h, n), rfc3339Micro(new Date(T0 + 10_000)), n);
    assert.equal(heartbeat(h.client.peek<Node>(Nodes, '', 'sim-node-0')), iso(T0), 'status is posted less often than the Lease');
    await h.clock.advanceAsync(50_000);
    assert.equal(renewTime(h, 'sim-node-2'), rfc3339Micro(new Date(T0 + 60_000)));
    for (const n of h.sim.nodeNames) assert.equal(heartbeat(h.client.peek<Node>(Nodes, '', n)), iso(T0 + 60_000), n);
  });

  it('skiff.dev/heartbeat=stopped halts renewals and status posts of that node only; removing it resumes both with Ready=True', async () => {
    const h = await start();
    await h.client.patch(Nodes, '', 'sim-node-1', 'merge', { metadata: { annotations: { 'skiff.dev/heartbeat': 'stopped' } } });
    await settle();
    await h.clock.advanceAsync(120_000);
    assert.equal(renewTime(h, 'sim-node-1'), rfc3339Micro(new Date(T0)), 'a silenced node does not renew its Lease');
    assert.equal(heartbeat(h.client.peek<Node>(Nodes, '', 'sim-node-1')), iso(T0), 'nor post status');
    assert.equal(renewTime(h, 'sim-node-0'), rfc3339Micro(new Date(T0 + 120_000)));

    // What the node lifecycle controller does to a silent node.
    const silent = h.client.peek<Node>(Nodes, '', 'sim-node-1')!;
    const unknown = structuredClone(silent);
    for (const c of unknown.status!.conditions!) Object.assign(c, { status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' });
    await h.client.updateStatus(Nodes, '', unknown);
    await settle();

    await h.client.patch(Nodes, '', 'sim-node-1', 'merge', { metadata: { annotations: { 'skiff.dev/heartbeat': null } } });
    await settle();
    const back = h.client.peek<Node>(Nodes, '', 'sim-node-1');
    assert.equal(ready(back)?.status, 'True');
    assert.equal(ready(back)?.reason, 'KubeletReady');
    assert.equal(ready(back)?.lastTransitionTime, iso(T0 + 120_000));
    assert.equal(back?.status?.conditions?.find((c) => c.type === 'MemoryPressure')?.status, 'False');
    assert.equal(renewTime(h, 'sim-node-1'), rfc3339Micro(new Date(T0 + 120_000)), 'the Lease is renewed at once on resume');
    await h.clock.advanceAsync(10_000);
    assert.equal(renewTime(h, 'sim-node-1'), rfc3339Micro(new Date(T0 + 130_000)), 'and every 10 s after');
  });

  it('stop() ends all heartbeats', async () => {
    const h = await start();
    h.sim.stop();
    await h.clock.advanceAsync(60_000);
    assert.equal(renewTime(h, 'sim-node-0'), rfc3339Micro(new Date(T0)));
    assert.equal(h.clock.pendingTimers, 0);
  });
});

describe('SimulatedNodes pod stages', () => {
  it('moves a bound pod from Pending to Running and Ready after the delay, with an address from the node', async () => {
    const h = await start();
    await h.client.create(Pods, 'default', boundPod('web', 'sim-node-2'));
    await h.client.create(Pods, 'default', boundPod('elsewhere', 'real-node'));
    await settle();
    await h.clock.advanceAsync(999);
    assert.equal(podOf(h, 'web')?.status?.phase, 'Pending');
    await h.clock.advanceAsync(1);
    const web = podOf(h, 'web')!;
    assert.equal(web.status?.phase, 'Running');
    assert.equal(web.status?.podIP, '10.42.2.2');
    const node = h.client.peek<Node>(Nodes, '', 'sim-node-2')!;
    assert.equal(web.status?.hostIP, node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address);
    assert.equal(web.status?.startTime, iso(T0 + 1000));
    const cs = web.status?.containerStatuses?.[0];
    assert.equal(cs?.ready, true);
    assert.equal(cs?.restartCount, 0);
    assert.ok(cs?.state?.running, 'container running');
    assert.match(cs?.containerID ?? '', /^simulated:\/\//);
    for (const t of ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready']) {
      assert.equal(web.status?.conditions?.find((c) => c.type === t)?.status, 'True', t);
    }
    assert.equal(podOf(h, 'elsewhere')?.status?.phase, 'Pending', 'pods of other nodes are not ours');
    await h.clock.advanceAsync(3_600_000);
    assert.equal(podOf(h, 'web')?.status?.phase, 'Running', 'a Deployment-style pod keeps running');
  });

  it('gives pods of one node distinct addresses and honours podReadyDelayMs 0', async () => {
    const h = await start({ podReadyDelayMs: 0 });
    for (const n of ['a', 'b', 'c']) await h.client.create(Pods, 'default', boundPod(n, 'sim-node-0'));
    await h.clock.advanceAsync(0);
    await settle();
    assert.deepEqual(['a', 'b', 'c'].map((n) => podOf(h, n)?.status?.podIP), ['10.42.0.2', '10.42.0.3', '10.42.0.4']);
  });

  it('adds jitter to the pod-ready delay', async () => {
    const h = await start({ podReadyDelayMs: 100, podReadyJitterMs: 1000, random: () => 0.5 });
    await h.client.create(Pods, 'default', boundPod('j', 'sim-node-0'));
    await settle();
    await h.clock.advanceAsync(599);
    assert.equal(podOf(h, 'j')?.status?.phase, 'Pending');
    await h.clock.advanceAsync(1);
    assert.equal(podOf(h, 'j')?.status?.phase, 'Running');
  });

  it('completes a Job pod: Running, then Succeeded with containers terminated Completed, exit code 0', async () => {
    const h = await start();
    await h.client.create(Pods, 'default', boundPod('job-x', 'sim-node-0', { owner: 'Job', restartPolicy: 'Never' }));
    await settle();
    await h.clock.advanceAsync(1000);
    assert.equal(podOf(h, 'job-x')?.status?.phase, 'Running');
    await h.clock.advanceAsync(1000);
    const done = podOf(h, 'job-x')!;
    assert.equal(done.status?.phase, 'Succeeded');
    const term = done.status?.containerStatuses?.[0]?.state?.terminated;
    assert.equal(term?.exitCode, 0);
    assert.equal(term?.reason, 'Completed');
    assert.equal(term?.finishedAt, iso(T0 + 2000));
    assert.equal(done.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'False');
  });

  it('runs an annotated pod for its simulate-duration and fails it with its simulate-exit-code', async () => {
    const h = await start();
    await h.client.create(
      Pods,
      'default',
      boundPod('batch', 'sim-node-1', { restartPolicy: 'Never', annotations: { 'skiff.dev/simulate-duration': '5s', 'skiff.dev/simulate-exit-code': '3' } }),
    );
    await settle();
    await h.clock.advanceAsync(1000);
    assert.equal(podOf(h, 'batch')?.status?.phase, 'Running');
    await h.clock.advanceAsync(4999);
    assert.equal(podOf(h, 'batch')?.status?.phase, 'Running');
    await h.clock.advanceAsync(1);
    const failed = podOf(h, 'batch')!;
    assert.equal(failed.status?.phase, 'Failed');
    assert.equal(failed.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 3);
    assert.equal(failed.status?.containerStatuses?.[0]?.state?.terminated?.reason, 'Error');
  });

  it('finally deletes a pod with a deletionTimestamp (gracePeriodSeconds 0, uid precondition)', async () => {
    const h = await start();
    const base = boundPod('doomed', 'sim-node-0');
    const doomed: Pod = {
      ...base,
      metadata: { ...base.metadata, uid: 'doomed-uid', deletionTimestamp: iso(T0 + 30_000), deletionGracePeriodSeconds: 30 },
      status: { phase: 'Running' },
    };
    h.client.seed(Pods, doomed);
    h.informers.informerFor(Pods).add(h.client.peek(Pods, 'default', 'doomed')!);
    h.client.clearActions();
    await h.clock.advanceAsync(99);
    assert.ok(podOf(h, 'doomed'), 'not before the delay');
    await h.clock.advanceAsync(1);
    assert.equal(podOf(h, 'doomed'), undefined);
    const del = h.client.actions.filter((a) => a.verb === 'delete' && a.resource === 'pods');
    assert.deepEqual(del.map((a) => [a.name, a.object]), [['doomed', { gracePeriodSeconds: 0, preconditions: { uid: 'doomed-uid' } }]]);
  });

  it('a silenced node moves none of its pods until its heartbeat resumes', async () => {
    const h = await start();
    await h.client.patch(Nodes, '', 'sim-node-0', 'merge', { metadata: { annotations: { 'skiff.dev/heartbeat': 'stopped' } } });
    await settle();
    await h.client.create(Pods, 'default', boundPod('stuck', 'sim-node-0'));
    await settle();
    await h.clock.advanceAsync(30_000);
    assert.equal(podOf(h, 'stuck')?.status?.phase, 'Pending');
    await h.client.patch(Nodes, '', 'sim-node-0', 'merge', { metadata: { annotations: { 'skiff.dev/heartbeat': null } } });
    await settle();
    await h.clock.advanceAsync(1000);
    assert.equal(podOf(h, 'stuck')?.status?.phase, 'Running');
  });

  it('retries a status write that conflicts, from a fresh read', async () => {
    const h = await start();
    let conflicts = 1;
    h.client.prependReactor('patch', 'pods', () => {
      if (conflicts-- > 0) throw conflict({ resource: 'pods', name: 'racy' });
      return undefined;
    });
    await h.client.create(Pods, 'default', boundPod('racy', 'sim-node-0'));
    await settle();
    await h.clock.advanceAsync(1000);
    assert.equal(podOf(h, 'racy')?.status?.phase, 'Running');
    const verbs = h.client.actions.filter((a) => a.resource === 'pods' && a.name === 'racy').map((a) => a.verb);
    assert.deepEqual(verbs.slice(-3), ['patch', 'get', 'patch']);
  });

  it('retries a failed write later and reports it once', async () => {
    const h = await start();
    let failures = 1;
    h.client.prependReactor('patch', 'pods', () => {
      if (failures-- > 0) throw new Error('connection reset');
      return undefined;
    });
    await h.client.create(Pods, 'default', boundPod('flaky', 'sim-node-0'));
    await settle();
    await h.clock.advanceAsync(1000);
    assert.equal(podOf(h, 'flaky')?.status?.phase, 'Pending');
    assert.deepEqual(h.logs, ['simulated nodes: pod default/flaky: stage pod-ready: connection reset; retrying in 1000ms']);
    await h.clock.advanceAsync(1000);
    assert.equal(podOf(h, 'flaky')?.status?.phase, 'Running');
  });

  it('runs custom stages, and refuses one that would match its own result forever', async () => {
    const stages: Stage[] = [
      {
        name: 'to-unknown',
        selector: { matchExpressions: [{ key: '.metadata.labels["sim"]', operator: 'In', values: ['odd'] }, { key: '.status.phase', operator: 'In', values: ['Pending'] }] },
        delay: { ms: 10 },
        next: { status: { phase: 'Unknown', message: 'on ${nodeName}' } },
      },
      {
        name: 'loop',
        selector: { matchExpressions: [{ key: '.metadata.labels["sim"]', operator: 'In', values: ['loop'] }] },
        next: { status: { message: 'again' } },
      },
    ];
    const h = await start({ stages });
    const odd = boundPod('odd', 'sim-node-1');
    odd.metadata.labels = { sim: 'odd' };
    const loop = boundPod('loop', 'sim-node-1');
    loop.metadata.labels = { sim: 'loop' };
    await h.client.create(Pods, 'default', odd);
    await h.client.create(Pods, 'default', loop);
    await settle();
    await h.clock.advanceAsync(10);
    assert.equal(podOf(h, 'odd')?.status?.phase, 'Unknown');
    assert.equal(podOf(h, 'odd')?.status?.message, 'on sim-node-1');
    assert.equal(podOf(h, 'loop')?.status?.message, undefined);
    assert.match(h.logs.join('\n'), /stage loop still matches the pod it produced \(pod default\/loop\); not applied/);
    assert.equal(h.sim.pendingStages, 0);
  });
});

describe('SimulatedNodes pod addresses', () => {
  it('runs no pod until the node has a podCIDR, then gives it an address from that range', async () => {
    const h = await start({ ipam: false, podCIDRWaitMs: 60_000 });
    await h.client.create(Pods, 'default', boundPod('early', 'sim-node-1'));
    await settle();
    await h.clock.advanceAsync(30_000);
    assert.equal(podOf(h, 'early')?.status?.phase, 'Pending', 'no address range yet: the pod waits, as behind a kubelet whose network is not ready');
    await h.client.patch(Nodes, '', 'sim-node-1', 'merge', { spec: { podCIDR: '10.42.77.0/24', podCIDRs: ['10.42.77.0/24'] } });
    await settle();
    await h.clock.advanceAsync(1000);
    assert.equal(podOf(h, 'early')?.status?.phase, 'Running');
    assert.equal(podOf(h, 'early')?.status?.podIP, '10.42.77.2');
    assert.deepEqual(h.logs, []);
  });

  it('falls back to a /24 of 10.128.0.0/10 when no podCIDR comes, says so once, and switches when one is assigned', async () => {
    const h = await start({ ipam: false });
    await h.client.create(Pods, 'default', boundPod('a', 'sim-node-0'));
    await h.client.create(Pods, 'default', boundPod('b', 'sim-node-2'));
    await settle();
    await h.clock.advanceAsync(1999);
    assert.equal(podOf(h, 'a')?.status?.phase, 'Pending');
    await h.clock.advanceAsync(1);
    await h.clock.advanceAsync(1000);
    assert.equal(podOf(h, 'a')?.status?.podIP, '10.128.0.2');
    assert.equal(podOf(h, 'b')?.status?.podIP, '10.128.2.2');
    assert.equal(h.logs.length, 1, h.logs.join('\n'));
    assert.match(h.logs[0]!, /has no pod CIDR after 2000ms \(is the node-ipam controller running, with a --cluster-cidr big enough for every node\?\); .* from 10\.128\.0\.0\/10, outside the cluster CIDR/);

    await h.client.patch(Nodes, '', 'sim-node-0', 'merge', { spec: { podCIDR: '10.42.3.0/24', podCIDRs: ['10.42.3.0/24'] } });
    await settle();
    await h.client.create(Pods, 'default', boundPod('c', 'sim-node-0'));
    await settle();
    await h.clock.advanceAsync(1000);
    assert.equal(podOf(h, 'c')?.status?.podIP, '10.42.3.2', 'new pods take addresses from the assigned range');
    assert.equal(podOf(h, 'a')?.status?.podIP, '10.128.0.2', 'a running pod keeps its address');
  });

  it('keeps the podCIDR an adopted node already has', async () => {
    const h = await start({
      count: 1,
      ipam: false,
      seed: (c) => c.seed(Nodes, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'sim-node-0', uid: 'old-uid' }, spec: { podCIDR: '10.42.200.0/24' } } as KubeObject),
    });
    await h.client.create(Pods, 'default', boundPod('p', 'sim-node-0'));
    await settle();
    await h.clock.advanceAsync(1000);
    assert.equal(podOf(h, 'p')?.status?.podIP, '10.42.200.2');
    assert.deepEqual(h.logs, []);
  });
});
