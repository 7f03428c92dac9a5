/**
 * The controller's loop against a recording writer and static informers (no kernel, no root): the first write at
 * start deletes stale chains, changes that matter write again, ones that do not (status churn, identical results)
 * do not, a failed write is retried whole, warnings become one Event per policy generation, stop removes everything.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../../api/object.js';
import { Namespaces, NetworkPolicies, Pods } from '../../../client/resources.js';
import { FakeInformerFactory } from '../../../client/testing/fake-informer-factory.js';
import type { EventRecorder } from '../../../client/types.js';
import { NetworkPolicyController, type PolicyRuleWriter } from './network-policy-controller.js';
import { NODE, ns, pod, policy } from './policy-golden-cases.js';

class RecordingWriter implements PolicyRuleWriter {
  chains = new Set<string>();
  texts: string[] = [];
  jumps = 0;
  removed = 0;
  failNext = 0;
  async listChains(): Promise<Set<string>> {
    return new Set(this.chains);
  }
  async restore(text: string): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('iptables-restore failed (exit 4): resource problem');
    }
    this.texts.push(text);
    for (const m of text.matchAll(/^:(\S+)/gm)) this.chains.add(m[1]!);
    for (const m of text.matchAll(/^-X (\S+)/gm)) this.chains.delete(m[1]!);
  }
  async ensureJumps(): Promise<void> {
    this.jumps++;
  }
  async remove(): Promise<void> {
    this.removed++;
    this.chains.clear();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, fn: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('NetworkPolicyController', () => {
  let controller: NetworkPolicyController | undefined;
  afterEach(async () => {
    await controller?.stop();
    controller = undefined;
  });

  const setup = () => {
    const factory = new FakeInformerFactory();
    const pods = factory.informerFor<Pod & KubeObject>(Pods);
    factory.informerFor(Namespaces).add(ns('shop') as KubeObject);
    pods.add(pod('shop', 'web', '10.91.0.10', { app: 'web' }) as Pod & KubeObject);
    pods.add(pod('shop', 'client', '10.91.0.20', { role: 'client' }) as Pod & KubeObject);
    const events: string[] = [];
    const recorder: EventRecorder = { event: (obj, type, reason, message) => events.push(`${obj.kind} ${obj.metadata?.name} ${type} ${reason}: ${message}`) };
    const writer = new RecordingWriter();
    const policies = factory.informerFor<KubeObject>(NetworkPolicies);
    controller = new NetworkPolicyController({ informers: factory, nodeName: NODE, agentIdentity: 'skiffabcdef', recorder, writer, minSyncIntervalMs: 20 });
    return { factory, pods, policies, writer, events, controller };
  };

  it('writes at start (stale chains of ours deleted), again on a policy change, and removes everything on stop', async () => {
    const { writer, policies, controller: c } = setup();
    writer.chains.add(`SKIFF-NWPLCY-${c.tag}-0000000000`);
    await c.start();
    assert.equal(writer.texts.length, 1);
    assert.match(writer.texts[0]!, new RegExp(`-X SKIFF-NWPLCY-${c.tag}-0000000000\\n`), 'the stale chain is deleted in the first write');
    assert.equal(writer.jumps, 1);
    assert.ok(!writer.texts[0]!.includes('DROP'), 'no policy: nothing dropped');

    policies.add(policy('shop', 'deny', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress'] }) as KubeObject);
    await until('a second write', () => writer.texts.length === 2);
    assert.match(writer.texts[1]!, /-d 10\.91\.0\.10\/32 .*-j SKIFF-POD-FW-/);
    assert.match(writer.texts[1]!, /shop\/web: ingress not allowed by any policy" -j DROP/);

    policies.delete('shop/deny');
    await until('a third write', () => writer.texts.length === 3);
    assert.ok(!writer.texts[2]!.includes('DROP'));
    assert.match(writer.texts[2]!, /-X SKIFF-POD-FW-/, 'the pod chain no longer rendered is deleted');

    await c.stop();
    assert.equal(writer.removed, 1);
    assert.equal(writer.chains.size, 0);
  });

  it('status churn and changes that render the same rules write nothing', async () => {
    const { writer, pods, policies, factory, controller: c } = setup();
    await c.start();
    policies.add(policy('shop', 'deny', { podSelector: {} }) as KubeObject);
    await until('the policy written', () => writer.texts.length === 2);
    const web = pods.lister.get('shop', 'web')!;
    pods.update({ ...web, status: { ...web.status, conditions: [{ type: 'Ready', status: 'False' }] } });
    factory.informerFor(Namespaces).update(ns('shop', { unrelated: 'label' }) as KubeObject);
    await sleep(150);
    assert.equal(writer.texts.length, 2, 'a readiness flip or a label no policy reads does not rewrite the rules');
    pods.update({ ...web, metadata: { ...web.metadata, labels: { app: 'web', extra: 'x' } } });
    await sleep(150);
    assert.equal(writer.texts.length, 2, 'a label change that selects the same pods renders the same rules');
    pods.add(pod('shop', 'new', '10.91.0.30') as Pod & KubeObject);
    await until('the new pod isolated', () => writer.texts.length === 3 && writer.texts[2]!.includes('-d 10.91.0.30/32'));
  });

  it('a failed write is retried whole', async () => {
    const { writer, policies, controller: c } = setup();
    await c.start();
    writer.failNext = 1;
    policies.add(policy('shop', 'deny', { podSelector: {} }) as KubeObject);
    await until('the retry', () => writer.texts.length === 2, 5000);
    assert.match(writer.texts[1]!, /DROP/);
  });

  it('what cannot be honoured becomes one Warning Event per policy generation', async () => {
    const { events, policies, pods, controller: c } = setup();
    await c.start();
    const odd = policy('shop', 'v6', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: 'fd00::/64' } }] }] });
    policies.add(odd as KubeObject);
    await until('an event', () => events.length === 1);
    assert.match(events[0]!, /^NetworkPolicy v6 Warning PolicyNotEnforced: spec\.ingress\[0\]\.from\[0\]\.ipBlock: the IPv6 block "fd00::\/64" is not enforced/);
    pods.add(pod('shop', 'more', '10.91.0.31') as Pod & KubeObject);
    await sleep(150);
    assert.equal(events.length, 1, 'the same generation is not reported twice');
    policies.update({ ...odd, metadata: { ...odd.metadata, generation: 2 } } as KubeObject);
    await until('a second event', () => events.length === 2);
  });
});
