/**
 * The fixture the controller tests share (sample-controller's `newFixture`): a FakeClient that records actions,
 * static informers, a FakeClock and a FakeRecorder wired into a ControllerContext. `seed` stores an object in the
 * client and puts the stored copy (uid, resourceVersion) into the informer cache, so the controller reads it from its
 * lister and can write it back. Informers do not follow the client by themselves: `sync` delivers what changed in
 * the client to the caches, as watches would, so a test decides when the cache catches up (and can make it lag).
 */
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { FakeClient, type FakeAction } from '../../client/testing/fake-client.js';
import { FakeClock } from '../../client/testing/fake-clock.js';
import { FakeInformerFactory } from '../../client/testing/fake-informer-factory.js';
import { FakeRecorder } from '../../client/testing/fake-recorder.js';
import { Pods } from '../../client/resources.js';
import type { ResourceType } from '../../client/types.js';
import { defaultControllerOptions, type ControllerContext } from '../controller.js';
import { rfc3339 } from '../../api/time.js';

export class ControllerFixture {
  readonly clock: FakeClock;
  readonly client: FakeClient;
  readonly informers = new FakeInformerFactory();
  readonly recorder = new FakeRecorder();
  readonly ctx: ControllerContext;

  constructor(start: Date | number = Date.UTC(2025, 0, 1, 12, 0, 0)) {
    this.clock = new FakeClock(start);
    this.client = new FakeClient({ clock: this.clock });
    this.ctx = {
      client: this.client,
      informers: this.informers,
      recorder: () => this.recorder,
      clock: this.clock,
      options: defaultControllerOptions,
    };
  }

  /** Stores objects in the client (filling uid, resourceVersion, creationTimestamp) and in the informer; returns the stored copies. */
  seed<T extends KubeObject>(rt: ResourceType, ...objs: T[]): T[] {
    return objs.map((o) => {
      this.client.seed(rt, o);
      const stored = this.client.peek<T>(rt, o.metadata.namespace ?? '', o.metadata.name ?? '')!;
      this.informers.informerFor<T>(rt).add(stored);
      return stored;
    });
  }

  /**
   * Delivers the client's current objects of these types to the caches, as watches would: adds, deletes, and updates
   * of the objects whose resourceVersion changed (an unchanged object gets no event).
   */
  sync(...rts: [ResourceType, ...ResourceType[]]): void {
    for (const rt of rts) {
      const informer = this.informers.informerFor(rt);
      const current = new Map(this.client.all(rt).map((o) => [nsName(o), o]));
      for (const cached of informer.lister.list()) {
        if (!current.has(nsName(cached))) informer.delete(cached);
      }
      for (const obj of current.values()) {
        const cached = informer.lister.get(obj.metadata.namespace ?? '', obj.metadata.name ?? '');
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

  /** Actions other than reads, as `verb resource[/subresource] name` lines (created objects by their name or generateName). */
  writes(): string[] {
    return this.client.actions.filter((a) => a.verb !== 'get' && a.verb !== 'list').map(describe);
  }

  actionsOf(verb: FakeAction['verb'], resource: string): FakeAction[] {
    return this.client.actions.filter((a) => a.verb === verb && a.resource === resource);
  }

  /** Events as `<type> <reason> <message>` lines, and clears them. */
  takeEvents(): string[] {
    const lines = this.recorder.lines();
    this.recorder.clear();
    return lines;
  }
}

/** The status of a pod that is Running and Ready since `readyAt`. */
export function readyStatus(readyAt: Date): Mutable<Pod>['status'] {
  return {
    phase: 'Running',
    conditions: [
      { type: 'PodScheduled', status: 'True', lastTransitionTime: rfc3339(readyAt) },
      { type: 'Ready', status: 'True', lastTransitionTime: rfc3339(readyAt) },
    ],
  };
}

function nsName(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;
}

function describe(a: FakeAction): string {
  const obj = a.object as KubeObject | undefined;
  const name = a.name ?? obj?.metadata?.name ?? obj?.metadata?.generateName ?? '';
  return `${a.verb} ${a.resource}${a.subresource ? '/' + a.subresource : ''} ${name}`;
}
