/**
 * The server half of ServiceLB (`--disable servicelb` turns it off), run by the controller manager while it leads:
 *
 * - claims each LoadBalancer Service without a foreign loadBalancerClass with its finalizer, which is what agents
 *   listen for (k3s's ServiceLB marks its Services with a finalizer too), and releases the claim when the Service is
 *   deleted or stops being one it serves;
 * - writes status.loadBalancer.ingress from the nodes' reports (computeServiceLBStatus), and when every node that
 *   could answer failed to open a port, leaves the Service pending with a Warning Event that says why.
 */
import type { Node, Service } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../api/object.js';
import { isConflict, isNotFound } from '../api/status.js';
import { Nodes, Services } from '../client/resources.js';
import type { Client, EventRecorder, Informer, WorkQueue } from '../client/types.js';
import { createWorkQueue } from '../client/workqueue.js';
import { keyOf, runWorkers, splitKey, type Controller, type ControllerContext } from '../controllers/controller.js';
import { createLogger } from '../log/logger.js';
import { computeServiceLBStatus, SERVICELB_FINALIZER, SERVICELB_PORTS_ANNOTATION, wantsServiceLB } from './compute-servicelb.js';

const log = createLogger('servicelb-controller');

type Obj<T> = T & KubeObject;

export const UNAVAILABLE_REASON = 'UnavailableLoadBalancer';

export class ServiceLBController implements Controller {
  readonly name = 'servicelb';
  private readonly client: Client;
  private readonly recorder: EventRecorder;
  private readonly queue: WorkQueue;
  private readonly services: Informer<Obj<Service>>;
  private readonly nodes: Informer<Obj<Node>>;
  /** The last pending message evented per Service, so a Warning is recorded once per distinct reason. */
  private readonly warned = new Map<string, string>();

  constructor(ctx: ControllerContext) {
    this.client = ctx.client;
    this.recorder = ctx.recorder('service-lb-controller');
    this.queue = createWorkQueue({ clock: ctx.clock });
    this.services = ctx.informers.informerFor(Services);
    this.nodes = ctx.informers.informerFor(Nodes);
  }

  start(): void {
    const one = (s: Obj<Service>) => {
      if (wantsServiceLB(s) || s.metadata.finalizers?.includes(SERVICELB_FINALIZER)) this.queue.add(keyOf(s));
    };
    const all = () => {
      for (const s of this.services.lister.list()) one(s);
    };
    this.services.addEventHandler({ add: one, update: (_o, n) => one(n), delete: (s) => this.warned.delete(keyOf(s)) });
    this.nodes.addEventHandler({
      add: all,
      update: (o, n) => {
        if (o.metadata.annotations?.[SERVICELB_PORTS_ANNOTATION] !== n.metadata.annotations?.[SERVICELB_PORTS_ANNOTATION] || JSON.stringify(o.metadata.labels) !== JSON.stringify(n.metadata.labels) || JSON.stringify(o.status?.addresses) !== JSON.stringify(n.status?.addresses)) all();
      },
      delete: all,
    });
  }

  run(workers: number): Promise<void> {
    return runWorkers(this.name, this.queue, workers, (key) => this.reconcile(key));
  }

  stop(): void {
    this.queue.shutDown();
  }

  async reconcile(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const svc = this.services.lister.get(namespace, name);
    if (!svc) return;
    const claimed = svc.metadata.finalizers?.includes(SERVICELB_FINALIZER) ?? false;
    if (svc.metadata.deletionTimestamp || !wantsServiceLB(svc)) {
      if (claimed) await this.release(svc);
      return;
    }
    if (!claimed) {
      // The agents start listening once they see the claim; status follows their reports.
      await this.patchFinalizers(svc, [...(svc.metadata.finalizers ?? []), SERVICELB_FINALIZER]);
      return;
    }
    const status = computeServiceLBStatus(svc, this.nodes.lister.list());
    const want = status.ips.map((ip) => ({ ip, ipMode: 'VIP' }));
    if (JSON.stringify(svc.status?.loadBalancer?.ingress ?? []) !== JSON.stringify(want)) {
      await this.client.updateStatus<Obj<Service>>(Services, namespace, { ...svc, status: { ...svc.status, loadBalancer: want.length ? { ingress: want } : {} } });
    }
    if (status.pending) {
      if (this.warned.get(key) !== status.pending) {
        this.warned.set(key, status.pending);
        this.recorder.event(svc, 'Warning', UNAVAILABLE_REASON, status.pending);
        log.info('LoadBalancer Service pending', { service: key, reason: status.pending });
      }
    } else if (status.ips.length > 0) this.warned.delete(key);
  }

  /** Drops the claim (the agents close their listeners as it goes) and the addresses ServiceLB wrote. */
  private async release(svc: Obj<Service>): Promise<void> {
    if (!svc.metadata.deletionTimestamp && svc.status?.loadBalancer?.ingress?.length) {
      await this.client.updateStatus<Obj<Service>>(Services, svc.metadata.namespace ?? '', { ...svc, status: { ...svc.status, loadBalancer: {} } }).catch((err) => {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      });
    }
    await this.patchFinalizers(svc, (svc.metadata.finalizers ?? []).filter((f) => f !== SERVICELB_FINALIZER));
  }

  private async patchFinalizers(svc: Obj<Service>, finalizers: string[]): Promise<void> {
    try {
      // The resourceVersion makes it a compare-and-swap: another writer's finalizer is never lost.
      await this.client.patch(Services, svc.metadata.namespace ?? '', svc.metadata.name ?? '', 'merge', { metadata: { finalizers, resourceVersion: svc.metadata.resourceVersion } });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

/** Under `--disable servicelb`: releases every Service a previous run claimed, so agents stop and deletes do not hang. */
export async function releaseServiceLBClaims(client: Client): Promise<number> {
  const list = await client.list<Obj<Service>>(Services, '');
  let released = 0;
  for (const svc of list.items) {
    if (!svc.metadata.finalizers?.includes(SERVICELB_FINALIZER)) continue;
    const finalizers = svc.metadata.finalizers.filter((f) => f !== SERVICELB_FINALIZER);
    try {
      await client.patch(Services, svc.metadata.namespace ?? '', svc.metadata.name ?? '', 'merge', { metadata: { finalizers } });
      released++;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  if (released) log.info(`--disable servicelb: released ${released} LoadBalancer Service(s)`);
  return released;
}
