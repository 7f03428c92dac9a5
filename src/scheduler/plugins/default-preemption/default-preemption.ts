/**
 * Preemption (defaultpreemption plugin + framework/preemption Evaluator). When no node fits a pod, find nodes
 * where evicting pods of lower priority would make room, pick the one whose victims matter least, delete the
 * victims (honouring their grace period) and nominate the node for the pod, which waits for them to go.
 *
 * Per candidate node (SelectVictimsOnNode): remove every lower-priority pod, check the pod fits, then add them
 * back from the most important down, keeping each one that still leaves room, PDB-violating pods first. Among
 * candidates (pickOneNodeForPreemption): fewest PDB violations, then the lowest highest victim priority, the
 * lowest priority sum, the fewest victims, the latest start of the highest-priority victims.
 */
import { Pods } from '../../../client/resources.js';
import { isNotFound } from '../../../api/status.js';
import type { CycleState } from '../../framework/cycle-state.js';
import { Diagnosis, FitError } from '../../framework/fit-error.js';
import { NodeToStatus, type Handle, type PostFilterPlugin, type PostFilterResult } from '../../framework/interface.js';
import type { NodeInfo } from '../../framework/node-info.js';
import type { PodInfo } from '../../framework/pod-info.js';
import { Code, Status, type Result } from '../../framework/status.js';
import { podKey } from '../../../api/pod.js';
import { selects } from '../../../api/selects.js';
import { rfc3339 } from '../../../api/time.js';
import { podPriority, type Pod, type PodDisruptionBudget } from '../../framework/types.js';
import * as names from '../names.js';
import { createLogger } from '../../../log/logger.js';

const log = createLogger('kube-scheduler');

export const errReasonNoVictims = 'No preemption victims found for incoming pod';
export const errReasonNotHelpful = 'Preemption is not helpful for scheduling';

export interface DefaultPreemptionArgs {
  /** Dry-run at least this share of the nodes that might help (default 10). */
  minCandidateNodesPercentage?: number;
  /** ...and at least this many (default 100). */
  minCandidateNodesAbsolute?: number;
}

export interface Candidate {
  nodeName: string;
  /** Most important first. */
  victims: Pod[];
  numPDBViolations: number;
}

function startTime(p: Pod, now: number): number {
  const t = p.status?.startTime;
  return t ? Date.parse(t) : now;
}

/** util.MoreImportantPod: higher priority, then the one that started earlier. */
export function moreImportantPod(a: Pod, b: Pod, now = Date.now()): boolean {
  const pa = podPriority(a);
  const pb = podPriority(b);
  if (pa !== pb) return pa > pb;
  return startTime(a, now) < startTime(b, now);
}

/** Splits pods (kept in order) into those whose eviction would exceed a PDB's disruptionsAllowed and the rest. */
export function filterPodsWithPDBViolation(pods: readonly PodInfo[], pdbs: readonly PodDisruptionBudget[]): [PodInfo[], PodInfo[]] {
  const allowed = pdbs.map((p) => p.status?.disruptionsAllowed ?? 0);
  const violating: PodInfo[] = [];
  const nonViolating: PodInfo[] = [];
  for (const pi of pods) {
    const pod = pi.pod;
    let violated = false;
    if (pod.metadata.labels && Object.keys(pod.metadata.labels).length > 0) {
      pdbs.forEach((pdb, i) => {
        if (pdb.metadata.namespace !== pod.metadata.namespace) return;
        // A PDB whose selector is nil, empty or does not convert matches nothing.
        if (!selects(pdb.spec?.selector, pod.metadata.labels)) return;
        // Already counted by the API server's eviction handling.
        if (pdb.status?.disruptedPods?.[pod.metadata.name ?? '']) return;
        allowed[i]!--;
        if (allowed[i]! < 0) violated = true;
      });
    }
    (violated ? violating : nonViolating).push(pi);
  }
  return [violating, nonViolating];
}

function terminatingByPreemption(p: Pod): boolean {
  if (!p.metadata.deletionTimestamp) return false;
  const c = p.status?.conditions?.find((c) => c.type === 'DisruptionTarget');
  return c?.status === 'True' && c.reason === 'PreemptionByScheduler';
}

/** pickOneNodeForPreemption, with the default ordered criteria. */
export function pickOneNodeForPreemption(candidates: readonly Candidate[], now = Date.now()): Candidate | undefined {
  if (candidates.length === 0) return undefined;
  const earliestStartOfHighest = (c: Candidate) => {
    const top = podPriority(c.victims[0]!);
    let earliest = Infinity;
    for (const v of c.victims) if (podPriority(v) === top) earliest = Math.min(earliest, startTime(v, now));
    return earliest;
  };
  const scoreFuncs: ((c: Candidate) => number)[] = [
    (c) => -c.numPDBViolations,
    (c) => -podPriority(c.victims[0]!),
    // Shifted by 2^31 so that several negative-priority victims do not beat one of the same priority.
    (c) => -c.victims.reduce((s, v) => s + podPriority(v) + 2 ** 31, 0),
    (c) => -c.victims.length,
    (c) => earliestStartOfHighest(c),
  ];
  let all = [...candidates];
  for (const f of scoreFuncs) {
    let max = -Infinity;
    let selected: Candidate[] = [];
    for (const c of all) {
      const s = f(c);
      if (s > max) {
        max = s;
        selected = [c];
      } else if (s === max) selected.push(c);
    }
    if (selected.length === 1) return selected[0];
    all = selected;
  }
  return all[0];
}

export class DefaultPreemption implements PostFilterPlugin {
  readonly name = names.DefaultPreemption;
  private readonly minPercentage: number;
  private readonly minAbsolute: number;

  constructor(
    private readonly handle: Handle,
    args: DefaultPreemptionArgs = {},
  ) {
    this.minPercentage = args.minCandidateNodesPercentage ?? 10;
    this.minAbsolute = args.minCandidateNodesAbsolute ?? 100;
    if (this.minPercentage < 0 || this.minPercentage > 100) throw new Error(`minCandidateNodesPercentage: Invalid value: ${this.minPercentage}: not in valid range [0, 100]`);
    if (this.minAbsolute < 0) throw new Error(`minCandidateNodesAbsolute: Invalid value: ${this.minAbsolute}: not in valid range [0, inf)`);
    if (this.minPercentage === 0 && this.minAbsolute === 0) throw new Error('minCandidateNodesPercentage and minCandidateNodesAbsolute cannot be both zero');
  }

  postFilter(state: CycleState, pod: Pod, statuses: NodeToStatus): PostFilterResult {
    const r = this.preempt(state, pod, statuses);
    const msg = r.status?.message();
    if (r.status && msg) return { ...r, status: new Status(r.status.code, [`preemption: ${msg}`]) };
    return r;
  }

  private numCandidates(numNodes: number): number {
    const n = Math.max(Math.trunc((numNodes * this.minPercentage) / 100), this.minAbsolute);
    return Math.min(n, numNodes);
  }

  /** Evaluator.Preempt. */
  private preempt(state: CycleState, podIn: Pod, statuses: NodeToStatus): PostFilterResult {
    const pod = this.handle.podLister?.get(podIn.metadata.namespace ?? '', podIn.metadata.name ?? '') ?? podIn;
    const ineligible = this.ineligibleReason(pod, statuses.get(pod.status?.nominatedNodeName ?? ''));
    if (ineligible) return { status: Status.unschedulable(ineligible) };

    const all = this.handle.snapshot.list();
    if (all.length === 0) return { status: Status.error('no nodes available') };
    const potential = statuses.nodesWithCode(all, Code.Unschedulable);
    let candidates: Candidate[] = [];
    let nodeStatuses = new NodeToStatus();
    if (potential.length > 0) {
      const pdbs = this.handle.pdbLister?.list() ?? [];
      const offset = Math.floor(this.handle.random() * potential.length);
      const r = this.dryRunPreemption(state, pod, potential, pdbs, offset, this.numCandidates(potential.length));
      if (r instanceof Status) return { status: r };
      [candidates, nodeStatuses] = r;
    }
    if (candidates.length === 0) {
      const diagnosis = new Diagnosis();
      for (const [n, s] of nodeStatuses.map) diagnosis.nodeToStatus.set(n, s);
      diagnosis.nodeToStatus.absent = Status.unresolvable(errReasonNotHelpful);
      const fit = new FitError(pod, all.length, diagnosis);
      return { status: Status.unschedulable(fit.message), nominatedNodeName: '' };
    }
    const best = pickOneNodeForPreemption(candidates, this.handle.clock.now().getTime());
    if (!best) return { status: Status.unschedulable('no candidate node for preemption') };
    this.prepareCandidate(best, pod);
    return { status: undefined, nominatedNodeName: best.nodeName };
  }

  /** PodEligibleToPreemptOthers: the reason the pod may not preempt, or undefined. */
  private ineligibleReason(pod: Pod, nominatedNodeStatus: Status | undefined): string | undefined {
    if (pod.spec?.preemptionPolicy === 'Never') return 'not eligible due to preemptionPolicy=Never.';
    const nominated = pod.status?.nominatedNodeName;
    if (!nominated) return undefined;
    // The nominated node no longer works at all: preempting elsewhere is allowed again.
    if (nominatedNodeStatus?.code === Code.UnschedulableAndUnresolvable) return undefined;
    const ni = this.handle.snapshot.get(nominated);
    const prio = podPriority(pod);
    for (const p of ni?.pods ?? []) {
      if (p.priority < prio && terminatingByPreemption(p.pod)) return 'not eligible due to a terminating pod on the nominated node.';
    }
    return undefined;
  }

  /**
   * Simulates preemption on the potential nodes from `offset`, stopping once `wanted` candidates are found with
   * at least one that violates no PDB. Candidates without PDB violations come first.
   */
  dryRunPreemption(state: CycleState, pod: Pod, potential: readonly NodeInfo[], pdbs: readonly PodDisruptionBudget[], offset: number, wanted: number): [Candidate[], NodeToStatus] | Status {
    const nonViolating: Candidate[] = [];
    const violating: Candidate[] = [];
    const statuses = new NodeToStatus();
    for (let i = 0; i < potential.length; i++) {
      const ni = potential[(offset + i) % potential.length]!.clone();
      const r = this.selectVictimsOnNode(state.clone(), pod, ni, pdbs);
      if (r instanceof Status || r === undefined) {
        const s = r ?? Status.error(`expected at least one victim pod on node ${JSON.stringify(ni.name)}`);
        if (s.code === Code.Error && nonViolating.length + violating.length === 0 && i === potential.length - 1) return s;
        statuses.set(ni.name, s);
        continue;
      }
      (r.numPDBViolations === 0 ? nonViolating : violating).push(r);
      if (nonViolating.length > 0 && nonViolating.length + violating.length >= wanted) break;
    }
    return [[...nonViolating, ...violating], statuses];
  }

  /** The fewest, least important pods to remove from `ni` (a clone) so the pod fits, or why none would help. */
  selectVictimsOnNode(state: CycleState, pod: Pod, ni: NodeInfo, pdbs: readonly PodDisruptionBudget[]): Candidate | Status | undefined {
    const prio = podPriority(pod);
    const potential = ni.pods.filter((p) => p.priority < prio);
    if (potential.length === 0) return Status.unresolvable(errReasonNoVictims);
    const remove = (p: PodInfo): Result => {
      ni.removePod(p.uid);
      return this.handle.runPreFilterExtensionRemovePod(state, pod, p, ni);
    };
    const add = (p: PodInfo): Result => {
      ni.addPod(p);
      return this.handle.runPreFilterExtensionAddPod(state, pod, p, ni);
    };
    for (const p of potential) {
      const s = remove(p);
      if (s) return s;
    }
    const fits = this.handle.runFilterPluginsWithNominatedPods(state, pod, ni);
    if (fits && fits.code !== Code.Success) return fits;
    const now = this.handle.clock.now().getTime();
    const byImportance = (a: PodInfo, b: PodInfo) => (moreImportantPod(a.pod, b.pod, now) ? -1 : moreImportantPod(b.pod, a.pod, now) ? 1 : 0);
    potential.sort(byImportance);
    const [violatingPods, nonViolatingPods] = filterPodsWithPDBViolation(potential, pdbs);
    const victims: PodInfo[] = [];
    let numViolating = 0;
    const reprieve = (p: PodInfo): boolean | Status => {
      const s = add(p);
      if (s) return s;
      const st = this.handle.runFilterPluginsWithNominatedPods(state, pod, ni);
      if (st === undefined || st.code === Code.Success) return true;
      const r = remove(p);
      if (r) return r;
      victims.push(p);
      return false;
    };
    for (const p of violatingPods) {
      const r = reprieve(p);
      if (r instanceof Status) return r;
      if (!r) numViolating++;
    }
    for (const p of nonViolatingPods) {
      const r = reprieve(p);
      if (r instanceof Status) return r;
    }
    if (victims.length === 0) return undefined;
    if (violatingPods.length > 0 && nonViolatingPods.length > 0) victims.sort(byImportance);
    return { nodeName: ni.name, victims: victims.map((v) => v.pod), numPDBViolations: numViolating };
  }

  /**
   * Evicts the victims and clears the nomination of lower-priority pods nominated to the node. The API calls
   * run in the background (as upstream's async preemption does); their failures are logged, and the pod is
   * retried when the victims' deletions (or any other useful event) arrive.
   */
  private prepareCandidate(c: Candidate, preemptor: Pod): void {
    const client = this.handle.client;
    const recorder = this.handle.recorder;
    const schedulerName = preemptor.spec?.schedulerName || 'default-scheduler';
    for (const victim of c.victims) {
      if (victim.metadata.deletionTimestamp) continue;
      const waiting = this.handle.getWaitingPod(victim.metadata.uid ?? '');
      if (waiting) {
        waiting.reject(this.name, 'preempted');
      } else if (client) {
        const ns = victim.metadata.namespace ?? '';
        const name = victim.metadata.name ?? '';
        const condition = {
          type: 'DisruptionTarget',
          status: 'True',
          reason: 'PreemptionByScheduler',
          message: `${schedulerName}: preempting to accommodate a higher priority pod`,
          lastTransitionTime: rfc3339(this.handle.clock.now()),
        };
        const conditions = [...(victim.status?.conditions ?? []).filter((x) => x.type !== 'DisruptionTarget'), condition];
        void (async () => {
          try {
            await client.patch(Pods, ns, name, 'merge', { status: { conditions } }, { subresource: 'status' });
            await client.delete(Pods, ns, name);
          } catch (err) {
            if (!isNotFound(err)) log.error('cannot preempt pod', { pod: podKey(victim), preemptor: podKey(preemptor), err });
          }
        })();
      }
      recorder?.event(victim, 'Normal', 'Preempted', `Preempted by pod ${preemptor.metadata.uid ?? ''} on node ${c.nodeName}`);
    }
    // Lower-priority pods nominated here may no longer fit: clear their nomination so they look elsewhere.
    const prio = podPriority(preemptor);
    for (const pi of this.handle.nominator.nominatedPodsForNode(c.nodeName)) {
      if (pi.priority >= prio || !client || !pi.pod.status?.nominatedNodeName) continue;
      const p = pi.pod;
      void client.patch(Pods, p.metadata.namespace ?? '', p.metadata.name ?? '', 'merge', { status: { nominatedNodeName: null } }, { subresource: 'status' }).catch((err: unknown) => {
        if (!isNotFound(err)) log.error('cannot clear nominatedNodeName', { pod: podKey(p), err });
      });
    }
  }
}

