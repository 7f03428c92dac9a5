/**
 * An InformerFactory of StaticInformers for controller unit tests: `informerFor` hands every caller the same
 * informer per resource type, which the test seeds (`factory.informerFor(Pods).add(pod)`).
 */
import type { KubeObject } from '../../api/object.js';
import { informerKey } from '../informer.js';
import { StaticInformer, type StaticInformerOptions } from './static-informer.js';
import type { InformerFactory, InformerSelector, ResourceType } from '../types.js';

export class FakeInformerFactory implements InformerFactory {
  private readonly informers = new Map<string, StaticInformer<KubeObject>>();
  private running = false;

  constructor(private readonly opts: StaticInformerOptions = {}) {}

  informerFor<T extends KubeObject = KubeObject>(rt: ResourceType, selector: InformerSelector = {}): StaticInformer<T> {
    const k = informerKey(rt, selector);
    let inf = this.informers.get(k);
    if (!inf) {
      inf = new StaticInformer(this.opts);
      if (this.running) inf.start();
      this.informers.set(k, inf);
    }
    return inf as unknown as StaticInformer<T>;
  }

  start(): void {
    this.running = true;
    for (const inf of this.informers.values()) inf.start();
  }

  stop(): void {
    this.running = false;
    for (const inf of this.informers.values()) inf.stop();
  }

  get started(): boolean {
    return this.running;
  }

  async waitForSync(): Promise<void> {}
}
