/** Rejects nodes other than the one named in spec.nodeName (nodename plugin). */
import { ActionType, type ClusterEventWithHint, type EnqueueExtensions, type FilterPlugin } from '../../framework/interface.js';
import type { CycleState } from '../../framework/cycle-state.js';
import type { NodeInfo } from '../../framework/node-info.js';
import { Status, type Result } from '../../framework/status.js';
import type { Node, Pod } from '../../framework/types.js';
import * as names from '../names.js';

export const errReasonNodeName = "node(s) didn't match the requested node name";

export class NodeName implements FilterPlugin, EnqueueExtensions {
  readonly name = names.NodeName;
  private readonly rejected = Status.unresolvable(errReasonNodeName);

  filter(_state: CycleState, pod: Pod, nodeInfo: NodeInfo): Result {
    const want = pod.spec?.nodeName;
    return want && want !== nodeInfo.name ? this.rejected : undefined;
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      {
        event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeLabel },
        hint: (pod, _old, node) => (!pod.spec?.nodeName || pod.spec.nodeName === (node as Node).metadata.name ? 'Queue' : 'Skip'),
      },
    ];
  }
}
