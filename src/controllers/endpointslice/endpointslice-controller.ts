/**
 * The EndpointSlice controller (upstream pkg/controller/endpointslice/endpointslice_controller.go): for every
 * Service with a selector, EndpointSlices named `<service>-<5 chars>`, labelled kubernetes.io/service-name and
 * endpointslice.kubernetes.io/managed-by, owned by the service (so the garbage collector removes them with it),
 * listing each selected pod with an IP once, with its ready/serving/terminating conditions. Planning is the pure
 * computeSliceChanges; this class feeds it from the listers and carries the plan out.
 */
import type { Node } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { isNotFound } from '../../api/status.js';
import { EndpointSlices, Nodes, Pods, Services } from '../../client/resources.js';
import type { Lister, WorkQueue } from '../../client/types.js';
import { createWorkQueue } from '../../client/workqueue.js';
import { keyOf, runWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';
import { hasStatusCause } from '../util/has-status-cause.js';
import { hasManagedEndpoints, podsSelectedBy, servicesSelectingPod, servicesToUpdateOnPodChange, type Pod, type Service } from '../util/pod-endpoints.js';
import { computeSliceChanges, isManagedSlice, nodeZone, SERVICE_NAME_LABEL, type ComputeSlicesOptions, type EndpointSlice } from './compute-slices.js';
import { SliceTracker } from './slice-tracker.js';

type NodeObj = Node & KubeObject;

export interface EndpointSliceControllerOptions {
  /** Default MAX_ENDPOINTS_PER_SLICE (100). */
  maxEndpointsPerSlice?: number;
}

export class EndpointSliceController implements Controller {
  readonly name = 'endpointslice';
  private readonly queue: WorkQueue;
  private readonly services: Lister<Service>;
  private readonly pods: Lister<Pod>;
  private readonly slices: Lister<EndpointSlice>;
  private readonly nodes: Lister<NodeObj>;
  private readonly tracker = new SliceTracker();

  constructor(
    private readonly ctx: ControllerContext,
    private readonly opts: EndpointSliceControllerOptions = {},
  ) {
    this.queue = createWorkQueue({ clock: ctx.clock });
    this.services = ctx.informers.informerFor<Service>(Services).lister;
    this.pods = ctx.informers.informerFor<Pod>(Pods).lister;
    this.slices = ctx.informers.informerFor<EndpointSlice>(EndpointSlices).lister;
    this.nodes = ctx.informers.informerFor<NodeObj>(Nodes).lister;
  }

  start(): void {
    const enqueue = (obj: KubeObject) => this.queue.add(keyOf(obj));
    this.ctx.informers.informerFor<Service>(Services).addEventHandler({ add: enqueue, update: (_o, n) => enqueue(n), delete: enqueue });
    this.ctx.informers.informerFor<Pod>(Pods).addEventHandler({
      add: (pod) => this.enqueueServicesOf(pod),
      update: (oldPod, newPod) => {
        for (const key of servicesToUpdateOnPodChange(this.services, oldPod, newPod)) this.queue.add(key);
      },
      delete: (pod) => this.enqueueServicesOf(pod),
    });
    // Slice events matter only when someone else changed our slices; echoes of our own writes are skipped.
    this.ctx.informers.informerFor<EndpointSlice>(EndpointSlices).addEventHandler({
      add: (slice) => this.onSliceChange(slice),
      update: (_old, slice) => this.onSliceChange(slice),
      delete: (slice) => {
        const key = serviceKeyOf(slice);
        if (key && this.tracker.handleDeletion(key, slice)) this.queue.add(key);
      },
    });
  }

  run(workers: number): Promise<void> {
    return runWorkers(this.name, this.queue, workers, (key) => this.syncService(key));
  }

  stop(): void {
    this.queue.shutDown();
  }

  private enqueueServicesOf(pod: Pod): void {
    for (const key of servicesSelectingPod(this.services, pod)) this.queue.add(key);
  }

  private onSliceChange(slice: EndpointSlice): void {
    const key = serviceKeyOf(slice);
    if (key && this.tracker.shouldSync(key, slice)) this.queue.add(key);
  }

  async syncService(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const svc = this.services.get(namespace, name);
    if (!svc) {
      // The slices are owned by the service: the garbage collector deletes them.
      this.tracker.deleteService(key);
      return;
    }
    if (!hasManagedEndpoints(svc)) return;

    const cached = this.slices.list(namespace, `${SERVICE_NAME_LABEL}=${name}`).filter(isManagedSlice);
    if (this.tracker.isStale(key, cached)) {
      throw new Error(`EndpointSlice informer cache is out of date for service ${key}`);
    }
    const computeOpts: ComputeSlicesOptions = {
      zoneOf: (node) => nodeZone(this.nodes.get('', node)),
      ...(this.opts.maxEndpointsPerSlice ? { maxEndpointsPerSlice: this.opts.maxEndpointsPerSlice } : {}),
    };
    // Slices already being deleted are neither kept nor deleted again.
    const live = cached.filter((s) => !s.metadata.deletionTimestamp);
    const plan = computeSliceChanges(svc, podsSelectedBy(this.pods, svc), live, computeOpts);

    // No new slices for a service being deleted: the garbage collector would race us deleting them.
    for (const slice of svc.metadata.deletionTimestamp ? [] : plan.create) {
      try {
        const created = await this.ctx.client.create<EndpointSlice>(EndpointSlices, namespace, slice as EndpointSlice);
        this.tracker.expect(key, created);
      } catch (err) {
        // The namespace is being deleted: creates will keep failing and the slices are going anyway.
        if (hasStatusCause(err, 'NamespaceTerminating')) return;
        throw err;
      }
    }
    for (const slice of plan.update) {
      const updated = await this.ctx.client.update<EndpointSlice>(EndpointSlices, namespace, slice as EndpointSlice);
      this.tracker.expect(key, updated);
    }
    for (const slice of plan.delete) {
      try {
        await this.ctx.client.delete(EndpointSlices, namespace, slice.metadata.name ?? '', { preconditions: { uid: slice.metadata.uid } });
        this.tracker.expectDeletion(key, slice);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }
}

function serviceKeyOf(slice: EndpointSlice): string | undefined {
  if (!isManagedSlice(slice)) return undefined;
  const svc = slice.metadata.labels?.[SERVICE_NAME_LABEL];
  return svc ? `${slice.metadata.namespace}/${svc}` : undefined;
}
