/**
 * The TTL-after-finished controller (pkg/controller/ttlafterfinished): deletes a Job spec.ttlSecondsAfterFinished
 * seconds after it finished (the lastTransitionTime of its Complete or Failed condition), with Foreground
 * propagation so its pods go first. Before deleting it re-reads the Job from the API, because the TTL may have
 * been changed since the cache saw it, and deletes with a uid precondition so a re-created Job of the same name
 * is safe.
 */
import type { Job } from 'kubernetes-types/batch/v1.js';
import type { KubeObject } from '../../api/object.js';
import { isNotFound } from '../../api/status.js';
import { Jobs } from '../../client/resources.js';
import type { Client, Clock, Informer, WorkQueue } from '../../client/types.js';
import { createWorkQueue } from '../../client/workqueue.js';
import { keyOf, runWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';

type JobObject = Job & KubeObject;

/** A Job the controller must eventually delete: it has a TTL, has finished, and is not already being deleted. */
export function needsCleanup(job: Job): boolean {
  return job.spec?.ttlSecondsAfterFinished != null && finishTime(job) !== undefined && !job.metadata?.deletionTimestamp;
}

/**
 * When the Job finished: the transition time of its true Complete or Failed condition. A finished Job without
 * that time is an error upstream ("unable to find the time when the Job finished"); here it is too.
 */
export function finishTime(job: Job): number | undefined {
  const c = job.status?.conditions?.find((x) => (x.type === 'Complete' || x.type === 'Failed') && x.status === 'True');
  if (!c) return undefined;
  if (!c.lastTransitionTime) throw new Error(`unable to find the time when the Job ${job.metadata?.namespace}/${job.metadata?.name} finished`);
  return Date.parse(c.lastTransitionTime);
}

/** Milliseconds until the Job expires (<= 0: expired), or undefined when it needs no cleanup. */
export function timeLeftMs(job: Job, now: Date): number | undefined {
  if (!needsCleanup(job)) return undefined;
  return finishTime(job)! + job.spec!.ttlSecondsAfterFinished! * 1000 - now.getTime();
}

export class TtlAfterFinishedController implements Controller {
  readonly name = 'ttl-after-finished';
  private readonly client: Client;
  private readonly clock: Clock;
  private readonly queue: WorkQueue;
  private readonly jobs: Informer<JobObject>;

  constructor(ctx: ControllerContext) {
    this.client = ctx.client;
    this.clock = ctx.clock;
    this.queue = createWorkQueue({ clock: ctx.clock });
    this.jobs = ctx.informers.informerFor<JobObject>(Jobs);
  }

  start(): void {
    const enqueue = (job: JobObject) => {
      if (needsCleanup(job)) this.queue.add(keyOf(job));
    };
    this.jobs.addEventHandler({ add: enqueue, update: (_old, cur) => enqueue(cur) });
  }

  run(workers: number): Promise<void> {
    return runWorkers(this.name, this.queue, workers, (key) => this.reconcile(key));
  }

  stop(): void {
    this.queue.shutDown();
  }

  async reconcile(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const cached = this.jobs.lister.get(namespace, name);
    if (!cached || !this.expired(key, cached)) return;
    // The cached TTL may be stale: decide on the live object.
    let fresh: JobObject;
    try {
      fresh = await this.client.get<JobObject>(Jobs, namespace, name);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    if (!this.expired(key, fresh)) return;
    try {
      await this.client.delete(Jobs, namespace, name, { propagationPolicy: 'Foreground', preconditions: { uid: fresh.metadata.uid } });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** True when the TTL has run out; otherwise requeues the key for the moment it will. */
  private expired(key: string, job: JobObject): boolean {
    const left = timeLeftMs(job, this.clock.now());
    if (left === undefined) return false;
    if (left > 0) {
      this.queue.addAfter(key, left);
      return false;
    }
    return true;
  }
}
