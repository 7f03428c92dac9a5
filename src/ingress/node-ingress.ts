/**
 * The ingress controller on one node: informers (IngressClasses, Ingresses, Services, EndpointSlices) and the TLS
 * Secrets its Ingresses name → computeRouteTable → IngressProxy.setTable, recomputed on every change (coalesced),
 * whole tables swapped.
 *
 * TLS Secrets are read one by one (GET, refreshed every 30 s for rotated certificates), not watched: the node's
 * identity may read the Secrets of Ingresses skiff serves (the Node authorizer's Ingress edges), not list Secrets.
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
import type { Client, EventRecorder, Informer, InformerFactory } from '../client/types.js';
import { ApiEventRecorder } from '../client/event-recorder.js';
import { createLogger } from '../log/logger.js';
import { isNotFound, isStatusError } from '../api/status.js';
import { computeRouteTable, isSkiffIngress, skiffClasses } from './compute-routes.js';
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
  /** Read the TLS Secrets again after this long (default 30 s), for rotated certificates. */
  secretRefreshMs?: number;
  /** Where Warning Events on Ingresses go (default: the API, component skiff-ingress, host = the node). */
  recorder?: EventRecorder;
}

type Obj<T> = T & KubeObject;

export class NodeIngress {
  private readonly classes: Informer<Obj<IngressClass>>;
  private readonly ingresses: Informer<Obj<Ingress>>;
  private readonly services: Informer<Obj<Service>>;
  private readonly slices: Informer<Obj<EndpointSlice>>;
  /** `namespace/name` → the TLS Secret as last read (undefined: absent or not readable) and when. */
  private readonly secrets = new Map<string, { secret: Obj<Secret> | undefined; readAt: number }>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private proxy: IngressProxy | undefined;
  private starting: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly warned = new Set<string>();
  /** Ingress warnings already recorded as Events, by uid + message: one Event per problem while it lasts. */
  private recorded = new Set<string>();
  private readonly recorder: EventRecorder;
  private lastListenError = '';

  constructor(private readonly o: NodeIngressOptions) {
    this.classes = o.informers.informerFor(IngressClasses);
    this.ingresses = o.informers.informerFor(Ingresses);
    this.services = o.informers.informerFor(Services);
    this.slices = o.informers.informerFor(EndpointSlices);
    this.recorder = o.recorder ?? new ApiEventRecorder(o.client, 'skiff-ingress', { host: o.nodeName });
  }

  /** The ports it listens on, once it does (tests pass 0 and read them here). */
  get ports(): { http: number; https: number } | undefined {
    return this.proxy ? { http: this.proxy.httpPort, https: this.proxy.httpsPort } : undefined;
  }

  start(): void {
    const changed = () => this.schedule();
    for (const inf of [this.classes, this.ingresses, this.services, this.slices] as Informer<KubeObject>[]) {
      inf.addEventHandler({ add: changed, update: changed, delete: changed });
      inf.start();
    }
    // Secrets are polled, not watched: usable ones every refresh period, missing or unusable ones every 5 s.
    this.refreshTimer = setInterval(() => {
      if ([...this.secrets.values()].some((s) => this.secretDue(s, Date.now()))) this.schedule();
    }, this.missingSecretRetryMs());
    this.refreshTimer.unref?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.retryTimer);
    clearInterval(this.refreshTimer);
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
    return [this.classes, this.ingresses, this.services, this.slices].every((i) => i.hasSynced());
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
    const ingresses = this.ingresses.lister.list();
    const table = computeRouteTable({
      ingresses,
      classes: classList,
      services: this.services.lister.list(),
      endpointSlices: this.slices.lister.list(),
      secrets: await this.readTlsSecrets(ingresses, classList),
    });
    for (const w of table.warnings) {
      if (this.warned.has(w)) continue;
      this.warned.add(w);
      log.warn(w);
    }
    // A problem is recorded once while it lasts; fixed and broken again, it is recorded again.
    const recorded = new Set<string>();
    for (const w of table.ingressWarnings) {
      const key = `${w.ingress.metadata?.uid}\n${w.message}`;
      recorded.add(key);
      if (this.recorded.has(key)) continue;
      this.recorder.event({ ...w.ingress, apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' } as KubeObject, 'Warning', w.reason, w.message);
    }
    this.recorded = recorded;
    if (!this.proxy) {
      this.starting ??= this.listen().finally(() => (this.starting = undefined));
      await this.starting;
    }
    this.proxy?.setTable(table);
  }

  private missingSecretRetryMs(): number {
    return Math.min(5_000, this.o.secretRefreshMs ?? 30_000);
  }

  /** Whether a Secret read is old enough to read again. */
  private secretDue(s: { secret: Obj<Secret> | undefined; readAt: number }, now: number): boolean {
    const usable = s.secret?.type === 'kubernetes.io/tls' && !!s.secret.data?.['tls.crt'] && !!s.secret.data?.['tls.key'];
    return now - s.readAt >= (usable ? (this.o.secretRefreshMs ?? 30_000) : this.missingSecretRetryMs());
  }

  /** The TLS Secrets the served Ingresses name, read again once due (secretDue). */
  private async readTlsSecrets(ingresses: readonly Ingress[], classList: readonly IngressClass[]): Promise<Obj<Secret>[]> {
    const classes = skiffClasses(classList);
    const wanted = new Set<string>();
    for (const ing of ingresses) {
      if (!isSkiffIngress(ing, classes)) continue;
      for (const tls of ing.spec?.tls ?? []) if (tls.secretName) wanted.add(`${ing.metadata?.namespace}/${tls.secretName}`);
    }
    for (const key of this.secrets.keys()) if (!wanted.has(key)) this.secrets.delete(key);
    const now = Date.now();
    await Promise.all(
      [...wanted].map(async (key) => {
        const known = this.secrets.get(key);
        if (known && !this.secretDue(known, now)) return;
        const [ns, name] = key.split('/') as [string, string];
        let secret: Obj<Secret> | undefined;
        try {
          secret = await this.o.client.get<Obj<Secret>>(Secrets, ns, name);
        } catch (err) {
          // Absent (yet) or not readable: computeRouteTable serves the default certificate and warns.
          if (!isNotFound(err) && !(isStatusError(err) && err.code === 403)) log.warn('cannot read an Ingress TLS Secret', { key, err });
        }
        this.secrets.set(key, { secret, readAt: now });
      }),
    );
    // All of them: computeRouteTable warns about those that are not kubernetes.io/tls.
    return [...this.secrets.values()].flatMap((s) => (s.secret ? [s.secret] : []));
  }

  private async listen(): Promise<void> {
    const proxy = new IngressProxy({
      httpPort: this.o.httpPort,
      httpsPort: this.o.httpsPort,
      defaultCertificate: await createDefaultCertificate(),
      ...(this.o.bindAddress ? { bindAddress: this.o.bindAddress } : {}),
      // bench/ingress: the http-module path on a second port, to compare with the fast path in the same run.
      ...(process.env.SKIFF_INGRESS_BASELINE_HTTP_PORT ? { baselineHttpPort: Number(process.env.SKIFF_INGRESS_BASELINE_HTTP_PORT) } : {}),
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
