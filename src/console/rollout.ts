/**
 * A Deployment's control loop as the console draws it: desired against actual for the Deployment and each of its
 * ReplicaSets, which ReplicaSet is the new one, the surge and unavailability bounds in pods, and a sentence on what
 * the controller is doing now. Pure; the browser bundle (console/) and the unit tests share it.
 */
import type { Deployment, ReplicaSet } from 'kubernetes-types/apps/v1.js';

const REVISION = 'deployment.kubernetes.io/revision';

export interface ReplicaSetView {
  name: string;
  revision: number;
  isNew: boolean;
  desired: number;
  current: number;
  ready: number;
  available: number;
  images: string[];
}

export interface RolloutView {
  desired: number;
  current: number;
  updated: number;
  ready: number;
  available: number;
  /** observedGeneration has caught up with generation: the status describes the current spec. */
  observed: boolean;
  maxSurge: number;
  maxUnavailable: number;
  strategy: string;
  complete: boolean;
  paused: boolean;
  /** Progressing/Available conditions as `Type=Status (Reason): message`. */
  conditions: string[];
  replicaSets: ReplicaSetView[];
  /** One sentence on the controller's current step. */
  summary: string;
}

/** Upstream's intstr rounding (deployment util ResolveFenceposts): surge rounds up, unavailable down; both 0 means 1 unavailable. */
export function resolveFenceposts(surge: string | number | undefined, unavailable: string | number | undefined, desired: number): [number, number] {
  const scaled = (v: string | number | undefined, def: string, up: boolean) => {
    const value = v ?? def;
    if (typeof value === 'number') return value;
    const pct = /^(\d+)%$/.exec(value);
    if (!pct) return Number(value) || 0;
    const x = (Number(pct[1]) * desired) / 100;
    return up ? Math.ceil(x) : Math.floor(x);
  };
  const s = scaled(surge, '25%', true);
  let u = scaled(unavailable, '25%', false);
  if (s === 0 && u === 0) u = 1;
  return [s, u];
}

export function ownedBy(rs: ReplicaSet, d: Deployment): boolean {
  return (rs.metadata?.ownerReferences ?? []).some((o) => o.kind === 'Deployment' && (o.uid === d.metadata?.uid || (!o.uid && o.name === d.metadata?.name)));
}

export function computeRollout(d: Deployment, all: readonly ReplicaSet[]): RolloutView {
  const desired = d.spec?.replicas ?? 1;
  const st = d.status ?? {};
  const revision = Number(d.metadata?.annotations?.[REVISION] ?? 0);
  const rollingUpdate = d.spec?.strategy?.type === 'Recreate' ? undefined : d.spec?.strategy?.rollingUpdate;
  const [maxSurge, maxUnavailable] = d.spec?.strategy?.type === 'Recreate' ? [0, desired] : resolveFenceposts(rollingUpdate?.maxSurge, rollingUpdate?.maxUnavailable, desired);
  const owned = all.filter((rs) => ownedBy(rs, d));
  const highest = Math.max(0, ...owned.map((rs) => Number(rs.metadata?.annotations?.[REVISION] ?? 0)));
  const newRevision = revision || highest;
  const replicaSets: ReplicaSetView[] = owned
    .map((rs) => {
      const rev = Number(rs.metadata?.annotations?.[REVISION] ?? 0);
      return {
        name: rs.metadata?.name ?? '',
        revision: rev,
        isNew: rev === newRevision && newRevision > 0,
        desired: rs.spec?.replicas ?? 0,
        current: rs.status?.replicas ?? 0,
        ready: rs.status?.readyReplicas ?? 0,
        available: rs.status?.availableReplicas ?? 0,
        images: (rs.spec?.template?.spec?.containers ?? []).map((c) => c.image ?? ''),
      };
    })
    .sort((a, b) => b.revision - a.revision);
  const observed = (st.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
  const updated = st.updatedReplicas ?? 0;
  const available = st.availableReplicas ?? 0;
  const current = st.replicas ?? 0;
  const oldPods = replicaSets.filter((r) => !r.isNew).reduce((n, r) => n + r.current, 0);
  const complete = observed && updated === desired && current === desired && available === desired && oldPods === 0;
  const paused = d.spec?.paused === true;
  const newRs = replicaSets.find((r) => r.isNew);
  let summary: string;
  if (paused) summary = 'Paused: the controller makes no rollout steps until the Deployment is resumed.';
  else if (!observed) summary = 'The controller has not yet seen the newest spec (observedGeneration < generation).';
  else if (complete) summary = `Rolled out: ${desired} of ${desired} pods run the current template${newRs ? ` (ReplicaSet ${newRs.name}, revision ${newRs.revision})` : ''}.`;
  else if (oldPods > 0 && newRs)
    summary = `Rolling update: new ReplicaSet ${newRs.name} has ${newRs.ready} of ${desired} ready; ${oldPods} old pod(s) left to scale down. At most ${desired + maxSurge} pods in total and at least ${Math.max(0, desired - maxUnavailable)} available at any time (maxSurge ${maxSurge}, maxUnavailable ${maxUnavailable}).`;
  else if (current !== desired) summary = `Scaling: ${current} pods exist, ${desired} desired.`;
  else summary = `Waiting for pods to become available: ${available} of ${desired}.`;
  const conditions = (st.conditions ?? []).map((c) => `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ''}${c.message ? `: ${c.message}` : ''}`);
  return { desired, current, updated, ready: st.readyReplicas ?? 0, available, observed, maxSurge, maxUnavailable, strategy: d.spec?.strategy?.type ?? 'RollingUpdate', complete, paused, conditions, replicaSets, summary };
}
