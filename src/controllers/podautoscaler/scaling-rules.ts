/**
 * From a metric's recommendation to the replica count the HPA writes (upstream horizontal.go: stabilizeRecommendation*,
 * convertDesiredReplicasWith*, calculateScale*Limit*): stabilization windows over past recommendations, the scale
 * policies of spec.behavior (Pods/Percent per period, selectPolicy Max/Min/Disabled) over past scale events, and
 * min/max replicas. Pure: the history and `now` come in, the count and the reason (ScalingLimited's) go out.
 */
import type { HorizontalPodAutoscalerBehavior, HPAScalingRules } from 'kubernetes-types/autoscaling/v2.js';

export interface Recommendation {
  replicas: number;
  at: number;
}

export interface ScaleEvent {
  change: number;
  at: number;
}

export interface Limited {
  replicas: number;
  reason: string;
  message: string;
}

/** --horizontal-pod-autoscaler-downscale-stabilization (5 min). */
export const DEFAULT_DOWNSCALE_STABILIZATION_MS = 300_000;

const SCALE_UP_LIMIT = { reason: 'ScaleUpLimit', message: 'the desired replica count is increasing faster than the maximum scale rate' };
const SCALE_DOWN_LIMIT = { reason: 'ScaleDownLimit', message: 'the desired replica count is decreasing faster than the maximum scale rate' };
const TOO_MANY = { reason: 'TooManyReplicas', message: 'the desired replica count is more than the maximum replica count' };
const TOO_FEW = { reason: 'TooFewReplicas', message: 'the desired replica count is less than the minimum replica count' };
const WITHIN = { reason: 'DesiredWithinRange', message: 'the desired count is within the acceptable range' };

/**
 * spec.behavior with upstream's defaults filled in (SetDefaults_HorizontalPodAutoscalerBehavior): scale up at most
 * 4 pods or 100 % per 15 s (the larger), no up window; scale down at most 100 % per 15 s. A scale-down window left
 * unset is the controller's --horizontal-pod-autoscaler-downscale-stabilization.
 */
export function defaultedBehavior(b: HorizontalPodAutoscalerBehavior, downscaleStabilizationMs = DEFAULT_DOWNSCALE_STABILIZATION_MS): Required<HorizontalPodAutoscalerBehavior> {
  const up: HPAScalingRules = {
    stabilizationWindowSeconds: b.scaleUp?.stabilizationWindowSeconds ?? 0,
    selectPolicy: b.scaleUp?.selectPolicy ?? 'Max',
    policies: b.scaleUp?.policies ?? [
      { type: 'Pods', value: 4, periodSeconds: 15 },
      { type: 'Percent', value: 100, periodSeconds: 15 },
    ],
  };
  const down: HPAScalingRules = {
    stabilizationWindowSeconds: b.scaleDown?.stabilizationWindowSeconds ?? Math.round(downscaleStabilizationMs / 1000),
    selectPolicy: b.scaleDown?.selectPolicy ?? 'Max',
    policies: b.scaleDown?.policies ?? [{ type: 'Percent', value: 100, periodSeconds: 15 }],
  };
  return { scaleUp: up, scaleDown: down };
}

/** Replicas added (or removed) by the events within the last periodSeconds. */
export function replicasChangedInPeriod(periodSeconds: number, events: ScaleEvent[], now: number): number {
  const cutoff = now - periodSeconds * 1000;
  return events.filter((e) => e.at > cutoff).reduce((sum, e) => sum + e.change, 0);
}

/** The most replicas the scale-up policies allow now (calculateScaleUpLimitWithScalingRules). */
export function scaleUpLimit(current: number, events: ScaleEvent[], rules: HPAScalingRules, now: number): number {
  if (rules.selectPolicy === 'Disabled') return current;
  const pickMin = rules.selectPolicy === 'Min';
  let result = pickMin ? Infinity : -Infinity;
  for (const p of rules.policies ?? []) {
    const start = current - replicasChangedInPeriod(p.periodSeconds, events, now);
    const proposed = p.type === 'Pods' ? start + p.value : Math.ceil(start * (1 + p.value / 100));
    result = pickMin ? Math.min(result, proposed) : Math.max(result, proposed);
  }
  return Number.isFinite(result) ? result : current;
}

/** The fewest replicas the scale-down policies allow now (calculateScaleDownLimitWithBehaviors). */
export function scaleDownLimit(current: number, events: ScaleEvent[], rules: HPAScalingRules, now: number): number {
  if (rules.selectPolicy === 'Disabled') return current;
  // "Min" picks the policy that removes the fewest pods: the largest floor.
  const pickMax = rules.selectPolicy === 'Min';
  let result = pickMax ? -Infinity : Infinity;
  for (const p of rules.policies ?? []) {
    const start = current + replicasChangedInPeriod(p.periodSeconds, events, now);
    const proposed = p.type === 'Pods' ? start - p.value : Math.trunc(start * (1 - p.value / 100));
    result = pickMax ? Math.max(result, proposed) : Math.min(result, proposed);
  }
  return Number.isFinite(result) ? result : current;
}

export interface BehaviorArgs {
  current: number;
  desired: number;
  minReplicas: number;
  maxReplicas: number;
  behavior: Required<HorizontalPodAutoscalerBehavior>;
  /** Past unstabilized recommendations; the new one is appended by the caller. */
  recommendations: Recommendation[];
  scaleUpEvents: ScaleEvent[];
  scaleDownEvents: ScaleEvent[];
  now: number;
}

/**
 * Stabilization with behavior (stabilizeRecommendationWithBehaviors): the lowest recommendation of the up window
 * caps a scale up, the highest of the down window floors a scale down, so the count only moves when every recent
 * recommendation agrees.
 */
export function stabilizeWithBehavior(a: BehaviorArgs): Limited {
  const upCutoff = a.now - (a.behavior.scaleUp.stabilizationWindowSeconds ?? 0) * 1000;
  const downCutoff = a.now - (a.behavior.scaleDown.stabilizationWindowSeconds ?? 0) * 1000;
  let up = a.desired;
  let down = a.desired;
  for (const r of a.recommendations) {
    if (r.at > upCutoff) up = Math.min(up, r.replicas);
    if (r.at > downCutoff) down = Math.max(down, r.replicas);
  }
  let replicas = a.current;
  if (replicas < up) replicas = up;
  if (replicas > down) replicas = down;
  if (a.desired >= a.current) return { replicas, reason: 'ScaleUpStabilized', message: 'recent recommendations were lower than current one, applying the lowest recent recommendation' };
  return { replicas, reason: 'ScaleDownStabilized', message: 'recent recommendations were higher than current one, applying the highest recent recommendation' };
}

/** The policies' rate limits and min/max applied to a stabilized count (convertDesiredReplicasWithBehaviorRate). */
export function limitWithBehavior(a: BehaviorArgs): Limited {
  if (a.desired > a.current) {
    const limit = Math.max(scaleUpLimit(a.current, a.scaleUpEvents, a.behavior.scaleUp, a.now), a.current);
    const [max, why] = a.maxReplicas > limit ? [limit, SCALE_UP_LIMIT] : [a.maxReplicas, TOO_MANY];
    if (a.desired > max) return { replicas: max, ...why };
  } else if (a.desired < a.current) {
    const limit = Math.min(scaleDownLimit(a.current, a.scaleDownEvents, a.behavior.scaleDown, a.now), a.current);
    const [min, why] = a.minReplicas < limit ? [limit, SCALE_DOWN_LIMIT] : [a.minReplicas, TOO_FEW];
    if (a.desired < min) return { replicas: min, ...why };
  }
  return { replicas: a.desired, ...WITHIN };
}

/**
 * Stabilization without spec.behavior (stabilizeRecommendation): the highest recommendation of the downscale
 * window wins, so scale-down waits for the window and scale-up is immediate.
 */
export function stabilizeWithoutBehavior(desired: number, recommendations: Recommendation[], now: number, windowMs = DEFAULT_DOWNSCALE_STABILIZATION_MS): number {
  let max = desired;
  for (const r of recommendations) if (r.at >= now - windowMs && r.replicas > max) max = r.replicas;
  return max;
}

/** min/max and the fixed scale-up rate (2x or 4, whichever is more) without spec.behavior (convertDesiredReplicasWithRules). */
export function limitWithoutBehavior(current: number, desired: number, minReplicas: number, maxReplicas: number): Limited {
  const upLimit = Math.max(2 * current, 4);
  const [maxAllowed, why] = maxReplicas > upLimit ? [upLimit, SCALE_UP_LIMIT] : [maxReplicas, TOO_MANY];
  if (desired < minReplicas) return { replicas: minReplicas, ...TOO_FEW };
  if (desired > maxAllowed) return { replicas: maxAllowed, ...why };
  return { replicas: desired, ...WITHIN };
}

/** The longest policy period of a rule set: scale events older than it no longer matter. */
export function longestPolicyPeriodMs(rules: HPAScalingRules): number {
  return Math.max(0, ...(rules.policies ?? []).map((p) => p.periodSeconds)) * 1000;
}
