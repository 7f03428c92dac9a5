/** Rejects nodes where a host port the pod asks for is already taken (nodeports plugin). */
import type { CycleState, StateData } from '../../framework/cycle-state.js';
import { mustRead } from '../../framework/cycle-state.js';
import { ActionType, type ClusterEventWithHint, type EnqueueExtensions, type FilterPlugin, type PreFilterPlugin } from '../../framework/interface.js';
import type { NodeInfo } from '../../framework/node-info.js';
import { PodInfo, type HostPort } from '../../framework/pod-info.js';
import { Status, type Result } from '../../framework/status.js';
import type { Pod } from '../../framework/types.js';
import * as names from '../names.js';

export const errReasonPorts = "node(s) didn't have free ports for the requested pod ports";
const stateKey = 'PreFilter' + names.NodePorts;

class PortsState implements StateData {
  constructor(readonly ports: readonly HostPort[]) {}
  clone(): StateData {
    return this;
  }
}

export class NodePorts implements PreFilterPlugin, FilterPlugin, EnqueueExtensions {
  readonly name = names.NodePorts;
  private readonly rejected = Status.unschedulable(errReasonPorts);

  preFilter(state: CycleState, pod: Pod): Status | undefined {
    const ports = PodInfo.of(pod).hostPorts;
    if (ports.length === 0) return Status.skip();
    state.write(stateKey, new PortsState(ports));
    return undefined;
  }

  filter(state: CycleState, _pod: Pod, nodeInfo: NodeInfo): Result {
    const { ports } = mustRead<PortsState>(state, stateKey);
    for (const p of ports) if (nodeInfo.usedPorts.conflicts(p)) return this.rejected;
    return undefined;
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      {
        event: { resource: 'AssignedPod', actionType: ActionType.Delete },
        hint: (pod, deleted) => (PodInfo.of(deleted as Pod).hostPorts.some((d) => PodInfo.of(pod).hostPorts.some((p) => p.port === d.port && p.protocol === d.protocol)) ? 'Queue' : 'Skip'),
      },
      { event: { resource: 'Node', actionType: ActionType.Add } },
    ];
  }
}
