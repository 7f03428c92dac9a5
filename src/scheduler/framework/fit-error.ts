/**
 * Why a pod fits nowhere, worded exactly as kube-scheduler words it in FailedScheduling events and the
 * PodScheduled condition (framework.FitError.Error()):
 *
 *   0/3 nodes are available: 1 node(s) had untolerated taint {k: v}, 2 Insufficient cpu. preemption: 0/3 nodes
 *   are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.
 *
 * Reasons are counted over nodes and sorted as strings ("<count> <reason>"), so the order matches upstream.
 */
import { NodeToStatus } from './interface.js';
import type { Status } from './status.js';
import type { Pod } from './types.js';

export const noNodesAvailableMessage = 'no nodes available to schedule pods';

export class Diagnosis {
  readonly nodeToStatus = new NodeToStatus();
  /** Plugins that rejected the pod on some node: the cluster events they registered requeue it. */
  readonly unschedulablePlugins = new Set<string>();
  /** Set when PreFilter rejected the pod (then every node has that status and the histogram is omitted). */
  preFilterMsg = '';
  /** The PostFilter (preemption) outcome appended after the filter reasons. */
  postFilterMsg = '';

  addPluginStatus(s: Status): void {
    if (s.plugin && s.isRejected()) this.unschedulablePlugins.add(s.plugin);
  }
}

export class FitError extends Error {
  constructor(
    readonly pod: Pod,
    readonly numAllNodes: number,
    readonly diagnosis: Diagnosis,
  ) {
    super();
    this.name = 'FitError';
    this.message = this.describe();
  }

  /** Records the PostFilter message and rewords the error with it. */
  setPostFilterMsg(msg: string): void {
    this.diagnosis.postFilterMsg = msg;
    this.message = this.describe();
  }

  private describe(): string {
    const d = this.diagnosis;
    let msg = `0/${this.numAllNodes} nodes are available:`;
    if (d.preFilterMsg) {
      msg += ` ${d.preFilterMsg}.`;
    } else {
      const counts = new Map<string, number>();
      for (const s of d.nodeToStatus.map.values()) for (const r of s.reasons) counts.set(r, (counts.get(r) ?? 0) + 1);
      const absent = this.numAllNodes - d.nodeToStatus.size;
      if (absent > 0 && d.nodeToStatus.absent) {
        for (const r of d.nodeToStatus.absent.reasons) counts.set(r, (counts.get(r) ?? 0) + absent);
      }
      // Go's sort.Strings: byte-wise order of the formatted "<count> <reason>" strings.
      const parts = [...counts].map(([r, n]) => `${n} ${r}`).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      if (parts.length > 0) msg += ` ${parts.join(', ')}.`;
    }
    if (d.postFilterMsg) msg += ` ${d.postFilterMsg}`;
    return msg;
  }
}
