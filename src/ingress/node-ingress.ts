/**
 * The ingress controller on one node: informers (IngressClasses, Ingresses, Services, EndpointSlices, TLS Secrets)
 * → computeRouteTable → IngressProxy.setTable, recomputed on every change (coalesced), whole tables swapped.
 *
 * It listens only while an IngressClass of controller skiff.dev/ingress exists: `skiff server` creates `skiff` and
 * deletes it under `--disable ingress`, so agents that join follow the server's choice without a flag of their own.
 * While it listens it says so on its Node (annotation ingress.skiff.dev/ports), which is how the server's status
 * controller knows which node addresses to list in the Ingresses' status.loadBalancer.
 */
import type { Secret, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { Ingress, IngressClass } from 'kubernetes-types/networking/v1.js';
import type { KubeObject } from '../api/object.js';
import { EndpointSlices, IngressClasses, Ingresses, Nodes, Secrets, Services } from '../client/resources.js';
import type { Client, Informer, InformerFactory } from '../client/types.js';
import { createLogger } from '../log/logger.js';
import { computeRouteTable, skiffClasses } from './compute-routes.js';
import { createDefaultCertificate } from './default-certificate.js';
import { IngressProxy } from './ingress-proxy.js';

const log = createLogger('ingress');

/** The Node annotation saying this node's ingress listens, and on which ports (`http=80,https=443`). */
export const INGRESS_PORTS_ANNOTATION = 'ingress.skiff.dev/ports';

export interface NodeIngressOptions {
  client: Client;
  informers: InformerFactory;
  nodeName: string;
  httpPort: number;
  httpsPort: number;
  bindAddress?: string;
  /** Recompute at most this often (default 50 ms): a burst of changes becomes one table. */
  coalesceMs?: number;
  /** Retry a failed listen (port taken) after this long (default 10 s). */
  retryMs?: number;
}

type Obj<T> = T & KubeObject;

export class NodeIngress {
  private readonly classes: Informer<Obj<IngressClass>>;
  private readonly ingresses: Informer<Obj<Ingress>>;
  private readonly services: Informer<Obj<Service>>;
  private readonly slices: Informer<Obj<EndpointSlice>>;
  private readonly secrets: Informer<Obj<Secret>>;
  private proxy: IngressProxy | undefined;
  private starting: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly warned = new Set<string>();
  private lastListenError = '';

  constructor(private readonly o: NodeIngressOptions) {
    this.classes = o.informers.informerFor(IngressClasses);
    this.ingresses = o.informers.informerFor(Ingresses);
    this.services = o.informers.informerFor(Services);
    this.slices = o.informers.informerFor(EndpointSlices);
    // Only TLS Secrets: the others are none of the ingress's business, and would cost memory on every node.
    this.secrets = o.informers.informerFor(Secrets, { fieldSelector: 'type=kubernetes.io/tls' });
  }

  /** The ports it listens on, once it does (tests pass 0 and read them here). */
  get ports(): { http: number; https: number } | undefined {
    return this.proxy ? { http: this.proxy.httpPort, https: this.proxy.httpsPort } : undefined;
  }

  start(): void {
    const changed = () => this.schedule();
    for (const inf of [this.classes, this.ingresses, this.services, this.slices, this.secrets] as Informer<KubeObject>[]) {
      inf.addEventHandler({ add: changed, update: changed, delete: changed });
      inf.start();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.retryTimer);
    await this.starting;
    await this.proxy?.close();
    this.proxy = undefined;
  }

  private schedule(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.sync().catch((err) => log.error('ingress sync failed', { err }));
    }, this.o.coalesceMs ?? 50);
  }

  private synced(): boolean {
    return [this.classes, this.ingresses, this.services, this.slices, this.secrets].every((i) => i.hasSynced());
  }

  private async sync(): Promise<void> {
    if (this.stopped || !this.synced()) {
      if (!this.stopped) this.schedule();
      return;
    }
    const classList = this.classes.lister.list();
    const enabled = skiffClasses(classList).names.size > 0;
    if (!enabled) {
      if (this.proxy) {
        log.info('no IngressClass of skiff.dev/ingress any more: the ingress stops listening', { node: this.o.nodeName });
        const p = this.proxy;
        this.proxy = undefined;
        await p.close();
        await this.annotate(undefined);
      }
      return;
    }
    const table = computeRouteTable({
      ingresses: this.ingresses.lister.list(),
      classes: classList,
      services: this.services.lister.list(),
      endpointSlices: this.slices.lister.list(),
      secrets: this.secrets.lister.list(),
    });
    for (const w of table.warnings) {
      if (this.warned.has(w)) continue;
      this.warned.add(w);
      log.warn(w);
    }
    if (!this.proxy) {
      this.starting ??= this.listen().finally(() => (this.starting = undefined));
      await this.starting;
    }
    this.proxy?.setTable(table);
  }

  private async listen(): Promise<void> {
    const proxy = new IngressProxy({
      httpPort: this.o.httpPort,
      httpsPort: this.o.httpsPort,
      defaultCertificate: await createDefaultCertificate(),
      ...(this.o.bindAddress ? { bindAddress: this.o.bindAddress } : {}),
    });
    try {
      await proxy.listen();
    } catch (err) {
      const msg = `the ingress cannot listen on ports ${this.o.httpPort} and ${this.o.httpsPort}: ${(err as Error).message} (another server has the port? see --ingress-http-port, --ingress-https-port, --disable ingress); retrying`;
      if (msg !== this.lastListenError) log.error(msg, { node: this.o.nodeName });
      this.lastListenError = msg;
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.schedule(), this.o.retryMs ?? 10_000);
      return;
    }
    if (this.stopped) {
      await proxy.close();
      return;
    }
    this.lastListenError = '';
    this.proxy = proxy;
    log.info(`ingress listening on ports ${proxy.httpPort} (HTTP) and ${proxy.httpsPort} (HTTPS)`, { node: this.o.nodeName });
    await this.annotate(`http=${proxy.httpPort},https=${proxy.httpsPort}`);
  }

  private async annotate(value: string | undefined): Promise<void> {
    try {
      await this.o.client.patch(Nodes, '', this.o.nodeName, 'merge', { metadata: { annotations: { [INGRESS_PORTS_ANNOTATION]: value ?? null } } });
    } catch (err) {
      log.warn('cannot annotate the Node with the ingress ports', { node: this.o.nodeName, err });
    }
  }
}
