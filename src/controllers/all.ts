/** Every controller `skiff server` runs, by the names `--disable` takes. */
import { CronJobController } from './cronjob/cronjob-controller.js';
import { DaemonSetController } from './daemonset/daemonset-controller.js';
import { DeploymentController } from './deployment/deployment-controller.js';
import { JobController } from './job/job-controller.js';
import type { ControllerFactory } from './manager.js';
import { ReplicaSetController } from './replicaset/replicaset-controller.js';
import { StatefulSetController } from './statefulset/statefulset-controller.js';
import { TtlAfterFinishedController } from './ttl-after-finished/ttl-after-finished-controller.js';

export const controllerFactories: ControllerFactory[] = [
  { name: 'replicaset', create: (ctx) => new ReplicaSetController(ctx) },
  { name: 'deployment', create: (ctx) => new DeploymentController(ctx) },
  { name: 'statefulset', create: (ctx) => new StatefulSetController(ctx) },
  { name: 'daemonset', create: (ctx) => new DaemonSetController(ctx) },
  { name: 'job', create: (ctx) => new JobController(ctx) },
  { name: 'cronjob', create: (ctx) => new CronJobController(ctx) },
  { name: 'ttl-after-finished', create: (ctx) => new TtlAfterFinishedController(ctx) },
];
