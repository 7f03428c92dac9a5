import assert from 'node:assert/strict';
import { describe as group, it } from 'node:test';
import { FakeClock } from '../../client/testing/fake-clock.js';
import { makeNode, makePod, snapshotOf } from '../testing/wrappers.js';
import type { CycleState } from './cycle-state.js';
import { Framework } from './framework.js';
import type { NodeInfo } from './node-info.js';
import type { Handle, Plugin } from './interface.js';
import { Registry } from './registry.js';
import { Code, Status, type Result } from './status.js';

/** A plugin at every extension point that records its calls and answers as told. */
class Recorder implements Plugin {
  readonly calls: string[];
  constructor(
    readonly name: string,
    calls: string[],
    private readonly answers: { preFilter?: Status; filter?: (node: string) => Result; score?: (node: string) => number; reserve?: Result; permit?: Result; bind?: Result } = {},
  ) {
    this.calls = calls;
  }
  preFilter(): Status | undefined {
    this.calls.push(`${this.name}.preFilter`);
    return this.answers.preFilter;
  }
  filter(_s: CycleState, _p: unknown, ni: NodeInfo): Result {
    this.calls.push(`${this.name}.filter(${ni.name})`);
    return this.answers.filter?.(ni.name);
  }
  score(_s: CycleState, _p: unknown, ni: NodeInfo): number {
    return this.answers.score?.(ni.name) ?? 0;
  }
  reserve(): Result {
    this.calls.push(`${this.name}.reserve`);
    return this.answers.reserve;
  }
  unreserve(): void {
    this.calls.push(`${this.name}.unreserve`);
  }
  permit(): Result {
    this.calls.push(`${this.name}.permit`);
    return this.answers.permit;
  }
  async bind(): Promise<Result> {
    this.calls.push(`${this.name}.bind`);
    return this.answers.bind;
  }
}

function build(plugins: Recorder[], weights: Record<string, number> = {}, clock = new FakeClock()) {
  const registry = new Registry(plugins.map((p) => [p.name, () => p]));
  const snap = snapshotOf([makeNode('n1'), makeNode('n2')]);
  return new Framework({ registry, profile: { schedulerName: 'default-scheduler', plugins: plugins.map((p) => ({ name: p.name, weight: weights[p.name] })) }, snapshot: snap, clock });
}

group('Framework runtime', () => {
  it('refuses a second plugin under a taken name, and unknown plugins in a profile', () => {
    assert.throws(() => new Registry([['A', () => ({ name: 'A' })], ['A', () => ({ name: 'A' })]]), /a plugin named A already exists/);
    const snap = snapshotOf([]);
    assert.throws(() => new Framework({ registry: new Registry(), profile: { schedulerName: 's', plugins: [{ name: 'Nope' }] }, snapshot: snap, clock: new FakeClock() }), /"Nope" does not exist/);
  });

  it('the first failing filter decides; a PreFilter Skip switches that plugin off for the cycle', () => {
    const calls: string[] = [];
    const a = new Recorder('A', calls, { filter: (n) => (n === 'n1' ? Status.unschedulable('a says no') : undefined) });
    const b = new Recorder('B', calls, { preFilter: Status.skip() });
    const c = new Recorder('C', calls);
    const fwk = build([a, b, c]);
    const state = fwk.newCycleState();
    fwk.runPreFilterPlugins(state, makePod('p'), fwk.snapshot.list());
    const s1 = fwk.runFilterPlugins(state, makePod('p'), fwk.snapshot.get('n1')!);
    const s2 = fwk.runFilterPlugins(state, makePod('p'), fwk.snapshot.get('n2')!);
    assert.deepEqual([s1?.plugin, s1?.message(), s2], ['A', 'a says no', undefined]);
    assert.deepEqual(calls.filter((c) => c.includes('filter(')), ['A.filter(n1)', 'A.filter(n2)', 'C.filter(n2)']);
  });

  it('a filter error is reported as an Error naming the plugin', () => {
    const fwk = build([new Recorder('A', [], { filter: () => Status.error('boom') })]);
    const s = fwk.runFilterPlugins(fwk.newCycleState(), makePod('p'), fwk.snapshot.get('n1')!);
    assert.deepEqual([s?.code, s?.message()], [Code.Error, 'running "A" filter plugin: boom']);
  });

  it('weights scores and rejects scores outside 0..100', () => {
    const fwk = build([new Recorder('A', [], { score: (n) => (n === 'n1' ? 10 : 20) }), new Recorder('B', [], { score: () => 50 })], { A: 3, B: 1 });
    const state = fwk.newCycleState();
    const totals = fwk.runScorePlugins(state, makePod('p'), fwk.snapshot.list());
    assert.deepEqual([...(totals as Float64Array)], [80, 110]);
    const bad = build([new Recorder('A', [], { score: () => 101 })]);
    const s = bad.runScorePlugins(bad.newCycleState(), makePod('p'), bad.snapshot.list());
    assert.ok(s instanceof Status);
    assert.equal(s.message(), 'plugin "A" returns an invalid score 101, it should in the range of [0, 100] after normalizing');
  });

  it('a failing Reserve is reported, and unreserve runs for every plugin in reverse', () => {
    const calls: string[] = [];
    const fwk = build([new Recorder('A', calls), new Recorder('B', calls, { reserve: Status.unschedulable('no room') }), new Recorder('C', calls)]);
    const state = fwk.newCycleState();
    const s = fwk.runReservePluginsReserve(state, makePod('p'), 'n1');
    assert.deepEqual([s?.plugin, s?.code], ['B', Code.Unschedulable]);
    fwk.runReservePluginsUnreserve(state, makePod('p'), 'n1');
    assert.deepEqual(calls, ['A.reserve', 'B.reserve', 'C.unreserve', 'B.unreserve', 'A.unreserve']);
  });

  it('Permit Wait holds the pod until every waiting plugin allows it', async () => {
    const fwk = build([new Recorder('A', [], { permit: Status.wait(5000) }), new Recorder('B', [], { permit: Status.wait(5000) })]);
    const pod = makePod('p');
    assert.equal(fwk.runPermitPlugins(fwk.newCycleState(), pod, 'n1')?.code, Code.Wait);
    const waiting = fwk.waitOnPermit(pod);
    const wp = (fwk as Handle).getWaitingPod(pod.metadata.uid!)!;
    assert.deepEqual(wp.pendingPlugins, ['A', 'B']);
    wp.allow('A');
    wp.allow('B');
    assert.equal(await waiting, undefined);
  });

  it('Permit Wait times out on the clock, or ends with a rejection', async () => {
    const clock = new FakeClock();
    const fwk = build([new Recorder('A', [], { permit: Status.wait(3000) })], {}, clock);
    const pod = makePod('p');
    fwk.runPermitPlugins(fwk.newCycleState(), pod, 'n1');
    const waiting = fwk.waitOnPermit(pod);
    clock.advance(3000);
    const s = await waiting;
    assert.deepEqual([s?.code, s?.message(), s?.plugin], [Code.Unschedulable, 'rejected due to timeout after waiting 3s at plugin A', 'A']);

    fwk.runPermitPlugins(fwk.newCycleState(), pod, 'n1');
    const again = fwk.waitOnPermit(pod);
    fwk.getWaitingPod(pod.metadata.uid!)!.reject('A', 'quota exhausted');
    assert.equal((await again)?.message(), 'quota exhausted');
  });

  it('a Skip from a bind plugin hands the pod to the next one', async () => {
    const calls: string[] = [];
    const fwk = build([new Recorder('A', calls, { bind: Status.skip() }), new Recorder('B', calls)]);
    assert.equal(await fwk.runBindPlugins(fwk.newCycleState(), makePod('p'), 'n1'), undefined);
    assert.deepEqual(calls.filter((c) => c.endsWith('.bind')), ['A.bind', 'B.bind']);
  });
});
