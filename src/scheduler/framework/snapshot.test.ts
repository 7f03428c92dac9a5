import assert from 'node:assert/strict';
import { describe as group, it } from 'node:test';
import { ObjectCache } from '../../client/object-cache.js';
import { makeNode, makePod } from '../testing/wrappers.js';
import { Snapshot } from './snapshot.js';
import type { Node, Pod } from './types.js';

group('Snapshot', () => {
  it('is built from listers, without finished or unassigned pods', () => {
    const nodes = new ObjectCache<Node>();
    const pods = new ObjectCache<Pod>();
    nodes.upsert(makeNode('n1', { cpu: '4' }));
    pods.upsert(makePod('running', { nodeName: 'n1', cpu: '1' }));
    pods.upsert(makePod('done', { nodeName: 'n1', cpu: '1', phase: 'Succeeded' }));
    pods.upsert(makePod('pending', { cpu: '1' }));
    const s = Snapshot.fromListers(nodes, pods);
    const n1 = s.get('n1')!;
    assert.deepEqual(n1.pods.map((p) => p.pod.metadata.name), ['running']);
    assert.deepEqual([n1.allocatable.milliCPU, n1.requested.milliCPU, n1.allocatable.allowedPodNumber], [4000, 1000, 110]);
  });

  it('assumes a pod at once, confirms it when the binding is observed, and forgets it on failure', () => {
    const s = new Snapshot();
    s.addNode(makeNode('n1'));
    const assumed = makePod('p', { nodeName: 'n1', cpu: '500m' });
    s.assumePod(assumed);
    assert.equal(s.get('n1')!.requested.milliCPU, 500);
    assert.deepEqual(s.podState(assumed), { nodeName: 'n1', assumed: true });
    assert.throws(() => s.assumePod(assumed), /is in the cache, so can't be assumed/);
    s.addPod({ ...assumed, metadata: { ...assumed.metadata, resourceVersion: '2' } });
    assert.deepEqual(s.podState(assumed), { nodeName: 'n1', assumed: false });
    assert.equal(s.get('n1')!.requested.milliCPU, 500, 'counted once');
    s.forgetPod(assumed);
    assert.equal(s.get('n1')!.requested.milliCPU, 500, 'a confirmed pod is not forgotten');

    const other = makePod('q', { nodeName: 'n1', cpu: '1' });
    s.assumePod(other);
    s.forgetPod(other);
    assert.equal(s.get('n1')!.requested.milliCPU, 500);
  });

  it('keeps pods of a node that is gone until they are deleted, without listing the node', () => {
    const s = new Snapshot();
    const node = makeNode('n1');
    s.addNode(node);
    const p = makePod('p', { nodeName: 'n1', cpu: '1' });
    s.addPod(p);
    s.removeNode(node);
    assert.equal(s.numNodes, 0);
    s.addNode(node);
    assert.equal(s.get('n1')!.requested.milliCPU, 1000, 'the pod is still accounted for when the node comes back');
    s.removePod(p);
    assert.equal(s.get('n1')!.pods.length, 0);
  });

  it('lists nodes round-robin across zones so a sampled prefix spans zones', () => {
    const s = new Snapshot();
    for (const [name, zone] of [['a1', 'a'], ['a2', 'a'], ['a3', 'a'], ['b1', 'b'], ['c1', 'c'], ['c2', 'c']]) {
      s.addNode(makeNode(name!, { labels: { 'topology.kubernetes.io/zone': zone! } }));
    }
    assert.deepEqual(s.list().map((n) => n.name), ['a1', 'b1', 'c1', 'a2', 'c2', 'a3']);
  });

  it('counts on how many nodes each image is, for ImageLocality', () => {
    const s = new Snapshot();
    const img = { names: ['nginx:1.27'], sizeBytes: 70_000_000 };
    s.addNode(makeNode('n1', { images: [img] }));
    s.addNode(makeNode('n2', { images: [img] }));
    assert.equal(s.get('n1')!.imageStates.get('nginx:1.27')!.numNodes, 2);
    s.updateNode(makeNode('n2', { images: [img] }), makeNode('n2'));
    assert.equal(s.get('n1')!.imageStates.get('nginx:1.27')!.numNodes, 1);
  });
});
