/**
 * Disruption handling of the node lifecycle controller (upstream node_lifecycle_controller.go handleDisruption,
 * ComputeZoneState, setLimiterInZone): nodes are grouped by zone; tainting unhealthy nodes NoExecute (which evicts
 * their pods) goes at --node-eviction-rate per zone, slows down or stops when much of a zone is unhealthy, and
 * stops everywhere when no node in any zone is healthy, since then the fault is more likely the control plane's
 * view than the nodes, and there is nowhere to move pods to anyway.
 */
import type { Node } from 'kubernetes-types/core/v1.js';

export type ZoneState = 'Initial' | 'Normal' | 'PartialDisruption' | 'FullDisruption';

/** --node-eviction-rate: nodes tainted per second per healthy zone. */
export const EVICTION_QPS = 0.1;
/** --secondary-node-eviction-rate: in a partially disrupted large zone. */
export const SECONDARY_EVICTION_QPS = 0.01;
/** --large-cluster-size-threshold: smaller zones stop tainting when partially disrupted. */
export const LARGE_CLUSTER_THRESHOLD = 50;
/** --unhealthy-zone-threshold: the share of not-Ready nodes (at least 3) that makes a zone partially disrupted. */
export const UNHEALTHY_ZONE_THRESHOLD = 0.55;
/** Nodes with this label do not count towards their zone's health. */
export const EXCLUDE_DISRUPTION_LABEL = 'node.kubernetes.io/exclude-disruption';

const REGION_LABELS = ['topology.kubernetes.io/region', 'failure-domain.beta.kubernetes.io/region'];
const ZONE_LABELS = ['topology.kubernetes.io/zone', 'failure-domain.beta.kubernetes.io/zone'];

/** The zone a node belongs to ('' when it has no region or zone label), as upstream GetZoneKey. */
export function zoneKeyOf(node: Node): string {
  const labels = node.metadata?.labels ?? {};
  const region = REGION_LABELS.map((l) => labels[l]).find(Boolean) ?? '';
  const zone = ZONE_LABELS.map((l) => labels[l]).find(Boolean) ?? '';
  return region || zone ? `${region}:\x00:${zone}` : '';
}

/** A zone from the Ready status of its nodes (undefined = the node has no Ready condition yet). */
export function computeZoneState(readyStatuses: (string | undefined)[]): { unhealthy: number; state: ZoneState } {
  const ready = readyStatuses.filter((s) => s === 'True').length;
  const notReady = readyStatuses.length - ready;
  if (ready === 0 && notReady > 0) return { unhealthy: notReady, state: 'FullDisruption' };
  if (notReady > 2 && notReady / (notReady + ready) >= UNHEALTHY_ZONE_THRESHOLD) return { unhealthy: notReady, state: 'PartialDisruption' };
  return { unhealthy: notReady, state: 'Normal' };
}

/** The tainting rate for a zone in a state (upstream HealthyQPSFunc / ReducedQPSFunc). */
export function tainterQps(state: ZoneState, zoneSize: number): number {
  switch (state) {
    case 'PartialDisruption':
      return zoneSize > LARGE_CLUSTER_THRESHOLD ? SECONDARY_EVICTION_QPS : 0;
    default:
      return EVICTION_QPS;
  }
}

/** A token bucket with burst 1 on an injected time source; qps 0 never admits. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly qps: number,
    now: number,
    private readonly burst = 1,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  tryAccept(now: number): boolean {
    if (this.qps <= 0) return false;
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
