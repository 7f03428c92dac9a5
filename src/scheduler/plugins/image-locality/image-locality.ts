/**
 * Prefers nodes that already have the pod's images (imagelocality plugin). Each image present counts its size
 * scaled by the share of nodes that have it (so an image on every node does not attract pods), summed over the
 * containers and mapped linearly from [23MB, 1000MB x containers] to [0, 100].
 */
import type { CycleState } from '../../framework/cycle-state.js';
import { maxNodeScore, type Handle, type ScorePlugin } from '../../framework/interface.js';
import type { NodeInfo } from '../../framework/node-info.js';
import { normalizedImageName } from '../../framework/snapshot.js';
import type { Pod } from '../../framework/types.js';
import * as names from '../names.js';

const mb = 1024 * 1024;
export const minThreshold = 23 * mb;
export const maxContainerThreshold = 1000 * mb;

export function calculatePriority(sumScores: number, numContainers: number): number {
  const maxThreshold = maxContainerThreshold * numContainers;
  const s = Math.min(Math.max(sumScores, minThreshold), maxThreshold);
  return Math.trunc((maxNodeScore * (s - minThreshold)) / (maxThreshold - minThreshold));
}

export class ImageLocality implements ScorePlugin {
  readonly name = names.ImageLocality;

  constructor(private readonly handle: Handle) {}

  score(_state: CycleState, pod: Pod, nodeInfo: NodeInfo): number {
    const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
    if (nodeInfo.imageStates.size === 0) return calculatePriority(0, containers.length);
    const totalNodes = this.handle.snapshot.numNodes;
    let sum = 0;
    for (const c of containers) {
      const st = c.image ? nodeInfo.imageStates.get(normalizedImageName(c.image)) : undefined;
      if (st) sum += Math.trunc(st.size * (st.numNodes / totalNodes));
    }
    return calculatePriority(sum, containers.length);
  }
}
