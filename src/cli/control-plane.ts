/**
 * The control loop inside `skiff server`: the controller manager and the scheduler, each run only while this server
 * holds its leader Lease (kube-system/kube-controller-manager, kube-system/kube-scheduler), so a second server on the
 * same datastore waits and takes over when the first dies; and the simulated nodes (kubelets, so not leader-elected).
 * Everything talks to the API through the in-process transport: the same request pipeline as HTTPS, without TLS.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { SimulatedNodes } from '../agent/simulated/simulated-nodes.js';
import type { ApiServer } from '../apiserver/server.js';
import { ApiEventRecorder } from '../client/event-recorder.js';
import { SharedInformerFactory } from '../client/informer.js';
import { LeaderElector } from '../client/leader-election.js';
import { RestClient } from '../client/rest-client.js';
import { ServiceAccounts } from '../client/resources.js';
import { isAlreadyExists, isNotFound } from '../api/status.js';
import { realClock, type Client } from '../client/types.js';
import { controllerFactories } from '../controllers/all.js';
import { defaultControllerOptions, type ControllerContext, type ControllerOptions } from '../controllers/controller.js';
import { CONTROLLER_SERVICE_ACCOUNTS, ControllerManager, type CredentialsFor } from '../controllers/manager.js';
import { Scheduler } from '../scheduler/scheduler.js';
import { removeIngressClass } from '../ingress/ingress-status-controller.js';
import { releaseServiceLBClaims } from '../servicelb/servicelb-controller.js';
import { createLogger } from '../log/logger.js';
import type { ServerConfig } from './flags.js';

export interface ControlPlane {
  /** Names of the controllers this server runs when leading. */
  controllers: string[];
  simulatedNodes?: SimulatedNodes;
  stop(): Promise<void>;
}

/** A component that runs while its elector leads; restartable, because leadership can come and go. */
interface LeaderComponent {
  start(): Promise<void>;
  stop(): Promise<void>;
}

function leaderElected(client: Client, name: string, identity: string, make: () => LeaderComponent) {
  const log = createLogger(name);
  let current: LeaderComponent | undefined;
  const elector = new LeaderElector({
    client,
    name,
    identity,
    onStartedLeading: async () => {
      log.info('became leader', { identity });
      current = make();
      await current.start();
    },
    onStoppedLeading: async () => {
      const c = current;
      current = undefined;
      if (c) {
        // The elector itself warns when a lease is lost; at shutdown this is the normal release.
        log.info('no longer the leader, stopping', { identity });
        await c.stop();
      }
    },
  });
  return elector;
}

/** What the controllers get from the API server's credentials: the CA to publish and sign with, the legacy token signer. */
export type ServerCredentials = Pick<ControllerOptions, 'rootCACertPem' | 'rootCAKeyPem' | 'signLegacyServiceAccountToken'>;

export async function startControlPlane(api: ApiServer, config: ServerConfig, credentials: ServerCredentials = {}, useServiceAccountCredentials = true): Promise<ControlPlane> {
  const disabled = new Set(config.disable);
  const identity = `${hostname()}_${randomUUID()}`;
  // A client in system:masters besides the given username: only when startControlPlane is called with
  // useServiceAccountCredentials = false (the old shared identity of the controller manager and simulated nodes).
  const clientFor = (username: string, extraGroups: string[] = []) =>
    new RestClient(api.inProcessTransport({ username, groups: ['system:masters', ...extraGroups, 'system:authenticated'] }));
  const options = {
    ...defaultControllerOptions,
    nodeMonitorGracePeriodMs: config.nodeMonitorGracePeriodMs,
    defaultNotReadyTolerationSeconds: config.defaultNotReadyTolerationSeconds,
    defaultUnreachableTolerationSeconds: config.defaultUnreachableTolerationSeconds,
    clusterCIDRs: config.clusterCIDRs,
    ...credentials,
  };
  // Validate --disable names (and build every controller once, so a --cluster-cidr the node IPAM controller cannot
  // use fails here) now, not at the first leadership.
  const probe = makeContext(clientFor('system:kube-controller-manager'), options);
  const names = new ControllerManager(probe, controllerFactories, config.disable).names;

  // kube-controller-manager --use-service-account-credentials: the leader election and the shared informers (list and
  // watch) act as system:kube-controller-manager with its bootstrap role; every controller writes as its own service
  // account in kube-system with system:controller:<name> (or skiff:controller:<name>), none in system:masters.
  const cmClient = useServiceAccountCredentials ? new RestClient(api.inProcessTransport({ username: 'system:kube-controller-manager', groups: ['system:authenticated'] })) : clientFor('system:kube-controller-manager');
  const serviceAccountClients = new Map<string, Client>();
  const serviceAccountClient = (name: string) => {
    let client = serviceAccountClients.get(name);
    if (!client) {
      const groups = ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'];
      client = new RestClient(api.inProcessTransport({ username: `system:serviceaccount:kube-system:${name}`, groups }));
      serviceAccountClients.set(name, client);
    }
    return client;
  };
  const credentialsFor: CredentialsFor | undefined = useServiceAccountCredentials
    ? (name) => {
        const client = serviceAccountClient(name);
        return { client, recorder: (component) => new ApiEventRecorder(client, component) };
      }
    : undefined;
  // --disable ingress / servicelb after a start that ran them: undo what they set up, so every agent stops serving them
  // (agents follow the IngressClass skiff and ServiceLB's claim on Services); k3s likewise removes a disabled component.
  if (disabled.has('ingress')) await removeIngressClass(useServiceAccountCredentials ? serviceAccountClient(CONTROLLER_SERVICE_ACCOUNTS.ingress) : cmClient).catch((err) => createLogger('ingress').error('--disable ingress: cannot remove the IngressClass skiff', { err }));
  if (disabled.has('servicelb')) await releaseServiceLBClaims(useServiceAccountCredentials ? serviceAccountClient(CONTROLLER_SERVICE_ACCOUNTS.servicelb) : cmClient).catch((err) => createLogger('servicelb').error('--disable servicelb: cannot release the LoadBalancer Services', { err }));
  const electors: LeaderElector[] = [];
  electors.push(
    leaderElected(
      cmClient,
      'kube-controller-manager',
      identity,
      () => {
        const ctx = makeContext(cmClient, options);
        const manager = new ControllerManager(ctx, controllerFactories, config.disable, credentialsFor);
        const start = async () => {
          if (useServiceAccountCredentials) await ensureServiceAccounts(cmClient, manager.names.map((n) => CONTROLLER_SERVICE_ACCOUNTS[n]));
          await manager.start();
        };
        return { start, stop: () => manager.stop() };
      },
    ),
  );

  if (!disabled.has('scheduler')) {
    const schedulerLog = createLogger('kube-scheduler');
    // The scheduler acts with its bootstrap roles only (system:kube-scheduler, system:volume-scheduler and skiff's
    // skiff:kube-scheduler for PriorityClasses: apiserver/auth/rbac/bootstrap-policy.ts), not in system:masters.
    const schedClient = new RestClient(api.inProcessTransport({ username: 'system:kube-scheduler', groups: ['system:authenticated'] }));
    electors.push(
      leaderElected(
        schedClient,
        'kube-scheduler',
        identity,
        () => {
          const informers = new SharedInformerFactory(schedClient);
          const scheduler = new Scheduler({ client: schedClient, informers, recorder: new ApiEventRecorder(schedClient, 'default-scheduler'), clock: realClock });
          let running: Promise<void> | undefined;
          return {
            async start() {
              scheduler.start();
              informers.start();
              running = scheduler.run().catch((err) => schedulerLog.error('scheduler stopped with an error', { err }));
            },
            async stop() {
              scheduler.stop();
              informers.stop();
              await running;
            },
          };
        },
      ),
    );
  }

  let simulatedNodes: SimulatedNodes | undefined;
  let simInformers: SharedInformerFactory | undefined;
  if (config.simulateNodes > 0 && !disabled.has('simulated-nodes')) {
    // kwok's way: one privileged controller identity (a kube-system service account) writes every simulated Node and
    // pod, since NodeRestriction lets a node identity (system:node:<name>) write only its own.
    // With service account credentials it holds only skiff:controller:node-simulator (apiserver/auth/rbac/bootstrap-policy.ts).
    const client = useServiceAccountCredentials ? serviceAccountClient('node-simulator') : clientFor('system:serviceaccount:kube-system:node-simulator', ['system:serviceaccounts', 'system:serviceaccounts:kube-system']);
    simInformers = new SharedInformerFactory(client);
    // Loaded only when asked for: a real cluster never needs the simulator.
    const { SimulatedNodes } = await import('../agent/simulated/simulated-nodes.js');
    simulatedNodes = new SimulatedNodes({
      client,
      informers: simInformers,
      clock: realClock,
      count: config.simulateNodes,
      capacity: config.simulateNodeCapacity,
      podReadyDelayMs: config.simulatePodReadyDelayMs,
      // The kubelet renews every 10 s against a 40 s grace period; keep that ratio when tests shorten the grace period.
      leaseRenewIntervalMs: Math.min(10_000, Math.max(250, Math.floor(config.nodeMonitorGracePeriodMs / 4))),
    });
    simulatedNodes.start();
  }
  for (const e of electors) e.start();

  return {
    controllers: names,
    simulatedNodes,
    async stop() {
      await Promise.all(electors.map((e) => e.stop()));
      simulatedNodes?.stop();
      simInformers?.stop();
    },
  };
}

/**
 * kube-controller-manager's service-account client builder makes each controller's ServiceAccount in kube-system
 * when missing (getOrCreateServiceAccount), so `kubectl get sa -n kube-system` lists them as upstream. In-process, no
 * token is needed: the transport carries the identity. A failure is logged, not fatal: RBAC binds the name either way.
 */
async function ensureServiceAccounts(client: Client, names: (string | undefined)[]): Promise<void> {
  const log = createLogger('kube-controller-manager');
  for (const name of new Set(names.filter((n): n is string => !!n))) {
    try {
      await client.get(ServiceAccounts, 'kube-system', name);
    } catch (err) {
      if (!isNotFound(err)) {
        log.error('cannot read a controller service account', { serviceAccount: name, err });
        continue;
      }
      await client.create(ServiceAccounts, 'kube-system', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: 'kube-system' } }).catch((createErr: unknown) => {
        if (!isAlreadyExists(createErr)) log.error('cannot create a controller service account', { serviceAccount: name, err: createErr });
      });
    }
  }
}

function makeContext(client: Client, options: ControllerContext['options']): ControllerContext {
  return {
    client,
    informers: new SharedInformerFactory(client),
    recorder: (component) => new ApiEventRecorder(client, component),
    clock: realClock,
    options,
  };
}
