/**
 * Feeds a FakeClient's writes into a FakeInformerFactory's StaticInformers through watches, so a component under
 * test sees its own writes come back the way a real informer delivers them (asynchronously, in order).
 */
import type { FakeClient } from '../../client/fake-client.js';
import type { FakeInformerFactory } from '../../client/fake-informer-factory.js';
import type { ResourceType } from '../../client/types.js';

export function mirrorInformers(client: FakeClient, factory: FakeInformerFactory, types: ResourceType[]): { stop(): void } {
  const watchers = types.map((rt) =>
    client.watch(
      rt,
      '',
      { resourceVersion: '0' },
      (ev) => {
        const inf = factory.informerFor(rt);
        if (ev.type === 'ADDED' || ev.type === 'MODIFIED') inf.update(ev.object);
        else if (ev.type === 'DELETED') inf.delete(ev.object);
      },
      (err) => {
        if (err) throw err;
      },
    ),
  );
  return { stop: () => watchers.forEach((w) => w.stop()) };
}

/** Lets microtasks and immediates run until `cond` holds; fails after `turns` event-loop turns. */
export async function until(cond: () => boolean, what: string, turns = 2000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (cond()) return;
    await new Promise<void>((r) => setImmediate(r));
  }
  throw new Error(`timed out waiting for ${what}`);
}
