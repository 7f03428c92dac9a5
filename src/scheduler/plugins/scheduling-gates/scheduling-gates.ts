/**
 * Keeps pods with spec.schedulingGates out of scheduling until every gate is removed (schedulinggates plugin,
 * KEP-3521). The pod waits in the unschedulable pool, not in the active queue.
 */
import { ActionType, type ClusterEventWithHint, type EnqueueExtensions, type PreEnqueuePlugin } from '../../framework/interface.js';
import { Status, type Result } from '../../framework/status.js';
import type { Pod } from '../../framework/types.js';
import * as names from '../names.js';

export class SchedulingGates implements PreEnqueuePlugin, EnqueueExtensions {
  readonly name = names.SchedulingGates;

  preEnqueue(pod: Pod): Result {
    const gates = pod.spec?.schedulingGates ?? [];
    if (gates.length === 0) return undefined;
    return Status.unresolvable(`waiting for scheduling gates: [${gates.map((g) => g.name).join(' ')}]`);
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [{ event: { resource: 'Pod', actionType: ActionType.UpdatePodSchedulingGatesEliminated } }];
  }
}
