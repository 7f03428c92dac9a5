/** What the Deployment sync functions (sync.ts, rolling.ts, recreate.ts, progress.ts) need from their controller. */
import type { Deployment } from 'kubernetes-types/apps/v1.js';
import type { Client, Clock, EventRecorder, Lister } from '../../client/types.js';
import type { ReplicaSetObject } from './deployment-util.js';

export interface SyncContext {
  client: Client;
  recorder: EventRecorder;
  clock: Clock;
  /** The ReplicaSet cache, read when a create reports AlreadyExists. */
  replicaSets: Lister<ReplicaSetObject>;
  /** Looks at the Deployment again after `ms` (progress deadline checks). */
  enqueueAfter(d: Deployment, ms: number): void;
  /** Looks at the Deployment again soon, with the queue's backoff. */
  enqueueRateLimited(d: Deployment): void;
}
