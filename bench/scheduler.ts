/**
 * Scheduler throughput in the shape of upstream scheduler_perf SchedulingBasic/5000Nodes_10000Pods: 5,000 nodes
 * (4 cpu, 32Gi, 110 pods), 1,000 pods scheduled first (not measured), then 10,000 pods (100m cpu, 500Mi)
 * measured. Pods go through the real Scheduler: queue pop, scheduling cycle with the default plugins over the
 * snapshot, assume, and the binding cycle, whose bind plugin is an in-memory no-op (no API server, no informer
 * round trip: this measures the scheduler itself, the T1 target).
 *
 * Reported in the same run:
 * - scheduler: wall time from the first measured pop to the last binding finished (and the process CPU time
 *   over that window: on a shared machine the wall time also counts time other processes held the cores);
 * - cycleOnly: the same pods counted over the time spent inside scheduling cycles only;
 * - baselineFirstFit: a naive first-fit loop over the same nodes and pods (plain numbers, no framework): the
 *   cost floor of placing pods in Node, not a scheduler;
 * - baselineFullScan: first-fit's data with LeastAllocated scoring over every node per pod (no sampling).
 *
 * Usage: node --import tsx bench/scheduler.ts [nodes=5000] [initPods=1000] [pods=10000] [owned]
 * With `owned`, every pod belongs to one ReplicaSet (as Deployment pods do), so PodTopologySpread's system default
 * constraints (spread by hostname and zone) apply and are part of the measured cost.
 * Prints one JSON object.
 */
import { cpus } from 'node:os';
import { FakeClient } from '../src/client/testing/fake-client.js';
import { FakeInformerFactory } from '../src/client/testing/fake-informer-factory.js';
import { Nodes, Pods, ReplicaSets } from '../src/client/resources.js';
import type { StaticInformer } from '../src/client/testing/static-informer.js';
import { Registry } from '../src/scheduler/framework/registry.js';
import type { Node, Pod } from '../src/scheduler/framework/types.js';
import { defaultProfile } from '../src/scheduler/plugins/registry.js';
import { numFeasibleNodesToFind } from '../src/scheduler/scheduling-algorithm.js';
import { Scheduler } from '../src/scheduler/scheduler.js';

const numNodes = Number(process.argv[2] ?? 5000);
const numInitPods = Number(process.argv[3] ?? 1000);
const numPods = Number(process.argv[4] ?? 10000);
const owned = process.argv[5] === 'owned';

function node(i: number): Node {
  const name = `node-${i}`;
  const allocatable = { cpu: '4', memory: '32Gi', pods: '110' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, uid: `uid-${name}`, labels: { 'kubernetes.io/hostname': name } },
    spec: {},
    status: { capacity: allocatable, allocatable, conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

function pod(prefix: string, i: number): Pod {
  const name = `${prefix}-${i}`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'sched-test',
      uid: `uid-${name}`,
      resourceVersion: '1',
      ...(owned ? { labels: { app: 'web', 'pod-template-hash': '5d8f9c' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d8f9c', uid: 'uid-rs', controller: true }] } : {}),
    },
    spec: {
      schedulerName: 'default-scheduler',
      containers: [{ name: 'pause', image: 'registry.k8s.io/pause:3.10', resources: { requests: { cpu: '100m', memory: '500Mi' } } }],
    },
    status: { phase: 'Pending' },
  };
}

async function untilScheduled(s: Scheduler, n: number): Promise<void> {
  while (s.metrics.scheduled < n) await new Promise<void>((r) => setImmediate(r));
}

async function runScheduler() {
  const registry = new Registry([['NoopBinder', () => ({ name: 'NoopBinder', bind: () => Promise.resolve(undefined) })]]);
  const profile = defaultProfile();
  profile.plugins = profile.plugins.map((p) => (p.name === 'DefaultBinder' ? { name: 'NoopBinder' } : p));
  const informers = new FakeInformerFactory({ freeze: false });
  const scheduler = new Scheduler({ client: new FakeClient(), informers, recorder: { event() {} }, profile, registry });
  scheduler.start();
  const nodeInf = informers.informerFor(Nodes) as StaticInformer<Node>;
  const podInf = informers.informerFor(Pods) as StaticInformer<Pod>;
  for (let i = 0; i < numNodes; i++) nodeInf.add(node(i));
  if (owned) {
    (informers.informerFor(ReplicaSets) as StaticInformer).add({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'web-5d8f9c', namespace: 'sched-test', uid: 'uid-rs' },
      spec: { selector: { matchLabels: { app: 'web', 'pod-template-hash': '5d8f9c' } } },
    });
  }
  informers.start();
  const loop = scheduler.run();

  for (let i = 0; i < numInitPods; i++) podInf.add(pod('init', i));
  await untilScheduled(scheduler, numInitPods);

  const addStart = performance.now();
  for (let i = 0; i < numPods; i++) podInf.add(pod('measured', i));
  const addMs = performance.now() - addStart;
  const cycleMsBefore = scheduler.metrics.cycleMs;
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  await untilScheduled(scheduler, numInitPods + numPods);
  await scheduler.drainBindings();
  const wallMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const cycleMs = scheduler.metrics.cycleMs - cycleMsBefore;
  scheduler.stop();
  await loop;

  const perNode = scheduler.snapshot.list().map((n) => n.pods.length);
  return {
    wallMs,
    cpuMs,
    cycleMs,
    addMs,
    unschedulable: scheduler.metrics.unschedulable,
    errors: scheduler.metrics.errors,
    nodesUsed: perNode.filter((n) => n > 0).length,
    maxPodsPerNode: Math.max(...perNode),
  };
}

/** Naive first fit: the first node with room, scanning from node 0 every time. */
function firstFit(): number {
  const cpu = new Float64Array(numNodes).fill(4000);
  const mem = new Float64Array(numNodes).fill(32 * 1024 ** 3);
  const slots = new Int32Array(numNodes).fill(110);
  const reqCpu = 100;
  const reqMem = 500 * 1024 ** 2;
  const place = () => {
    for (let i = 0; i < numNodes; i++) {
      if (cpu[i]! >= reqCpu && mem[i]! >= reqMem && slots[i]! > 0) {
        cpu[i]! -= reqCpu;
        mem[i]! -= reqMem;
        slots[i]!--;
        return;
      }
    }
    throw new Error('first fit found no node');
  };
  for (let i = 0; i < numInitPods; i++) place();
  const start = performance.now();
  for (let i = 0; i < numPods; i++) place();
  return performance.now() - start;
}

/** Every node checked and scored (LeastAllocated over cpu and memory) for every pod: no sampling. */
function fullScan(): number {
  const allocCpu = 4000;
  const allocMem = 32 * 1024 ** 3;
  const cpu = new Float64Array(numNodes);
  const mem = new Float64Array(numNodes);
  const count = new Int32Array(numNodes);
  const reqCpu = 100;
  const reqMem = 500 * 1024 ** 2;
  const place = () => {
    let best = -1;
    let bestScore = -1;
    for (let i = 0; i < numNodes; i++) {
      if (cpu[i]! + reqCpu > allocCpu || mem[i]! + reqMem > allocMem || count[i]! + 1 > 110) continue;
      const s = (Math.trunc(((allocCpu - cpu[i]! - reqCpu) * 100) / allocCpu) + Math.trunc(((allocMem - mem[i]! - reqMem) * 100) / allocMem)) >> 1;
      if (s > bestScore) {
        bestScore = s;
        best = i;
      }
    }
    if (best < 0) throw new Error('full scan found no node');
    cpu[best]! += reqCpu;
    mem[best]! += reqMem;
    count[best]!++;
  };
  for (let i = 0; i < numInitPods; i++) place();
  const start = performance.now();
  for (let i = 0; i < numPods; i++) place();
  return performance.now() - start;
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const rate = (ms: number) => Math.round((numPods / ms) * 1000);

// Warm the JIT on a small run so the measured one is not dominated by compilation.
firstFit();
fullScan();
const sched = await runScheduler();
const ffMs = firstFit();
const fsMs = fullScan();

const results = {
  scheduler: { pods: numPods, seconds: round(sched.wallMs / 1000, 3), podsPerSec: rate(sched.wallMs), cpuSeconds: round(sched.cpuMs / 1000, 3), podsPerCpuSec: rate(sched.cpuMs) },
  cycleOnly: { pods: numPods, seconds: round(sched.cycleMs / 1000, 3), podsPerSec: rate(sched.cycleMs) },
  baselineFirstFit: { pods: numPods, seconds: round(ffMs / 1000, 4), podsPerSec: rate(ffMs) },
  baselineFullScan: { pods: numPods, seconds: round(fsMs / 1000, 3), podsPerSec: rate(fsMs) },
};
console.log(
  JSON.stringify(
    {
      benchmark: 'scheduler: SchedulingBasic shape (scheduler_perf 5000Nodes_10000Pods)',
      shape: { nodes: numNodes, node: { cpu: '4', memory: '32Gi', pods: 110 }, initPods: numInitPods, measuredPods: numPods, podRequests: { cpu: '100m', memory: '500Mi' } },
      binder: 'in-memory no-op bind plugin: no API server, no informer round trip',
      profile: 'default plugins (DefaultBinder replaced)',
      pods: owned ? 'owned by one ReplicaSet (PodTopologySpread default constraints apply)' : 'no owner (as scheduler_perf pod-default.yaml)',
      nodesFilteredPerPod: numFeasibleNodesToFind(0, numNodes),
      results,
      ratios: {
        schedulerVsTarget1000: round(results.scheduler.podsPerSec / 1000, 2),
        schedulerVsUpstreamCIFloor680: round(results.scheduler.podsPerSec / 680, 2),
        schedulerVsFirstFit: round(results.scheduler.podsPerSec / results.baselineFirstFit.podsPerSec, 4),
        schedulerVsFullScan: round(results.scheduler.podsPerSec / results.baselineFullScan.podsPerSec, 2),
        cycleShareOfWall: round(sched.cycleMs / sched.wallMs, 2),
      },
      placement: { nodesUsed: sched.nodesUsed, maxPodsPerNode: sched.maxPodsPerNode, unschedulable: sched.unschedulable, errors: sched.errors },
      queueFillMs: round(sched.addMs),
      env: { node: process.version, cpus: cpus().length, heapUsedMB: Math.round(process.memoryUsage().heapUsed / 2 ** 20) },
    },
    null,
    2,
  ),
);
