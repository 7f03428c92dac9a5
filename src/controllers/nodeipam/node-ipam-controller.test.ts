import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../api/object.js';
import { Nodes } from '../../client/resources.js';
import { ControllerFixture } from '../util/controller-fixture.js';
import { NodeIpamController, type NodeIpamOptions } from './node-ipam-controller.js';

function node(name: string, podCIDRs?: string[]): KubeObject {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name }, spec: podCIDRs ? { podCIDR: podCIDRs[0], podCIDRs } : {} };
}

function setup(opts: NodeIpamOptions = {}, ...nodes: KubeObject[]) {
  const f = new ControllerFixture();
  f.seed(Nodes, ...nodes);
  const c = new NodeIpamController(f.ctx, opts);
  c.start();
  const cidrsOf = (name: string) => (f.client.peek<KubeObject & { spec?: { podCIDRs?: string[] } }>(Nodes, '', name)?.spec?.podCIDRs ?? []).join(',');
  /** Syncs each node, then lets the cache catch up with what was written. */
  const syncAll = async (...names: string[]) => {
    for (const n of names) await c.syncNode(n);
    f.sync(Nodes);
  };
  return { f, c, cidrsOf, syncAll };
}

test('nodes without a podCIDR get /24s of 10.42.0.0/16 in order, through a merge patch of the spec', async () => {
  const { f, c, cidrsOf, syncAll } = setup({}, node('a'), node('b'));
  await syncAll('a', 'b');
  assert.equal(cidrsOf('a'), '10.42.0.0/24');
  assert.equal(cidrsOf('b'), '10.42.1.0/24');
  assert.deepEqual(f.client.actions.filter((x) => x.verb === 'patch').map((x) => [x.name, x.patchType, JSON.stringify(x.object)]), [
    ['a', 'merge', '{"spec":{"podCIDR":"10.42.0.0/24","podCIDRs":["10.42.0.0/24"]}}'],
    ['b', 'merge', '{"spec":{"podCIDR":"10.42.1.0/24","podCIDRs":["10.42.1.0/24"]}}'],
  ]);
  assert.deepEqual(c.free, [254]);
  // Level-based: a node that has its CIDR needs no write.
  f.client.clearActions();
  await syncAll('a', 'b', 'gone');
  assert.deepEqual(f.writes(), []);
});

test('a restarted controller rebuilds the used set from the nodes before it allocates', async () => {
  const { cidrsOf, syncAll, c } = setup({}, node('old-0', ['10.42.0.0/24']), node('old-2', ['10.42.2.0/24']), node('new'));
  assert.deepEqual(c.free, [254]);
  await syncAll('new');
  assert.equal(cidrsOf('new'), '10.42.1.0/24');
});

test('a node that changes again before its patch reaches the cache keeps the CIDR it was given', async () => {
  const { f, cidrsOf, c } = setup({}, node('a'));
  await c.syncNode('a');
  // The cache has not seen the patch; the node's status changes meanwhile and it is synced again.
  await c.syncNode('a');
  assert.equal(cidrsOf('a'), '10.42.0.0/24');
  assert.deepEqual(c.free, [255]);
  assert.equal(f.actionsOf('patch', 'nodes').length, 2);
});

test('a full range: CIDRNotAvailable once, no write, and the node gets the CIDR a deleted node releases', async () => {
  const { f, c, cidrsOf, syncAll } = setup({ clusterCIDRs: ['10.42.0.0/23'] }, node('a'), node('b'), node('c'));
  await syncAll('a', 'b', 'c');
  assert.deepEqual([cidrsOf('a'), cidrsOf('b'), cidrsOf('c')], ['10.42.0.0/24', '10.42.1.0/24', '']);
  await syncAll('c');
  assert.deepEqual(f.takeEvents(), ['Normal CIDRNotAvailable Node c status is now: CIDRNotAvailable']);
  assert.equal(f.actionsOf('patch', 'nodes').length, 2);

  await f.client.delete(Nodes, '', 'a');
  f.sync(Nodes);
  assert.deepEqual(c.free, [1]);
  await syncAll('c');
  assert.equal(cidrsOf('c'), '10.42.0.0/24');
  assert.deepEqual(f.takeEvents(), []);
});

test('concurrent creates through the workers never share a CIDR', async () => {
  const names = Array.from({ length: 60 }, (_, i) => `n-${i}`);
  const { f, c, cidrsOf } = setup({}, ...names.map((n) => node(n)));
  const running = c.run(5);
  // Status churn while allocating: every node is synced again several times.
  for (let round = 0; round < 3; round++) {
    for (const n of names) f.informers.informerFor(Nodes).update(f.client.peek(Nodes, '', n)!);
    await new Promise((r) => setImmediate(r));
  }
  for (let i = 0; i < 100 && names.some((n) => cidrsOf(n) === ''); i++) await new Promise((r) => setImmediate(r));
  c.stop();
  await running;
  const cidrs = names.map(cidrsOf);
  assert.equal(new Set(cidrs).size, names.length);
  assert.ok(cidrs.every((x) => /^10\.42\.\d+\.0\/24$/.test(x)), cidrs.join(' '));
  assert.deepEqual(c.free, [256 - names.length]);
});

test('pre-set CIDRs outside the range, or claimed twice, are left alone and not released for the other node', async () => {
  const { f, c, cidrsOf, syncAll } = setup({}, node('mine', ['10.42.0.0/24']), node('copycat', ['10.42.0.0/24']), node('outside', ['192.168.0.0/24']), node('new'));
  assert.deepEqual(c.free, [255]);
  await f.client.delete(Nodes, '', 'copycat');
  f.sync(Nodes);
  // The copy's deletion does not free the CIDR the first node holds.
  assert.deepEqual(c.free, [255]);
  await syncAll('new');
  assert.equal(cidrsOf('new'), '10.42.1.0/24');
});

test('dual-stack: one CIDR per family, in the order of the cluster CIDRs', async () => {
  const { cidrsOf, syncAll } = setup({ clusterCIDRs: ['10.42.0.0/16', 'fd00:42::/56'] }, node('a'), node('b'));
  await syncAll('a', 'b');
  assert.equal(cidrsOf('a'), '10.42.0.0/24,fd00:42::/64');
  assert.equal(cidrsOf('b'), '10.42.1.0/24,fd00:42:0:1::/64');
});

test('bad options are refused at construction', () => {
  const f = new ControllerFixture();
  const cases: [NodeIpamOptions, RegExp][] = [
    [{ clusterCIDRs: ['10.42.0.0'] }, /invalid CIDR address: "10.42.0.0"/],
    [{ clusterCIDRs: ['10.42.0.0/16', '10.43.0.0/16'] }, /two CIDRs must be of different IP families/],
    [{ clusterCIDRs: [] }, /give one CIDR/],
    [{ nodeMaskSizes: [24, 64] }, /one mask size per cluster CIDR \(1\), got 2/],
    [{ nodeMaskSizes: [8] }, /mask size 8 does not fit cluster CIDR 10\.42\.0\.0\/16/],
  ];
  for (const [opts, message] of cases) assert.throws(() => new NodeIpamController(f.ctx, opts), { message }, JSON.stringify(opts));
});
