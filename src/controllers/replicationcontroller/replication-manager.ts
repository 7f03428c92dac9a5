/**
 * The replication controller (upstream pkg/controller/replication): ReplicationControllers kept at spec.replicas pods
 * by the ReplicaSet controller's logic, as upstream runs it (NewReplicationManager wraps the ReplicaSet controller with
 * the ReplicationController kind). The RC's map selector is read as matchLabels; pods get an `v1` /
 * `ReplicationController` controller reference; status (replicas, fullyLabeled, ready, available, ReplicaFailure) is
 * the same computation.
 */
import type { LabelSelector } from 'kubernetes-types/meta/v1.js';
import type { KubeObject } from '../../api/object.js';
import { ReplicationControllers } from '../../client/resources.js';
import type { ControllerContext } from '../controller.js';
import { ReplicaSetController, type ReplicaSetControllerOptions, type ReplicatedKind } from '../replicaset/replicaset-controller.js';

export { ReplicationControllers };

/** Component name on the Events this controller records (upstream's "replication-controller"). */
export const REPLICATION_CONTROLLER_COMPONENT = 'replication-controller';

/** An RC's selector map as a LabelSelector; an empty map selects nothing (validation refuses it anyway). */
export function rcSelector(obj: KubeObject): LabelSelector | undefined {
  const selector = (obj.spec as { selector?: Record<string, string> } | undefined)?.selector;
  if (!selector || Object.keys(selector).length === 0) return undefined;
  return { matchLabels: { ...selector } };
}

export const replicationControllerKind: ReplicatedKind = {
  name: 'replicationcontroller',
  resource: ReplicationControllers,
  apiVersion: 'v1',
  selectorOf: rcSelector,
  component: REPLICATION_CONTROLLER_COMPONENT,
};

/** The ReplicaSet controller, managing ReplicationControllers. */
export function newReplicationManager(ctx: ControllerContext, opts: Omit<ReplicaSetControllerOptions, 'kind'> = {}): ReplicaSetController {
  return new ReplicaSetController(ctx, { ...opts, kind: replicationControllerKind });
}
