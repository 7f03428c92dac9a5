/**
 * The pod's QoS class (pkg/apis/core/v1/helper/qos ComputePodQOS): Guaranteed when every container (init containers
 * too) has cpu and memory limits and the summed requests equal the summed limits; BestEffort when nothing requests or
 * limits cpu or memory; Burstable otherwise. Requests missing where a limit is set count as the limit, as the API
 * server's defaulting makes them.
 */
import type { Container, Pod } from 'kubernetes-types/core/v1.js';
import { parseQuantity, toMilli } from '../../api/quantity.js';

export type QosClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

const QOS_RESOURCES = ['cpu', 'memory'];

function milli(value: string | number | undefined): bigint {
  if (value === undefined) return 0n;
  try {
    return toMilli(parseQuantity(String(value)));
  } catch {
    return 0n;
  }
}

/** requests, with limits standing in for missing requests (API defaulting). */
export function effectiveRequests(c: Container): Record<string, string | number> {
  const limits = (c.resources?.limits ?? {}) as Record<string, string | number>;
  const requests = { ...((c.resources?.requests ?? {}) as Record<string, string | number>) };
  for (const [k, v] of Object.entries(limits)) if (requests[k] === undefined) requests[k] = v;
  return requests;
}

export function computePodQos(pod: Pod): QosClass {
  const requests = new Map<string, bigint>();
  const limits = new Map<string, bigint>();
  let guaranteed = true;
  const all: Container[] = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  for (const c of all) {
    for (const [name, q] of Object.entries(effectiveRequests(c))) {
      if (!QOS_RESOURCES.includes(name)) continue;
      const m = milli(q);
      if (m > 0n) requests.set(name, (requests.get(name) ?? 0n) + m);
    }
    const found = new Set<string>();
    for (const [name, q] of Object.entries((c.resources?.limits ?? {}) as Record<string, string | number>)) {
      if (!QOS_RESOURCES.includes(name)) continue;
      const m = milli(q);
      if (m > 0n) {
        found.add(name);
        limits.set(name, (limits.get(name) ?? 0n) + m);
      }
    }
    if (!found.has('cpu') || !found.has('memory')) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  if (guaranteed) {
    for (const [name, req] of requests) {
      if (limits.get(name) !== req) {
        guaranteed = false;
        break;
      }
    }
  }
  return guaranteed && requests.size === limits.size ? 'Guaranteed' : 'Burstable';
}
