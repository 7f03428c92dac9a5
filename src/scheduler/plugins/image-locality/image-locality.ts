/**
 * Prefers nodes that already have the pod's images (imagelocality plugin). Each image present counts its size
 * scaled by the share of nodes that have it (so an image on every node does not attract pods), summed over the
 * containers and mapped linearly from [23MB, 1000MB x containers] to [0, 100].
 */
import { mustRead, type CycleState, type StateData } from '../../framework/cycle-state.js';
import { maxNodeScore, type Handle, type PreScorePlugin, type ScorePlugin } from '../../framework/interface.js';
import type { NodeInfo } from '../../framework/node-info.js';
import { normalizedImageName } from '../../framework/snapshot.js';
import type { Result } from '../../framework/status.js';
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

const preScoreKey = 'PreScore' + names.ImageLocality;

class PreScoreState implements StateData {
  constructor(
    /** Normalized image names of the init and app containers (undefined for a container without an image). */
    readonly images: (string | undefined)[],
  ) {}
  clone(): StateData {
    return this;
  }
}

export class ImageLocality implements PreScorePlugin, ScorePlugin {
  readonly name = names.ImageLocality;

  constructor(private readonly handle: Handle) {}

  /** Normalizes the pod's image names once per cycle rather than once per node (upstream does it in Score). */
  preScore(state: CycleState, pod: Pod): Result {
    const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
    state.write(preScoreKey, new PreScoreState(containers.map((c) => (c.image ? normalizedImageName(c.image) : undefined))));
    return undefined;
  }

  score(state: CycleState, _pod: Pod, nodeInfo: NodeInfo): number {
    const { images } = mustRead<PreScoreState>(state, preScoreKey);
    if (nodeInfo.imageStates.size === 0) return calculatePriority(0, images.length);
    const totalNodes = this.handle.snapshot.numNodes;
    let sum = 0;
    for (const image of images) {
      const st = image === undefined ? undefined : nodeInfo.imageStates.get(image);
      if (st) sum += Math.trunc(st.size * (st.numNodes / totalNodes));
    }
    return calculatePriority(sum, images.length);
  }
}
