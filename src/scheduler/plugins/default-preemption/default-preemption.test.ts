import assert from 'node:assert/strict';
import { describe as group, it } from 'node:test';
import { ObjectCache } from '../../../client/object-cache.js';
import { CycleState } from '../../framework/cycle-state.js';
import { FitError } from '../../framework/fit-error.js';
import type { Pod, PodDisruptionBudget } from '../../framework/types.js';
import { SchedulingAlgorithm } from '../../scheduling-algorithm.js';
import { frameworkFor, makeNode, makePod, snapshotOf } from '../../testing/wrappers.js';
import { defaultProfile } from '../registry.js';
import { DefaultPreemption, pickOneNodeForPreemption, type Candidate } from './default-preemption.js';

const t = (minute: number) => `2025-01-01T00:${String(minute).padStart(2, '0')}:00Z`;
const victim = (name: string, node: string, priority: number, cpu: string, extra = {}) => makePod(name, { nodeName: node, priority, cpu, startTime: t(0), ...extra });

/** Runs a cycle for `pod` that must fail, then the PostFilter; returns the nominated node and the plugin. */
function preempt(nodes: ReturnType<typeof makeNode>[], pods: Pod[], pod: Pod, pdbs: PodDisruptionBudget[] = []) {
  const snap = snapshotOf(nodes, pods);
  const pdbLister = new ObjectCache<PodDisruptionBudget>();
  for (const p of pdbs) pdbLister.upsert(p);
  const fwk = frameworkFor(defaultProfile().plugins, snap, { pdbLister });
  const state = new CycleState();
  const r = new SchedulingAlgorithm(snap).schedulePod(fwk, state, pod);
  assert.ok(r instanceof FitError, 'the pod does not fit without preemption');
  const pf = fwk.runPostFilterPlugins(state, pod, r.diagnosis.nodeToStatus);
  const plugin = fwk.postFilterPlugins[0] as DefaultPreemption;
  return { pf, plugin, fwk, snap, state };
}

group('DefaultPreemption', () => {
  it('keeps the most important pods that still leave room (reprieve from the top)', () => {
    const pods = [victim('p1', 'n1', 1, '500m'), victim('p2', 'n1', 2, '500m'), victim('p3', 'n1', 3, '1')];
    const pod = makePod('urgent', { cpu: '1', priority: 100 });
    const { pf, plugin, snap, state } = preempt([makeNode('n1', { cpu: '2' })], pods, pod);
    assert.equal(pf.nominatedNodeName, 'n1');
    const c = plugin.selectVictimsOnNode(state.clone(), pod, snap.get('n1')!.clone(), []);
    assert.ok(c && !('code' in c));
    // p3 (1 cpu) is reprieved: p3 + urgent = 2 cpu; p2 and p1 must go, most important first.
    assert.deepEqual((c as Candidate).victims.map((v) => v.metadata.name), ['p2', 'p1']);
  });

  it('prefers the node whose most important victim has the lowest priority', () => {
    const pods = [victim('a', 'n1', 50, '1500m'), victim('b', 'n2', 10, '1500m'), victim('c', 'n3', 30, '1500m')];
    const { pf } = preempt([makeNode('n1', { cpu: '2' }), makeNode('n2', { cpu: '2' }), makeNode('n3', { cpu: '2' })], pods, makePod('urgent', { cpu: '1', priority: 100 }));
    assert.deepEqual(pf, { status: undefined, nominatedNodeName: 'n2' });
  });

  it('avoids violating PodDisruptionBudgets when another node will do', () => {
    const pods = [victim('guarded', 'n1', 1, '1500m', { labels: { app: 'db' } }), victim('free', 'n2', 50, '1500m', { labels: { app: 'cache' } })];
    const pdb: PodDisruptionBudget = {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'db', namespace: 'default' },
      spec: { selector: { matchLabels: { app: 'db' } } },
      status: { disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1, expectedPods: 1 },
    };
    const { pf } = preempt([makeNode('n1', { cpu: '2' }), makeNode('n2', { cpu: '2' })], pods, makePod('urgent', { cpu: '1', priority: 100 }), [pdb]);
    assert.equal(pf.nominatedNodeName, 'n2');
  });

  it('explains nodes where preemption cannot help', () => {
    const nodes = [makeNode('tainted', { cpu: '2', taints: [{ key: 'k', value: 'v', effect: 'NoSchedule' }] }), makeNode('n2', { cpu: '2' })];
    const { pf } = preempt(nodes, [victim('peer', 'n2', 100, '1500m')], makePod('p', { cpu: '1', priority: 100 }));
    assert.equal(pf.nominatedNodeName, '');
    assert.equal(pf.status?.message(), 'preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.');
  });

  it('picks candidates by the upstream order of criteria', () => {
    const v = (name: string, priority: number, minute: number) => victim(name, 'x', priority, '1', { startTime: t(minute) });
    const c = (nodeName: string, victims: Pod[], numPDBViolations = 0): Candidate => ({ nodeName, victims, numPDBViolations });
    // fewest PDB violations wins over everything else
    assert.equal(pickOneNodeForPreemption([c('a', [v('1', 1, 0)], 1), c('b', [v('2', 99, 0)], 0)])?.nodeName, 'b');
    // then the lowest sum of priorities
    assert.equal(pickOneNodeForPreemption([c('a', [v('1', 5, 0), v('2', 5, 0)]), c('b', [v('3', 5, 0)])])?.nodeName, 'b');
    // negative priorities: the 2^31 shift keeps two victims costlier than one
    assert.equal(pickOneNodeForPreemption([c('a', [v('1', -5, 0), v('2', -5, 0)]), c('b', [v('3', -5, 0)])])?.nodeName, 'b');
    // then the latest start among the highest-priority victims
    assert.equal(pickOneNodeForPreemption([c('a', [v('1', 5, 1)]), c('b', [v('2', 5, 9)])])?.nodeName, 'b');
  });
});
