/** Every controller `skiff server` runs, by the names `--disable` takes. */
import { CSRApprovingController } from './certificates/csr-approving-controller.js';
import { CSRCleanerController } from './certificates/csr-cleaner-controller.js';
import { CSRSigningController } from './certificates/csr-signing-controller.js';
import { CronJobController } from './cronjob/cronjob-controller.js';
import { EndpointsController } from './endpoints/endpoints-controller.js';
import { EndpointSliceController } from './endpointslice/endpointslice-controller.js';
import { GarbageCollector } from './garbagecollector/garbage-collector.js';
import { HorizontalController } from './podautoscaler/horizontal-controller.js';
import { NamespaceController } from './namespace/namespace-controller.js';
import { NodeIpamController } from './nodeipam/node-ipam-controller.js';
import { NodeLifecycleController } from './nodelifecycle/node-lifecycle-controller.js';
import { NodePasswordController } from './nodepassword/node-password-controller.js';
import { PodGCController } from './podgc/podgc-controller.js';
import { PersistentVolumeController } from './persistentvolume/persistentvolume-controller.js';
import { ServiceAccountController } from './serviceaccount/serviceaccount-controller.js';
import { RootCAPublisher } from './serviceaccount/root-ca-publisher.js';
import { TokensController } from './serviceaccount/tokens-controller.js';
import { DaemonSetController } from './daemonset/daemonset-controller.js';
import { DeploymentController } from './deployment/deployment-controller.js';
import { DisruptionController } from './disruption/disruption-controller.js';
import { JobController } from './job/job-controller.js';
import { LocalPathProvisioner } from './localpath/local-path-provisioner.js';
import type { ControllerFactory } from './manager.js';
import type { Controller } from './controller.js';
import { IngressStatusController } from '../ingress/ingress-status-controller.js';
import { ServiceLBController } from '../servicelb/servicelb-controller.js';
import { ReplicaSetController } from './replicaset/replicaset-controller.js';
import { newReplicationManager } from './replicationcontroller/replication-manager.js';
import { ResourceQuotaController } from './resourcequota/resourcequota-controller.js';
import { StatefulSetController } from './statefulset/statefulset-controller.js';
import { TtlAfterFinishedController } from './ttl-after-finished/ttl-after-finished-controller.js';

export const controllerFactories: ControllerFactory[] = [
  { name: 'replicaset', create: (ctx) => new ReplicaSetController(ctx) },
  { name: 'replicationcontroller', create: (ctx) => newReplicationManager(ctx) },
  { name: 'deployment', create: (ctx) => new DeploymentController(ctx) },
  { name: 'statefulset', create: (ctx) => new StatefulSetController(ctx) },
  { name: 'daemonset', create: (ctx) => new DaemonSetController(ctx) },
  { name: 'job', create: (ctx) => new JobController(ctx) },
  { name: 'cronjob', create: (ctx) => new CronJobController(ctx) },
  { name: 'ttl-after-finished', create: (ctx) => new TtlAfterFinishedController(ctx) },
  // kube-controller-manager's horizontalpodautoscaling: metrics from metrics.k8s.io, every 15 s (src/controllers/podautoscaler).
  { name: 'horizontal-pod-autoscaler', create: (ctx) => new HorizontalController(ctx) },
  // kube-controller-manager's defaults: --concurrent-gc-syncs 20, --concurrent-namespace-syncs 10.
  { name: 'garbage-collector', create: (ctx) => new GarbageCollector(ctx), workers: 20 },
  { name: 'namespace', create: (ctx) => new NamespaceController(ctx), workers: 10 },
  { name: 'serviceaccount', create: (ctx) => new ServiceAccountController(ctx) },
  // Without the CA or the signing key (API servers in tests), these have nothing to publish and stay idle.
  { name: 'root-ca-cert-publisher', create: (ctx) => (ctx.options.rootCACertPem ? new RootCAPublisher(ctx, ctx.options.rootCACertPem) : idle('root-ca-cert-publisher')) },
  {
    name: 'serviceaccount-token',
    create: (ctx) => (ctx.options.signLegacyServiceAccountToken && ctx.options.rootCACertPem ? new TokensController(ctx, ctx.options.signLegacyServiceAccountToken, ctx.options.rootCACertPem) : idle('serviceaccount-token')),
  },
  // kube-controller-manager's certificate controllers: kubelet client requests approved after a SubjectAccessReview,
  // approved requests of the kubernetes.io signers signed with the cluster CA, finished and stale requests deleted.
  { name: 'csrapproving', create: (ctx) => new CSRApprovingController(ctx) },
  {
    name: 'csrsigning',
    create: (ctx) => (ctx.options.rootCACertPem && ctx.options.rootCAKeyPem ? new CSRSigningController(ctx, { certPem: ctx.options.rootCACertPem, keyPem: ctx.options.rootCAKeyPem }) : idle('csrsigning')),
  },
  { name: 'csrcleaner', create: (ctx) => new CSRCleanerController(ctx), workers: 1 },
  { name: 'endpoints', create: (ctx) => new EndpointsController(ctx) },
  { name: 'endpointslice', create: (ctx) => new EndpointSliceController(ctx) },
  { name: 'pod-garbage-collector', create: (ctx) => new PodGCController(ctx) },
  { name: 'node-lifecycle', create: (ctx) => new NodeLifecycleController(ctx) },
  { name: 'node-ipam', create: (ctx) => new NodeIpamController(ctx, { clusterCIDRs: ctx.options.clusterCIDRs }) },
  // k3s's node controller: a deleted Node's password Secret goes with it. One worker: deletions are rare.
  { name: 'node-password', create: (ctx) => new NodePasswordController(ctx), workers: 1 },
  { name: 'disruption', create: (ctx) => new DisruptionController(ctx) },
  // Keeps ResourceQuota status (hard from spec, used recounted); ResourceQuota admission charges between recounts.
  { name: 'resourcequota', create: (ctx) => new ResourceQuotaController(ctx) },
  { name: 'persistentvolume-binder', create: (ctx) => new PersistentVolumeController(ctx) },
  { name: 'local-path-provisioner', create: (ctx) => new LocalPathProvisioner(ctx) },
  // k3s's packaged components served without images: the ingress (Traefik's place) and ServiceLB (src/ingress,
  // src/servicelb); their per-node halves run in every agent and follow these (the IngressClass, the Services' claim).
  { name: 'ingress', create: (ctx) => new IngressStatusController(ctx), workers: 2 },
  { name: 'servicelb', create: (ctx) => new ServiceLBController(ctx), workers: 2 },
];

/** A controller with nothing to do, for one whose inputs this server lacks. */
function idle(name: string): Controller {
  let release: () => void = () => {};
  const stopped = new Promise<void>((r) => (release = r));
  return { name, start() {}, run: () => stopped, stop: () => release() };
}
