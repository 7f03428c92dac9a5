import assert from 'node:assert/strict';
import { describe as group, it } from 'node:test';
import { CycleState } from './framework/cycle-state.js';
import { FitError } from './framework/fit-error.js';
import { Status } from './framework/status.js';
import { defaultProfile } from './plugins/registry.js';
import { numFeasibleNodesToFind, SchedulingAlgorithm } from './scheduling-algorithm.js';
import { frameworkFor, makeNode, makePod, snapshotOf } from './testing/wrappers.js';

group('numFeasibleNodesToFind', () => {
  // [percentageOfNodesToScore, nodes, expected]; 0 = adaptive (50% - nodes/125, floor 5%, at least 100 nodes).
  const cases: [number, number, number][] = [
    [0, 10, 10],
    [0, 99, 99],
    [0, 100, 100],
    [0, 500, 230],
    [0, 1000, 420],
    [0, 5000, 500],
    [0, 5900, 295],
    [0, 10000, 500],
    [0, 130000, 6500],
    [30, 1000, 300],
    [1, 5000, 100],
    [100, 5000, 5000],
  ];
  for (const [pct, nodes, want] of cases) {
    it(`${pct}% of ${nodes} nodes -> ${want}`, () => assert.equal(numFeasibleNodesToFind(pct, nodes), want));
  }
});

function cluster(n: number) {
  return snapshotOf(Array.from({ length: n }, (_, i) => makeNode(`node-${String(i).padStart(4, '0')}`)));
}

group('SchedulingAlgorithm', () => {
  it('filters only a sample of a large cluster and starts where the last cycle stopped', () => {
    const snap = cluster(300);
    const fwk = frameworkFor(defaultProfile().plugins, snap);
    const algo = new SchedulingAlgorithm(snap, () => 0);
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = algo.schedulePod(fwk, new CycleState(), makePod(`p${i}`, { cpu: '100m', memory: '100Mi' }));
      assert.ok(!(r instanceof Status) && !(r instanceof FitError));
      // 300 nodes: 50 - 300/125 = 48% -> 144 nodes evaluated per cycle.
      assert.equal(r.evaluatedNodes, 144);
      assert.equal(r.feasibleNodes, 144);
      seen.push(algo.nextStartNodeIndex);
    }
    assert.deepEqual(seen, [144, 288, 132]);
  });

  it('looks at every node when none fits, and words the reasons like kube-scheduler', () => {
    const snap = snapshotOf([
      makeNode('gpu', { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] }),
      makeNode('small-1', { cpu: '1' }),
      makeNode('small-2', { cpu: '1', memory: '1Gi' }),
    ]);
    const fwk = frameworkFor(defaultProfile().plugins, snap);
    const r = new SchedulingAlgorithm(snap).schedulePod(fwk, new CycleState(), makePod('big', { cpu: '2', memory: '2Gi' }));
    assert.ok(r instanceof FitError);
    assert.equal(r.message, '0/3 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu.');
    assert.deepEqual([...r.diagnosis.unschedulablePlugins].sort(), ['NodeResourcesFit', 'TaintToleration']);
  });

  it('a PreFilter rejection is reported once, not per node', () => {
    const snap = cluster(3);
    const fwk = frameworkFor(defaultProfile().plugins, snap);
    const pod = makePod('p', {
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['a'] }, { key: 'metadata.name', operator: 'In', values: ['b'] }] }],
          },
        },
      },
    });
    const r = new SchedulingAlgorithm(snap).schedulePod(fwk, new CycleState(), pod);
    assert.ok(r instanceof FitError);
    assert.equal(r.message, '0/3 nodes are available: pod affinity terms conflict.');
  });

  it('nodes outside a PreFilterResult count as not satisfying the plugin', () => {
    const snap = snapshotOf([makeNode('n1', { cpu: '1' }), makeNode('n2'), makeNode('n3')]);
    const fwk = frameworkFor(defaultProfile().plugins, snap);
    const pod = makePod('p', {
      cpu: '2',
      affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] }] } } },
    });
    const r = new SchedulingAlgorithm(snap).schedulePod(fwk, new CycleState(), pod);
    assert.ok(r instanceof FitError);
    assert.equal(r.message, "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) [NodeAffinity].");
  });

  it('no nodes at all', () => {
    const snap = cluster(0);
    const r = new SchedulingAlgorithm(snap).schedulePod(frameworkFor(defaultProfile().plugins, snap), new CycleState(), makePod('p'));
    assert.ok(r instanceof Status);
    assert.equal(r.message(), 'no nodes available to schedule pods');
  });

  it('picks the best-scoring node: LeastAllocated sends the pod to the emptiest node', () => {
    const snap = snapshotOf([makeNode('busy'), makeNode('idle'), makeNode('half')], [makePod('x', { nodeName: 'busy', cpu: '3', memory: '24Gi' }), makePod('y', { nodeName: 'half', cpu: '2', memory: '16Gi' })]);
    const fwk = frameworkFor(defaultProfile().plugins, snap);
    const r = new SchedulingAlgorithm(snap).schedulePod(fwk, new CycleState(), makePod('p', { cpu: '500m', memory: '1Gi' }));
    assert.ok(!(r instanceof Status) && !(r instanceof FitError));
    assert.equal(r.suggestedHost, 'idle');
  });

  it('breaks ties at random among the best nodes', () => {
    const snap = cluster(4);
    const fwk = frameworkFor(defaultProfile().plugins, snap);
    const pick = (rand: number) => {
      const r = new SchedulingAlgorithm(snap, () => rand).schedulePod(fwk, new CycleState(), makePod('p', { cpu: '1', memory: '1Gi' }));
      assert.ok(!(r instanceof Status) && !(r instanceof FitError));
      return r.suggestedHost;
    };
    // Reservoir sampling: with random() always 0 every later tie replaces the choice; with 0.99 none does.
    assert.equal(pick(0), 'node-0003');
    assert.equal(pick(0.99), 'node-0000');
  });
});
