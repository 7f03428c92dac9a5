/**
 * The Endpoints controller (upstream pkg/controller/endpoint/endpoints_controller.go): for every Service with a
 * selector, an Endpoints object of the same name lists the selected pods' IPs, ready ones under `addresses` and the
 * others under `notReadyAddresses`, with the service's ports resolved on each pod (named targetPorts look up the
 * container port of that name). Services without a selector are left alone: their Endpoints belong to the user.
 */
import type { Endpoints as K8sEndpoints } from 'kubernetes-types/core/v1.js';
import type { KubeObject, Mutable } from '../../api/object.js';
import { isAlreadyExists, isNotFound } from '../../api/status.js';
import { Endpoints, Pods, Services } from '../../client/resources.js';
import type { Lister, WorkQueue } from '../../client/types.js';
import { createWorkQueue } from '../../client/workqueue.js';
import { keyOf, runWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';
import { computeEndpoints, OVER_CAPACITY_ANNOTATION } from './compute-endpoints.js';
import { hasStatusCause } from '../util/has-status-cause.js';
import { hasManagedEndpoints, podsSelectedBy, servicesSelectingPod, servicesToUpdateOnPodChange, type Pod, type Service } from '../util/pod-endpoints.js';
import { semanticEqual } from '../util/semantic-equal.js';

type EndpointsObj = K8sEndpoints & KubeObject;

export interface EndpointsControllerOptions {
  /**
   * Pod changes are collected for this long before a service's Endpoints are recomputed (upstream
   * --endpoint-updates-batch-period, default 0 there). Every write of a large Endpoints object is costly and
   * consumers that care about latency read EndpointSlices, so skiff batches briefly by default.
   */
  podBatchPeriodMs?: number;
}

/** Default podBatchPeriodMs. */
export const POD_BATCH_PERIOD_MS = 100;

export class EndpointsController implements Controller {
  readonly name = 'endpoints';
  private readonly queue: WorkQueue;
  private readonly services: Lister<Service>;
  private readonly pods: Lister<Pod>;
  private readonly endpoints: Lister<EndpointsObj>;

  private readonly podBatchPeriodMs: number;

  constructor(
    private readonly ctx: ControllerContext,
    opts: EndpointsControllerOptions = {},
  ) {
    this.podBatchPeriodMs = opts.podBatchPeriodMs ?? POD_BATCH_PERIOD_MS;
    this.queue = createWorkQueue({ clock: ctx.clock });
    this.services = ctx.informers.informerFor<Service>(Services).lister;
    this.pods = ctx.informers.informerFor<Pod>(Pods).lister;
    this.endpoints = ctx.informers.informerFor<EndpointsObj>(Endpoints).lister;
  }

  start(): void {
    const enqueue = (obj: KubeObject) => this.queue.add(keyOf(obj));
    this.ctx.informers.informerFor<Service>(Services).addEventHandler({ add: enqueue, update: (_o, n) => enqueue(n), delete: enqueue });
    this.ctx.informers.informerFor<Pod>(Pods).addEventHandler({
      add: (pod) => this.enqueueServicesOf(pod),
      update: (oldPod, newPod) => {
        for (const key of servicesToUpdateOnPodChange(this.services, oldPod, newPod)) this.queue.addAfter(key, this.podBatchPeriodMs);
      },
      delete: (pod) => this.enqueueServicesOf(pod),
    });
    // Someone deleted an Endpoints object we maintain: write it again (upstream onEndpointsDelete).
    this.ctx.informers.informerFor<EndpointsObj>(Endpoints).addEventHandler({ delete: enqueue });
  }

  run(workers: number): Promise<void> {
    return runWorkers(this.name, this.queue, workers, (key) => this.syncService(key));
  }

  stop(): void {
    this.queue.shutDown();
  }

  private enqueueServicesOf(pod: Pod): void {
    for (const key of servicesSelectingPod(this.services, pod)) this.queue.addAfter(key, this.podBatchPeriodMs);
  }

  async syncService(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const svc = this.services.get(namespace, name);
    if (!svc) {
      // The service is gone: so are its Endpoints. Those of a selector-less service were the user's, but they
      // share the service's fate upstream too. Not only when cached: the cache may not have seen our create yet.
      try {
        await this.ctx.client.delete(Endpoints, namespace, name);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      return;
    }
    if (!hasManagedEndpoints(svc)) return;

    const desired = computeEndpoints(svc, podsSelectedBy(this.pods, svc));
    const current = this.endpoints.get(namespace, name);
    const annotations: Record<string, string> = { ...(current?.metadata.annotations ?? {}) };
    if (desired.truncated) annotations[OVER_CAPACITY_ANNOTATION] = 'truncated';
    else delete annotations[OVER_CAPACITY_ANNOTATION];
    if (
      current &&
      semanticEqual(current.subsets ?? [], desired.subsets) &&
      semanticEqual(current.metadata.labels ?? {}, desired.labels) &&
      semanticEqual(current.metadata.annotations ?? {}, annotations)
    ) {
      return;
    }

    const next: Mutable<EndpointsObj> = current
      ? (structuredClone(current) as Mutable<EndpointsObj>)
      : { apiVersion: 'v1', kind: 'Endpoints', metadata: { name, namespace } };
    next.metadata.labels = desired.labels;
    if (Object.keys(annotations).length) next.metadata.annotations = annotations;
    else delete next.metadata.annotations;
    next.subsets = desired.subsets;
    if (!current) {
      try {
        await this.ctx.client.create(Endpoints, namespace, next);
      } catch (err) {
        // Our cache has not seen an Endpoints object that exists: retry once the informer catches up.
        if (isAlreadyExists(err)) throw new Error(`Endpoints ${key} exists but is not in the cache yet; retrying`);
        if (hasStatusCause(err, 'NamespaceTerminating')) return;
        throw err;
      }
      return;
    }
    await this.ctx.client.update(Endpoints, namespace, next);
  }
}
