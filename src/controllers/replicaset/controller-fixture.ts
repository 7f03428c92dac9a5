/**
 * Test fixture for controllers (the sample-controller pattern): a FakeClient that records actions, informers seeded
 * by hand, a FakeClock and a FakeRecorder, wired into a ControllerContext. Informers do not follow the client by
 * themselves; `sync()` delivers what changed in the client to the caches, so a test decides when the cache catches up
 * (and can make it lag).
 */
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { FakeClient } from '../../client/fake-client.js';
import { FakeClock } from '../../client/fake-clock.js';
import { FakeInformerFactory } from '../../client/fake-informer-factory.js';
import { FakeRecorder } from '../../client/fake-recorder.js';
import { Deployments, Pods, ReplicaSets } from '../../client/resources.js';
import type { ResourceType } from '../../client/types.js';
import { defaultControllerOptions, type ControllerContext } from '../controller.js';
import { formatTime } from './pod-readiness.js';

export class ControllerFixture {
  readonly clock = new FakeClock(Date.UTC(2025, 0, 1, 0, 0, 0));
  readonly client = new FakeClient({ clock: this.clock });
  readonly informers = new FakeInformerFactory();
  readonly recorder = new FakeRecorder();
  readonly ctx: ControllerContext = {
    client: this.client,
    informers: this.informers,
    recorder: () => this.recorder,
    clock: this.clock,
    options: defaultControllerOptions,
  };

  /** Stores objects in the client (filling uid, resourceVersion, creationTimestamp) and in the informer cache. */
  seed<T extends KubeObject>(rt: ResourceType, ...objs: T[]): T[] {
    this.client.seed(rt, ...objs);
    return objs.map((o) => {
      const stored = this.client.peek<T>(rt, o.metadata.namespace ?? '', o.metadata.name ?? '')!;
      this.informers.informerFor(rt).add(stored);
      return stored;
    });
  }

  /** Delivers the client's current objects of these types to the caches, as watches would: adds, updates, deletes. */
  sync(...rts: ResourceType[]): void {
    for (const rt of rts.length ? rts : [Deployments, ReplicaSets, Pods]) {
      const informer = this.informers.informerFor(rt);
      const current = new Map(this.client.all(rt).map((o) => [key(o), o]));
      for (const cached of informer.lister.list()) {
        if (!current.has(key(cached))) informer.delete(cached);
      }
      for (const [k, obj] of current) {
        const [ns, name] = splitNsName(k);
        const cached = informer.lister.get(ns, name);
        if (cached?.metadata.resourceVersion !== obj.metadata.resourceVersion) informer.update(obj);
      }
    }
  }

  /** What a kubelet reports for a pod that started: scheduled to `node`, Running, and Ready since now (or `readyAt`). */
  async markReady(pod: KubeObject, node = 'node-1', readyAt = this.clock.now()): Promise<void> {
    const ns = pod.metadata.namespace ?? '';
    const name = pod.metadata.name ?? '';
    const current = this.client.peek<Mutable<Pod> & KubeObject>(Pods, ns, name);
    if (!current) throw new Error(`markReady: pod ${ns}/${name} does not exist`);
    if (!current.spec?.nodeName) await this.client.createSubresource(Pods, ns, name, 'binding', { target: { kind: 'Node', name: node } });
    const fresh = this.client.peek<Mutable<Pod> & KubeObject>(Pods, ns, name)!;
    fresh.status = readyStatus(readyAt);
    await this.client.updateStatus(Pods, ns, fresh);
  }

  /** Events as `<type> <reason> <message>` lines, and clears them. */
  takeEvents(): string[] {
    const lines = this.recorder.lines();
    this.recorder.clear();
    return lines;
  }
}

export function readyStatus(readyAt: Date): Mutable<Pod>['status'] {
  return {
    phase: 'Running',
    conditions: [
      { type: 'PodScheduled', status: 'True', lastTransitionTime: formatTime(readyAt) },
      { type: 'Ready', status: 'True', lastTransitionTime: formatTime(readyAt) },
    ],
  };
}

function key(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;
}

function splitNsName(k: string): [string, string] {
  const i = k.indexOf('/');
  return [k.slice(0, i), k.slice(i + 1)];
}
