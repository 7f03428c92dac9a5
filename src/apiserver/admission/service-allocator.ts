/**
 * Allocates Service ClusterIPs from the service CIDR (10.43.0.0/16 by default, like k3s) and NodePorts from
 * 30000-32767, reserving each in the Store (../allocation/), as kube-apiserver's service REST storage does with its
 * allocators: on create, on update (new ports, a type change) and releasing on delete. A requested address or port
 * that another Service holds is refused with 422 and upstream's words; a reservation made for a write that does not
 * commit (refused later, failed, dry run) is given back in onFinish.
 *
 * On update, as upstream (pkg/registry/core/service/storage): values the client left empty are kept from the stored
 * Service (patchAllocatedValues); values a type change makes pointless are dropped when the client did not change
 * them (dropTypeDependentFields); the ClusterIP may not change once set, except to or from ExternalName. What the old
 * Service held and the new one does not is released once the write commits.
 */
import type { KubeObject } from '../../api/object.js';
import { alreadyExists, fieldInvalid, internalError, invalid, type FieldError } from '../../api/status.js';
import type { Store } from '../../storage/store.js';
import { needsClusterIP, needsHealthCheckNodePort, needsNodePorts, serviceHoldings, serviceType, type ServiceHoldings } from '../allocation/service-holdings.js';
import { serviceAllocators, type ServiceAllocationOptions, type ServiceAllocators } from '../allocation/service-allocators.js';
import { AllocatedError, NotInRangeError, RangeFullError, type AllocationOwner, type StoreAllocator } from '../allocation/store-allocator.js';
import { IN_FLIGHT_GRACE_MS } from '../allocation/allocation-repair.js';
import { objectKey } from '../object-codec.js';
import { isCoreResource, type AdmissionAttributes, type AdmissionContext, type MutatingAdmission, type Operation } from './types.js';
import { createLogger } from '../../log/logger.js';

const log = createLogger('service-allocation');

export interface ServiceAllocatorOptions extends ServiceAllocationOptions {
  /** Receives releases that failed (the repair loop gives those items back later). Default: stderr. */
  log?: (line: string) => void;
}

interface ServicePort {
  name?: string;
  port?: number;
  protocol?: string;
  nodePort?: number;
}

interface ServiceSpec {
  type?: string;
  clusterIP?: string;
  clusterIPs?: string[];
  ports?: ServicePort[];
  ipFamilies?: string[];
  ipFamilyPolicy?: string;
  healthCheckNodePort?: number;
  externalTrafficPolicy?: string;
  allocateLoadBalancerNodePorts?: boolean;
}

/** An item this write reserved: released again if the write does not commit. */
type Fresh = [StoreAllocator, string];

function specOf(obj: KubeObject): ServiceSpec {
  if (!obj.spec || typeof obj.spec !== 'object' || Array.isArray(obj.spec)) obj.spec = {};
  return obj.spec as ServiceSpec;
}

function ownerOf(obj: KubeObject, namespace: string, name: string): AllocationOwner {
  const uid = obj.metadata?.uid;
  // The chain sets the uid before admission; without it a reservation could not tell this Service from the next.
  if (!uid) throw internalError(new Error(`service ${namespace}/${name} has no uid at admission`));
  return { namespace, name, uid };
}

function sameList(a: unknown[] | undefined, b: unknown[] | undefined): boolean {
  return JSON.stringify(a ?? []) === JSON.stringify(b ?? []);
}

export class ServiceAllocator implements MutatingAdmission {
  readonly name = 'ServiceIPAllocator';
  readonly operations: readonly Operation[] = ['CREATE', 'UPDATE', 'DELETE'];
  readonly allocators: ServiceAllocators;
  private readonly store: Store;
  private readonly log: (line: string) => void;
  private readonly now: () => Date;

  constructor(opts: ServiceAllocatorOptions) {
    this.allocators = serviceAllocators(opts);
    this.store = opts.store;
    this.log = opts.log ?? ((line) => log.warn(line));
    this.now = opts.now ?? (() => new Date());
  }

  handles(attrs: AdmissionAttributes): boolean {
    // Status writes cannot change the spec; the main resource is where allocations change.
    return isCoreResource(attrs, 'services') && attrs.subresource === '';
  }

  async admit(attrs: AdmissionAttributes, ctx: AdmissionContext): Promise<void> {
    if (attrs.operation === 'CREATE') await this.admitCreate(attrs, ctx);
    else if (attrs.operation === 'UPDATE') await this.admitUpdate(attrs, ctx);
    else if (attrs.operation === 'DELETE') this.admitDelete(attrs);
  }

  private async admitCreate(attrs: AdmissionAttributes, ctx: AdmissionContext): Promise<void> {
    const obj = attrs.object;
    if (!obj) return;
    const owner = ownerOf(obj, attrs.namespace, attrs.name || obj.metadata?.name || '');
    const fresh = await this.assign(attrs, ctx, obj, undefined, owner);
    attrs.onFinish(async (committed) => {
      if (!committed) await this.releaseAll(fresh, owner);
    });
  }

  private async admitUpdate(attrs: AdmissionAttributes, ctx: AdmissionContext): Promise<void> {
    const obj = attrs.object;
    const old = attrs.oldObject;
    if (!obj || !old) return;
    patchAllocatedValues(obj, old);
    dropTypeDependentFields(obj, old);
    const spec = specOf(obj);
    const oldSpec = (old.spec ?? {}) as ServiceSpec;
    const oldIP = oldSpec.clusterIP || oldSpec.clusterIPs?.[0] || '';
    if (needsClusterIP(old) && needsClusterIP(obj) && oldIP) {
      const newIP = spec.clusterIP || spec.clusterIPs?.[0] || '';
      if (newIP !== oldIP) {
        throw invalid('Service', undefined, attrs.name, [fieldInvalid('spec.clusterIPs[0]', spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : []), 'may not change once set')]);
      }
    }
    const owner = ownerOf(old, attrs.namespace, attrs.name);
    const fresh = await this.assign(attrs, ctx, obj, old, owner);
    const oldHeld = serviceHoldings(old);
    const newHeld = serviceHoldings(obj);
    const gone: ServiceHoldings = { ips: oldHeld.ips.filter((v) => !newHeld.ips.includes(v)), ports: oldHeld.ports.filter((v) => !newHeld.ports.includes(v)) };
    attrs.onFinish(async (committed) => {
      if (!committed) {
        await this.releaseAll(fresh, owner);
        return;
      }
      await this.releaseHoldings(gone, owner);
      // The update that removes the last finalizer of a deleted Service deletes it.
      if (obj.metadata?.deletionTimestamp && (await this.isGone(attrs, owner))) await this.releaseHoldings(newHeld, owner);
    });
  }

  private admitDelete(attrs: AdmissionAttributes): void {
    const old = attrs.oldObject;
    if (!old || attrs.dryRun) return;
    const owner = ownerOf(old, attrs.namespace, attrs.name);
    const held = serviceHoldings(old);
    attrs.onFinish(async (committed) => {
      // A delete that only marked the Service (finalizers pending) leaves it holding everything.
      if (committed && (await this.isGone(attrs, owner))) await this.releaseHoldings(held, owner);
    });
  }

  /**
   * Fills in and reserves what `obj` needs that `old` (on update) does not already hold. Returns the items it
   * reserved; on any refusal it gives them back before throwing.
   */
  private async assign(attrs: AdmissionAttributes, ctx: AdmissionContext, obj: KubeObject, old: KubeObject | undefined, owner: AllocationOwner): Promise<Fresh[]> {
    const { ips, ports } = this.allocators;
    const spec = specOf(obj);
    const dryRun = attrs.dryRun;
    const oldHeld = serviceHoldings(old);
    const fresh: Fresh[] = [];
    const errors: FieldError[] = [];
    let used: { ips: Set<string>; ports: Set<string> } | undefined;
    // What the watch cache shows in use is skipped when picking at random (the store still decides).
    const inUse = () => (used ??= usedByOthers(ctx, owner));
    const specific = async (alloc: StoreAllocator, value: string): Promise<unknown> => {
      try {
        if (await alloc.allocateSpecific(value, owner, { dryRun })) {
          if (!dryRun) fresh.push([alloc, value]);
        }
        return undefined;
      } catch (err) {
        if (err instanceof AllocatedError && attrs.operation === 'CREATE' && (await this.sameNameHolds(attrs, err, owner))) {
          // Creating a Service that exists (or is being created right now, e.g. by another server's bootstrap): the
          // answer is AlreadyExists, as the store would give it; the bootstrap of the `kubernetes` Service relies on it.
          throw alreadyExists({ resource: 'services', name: owner.name });
        }
        if (err instanceof AllocatedError || err instanceof NotInRangeError) return err;
        throw err;
      }
    };
    const next = async (alloc: StoreAllocator, skip: Set<string>): Promise<string> => {
      const value = await alloc.allocate(owner, { skip, dryRun });
      if (!dryRun) fresh.push([alloc, value]);
      return value;
    };
    try {
      if (needsClusterIP(obj)) {
        const requested = spec.clusterIP || spec.clusterIPs?.[0] || '';
        if (requested === 'None') {
          spec.clusterIP = 'None';
          spec.clusterIPs = ['None'];
        } else {
          if (requested && !oldHeld.ips.includes(requested)) {
            const err = await specific(ips, requested);
            if (err instanceof NotInRangeError) {
              errors.push(fieldInvalid('spec.clusterIPs', [requested], `failed to allocate IP ${requested}: the provided IP (${requested}) is not in the valid range. The range of valid IPs is ${ips.range.description}`));
            } else if (err) {
              errors.push(fieldInvalid('spec.clusterIPs', [requested], `failed to allocate IP ${requested}: provided IP is already allocated`));
            }
          }
          const ip = requested || (await next(ips, inUse().ips).catch(full('serviceIP')));
          spec.clusterIP = ip;
          // Secondary IPs the client sent stay for validation to judge (a silent reset would hide a refused change).
          spec.clusterIPs = [ip, ...(Array.isArray(spec.clusterIPs) ? spec.clusterIPs.slice(1) : [])];
        }
        spec.ipFamilies ??= ['IPv4'];
        spec.ipFamilyPolicy ??= 'SingleStack';
      }
      if (needsNodePorts(obj)) {
        // LoadBalancer Services may opt out of NodePorts they did not ask for (allocateLoadBalancerNodePorts: false).
        const assignMissing = serviceType(obj) === 'NodePort' || spec.allocateLoadBalancerNodePorts !== false;
        // Two protocols of one service port share its NodePort, as upstream allocates them.
        const byServicePort = new Map<number, number>();
        const checked = new Set<number>();
        const list = spec.ports ?? [];
        for (let i = 0; i < list.length; i++) {
          const p = list[i];
          if (!p || typeof p !== 'object') continue;
          if (typeof p.nodePort === 'number' && p.nodePort !== 0) {
            if (typeof p.port === 'number') byServicePort.set(p.port, p.nodePort);
            if (checked.has(p.nodePort) || oldHeld.ports.includes(String(p.nodePort))) continue;
            checked.add(p.nodePort);
            const err = await specific(ports, String(p.nodePort));
            if (err instanceof NotInRangeError) {
              errors.push(fieldInvalid(`spec.ports[${i}].nodePort`, p.nodePort, `provided port is not in the valid range. The range of valid ports is ${ports.range.description}`));
            } else if (err) {
              errors.push(fieldInvalid(`spec.ports[${i}].nodePort`, p.nodePort, 'provided port is already allocated'));
            }
          } else if (assignMissing) {
            const shared = typeof p.port === 'number' ? byServicePort.get(p.port) : undefined;
            p.nodePort = shared ?? Number(await next(ports, inUse().ports).catch(full('nodePort')));
            if (typeof p.port === 'number') byServicePort.set(p.port, p.nodePort);
          }
        }
      }
      if (needsHealthCheckNodePort(obj)) {
        const hc = spec.healthCheckNodePort;
        if (typeof hc === 'number' && hc !== 0) {
          if (!oldHeld.ports.includes(String(hc))) {
            const err = await specific(ports, String(hc));
            if (err instanceof NotInRangeError) {
              errors.push(fieldInvalid('spec.healthCheckNodePort', hc, `provided port is not in the valid range. The range of valid ports is ${ports.range.description}`));
            } else if (err) {
              errors.push(fieldInvalid('spec.healthCheckNodePort', hc, 'provided port is already allocated'));
            }
          }
        } else {
          spec.healthCheckNodePort = Number(await next(ports, inUse().ports).catch(full('nodePort')));
        }
      }
    } catch (err) {
      await this.releaseAll(fresh, owner);
      throw err;
    }
    if (errors.length > 0) {
      await this.releaseAll(fresh, owner);
      throw invalid('Service', undefined, owner.name, errors);
    }
    return fresh;
  }

  /** The item is held by a Service of this name that is stored, or whose reservation is young enough to be in flight. */
  private async sameNameHolds(attrs: AdmissionAttributes, err: AllocatedError, owner: AllocationOwner): Promise<boolean> {
    if (err.holder.namespace !== owner.namespace || err.holder.name !== owner.name) return false;
    if (this.now().getTime() - Date.parse(err.allocatedAt) <= IN_FLIGHT_GRACE_MS) return true;
    return (await this.store.get(objectKey(attrs.resource, owner.namespace, owner.name))).kv !== undefined;
  }

  /** True when the Service `owner` is no longer stored (deleted, or replaced by one of another uid). */
  private async isGone(attrs: AdmissionAttributes, owner: AllocationOwner): Promise<boolean> {
    try {
      const got = await this.store.get(objectKey(attrs.resource, owner.namespace, owner.name));
      if (!got.kv) return true;
      return (JSON.parse(got.kv.value) as KubeObject).metadata?.uid !== owner.uid;
    } catch (err) {
      this.log(`service allocator: cannot tell whether service ${owner.namespace}/${owner.name} is gone, leaving its allocations to the repair loop: ${(err as Error).message}`);
      return false;
    }
  }

  private async releaseHoldings(held: ServiceHoldings, owner: AllocationOwner): Promise<void> {
    await this.releaseAll([...held.ips.map((v): Fresh => [this.allocators.ips, v]), ...held.ports.map((v): Fresh => [this.allocators.ports, v])], owner);
  }

  /** Never throws (onFinish functions must not): a failed release is logged and left to the repair loop. */
  private async releaseAll(items: Fresh[], owner: AllocationOwner): Promise<void> {
    await Promise.all(
      items.map(async ([alloc, value]) => {
        try {
          await alloc.release(value, owner);
        } catch (err) {
          this.log(`service allocator: releasing ${alloc.keyOf(value)} of service ${owner.namespace}/${owner.name} failed (the repair loop will): ${(err as Error).message}`);
        }
      }),
    );
  }
}

/** Range full: upstream answers 500 with these words (it is neither the client's fault nor a field error). */
function full(what: string) {
  return (err: unknown): never => {
    if (err instanceof RangeFullError) throw internalError(new Error(`failed to allocate a ${what}: range is full`));
    throw err;
  };
}

/** ClusterIPs and NodePorts of the other Services in the watch cache. */
function usedByOthers(ctx: AdmissionContext, owner: AllocationOwner): { ips: Set<string>; ports: Set<string> } {
  const ips = new Set<string>();
  const ports = new Set<string>();
  for (const svc of ctx.list('', 'services')) {
    if (svc.metadata?.uid === owner.uid) continue;
    const held = serviceHoldings(svc);
    for (const ip of held.ips) ips.add(ip);
    for (const port of held.ports) ports.add(port);
  }
  return { ips, ports };
}

/**
 * A PUT or PATCH that leaves allocated values empty keeps the stored ones (upstream patchAllocatedValues): clients
 * that send a manifest back without clusterIP or nodePort must neither lose nor reallocate them. NodePorts are
 * matched by port name, and one already used by another port of the new spec is not copied.
 */
export function patchAllocatedValues(obj: KubeObject, old: KubeObject): void {
  const spec = specOf(obj);
  const oldSpec = (old.spec ?? {}) as ServiceSpec;
  if (needsClusterIP(old) && needsClusterIP(obj)) {
    if (!spec.clusterIP && oldSpec.clusterIP) spec.clusterIP = oldSpec.clusterIP;
    if (!spec.clusterIPs?.length && oldSpec.clusterIPs?.length) spec.clusterIPs = [...oldSpec.clusterIPs];
  }
  if (needsNodePorts(old) && needsNodePorts(obj)) {
    const newPorts = new Set((spec.ports ?? []).map((p) => p?.nodePort).filter((n) => n));
    const used = new Set((oldSpec.ports ?? []).map((p) => p.nodePort).filter((n) => n && newPorts.has(n)));
    const byName = new Map((oldSpec.ports ?? []).map((p) => [p.name ?? '', p.nodePort]));
    for (const p of spec.ports ?? []) {
      if (!p || typeof p !== 'object' || p.nodePort) continue;
      const oldValue = byName.get(p.name ?? '');
      if (oldValue && !used.has(oldValue)) p.nodePort = oldValue;
    }
  }
  if (needsHealthCheckNodePort(old) && needsHealthCheckNodePort(obj) && !spec.healthCheckNodePort && oldSpec.healthCheckNodePort) {
    spec.healthCheckNodePort = oldSpec.healthCheckNodePort;
  }
}

/**
 * A type change drops what the new type does not use, when the client left it as stored (upstream
 * dropTypeDependentFields): `kubectl patch -p '{"spec":{"type":"ClusterIP"}}'` on a NodePort Service must not be
 * refused for the nodePorts the patch did not mention. Values the client did change are kept, for validation to see.
 */
export function dropTypeDependentFields(obj: KubeObject, old: KubeObject): void {
  const spec = specOf(obj);
  const oldSpec = (old.spec ?? {}) as ServiceSpec;
  if (needsClusterIP(old) && !needsClusterIP(obj)) {
    if ((spec.clusterIP ?? '') === (oldSpec.clusterIP ?? '') && sameList(spec.clusterIPs, oldSpec.clusterIPs)) {
      delete spec.clusterIP;
      delete spec.clusterIPs;
    }
    if (sameList(spec.ipFamilies, oldSpec.ipFamilies)) delete spec.ipFamilies;
    if (spec.ipFamilyPolicy === oldSpec.ipFamilyPolicy) delete spec.ipFamilyPolicy;
  }
  const nodePorts = (s: ServiceSpec) => (s.ports ?? []).map((p) => p?.nodePort ?? 0);
  if (needsNodePorts(old) && !needsNodePorts(obj) && sameList(nodePorts(spec), nodePorts(oldSpec))) {
    for (const p of spec.ports ?? []) if (p && typeof p === 'object') delete p.nodePort;
  }
  if (needsHealthCheckNodePort(old) && !needsHealthCheckNodePort(obj) && spec.healthCheckNodePort === oldSpec.healthCheckNodePort) {
    delete spec.healthCheckNodePort;
  }
  if (serviceType(old) === 'LoadBalancer' && serviceType(obj) !== 'LoadBalancer' && spec.allocateLoadBalancerNodePorts === oldSpec.allocateLoadBalancerNodePorts) {
    delete spec.allocateLoadBalancerNodePorts;
  }
  if (needsNodePorts(old) && !needsNodePorts(obj) && spec.externalTrafficPolicy === oldSpec.externalTrafficPolicy) {
    delete spec.externalTrafficPolicy;
  }
}
