/**
 * The server half of the built-in ingress (`--disable ingress` turns it off), run by the controller manager while it
 * leads: makes sure the IngressClass `skiff` (controller skiff.dev/ingress, the default class) exists, and writes
 * each skiff Ingress's status.loadBalancer.ingress: the InternalIP of every node whose agent listens for Ingresses
 * (its Node carries ingress.skiff.dev/ports), as Traefik behind k3s's ServiceLB reports the node addresses.
 */
import type { Node } from 'kubernetes-types/core/v1.js';
import type { Ingress, IngressClass, IngressLoadBalancerIngress } from 'kubernetes-types/networking/v1.js';
import type { KubeObject } from '../api/object.js';
import { isAlreadyExists, isNotFound } from '../api/status.js';
import { IngressClasses, Ingresses, Nodes } from '../client/resources.js';
import type { Client, Informer, WorkQueue } from '../client/types.js';
import { createWorkQueue } from '../client/workqueue.js';
import { keyOf, runWorkers, splitKey, type Controller, type ControllerContext } from '../controllers/controller.js';
import { createLogger } from '../log/logger.js';
import { DEFAULT_CLASS_ANNOTATION, INGRESS_CLASS_NAME, INGRESS_CONTROLLER, isSkiffIngress, skiffClasses } from './compute-routes.js';
import { INGRESS_PORTS_ANNOTATION } from './node-ingress.js';

const log = createLogger('ingress-controller');

type Obj<T> = T & KubeObject;

/** The IngressClass skiff creates at start. */
export const skiffIngressClass: IngressClass = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'IngressClass',
  metadata: { name: INGRESS_CLASS_NAME, annotations: { [DEFAULT_CLASS_ANNOTATION]: 'true' }, labels: { 'app.kubernetes.io/managed-by': 'skiff' } },
  spec: { controller: INGRESS_CONTROLLER },
};

/** The addresses a skiff Ingress's status lists: InternalIPs of the nodes whose ingress listens, sorted. */
export function computeIngressStatus(nodes: readonly Node[]): IngressLoadBalancerIngress[] {
  const ips = new Set<string>();
  for (const n of nodes) {
    if (!n.metadata?.annotations?.[INGRESS_PORTS_ANNOTATION] || n.metadata.deletionTimestamp) continue;
    for (const a of n.status?.addresses ?? []) if (a.type === 'InternalIP') ips.add(a.address);
  }
  return [...ips].sort().map((ip) => ({ ip }));
}

export class IngressStatusController implements Controller {
  readonly name = 'ingress';
  private readonly client: Client;
  private readonly queue: WorkQueue;
  private readonly ingresses: Informer<Obj<Ingress>>;
  private readonly classes: Informer<Obj<IngressClass>>;
  private readonly nodes: Informer<Obj<Node>>;

  constructor(ctx: ControllerContext) {
    this.client = ctx.client;
    this.queue = createWorkQueue({ clock: ctx.clock });
    this.ingresses = ctx.informers.informerFor(Ingresses);
    this.classes = ctx.informers.informerFor(IngressClasses);
    this.nodes = ctx.informers.informerFor(Nodes);
  }

  start(): void {
    const one = (i: Obj<Ingress>) => this.queue.add(keyOf(i));
    const all = () => {
      for (const i of this.ingresses.lister.list()) this.queue.add(keyOf(i));
    };
    this.ingresses.addEventHandler({ add: one, update: (_o, n) => one(n) });
    this.classes.addEventHandler({ add: all, update: all, delete: all });
    this.nodes.addEventHandler({
      add: all,
      update: (o, n) => {
        if (o.metadata.annotations?.[INGRESS_PORTS_ANNOTATION] !== n.metadata.annotations?.[INGRESS_PORTS_ANNOTATION] || JSON.stringify(o.status?.addresses) !== JSON.stringify(n.status?.addresses)) all();
      },
      delete: all,
    });
  }

  async run(workers: number): Promise<void> {
    await ensureIngressClass(this.client);
    return runWorkers(this.name, this.queue, workers, (key) => this.reconcile(key));
  }

  stop(): void {
    this.queue.shutDown();
  }

  async reconcile(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const ing = this.ingresses.lister.get(namespace, name);
    if (!ing || ing.metadata.deletionTimestamp) return;
    if (!isSkiffIngress(ing, skiffClasses(this.classes.lister.list()))) return;
    const want = computeIngressStatus(this.nodes.lister.list());
    if (JSON.stringify(ing.status?.loadBalancer?.ingress ?? []) === JSON.stringify(want)) return;
    try {
      await this.client.updateStatus<Obj<Ingress>>(Ingresses, namespace, { ...ing, status: { ...ing.status, loadBalancer: want.length ? { ingress: want } : {} } });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

/** Creates the IngressClass `skiff` unless it exists (a user's edits to an existing one are kept). */
export async function ensureIngressClass(client: Client): Promise<void> {
  try {
    await client.create(IngressClasses, '', skiffIngressClass as Obj<IngressClass>);
    log.info('created IngressClass skiff (the default class)');
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
}

/** Under `--disable ingress`: removes the IngressClass skiff made, so agents stop listening (k3s removes a disabled Traefik). */
export async function removeIngressClass(client: Client): Promise<void> {
  try {
    const ic = await client.get<Obj<IngressClass>>(IngressClasses, '', INGRESS_CLASS_NAME);
    if (ic.spec?.controller !== INGRESS_CONTROLLER) return;
    await client.delete(IngressClasses, '', INGRESS_CLASS_NAME, { preconditions: { uid: ic.metadata.uid } });
    log.info('--disable ingress: deleted IngressClass skiff');
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}
