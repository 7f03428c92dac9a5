/** Binds through the API: POST pods/NAME/binding with the chosen node (defaultbinder plugin). */
import { Pods } from '../../../client/resources.js';
import type { CycleState } from '../../framework/cycle-state.js';
import type { BindPlugin, Handle } from '../../framework/interface.js';
import { Status, type Result } from '../../framework/status.js';
import type { Pod } from '../../framework/types.js';
import * as names from '../names.js';

export class DefaultBinder implements BindPlugin {
  readonly name = names.DefaultBinder;

  constructor(private readonly handle: Handle) {}

  async bind(_state: CycleState, pod: Pod, nodeName: string): Promise<Result> {
    const client = this.handle.client;
    if (!client) return Status.error('DefaultBinder needs a client');
    const { name, namespace, uid } = pod.metadata;
    try {
      await client.createSubresource(Pods, namespace ?? '', name ?? '', 'binding', {
        apiVersion: 'v1',
        kind: 'Binding',
        metadata: { name, namespace, ...(uid ? { uid } : {}) },
        target: { kind: 'Node', name: nodeName },
      });
      return undefined;
    } catch (err) {
      return Status.error(err as Error);
    }
  }
}
