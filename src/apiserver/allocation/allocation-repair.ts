/**
 * Reconciles the reservations with the stored Services, as kube-apiserver's ipallocator and portallocator repair
 * controllers do: at start (before the server bootstraps its objects) and every few minutes after.
 *
 * - A Service item without a reservation gets one (clusters created before reservations existed, a reservation lost
 *   to a crash between a Service write and its allocation bookkeeping).
 * - A reservation whose owner does not hold the item is deleted, but only once it is older than the grace period:
 *   a young one may belong to a write still in flight (reserved, not yet committed).
 * - Two Services holding one item (possible only in data written before reservations) cannot be fixed here; they are
 *   reported, as upstream reports them with an event.
 *
 * Reservations are read before the Services, so any reservation this pass considers stale was made before the
 * Services were read; deletions are compare-and-delete on the revision read, so a reservation rewritten meanwhile
 * survives.
 */
import type { KubeObject } from '../../api/object.js';
import type { Store } from '../../storage/store.js';
import { decodeFromStore, resourcePrefix } from '../object-codec.js';
import { serviceHoldings } from './service-holdings.js';
import { serviceAllocators, type ServiceAllocationOptions, type ServiceAllocators } from './service-allocators.js';
import { sameOwner, type AllocationOwner, type Reservation, type StoreAllocator } from './store-allocator.js';
import { createLogger } from '../../log/logger.js';

const log = createLogger('service-allocation');

export interface RepairReport {
  /** Reservations created for items that Services held without one. */
  created: string[];
  /** Stale reservations deleted. */
  released: string[];
  /** Items held by more than one Service, or outside the range: reported, not changed. */
  problems: string[];
}

export interface AllocationRepairOptions extends ServiceAllocationOptions {
  /** Between passes (upstream: 3 minutes). */
  intervalMs?: number;
  /** Reservations younger than this are never deleted (default 1 minute). */
  graceMs?: number;
  /** Receives what a pass changed or found, and passes that failed. Default: one line on stderr each. */
  log?: (line: string) => void;
}

/** Reservations younger than this may belong to a write in flight (the repair loop's default grace period). */
export const IN_FLIGHT_GRACE_MS = 60_000;

const SERVICES_PREFIX = resourcePrefix({ group: '', plural: 'services' });
const LIST_PAGE = 500;

export class AllocationRepair {
  private readonly allocators: ServiceAllocators;
  private readonly store: Store;
  private readonly now: () => Date;
  private readonly graceMs: number;
  private readonly intervalMs: number;
  private readonly log: (line: string) => void;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(opts: AllocationRepairOptions) {
    this.allocators = serviceAllocators(opts);
    this.store = opts.store;
    this.now = opts.now ?? (() => new Date());
    this.graceMs = opts.graceMs ?? IN_FLIGHT_GRACE_MS;
    this.intervalMs = opts.intervalMs ?? 180_000;
    this.log = opts.log ?? ((line) => log.warn(line));
  }

  /** Runs the first pass (its failure is the caller's), then one pass every interval until stop(). */
  async start(): Promise<void> {
    this.report(await this.runOnce());
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.runOnce()
        .then((r) => this.report(r))
        .catch((err: Error) => this.log(`service allocation repair: pass failed: ${err.message}`))
        .finally(() => (this.running = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer; a pass already running finishes on its own. Idempotent. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One reconciliation of both ranges. */
  async runOnce(): Promise<RepairReport> {
    const report: RepairReport = { created: [], released: [], problems: [] };
    // Reservations first, then Services: see the file comment.
    const [ips, ports] = await Promise.all([this.allocators.ips.list(), this.allocators.ports.list()]);
    const services = await this.listServices();
    const ipHolders = new Map<string, AllocationOwner[]>();
    const portHolders = new Map<string, AllocationOwner[]>();
    for (const svc of services) {
      const owner: AllocationOwner = { namespace: svc.metadata.namespace ?? '', name: svc.metadata.name ?? '', uid: svc.metadata.uid ?? '' };
      const held = serviceHoldings(svc);
      for (const ip of held.ips) push(ipHolders, ip, owner);
      for (const port of held.ports) push(portHolders, port, owner);
    }
    await this.reconcile(this.allocators.ips, 'ClusterIP', ips, ipHolders, report);
    await this.reconcile(this.allocators.ports, 'NodePort', ports, portHolders, report);
    return report;
  }

  private async reconcile(alloc: StoreAllocator, what: string, reservations: Reservation[], holders: Map<string, AllocationOwner[]>, report: RepairReport): Promise<void> {
    const byValue = new Map(reservations.map((r) => [r.value, r]));
    for (const [value, owners] of holders) {
      const names = owners.map((o) => `${o.namespace}/${o.name}`).join(', ');
      if (!alloc.range.contains(value)) {
        report.problems.push(`${what} ${value} of ${names} is not in the range ${alloc.range.description}`);
        continue;
      }
      if (owners.length > 1) report.problems.push(`${what} ${value} is held by several Services: ${names}`);
      const res = byValue.get(value);
      if (res && owners.some((o) => sameOwner(o, res.record.owner))) continue;
      if (res) {
        // Reserved for someone who does not hold it, while a Service does: hand it over once the reservation is old.
        if (!this.isStale(res)) continue;
        if (!(await alloc.remove(res))) continue;
        report.released.push(`${what} ${value}`);
      }
      if (await alloc.reserve(value, owners[0])) report.created.push(`${what} ${value} for ${owners[0].namespace}/${owners[0].name}`);
    }
    for (const res of reservations) {
      if (holders.has(res.value) || !this.isStale(res)) continue;
      if (await alloc.remove(res)) report.released.push(`${what} ${res.value}`);
    }
  }

  private isStale(res: Reservation): boolean {
    const at = Date.parse(res.record.allocatedAt);
    return !(this.now().getTime() - at <= this.graceMs);
  }

  private async listServices(): Promise<KubeObject[]> {
    const out: KubeObject[] = [];
    let startKey: string | undefined;
    let revision: number | undefined;
    for (;;) {
      const page = await this.store.list(SERVICES_PREFIX, { startKey, limit: LIST_PAGE, revision });
      revision = page.revision;
      for (const kv of page.kvs) out.push(decodeFromStore(kv.key, kv.value, kv.modRevision));
      if (!page.more || page.kvs.length === 0) return out;
      startKey = `${page.kvs[page.kvs.length - 1].key}\0`;
    }
  }

  private report(r: RepairReport): void {
    if (r.created.length > 0) this.log(`service allocation repair: reserved ${r.created.length} item(s) Services held without a reservation: ${r.created.join('; ')}`);
    if (r.released.length > 0) this.log(`service allocation repair: released ${r.released.length} stale reservation(s): ${r.released.join('; ')}`);
    for (const p of r.problems) this.log(`service allocation repair: ${p}`);
  }
}

function push(map: Map<string, AllocationOwner[]>, key: string, owner: AllocationOwner): void {
  const list = map.get(key);
  if (list) list.push(owner);
  else map.set(key, [owner]);
}
