/**
 * Which nodes a DaemonSet's pod belongs on (pkg/controller/daemon: NodeShouldRunDaemonPod and util): the pod's
 * nodeSelector and required node affinity must match the node, and the node's NoSchedule/NoExecute taints must be
 * tolerated, counting the tolerations every DaemonSet pod gets. Pure functions, table-tested.
 */
import type { DaemonSet } from 'kubernetes-types/apps/v1.js';
import type { Affinity, Node, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodSpec, Taint, Toleration } from 'kubernetes-types/core/v1.js';
import type { Mutable } from '../../api/object.js';

/**
 * Added to every DaemonSet pod (AddOrUpdateDaemonPodTolerations): not-ready/unreachable NoExecute without a time
 * limit, so node problems never evict them, and the condition taints of TaintNodesByCondition, so they land on
 * nodes under pressure or cordoned. network-unavailable only for hostNetwork pods.
 */
export function daemonPodTolerations(spec: PodSpec | undefined): Toleration[] {
  const t: Toleration[] = [
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
    { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
  ];
  if (spec?.hostNetwork) t.push({ key: 'node.kubernetes.io/network-unavailable', operator: 'Exists', effect: 'NoSchedule' });
  return t;
}

/** Adds (or replaces the same key/operator/value/effect of) each default toleration, as AddOrUpdateTolerationInPodSpec. */
export function addDaemonPodTolerations(spec: Mutable<PodSpec>): void {
  const list = (spec.tolerations ??= []);
  for (const t of daemonPodTolerations(spec)) {
    const i = list.findIndex((x) => x.key === t.key && (x.operator ?? 'Equal') === t.operator && (x.value ?? '') === (t.value ?? '') && x.effect === t.effect);
    if (i >= 0) list[i] = { ...t };
    else list.push({ ...t });
  }
}

/** v1.Toleration.ToleratesTaint. */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  const op = t.operator ?? 'Equal';
  if (op === 'Exists') return true;
  if (op === 'Equal') return (t.value ?? '') === (taint.value ?? '');
  return false;
}

/** The first taint selected by `filter` that no toleration tolerates. */
export function findUntoleratedTaint(taints: readonly Taint[], tolerations: readonly Toleration[], filter: (t: Taint) => boolean): Taint | undefined {
  return taints.find((taint) => filter(taint) && !tolerations.some((t) => tolerates(t, taint)));
}

function requirementMatches(req: NodeSelectorRequirement, value: string | undefined, present: boolean): boolean {
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In':
      return present && values.includes(value!);
    case 'NotIn':
      return !present || !values.includes(value!);
    case 'Exists':
      return present;
    case 'DoesNotExist':
      return !present;
    case 'Gt':
    case 'Lt': {
      if (!present || values.length !== 1 || !/^-?\d+$/.test(value!) || !/^-?\d+$/.test(values[0]!)) return false;
      return req.operator === 'Gt' ? Number(value) > Number(values[0]) : Number(value) < Number(values[0]);
    }
    default:
      return false;
  }
}

/** A term matches when all its label expressions and field expressions do; a term with neither matches nothing. */
export function nodeSelectorTermMatches(term: NodeSelectorTerm, node: Node): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  const labels = node.metadata?.labels ?? {};
  for (const r of exprs) if (!requirementMatches(r, labels[r.key], r.key in labels)) return false;
  for (const r of fields) {
    // metadata.name is the only supported node field.
    if (r.key !== 'metadata.name') return false;
    if (!requirementMatches(r, node.metadata?.name ?? '', true)) return false;
  }
  return true;
}

/** The pod's nodeSelector and requiredDuringSchedulingIgnoredDuringExecution terms (ORed) both match the node. */
export function requiredNodeAffinityMatches(spec: PodSpec | undefined, node: Node): boolean {
  const labels = node.metadata?.labels ?? {};
  for (const [k, v] of Object.entries(spec?.nodeSelector ?? {})) if (labels[k] !== v) return false;
  const required = spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (!required) return true;
  return (required.nodeSelectorTerms ?? []).some((t) => nodeSelectorTermMatches(t, node));
}

/**
 * NodeShouldRunDaemonPod: shouldRun = a new daemon pod belongs on the node; shouldContinueRunning = an existing one
 * may stay (it tolerates every NoExecute taint, even if a NoSchedule taint now keeps new pods away).
 */
export function nodeShouldRunDaemonPod(node: Node, ds: DaemonSet): { shouldRun: boolean; shouldContinueRunning: boolean } {
  const spec = ds.spec?.template?.spec;
  const nodeName = node.metadata?.name ?? '';
  if (spec?.nodeName && spec.nodeName !== nodeName) return { shouldRun: false, shouldContinueRunning: false };
  if (!requiredNodeAffinityMatches(spec, node)) return { shouldRun: false, shouldContinueRunning: false };
  const tolerations = [...(spec?.tolerations ?? []), ...daemonPodTolerations(spec)];
  const taints = node.spec?.taints ?? [];
  const untolerated = findUntoleratedTaint(taints, tolerations, (t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute');
  if (untolerated) {
    const noExecute = findUntoleratedTaint(taints, tolerations, (t) => t.effect === 'NoExecute');
    return { shouldRun: false, shouldContinueRunning: !noExecute };
  }
  return { shouldRun: true, shouldContinueRunning: true };
}

/**
 * Pins a pod to one node through required node affinity `metadata.name In [node]`, replacing any required terms
 * (ReplaceDaemonSetPodNodeNameNodeAffinity): the scheduler then binds it, so resources and ports are still checked.
 */
export function nodeNameAffinity(affinity: Affinity | undefined, nodeName: string): Mutable<Affinity> {
  const a = structuredClone((affinity ?? {}) as Mutable<Affinity>);
  a.nodeAffinity ??= {};
  a.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution = {
    nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [nodeName] }] }],
  };
  return a;
}

/** The node a daemon pod is for: spec.nodeName once bound, else the single name of its metadata.name affinity (GetTargetNodeName). */
export function targetNodeName(pod: Pod): string | undefined {
  if (pod.spec?.nodeName) return pod.spec.nodeName;
  const terms = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  for (const term of terms) {
    for (const f of term.matchFields ?? []) {
      if (f.key === 'metadata.name' && f.operator === 'In' && f.values?.length === 1) return f.values[0];
    }
  }
  return undefined;
}
