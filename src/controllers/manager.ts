/**
 * The controller manager: builds every enabled controller from one shared context (one informer per resource for
 * all of them), starts the informers, waits for their caches, then runs the controllers' workers. `skiff server`
 * runs it only while it holds the leader Lease, like kube-controller-manager.
 */
import type { Controller, ControllerContext } from './controller.js';
import { createLogger } from '../log/logger.js';

const log = createLogger('kube-controller-manager');

export interface ControllerFactory {
  /** The name `--disable` refers to. */
  name: string;
  create(ctx: ControllerContext): Controller;
  /** Concurrent workers (kube-controller-manager's --concurrent-*-syncs; 5 for most). */
  workers?: number;
}

/**
 * The service account (in kube-system) each controller acts as, like kube-controller-manager with
 * --use-service-account-credentials: upstream's names for upstream's controllers (bound to system:controller:<name>),
 * the controller's own name for skiff's (bound to skiff:controller:<name>; apiserver/auth/rbac/bootstrap-policy.ts).
 * `serviceaccount-token` is absent: upstream runs it with the controller manager's own credentials, since it makes
 * the other controllers' tokens.
 */
export const CONTROLLER_SERVICE_ACCOUNTS: Record<string, string> = {
  replicaset: 'replicaset-controller',
  replicationcontroller: 'replication-controller',
  deployment: 'deployment-controller',
  statefulset: 'statefulset-controller',
  daemonset: 'daemon-set-controller',
  job: 'job-controller',
  cronjob: 'cronjob-controller',
  'ttl-after-finished': 'ttl-after-finished-controller',
  'horizontal-pod-autoscaler': 'horizontal-pod-autoscaler',
  'garbage-collector': 'generic-garbage-collector',
  namespace: 'namespace-controller',
  serviceaccount: 'service-account-controller',
  'root-ca-cert-publisher': 'root-ca-cert-publisher',
  csrapproving: 'certificate-controller',
  csrsigning: 'certificate-controller',
  csrcleaner: 'certificate-controller',
  endpoints: 'endpoint-controller',
  endpointslice: 'endpointslice-controller',
  'pod-garbage-collector': 'pod-garbage-collector',
  'node-lifecycle': 'node-controller',
  'node-ipam': 'node-controller',
  disruption: 'disruption-controller',
  resourcequota: 'resourcequota-controller',
  'persistentvolume-binder': 'persistent-volume-binder',
  'local-path-provisioner': 'local-path-provisioner',
  'node-password': 'node-password',
  ingress: 'ingress',
  servicelb: 'servicelb',
};

/** The client (and event recorder) one service account's controllers write with; informers stay shared. */
export type CredentialsFor = (serviceAccount: string) => Pick<ControllerContext, 'client' | 'recorder'>;

export class ControllerManager {
  private readonly controllers: { controller: Controller; workers: number }[] = [];
  private running: Promise<unknown> | undefined;

  /** Throws when `disabled` names a controller that does not exist, so a typo in --disable is not silently ignored. */
  constructor(
    private readonly ctx: ControllerContext,
    factories: ControllerFactory[],
    disabled: string[] = [],
    credentialsFor?: CredentialsFor,
  ) {
    const known = new Set(factories.map((f) => f.name));
    for (const name of disabled) {
      if (!known.has(name) && !EXTERNAL_COMPONENTS.has(name)) {
        throw new Error(`--disable ${JSON.stringify(name)}: no such controller; known: ${[...known, ...EXTERNAL_COMPONENTS].sort().join(', ')}`);
      }
    }
    for (const f of factories) {
      if (disabled.includes(f.name)) continue;
      const serviceAccount = CONTROLLER_SERVICE_ACCOUNTS[f.name];
      const own = credentialsFor && serviceAccount ? { ...ctx, ...credentialsFor(serviceAccount) } : ctx;
      this.controllers.push({ controller: f.create(own), workers: f.workers ?? 5 });
    }
  }

  get names(): string[] {
    return this.controllers.map((c) => c.controller.name);
  }

  /** Registers handlers, starts the shared informers and, once they have synced, every controller's workers. */
  async start(): Promise<void> {
    for (const c of this.controllers) c.controller.start();
    this.ctx.informers.start();
    await this.ctx.informers.waitForSync();
    this.running = Promise.all(
      this.controllers.map((c) =>
        c.controller.run(c.workers).catch((err: unknown) => log.error('controller stopped with an error', { controller: c.controller.name, err })),
      ),
    );
  }

  async stop(): Promise<void> {
    for (const c of this.controllers) c.controller.stop();
    this.ctx.informers.stop();
    await this.running;
  }
}

/** Components `--disable` may name that are not controllers of this manager. */
const EXTERNAL_COMPONENTS = new Set(['scheduler', 'simulated-nodes', 'coredns', 'metrics-server']);
