/**
 * The fixture the workload controller tests share (sample-controller's `newFixture`): a FakeClient, static
 * informers, a FakeClock and a FakeRecorder wired into a ControllerContext. `seed` stores an object in the client
 * and puts the stored copy (uid, resourceVersion) into the informer cache, so the controller reads it from its
 * lister and can write it back; `resync` refreshes the caches from the client after a reconcile, as the watch would.
 */
import type { KubeObject } from '../../api/object.js';
import { FakeClient, type FakeAction } from '../../client/fake-client.js';
import { FakeClock } from '../../client/fake-clock.js';
import { FakeInformerFactory } from '../../client/fake-informer-factory.js';
import { FakeRecorder } from '../../client/fake-recorder.js';
import type { ResourceType } from '../../client/types.js';
import { defaultControllerOptions, type ControllerContext } from '../controller.js';

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

  /** Stores objects in the client and their stored form in the informer; returns the stored copies. */
  seed<T extends KubeObject>(rt: ResourceType, ...objs: T[]): T[] {
    return objs.map((o) => {
      this.client.seed(rt, o);
      const stored = this.client.peek<T>(rt, o.metadata.namespace ?? '', o.metadata.name ?? '')!;
      this.informers.informerFor<T>(rt).add(stored);
      return stored;
    });
  }

  /** Makes the informer caches of these types equal to the client's objects, as a watch would. */
  resync(...rts: ResourceType[]): void {
    for (const rt of rts) {
      const inf = this.informers.informerFor(rt);
      const live = new Map(this.client.all(rt).map((o) => [`${o.metadata.namespace ?? ''}/${o.metadata.name}`, o]));
      for (const cached of inf.lister.list()) {
        if (!live.has(`${cached.metadata.namespace ?? ''}/${cached.metadata.name}`)) inf.delete(cached);
      }
      for (const o of live.values()) inf.update(o);
    }
  }

  /** Actions other than reads, as `verb resource[/subresource] name` lines (created objects by their name or generateName). */
  writes(): string[] {
    return this.client.actions.filter((a) => a.verb !== 'get' && a.verb !== 'list').map(describe);
  }

  actionsOf(verb: FakeAction['verb'], resource: string): FakeAction[] {
    return this.client.actions.filter((a) => a.verb === verb && a.resource === resource);
  }
}

function describe(a: FakeAction): string {
  const obj = a.object as KubeObject | undefined;
  const name = a.name ?? obj?.metadata?.name ?? obj?.metadata?.generateName ?? '';
  return `${a.verb} ${a.resource}${a.subresource ? '/' + a.subresource : ''} ${name}`;
}
