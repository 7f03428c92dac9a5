/**
 * Compute resources as plain numbers (millicores, bytes, counts), the scheduler's view of requests and
 * allocatable. Pod requests follow k8s.io/component-helpers/resource PodRequests: containers are summed, init
 * containers take the max (restartable "sidecar" init containers add to the sum and to every later init
 * container), and pod overhead is added.
 */
import { parseQuantity, toMilli, toUnits } from '../../api/quantity.js';
import type { Node, Pod } from './types.js';

export interface Resource {
  milliCPU: number;
  memory: number;
  ephemeralStorage: number;
  /** Allocatable only: the node's `pods` capacity. */
  allowedPodNumber: number;
  /** Extended resources, hugepages and other scalar resources by name; undefined when there are none. */
  scalar: Map<string, number> | undefined;
}

export function emptyResource(): Resource {
  return { milliCPU: 0, memory: 0, ephemeralStorage: 0, allowedPodNumber: 0, scalar: undefined };
}

export function cloneResource(r: Resource): Resource {
  return { ...r, scalar: r.scalar ? new Map(r.scalar) : undefined };
}

/** Requests that every pod gets for scoring when a container sets none (schedutil.DefaultMilliCPURequest / DefaultMemoryRequest). */
export const defaultMilliCPURequest = 100;
export const defaultMemoryRequest = 200 * 1024 * 1024;

/** IsScalarResourceName: extended (domain-prefixed), hugepages-*, attachable-volumes-*, or kubernetes.io/-prefixed native resources. */
export function isScalarResourceName(name: string): boolean {
  return name.includes('/') || name.startsWith('hugepages-') || name.startsWith('attachable-volumes-');
}

interface ParsedQuantity {
  units: number;
  milli: number;
}

// Every pod of a Deployment carries the same quantity strings; parsing each once keeps BigInt arithmetic out of the hot paths.
const quantityMemo = new Map<string, ParsedQuantity>();

function parsed(s: string | number): ParsedQuantity {
  const key = String(s);
  let q = quantityMemo.get(key);
  if (q === undefined) {
    const v = parseQuantity(key);
    q = { units: Number(toUnits(v)), milli: Number(toMilli(v)) };
    if (quantityMemo.size > 10_000) quantityMemo.clear();
    quantityMemo.set(key, q);
  }
  return q;
}

/** Quantity.Value(): whole units rounded up. Invalid strings count as 0 (the API server validated them already). */
export function quantityValue(s: string | number | undefined): number {
  if (s === undefined) return 0;
  try {
    return parsed(s).units;
  } catch {
    return 0;
  }
}

/** Quantity.MilliValue(): milli-units rounded up. */
export function quantityMilli(s: string | number | undefined): number {
  if (s === undefined) return 0;
  try {
    return parsed(s).milli;
  } catch {
    return 0;
  }
}

type ResourceList = { readonly [name: string]: string | number } | undefined;

/** The value of one resource as the scheduler counts it: millicores for cpu, units for everything else. */
export function resourceAmount(name: string, q: string | number): number {
  return name === 'cpu' ? quantityMilli(q) : quantityValue(q);
}

/** Resource.Add(ResourceList). */
export function addResourceList(r: Resource, list: ResourceList): void {
  if (!list) return;
  for (const name in list) {
    const q = list[name]!;
    switch (name) {
      case 'cpu':
        r.milliCPU += quantityMilli(q);
        break;
      case 'memory':
        r.memory += quantityValue(q);
        break;
      case 'ephemeral-storage':
        r.ephemeralStorage += quantityValue(q);
        break;
      case 'pods':
        r.allowedPodNumber += quantityValue(q);
        break;
      default:
        if (isScalarResourceName(name)) {
          r.scalar ??= new Map();
          r.scalar.set(name, (r.scalar.get(name) ?? 0) + quantityValue(q));
        }
    }
  }
}

function addResource(into: Resource, r: Resource): void {
  into.milliCPU += r.milliCPU;
  into.memory += r.memory;
  into.ephemeralStorage += r.ephemeralStorage;
  if (r.scalar) {
    into.scalar ??= new Map();
    for (const [k, v] of r.scalar) into.scalar.set(k, (into.scalar.get(k) ?? 0) + v);
  }
}

function maxResource(into: Resource, r: Resource): void {
  into.milliCPU = Math.max(into.milliCPU, r.milliCPU);
  into.memory = Math.max(into.memory, r.memory);
  into.ephemeralStorage = Math.max(into.ephemeralStorage, r.ephemeralStorage);
  if (r.scalar) {
    into.scalar ??= new Map();
    for (const [k, v] of r.scalar) into.scalar.set(k, Math.max(into.scalar.get(k) ?? 0, v));
  }
}

function containerRequests(requests: ResourceList, nonMissing: boolean): Resource {
  const r = emptyResource();
  addResourceList(r, requests);
  if (nonMissing) {
    if (requests?.cpu === undefined) r.milliCPU = defaultMilliCPURequest;
    if (requests?.memory === undefined) r.memory = defaultMemoryRequest;
  }
  return r;
}

/**
 * The pod's effective requests (resourcehelper.PodRequests). With `nonMissing`, a container that sets no cpu or
 * memory request counts the scheduler's defaults (100m, 200Mi): the "non-zero" requests used for scoring.
 */
export function computePodRequests(pod: Pod, nonMissing = false): Resource {
  const spec = pod.spec;
  const reqs = emptyResource();
  if (!spec) return reqs;
  for (const c of spec.containers ?? []) addResource(reqs, containerRequests(c.resources?.requests, nonMissing));
  const restartable = emptyResource();
  const initMax = emptyResource();
  for (const c of spec.initContainers ?? []) {
    const cr = containerRequests(c.resources?.requests, nonMissing);
    if (c.restartPolicy === 'Always') {
      // A sidecar keeps running next to the app containers and every later init container.
      addResource(reqs, cr);
      addResource(restartable, cr);
      maxResource(initMax, restartable);
    } else {
      addResource(cr, restartable);
      maxResource(initMax, cr);
    }
  }
  maxResource(reqs, initMax);
  addResourceList(reqs, spec.overhead);
  return reqs;
}

/** The node's allocatable (status.allocatable, falling back to capacity as the kubelet reports it). */
export function nodeAllocatable(node: Node): Resource {
  const r = emptyResource();
  addResourceList(r, node.status?.allocatable ?? node.status?.capacity);
  return r;
}
