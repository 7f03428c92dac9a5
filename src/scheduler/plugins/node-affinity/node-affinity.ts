/**
 * spec.nodeSelector and node affinity (nodeaffinity plugin). Filter: the node must match the nodeSelector and
 * the required terms. PreFilter narrows the nodes when required terms name nodes by metadata.name. Score: the sum
 * of the weights of the preferred terms the node matches, normalized by the best node.
 */
import { mustRead, type CycleState, type StateData } from '../../framework/cycle-state.js';
import {
  ActionType,
  PreFilterResult,
  type ClusterEventWithHint,
  type EnqueueExtensions,
  type FilterPlugin,
  type PreFilterPlugin,
  type PreScorePlugin,
  type ScorePlugin,
} from '../../framework/interface.js';
import type { NodeInfo } from '../../framework/node-info.js';
import { PreferredSchedulingTerms, RequiredNodeAffinity } from '../../framework/node-selector.js';
import { Status, type Result } from '../../framework/status.js';
import type { Node, Pod } from '../../framework/types.js';
import { defaultNormalizeScore } from '../helper/normalize-score.js';
import * as names from '../names.js';

export const errReasonPod = "node(s) didn't match Pod's node affinity/selector";
export const errReasonConflict = 'pod affinity terms conflict';

const preFilterKey = 'PreFilter' + names.NodeAffinity;
const preScoreKey = 'PreScore' + names.NodeAffinity;

class PreFilterState implements StateData {
  constructor(readonly required: RequiredNodeAffinity) {}
  clone(): StateData {
    return this;
  }
}

class PreScoreState implements StateData {
  constructor(readonly preferred: PreferredSchedulingTerms) {}
  clone(): StateData {
    return this;
  }
}

/** The node names a pod's required terms pin it to, when every term names nodes (upstream PreFilter). */
function pinnedNodeNames(pod: Pod): Set<string> | undefined {
  const terms = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (!terms) return undefined;
  let all: Set<string> | undefined;
  for (const t of terms) {
    let termNames: Set<string> | undefined;
    for (const r of t.matchFields ?? []) {
      if (r.key !== 'metadata.name' || r.operator !== 'In') continue;
      const s = new Set(r.values ?? []);
      termNames = termNames ? new Set([...termNames].filter((n) => s.has(n))) : s;
    }
    // Terms are ORed: one term without a name restriction makes every node eligible.
    if (!termNames) return undefined;
    all = new Set([...(all ?? []), ...termNames]);
  }
  return all;
}

export class NodeAffinity implements PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions {
  readonly name = names.NodeAffinity;
  private readonly rejected = Status.unresolvable(errReasonPod);

  preFilter(state: CycleState, pod: Pod): Status | PreFilterResult | undefined {
    const required = new RequiredNodeAffinity(pod);
    if (required.isEmpty) return Status.skip();
    state.write(preFilterKey, new PreFilterState(required));
    const pinned = pinnedNodeNames(pod);
    if (pinned === undefined) return undefined;
    if (pinned.size === 0) return Status.unresolvable(errReasonConflict);
    return new PreFilterResult(pinned);
  }

  filter(state: CycleState, _pod: Pod, nodeInfo: NodeInfo): Result {
    const { required } = mustRead<PreFilterState>(state, preFilterKey);
    return nodeInfo.node && required.matches(nodeInfo.node) ? undefined : this.rejected;
  }

  preScore(state: CycleState, pod: Pod): Result {
    const preferred = new PreferredSchedulingTerms(pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []);
    if (preferred.isEmpty) return Status.skip();
    state.write(preScoreKey, new PreScoreState(preferred));
    return undefined;
  }

  score(state: CycleState, _pod: Pod, nodeInfo: NodeInfo): number {
    const { preferred } = mustRead<PreScoreState>(state, preScoreKey);
    return nodeInfo.node ? preferred.score(nodeInfo.node) : 0;
  }

  normalizeScore(_state: CycleState, _pod: Pod, _nodes: readonly NodeInfo[], scores: Float64Array): Result {
    defaultNormalizeScore(scores, false);
    return undefined;
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      {
        event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeLabel },
        hint: (pod, _old, node) => (new RequiredNodeAffinity(pod).matches(node as Node) ? 'Queue' : 'Skip'),
      },
    ];
  }
}
