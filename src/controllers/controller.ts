/**
 * What every controller shares: the context it is built from, and the loop that feeds keys from a work queue to
 * `reconcile` with at most one worker per key (the sample-controller shape). Controllers reach state only through
 * the client and informers; reconcile is level-based and idempotent, and recomputes status on every sync.
 */
import { objectKey } from '../client/object-cache.js';
import type { Client, Clock, EventRecorder, InformerFactory, WorkQueue } from '../client/types.js';
import { createLogger } from '../log/logger.js';
import type { LegacyTokenSigner } from './serviceaccount/tokens-controller.js';

export interface ControllerOptions {
  /** Node lifecycle: a node whose Lease is older than this is NotReady/Unknown (kube-controller-manager default 40 s). */
  nodeMonitorGracePeriodMs: number;
  /** Default tolerations added to pods for node.kubernetes.io/not-ready and /unreachable (default 300 s). */
  defaultNotReadyTolerationSeconds: number;
  defaultUnreachableTolerationSeconds: number;
  /** Pod GC: terminated pods kept before deletion (kube-controller-manager --terminated-pod-gc-threshold, default 12500). */
  terminatedPodGCThreshold: number;
  /** Node IPAM: the cluster CIDR(s) node pod CIDRs are cut from (k3s --cluster-cidr; one per IP family). */
  clusterCIDRs: string[];
  /** PEM of the cluster CA: published as the kube-root-ca.crt ConfigMap of every namespace, put in legacy token Secrets. */
  rootCACertPem?: string;
  /** The cluster CA's private key (PEM): the csrsigning controller signs approved CSRs with it; without it, it is idle. */
  rootCAKeyPem?: string;
  /** Signs the tokens of legacy `kubernetes.io/service-account-token` Secrets; without it their controller does not run. */
  signLegacyServiceAccountToken?: LegacyTokenSigner;
}

export const defaultControllerOptions: ControllerOptions = {
  nodeMonitorGracePeriodMs: 40_000,
  defaultNotReadyTolerationSeconds: 300,
  defaultUnreachableTolerationSeconds: 300,
  terminatedPodGCThreshold: 12_500,
  clusterCIDRs: ['10.42.0.0/16'],
};

export interface ControllerContext {
  client: Client;
  informers: InformerFactory;
  /** A recorder whose events carry `source.component` = the given component name (e.g. `deployment-controller`). */
  recorder(component: string): EventRecorder;
  clock: Clock;
  options: ControllerOptions;
}

export interface Controller {
  /** The name used by `--disable NAME` and in logs, e.g. `deployment`. */
  readonly name: string;
  /** Registers informer handlers; called before the informer factory starts. */
  start(): void;
  /** Runs `workers` workers until stop() resolves them. */
  run(workers: number): Promise<void>;
  stop(): void;
}

/** The `namespace/name` key (or `name` for cluster-scoped objects) that queues carry: the informer cache's key. */
export const keyOf = objectKey;

export function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return slash < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/**
 * Runs `workers` loops taking keys from the queue: a successful reconcile forgets the key's backoff, a failure is
 * logged once with the key and retried with backoff. Resolves when the queue is shut down and drained.
 */
export async function runWorkers(name: string, queue: WorkQueue, workers: number, reconcile: (key: string) => Promise<void>): Promise<void> {
  const log = createLogger(`${name}-controller`);
  queue.instrument?.(name);
  const worker = async () => {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      try {
        await reconcile(key);
        queue.forget(key);
      } catch (err) {
        log.error('error syncing', { key, err });
        queue.addRateLimited(key);
      } finally {
        queue.done(key);
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
}
