/**
 * Taints and tolerations (tainttoleration plugin). Filter: a node with a NoSchedule or NoExecute taint the pod
 * does not tolerate is unresolvable. Score: fewer untolerated PreferNoSchedule taints is better (counted, then
 * normalized in reverse).
 */
import type { Toleration } from 'kubernetes-types/core/v1.js';
import { mustRead, type CycleState, type StateData } from '../../framework/cycle-state.js';
import {
  ActionType,
  type ClusterEventWithHint,
  type EnqueueExtensions,
  type FilterPlugin,
  type PreScorePlugin,
  type ScorePlugin,
} from '../../framework/interface.js';
import type { NodeInfo } from '../../framework/node-info.js';
import { Status, type Result } from '../../framework/status.js';
import { findUntoleratedTaint, isDoNotScheduleTaint, tolerationsTolerateTaint } from '../../framework/taints.js';
import type { Node, Pod } from '../../framework/types.js';
import { defaultNormalizeScore } from '../helper/normalize-score.js';
import * as names from '../names.js';

const preScoreKey = 'PreScore' + names.TaintToleration;

class PreScoreState implements StateData {
  constructor(readonly tolerationsPreferNoSchedule: readonly Toleration[]) {}
  clone(): StateData {
    return this;
  }
}

export class TaintToleration implements FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions {
  readonly name = names.TaintToleration;

  filter(_state: CycleState, pod: Pod, nodeInfo: NodeInfo): Result {
    if (nodeInfo.taints.length === 0) return undefined;
    const taint = findUntoleratedTaint(nodeInfo.taints, pod.spec?.tolerations, isDoNotScheduleTaint);
    if (!taint) return undefined;
    return Status.unresolvable(`node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}`);
  }

  preScore(state: CycleState, pod: Pod): Result {
    const tolerations = (pod.spec?.tolerations ?? []).filter((t) => !t.effect || t.effect === 'PreferNoSchedule');
    state.write(preScoreKey, new PreScoreState(tolerations));
    return undefined;
  }

  /** The number of PreferNoSchedule taints the pod does not tolerate. */
  score(state: CycleState, _pod: Pod, nodeInfo: NodeInfo): number {
    if (nodeInfo.taints.length === 0) return 0;
    const { tolerationsPreferNoSchedule } = mustRead<PreScoreState>(state, preScoreKey);
    let n = 0;
    for (const taint of nodeInfo.taints) {
      if (taint.effect === 'PreferNoSchedule' && !tolerationsTolerateTaint(tolerationsPreferNoSchedule, taint)) n++;
    }
    return n;
  }

  normalizeScore(_state: CycleState, _pod: Pod, _nodes: readonly NodeInfo[], scores: Float64Array): Result {
    defaultNormalizeScore(scores, true);
    return undefined;
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      {
        event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeTaint },
        hint: (pod, _old, node) => (findUntoleratedTaint((node as Node).spec?.taints, pod.spec?.tolerations, isDoNotScheduleTaint) ? 'Skip' : 'Queue'),
      },
      { event: { resource: 'Pod', actionType: ActionType.UpdatePodToleration } },
    ];
  }
}
