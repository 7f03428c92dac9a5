/**
 * Rejects cordoned nodes (spec.unschedulable, `kubectl cordon`) unless the pod tolerates the
 * node.kubernetes.io/unschedulable:NoSchedule taint (nodeunschedulable plugin).
 */
import { ActionType, type ClusterEventWithHint, type EnqueueExtensions, type FilterPlugin } from '../../framework/interface.js';
import type { CycleState } from '../../framework/cycle-state.js';
import type { NodeInfo } from '../../framework/node-info.js';
import { Status, type Result } from '../../framework/status.js';
import { tolerationsTolerateTaint } from '../../framework/taints.js';
import type { Node, Pod } from '../../framework/types.js';
import * as names from '../names.js';

export const errReasonUnschedulable = 'node(s) were unschedulable';
const unschedulableTaint = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' };

export class NodeUnschedulable implements FilterPlugin, EnqueueExtensions {
  readonly name = names.NodeUnschedulable;
  private readonly rejected = Status.unresolvable(errReasonUnschedulable);

  filter(_state: CycleState, pod: Pod, nodeInfo: NodeInfo): Result {
    if (!nodeInfo.node?.spec?.unschedulable) return undefined;
    return tolerationsTolerateTaint(pod.spec?.tolerations, unschedulableTaint) ? undefined : this.rejected;
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      {
        event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeTaint },
        hint: (_pod, _old, node) => ((node as Node).spec?.unschedulable ? 'Skip' : 'Queue'),
      },
    ];
  }
}
