/**
 * The aggregation layer (kube-aggregator, in-process): APIService objects decide who serves a group version.
 *
 *   autoregister ─ a Local APIService for every group version this server serves (registry and in-process groups),
 *                  labelled automanaged; ones for groups no longer served are removed
 *   availability ─ every tick: Local ones Available=True (Local); for a service reference: the Service and its port
 *                  (ServiceNotFound, ServicePortError), ready EndpointSlice addresses (MissingEndpoints), then
 *                  GET /apis/<group>/<version> on one of them (FailedDiscoveryCheck), else True (Passed); written to
 *                  status when it changes
 *   routing      ─ `routing`: every group version with a service reference (an unavailable one answers 503, so
 *                  nothing hangs and other groups are untouched); `discovery`: the available ones, with the resources
 *                  their own discovery reported, merged into /apis and the aggregated discovery
 *   proxy        ─ the request as it came (path, query, body, streaming both ways) to a ready endpoint over TLS
 *                  verified with spec.caBundle for <service>.<namespace>.svc (or not, with insecureSkipTLSVerify),
 *                  presenting the front-proxy client certificate, the user in X-Remote-User / X-Remote-Group /
 *                  X-Remote-Extra-*, and the client's own credentials removed
 */
import https from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { isAlreadyExists, isConflict, isNotFound, serviceUnavailable } from '../../api/status.js';
import { createLogger } from '../../log/logger.js';
import type { DelegatedGroup, DelegatedRequest, DelegatedResource } from '../delegated-groups.js';
import { everythingFilter } from '../filters.js';
import type { ResourceOps } from '../resource-ops.js';
import type { APIService } from '../registry/apiservices.js';
import type { ResourceDefinition } from '../registry/types.js';
import type { FrontProxyPki } from './front-proxy-pki.js';
import { metricsOpenApiV3 } from './metrics-openapi.js';
import { AggregatedOpenApi, type BackendResponse, type OpenApiBackend } from './openapi-aggregator.js';
import {
  apiServiceName,
  AUTOMANAGED_LABEL,
  failedDiscoveryCheck,
  localAPIService,
  localAvailable,
  missingEndpoints,
  passed,
  serviceNotFound,
  servicePortError,
  withTransitionTime,
  type AvailableCondition,
} from './local-apiservices.js';

const log = createLogger('kube-aggregator');

export interface AggregatorOptions {
  ops: ResourceOps;
  /** The definitions it reads and writes: apiservices, services, endpointslices (configmaps: see clientCAPem). */
  defs: { apiservices: ResourceDefinition; services: ResourceDefinition; endpointslices: ResourceDefinition; configmaps?: ResourceDefinition };
  /**
   * The cluster CA: with it and `frontProxy`, kube-system/extension-apiserver-authentication is published (upstream's
   * cluster-authentication-info hook), from which extension servers learn whom to trust for X-Remote-* headers.
   */
  clientCAPem?: string;
  /** Group versions this server serves itself (the registry's and the in-process ones), read on every tick. */
  localGroups(): Array<{ group: string; versions: string[] }>;
  /** Group versions served in-process (metrics.k8s.io): always routed and discovered, ahead of APIServices. */
  staticGroups?: readonly DelegatedGroup[];
  /** The client certificate presented to backends; without it backends see no client certificate. */
  frontProxy?: FrontProxyPki;
  /** Called after `discovery` changed (the discovery documents are rebuilt). */
  onDiscoveryChange?(): void;
  /** Between availability checks of one APIService (default 5 s; upstream checks every 30 s and on changes). */
  checkIntervalMs?: number;
  /** Between ticks that look for new or changed APIServices (default 1 s). */
  tickMs?: number;
  /** Discovery check and connection deadline (default 5 s, as upstream). */
  timeoutMs?: number;
  now?: () => Date;
}

interface Backend {
  name: string;
  group: string;
  version: string;
  resourceVersion: string;
  available: boolean;
  endpoints: Array<{ host: string; port: number }>;
  resources: DelegatedResource[];
  tls: https.AgentOptions & { servername: string };
  /** Kept-alive connections to the endpoints (one TLS handshake per connection, not per request). */
  agent: https.Agent;
  checkedAt: number;
  group0: DelegatedGroup;
}

/** Headers a client may not pass to a backend: its own credentials and the identity headers the proxy sets. */
function forwardedHeaders(h: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    const lk = k.toLowerCase();
    if (lk === 'authorization' || lk === 'host' || lk === 'connection' || lk === 'upgrade' || lk === 'keep-alive' || lk === 'proxy-connection' || lk === 'transfer-encoding') continue;
    if (lk.startsWith('impersonate-') || lk.startsWith('x-remote-')) continue;
    out[k] = v;
  }
  return out;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

export class Aggregator {
  /** What the front door routes (the in-process groups, then every group version with a service reference). */
  readonly routing: DelegatedGroup[];
  /** What discovery lists (the in-process groups, then the available aggregated ones). */
  readonly discovery: DelegatedGroup[];
  private readonly backends = new Map<string, Backend>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private ticking: Promise<void> | undefined;
  private readonly now: () => Date;
  private next = 0;
  /** `name@resourceVersion` of the available backends, to tell the OpenAPI aggregation when they change. */
  private availableSignature = '';
  /** The OpenAPI v2 and v3 of the available backends, merged into this server's /openapi/v2 and /openapi/v3. */
  readonly openApi: AggregatedOpenApi;

  constructor(private readonly o: AggregatorOptions) {
    this.routing = [...(o.staticGroups ?? [])];
    this.discovery = [...(o.staticGroups ?? [])];
    this.now = o.now ?? (() => new Date());
    this.openApi = new AggregatedOpenApi(
      { available: () => this.availableBackends(), fetch: (name, path, headers) => this.fetch(name, path, headers) },
      // The built-in metrics API has no backend to fetch a document from: its own is merged the same way.
      (o.staticGroups ?? []).filter((g) => g.group === 'metrics.k8s.io' && g.version === 'v1beta1').map((g) => ({ group: g.group, version: g.version, v3: metricsOpenApiV3 })),
    );
  }

  /** The APIServices with a service reference that are Available now. */
  private availableBackends(): OpenApiBackend[] {
    return [...this.backends.values()]
      .filter((b) => b.available && this.routing.includes(b.group0))
      .map((b) => ({ name: b.name, group: b.group, version: b.version, resourceVersion: b.resourceVersion }));
  }

  /**
   * One GET to an available backend as the aggregator itself (X-Remote-User system:aggregator, as upstream's OpenAPI
   * downloader), bounded by the timeout; the body is read whole.
   */
  private fetch(name: string, path: string, headers: Record<string, string>): Promise<BackendResponse> {
    const b = this.backends.get(name);
    if (!b || !b.available || b.endpoints.length === 0) return Promise.reject(new Error(`APIService ${name} is not available`));
    const ep = b.endpoints[this.next++ % b.endpoints.length]!;
    const timeout = this.o.timeoutMs ?? 5_000;
    return new Promise((resolve, reject) => {
      const req = https.request({ host: ep.host, port: ep.port, path, method: 'GET', headers: { ...headers, 'X-Remote-User': 'system:aggregator' }, agent: b.agent, timeout }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`Get "https://${ep.host}:${ep.port}${path}": context deadline exceeded`)));
      req.on('error', (err) => reject(new Error(`Get "https://${ep.host}:${ep.port}${path}": ${err.message}`)));
      req.end();
    });
  }

  /** Registers the Local APIServices and runs the first check, then ticks. */
  async start(): Promise<void> {
    await this.publishAuthenticationInfo();
    await this.tick();
    this.schedule();
  }

  /** Whether kube-system/extension-apiserver-authentication is as it should be (a refused write is tried again). */
  private authenticationInfoPublished = false;

  stop(): void {
    this.stopped = true;
    this.openApi.stop();
    if (this.timer) clearTimeout(this.timer);
    for (const b of this.backends.values()) b.agent.destroy();
  }

  /** One pass now (tests and the proxy's failure path use it to see a change at once). */
  tick(force = false): Promise<void> {
    if (!this.ticking) {
      this.ticking = this.pass(force).finally(() => {
        this.ticking = undefined;
      });
    }
    return this.ticking;
  }

  /** kube-system/extension-apiserver-authentication: the client CA and the front proxy's request-header settings. */
  private async publishAuthenticationInfo(): Promise<void> {
    const { configmaps } = this.o.defs;
    if (!configmaps || !this.o.clientCAPem || !this.o.frontProxy) return;
    const data = {
      'client-ca-file': this.o.clientCAPem,
      'requestheader-client-ca-file': this.o.frontProxy.caCertPem,
      'requestheader-allowed-names': JSON.stringify([this.o.frontProxy.clientName]),
      'requestheader-username-headers': JSON.stringify(['X-Remote-User']),
      'requestheader-group-headers': JSON.stringify(['X-Remote-Group']),
      'requestheader-extra-headers-prefix': JSON.stringify(['X-Remote-Extra-']),
    };
    const name = 'extension-apiserver-authentication';
    try {
      // Written only when missing or different (a restart writes nothing), and never fatal: an admission webhook
      // that is down can refuse the write, and the server must still start (upstream's hook retries the same way).
      const current = await this.o.ops.get(configmaps, 'kube-system', name).then((c) => c.obj, (err: unknown) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
      if (!current) {
        await this.o.ops.create(configmaps, 'kube-system', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'kube-system' }, data }, { dryRun: false }).catch((err: unknown) => {
          if (!isAlreadyExists(err)) throw err;
        });
      } else if (JSON.stringify((current as { data?: unknown }).data ?? {}) !== JSON.stringify(data)) {
        await this.o.ops.update(configmaps, 'kube-system', name, (c) => ({ ...c, data }), { dryRun: false });
      }
      this.authenticationInfoPublished = true;
    } catch (err) {
      log.warn('publishing kube-system/extension-apiserver-authentication failed; trying again', { err: (err as Error).message });
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.tick().finally(() => this.schedule());
    }, this.o.tickMs ?? 1_000);
    this.timer.unref();
  }

  private localNames(): Set<string> {
    const names = new Set<string>();
    for (const g of this.o.localGroups()) for (const v of g.versions) names.add(apiServiceName(g.group, v));
    for (const s of this.o.staticGroups ?? []) names.add(apiServiceName(s.group, s.version));
    return names;
  }

  private async pass(force: boolean): Promise<void> {
    if (!this.authenticationInfoPublished) await this.publishAuthenticationInfo();
    try {
      await this.autoregister();
      await this.checkAll(force);
    } catch (err) {
      if (!isConflict(err)) log.error('aggregator pass failed', { err });
    }
  }

  private async list(def: ResourceDefinition, namespace = ''): Promise<KubeObject[]> {
    return (await this.o.ops.list(def, namespace, { filter: everythingFilter })).items.map((c) => c.obj);
  }

  private async autoregister(): Promise<void> {
    const local = this.localNames();
    const existing = new Map((await this.list(this.o.defs.apiservices)).map((a) => [a.metadata.name ?? '', a]));
    // In parallel: at first start these are some twenty creates, which would otherwise add up in start-up time.
    await Promise.all(
      [...local].filter((name) => !existing.has(name)).map(async (name) => {
        const dot = name.indexOf('.');
        try {
          await this.o.ops.create(this.o.defs.apiservices, '', localAPIService(name.slice(dot + 1), name.slice(0, dot)), { dryRun: false });
        } catch (err) {
          if (!isAlreadyExists(err)) throw err;
        }
      }),
    );
    // Automanaged APIServices of group versions no longer served here (a custom resource group gone, the built-in
    // metrics-server disabled) go; the ones users made stay.
    for (const [name, a] of existing) {
      if (local.has(name) || !a.metadata.labels?.[AUTOMANAGED_LABEL] || (a.spec as APIService['spec'])?.service) continue;
      await this.o.ops.delete(this.o.defs.apiservices, '', name, { dryRun: false }).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
    }
  }

  private async checkAll(force: boolean): Promise<void> {
    const local = this.localNames();
    const all = (await this.list(this.o.defs.apiservices)) as APIService[];
    const seen = new Set<string>();
    const nowMs = this.now().getTime();
    const isLocal = (a: APIService) => !a.spec?.service || local.has(a.metadata.name ?? '');
    await Promise.all(all.filter(isLocal).map((a) => this.writeCondition(a, localAvailable())));
    for (const a of all) {
      if (isLocal(a)) continue;
      const name = a.metadata.name ?? '';
      seen.add(name);
      const b = this.backends.get(name);
      const due = force || !b || b.resourceVersion !== a.metadata.resourceVersion || nowMs - b.checkedAt >= (this.o.checkIntervalMs ?? 5_000);
      if (!due) continue;
      const { backend, condition } = await this.check(a, nowMs);
      this.backends.set(name, backend);
      await this.writeCondition(a, condition);
    }
    for (const [name, b] of [...this.backends]) {
      if (seen.has(name)) continue;
      b.agent.destroy();
      this.backends.delete(name);
    }
    this.rebuildGroups();
  }

  private async check(a: APIService, nowMs: number): Promise<{ backend: Backend; condition: AvailableCondition }> {
    const spec = a.spec!;
    const ref = spec.service!;
    const ns = ref.namespace ?? '';
    const svcName = ref.name ?? '';
    const port = ref.port ?? 443;
    const group = spec.group ?? '';
    const version = spec.version ?? '';
    const name = a.metadata.name ?? '';
    const caBundle = spec.caBundle ? Buffer.from(spec.caBundle, 'base64').toString('utf8') : undefined;
    const tls = {
      servername: `${svcName}.${ns}.svc`,
      rejectUnauthorized: !spec.insecureSkipTLSVerify,
      ...(caBundle ? { ca: caBundle } : {}),
      ...(this.o.frontProxy ? { cert: this.o.frontProxy.clientCertPem, key: this.o.frontProxy.clientKeyPem } : {}),
    };
    const previous = this.backends.get(name);
    const sameTls = previous && JSON.stringify(previous.tls) === JSON.stringify(tls);
    if (previous && !sameTls) previous.agent.destroy();
    const backend: Backend = {
      name,
      group,
      version,
      resourceVersion: a.metadata.resourceVersion ?? '',
      available: false,
      endpoints: [],
      resources: previous?.resources ?? [],
      tls,
      agent: sameTls ? previous.agent : new https.Agent({ keepAlive: true, maxSockets: 64, ...tls }),
      checkedAt: nowMs,
      group0: previous?.group0 ?? { group, version, resources: [], serve: (r) => this.proxy(name, r) },
    };
    let svc: Service | undefined;
    try {
      svc = (await this.o.ops.get(this.o.defs.services, ns, svcName)).obj as Service;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      return { backend, condition: serviceNotFound(ns, svcName) };
    }
    const svcPort = svc.spec?.ports?.find((p) => p.port === port);
    if (!svcPort && svc.spec?.type !== 'ExternalName') return { backend, condition: servicePortError(ns, svcName, port) };
    const portName = svcPort?.name ?? '';
    const slices = ((await this.list(this.o.defs.endpointslices, ns)) as unknown as EndpointSlice[]).filter((s) => s.metadata?.labels?.['kubernetes.io/service-name'] === svcName);
    for (const slice of slices) {
      const p = slice.ports?.find((x) => (x.name ?? '') === portName);
      if (!p?.port) continue;
      for (const ep of slice.endpoints ?? []) {
        if (ep.conditions?.ready === false) continue;
        for (const addr of ep.addresses ?? []) backend.endpoints.push({ host: addr, port: p.port });
      }
    }
    if (backend.endpoints.length === 0) return { backend, condition: missingEndpoints(ns, svcName, portName) };
    const ep = backend.endpoints[0]!;
    const url = `https://${ep.host.includes(':') ? `[${ep.host}]` : ep.host}:${ep.port}/apis/${group}/${version}`;
    try {
      const doc = (await this.getJson(ep, `/apis/${group}/${version}`, tls)) as { resources?: Array<Record<string, unknown>> };
      backend.resources = (doc.resources ?? [])
        .filter((r) => typeof r.name === 'string')
        .map((r) => ({
          name: r.name as string,
          singularName: (r.singularName as string) ?? '',
          namespaced: r.namespaced === true,
          kind: (r.kind as string) ?? '',
          verbs: (r.verbs as string[]) ?? [],
          ...(Array.isArray(r.shortNames) && r.shortNames.length ? { shortNames: r.shortNames as string[] } : {}),
        }));
    } catch (err) {
      return { backend, condition: failedDiscoveryCheck(url, (err as Error).message) };
    }
    backend.available = true;
    return { backend, condition: passed() };
  }

  /** GET a JSON document from one endpoint, bounded by the timeout. */
  private getJson(ep: { host: string; port: number }, path: string, tls: Backend['tls']): Promise<unknown> {
    const timeout = this.o.timeoutMs ?? 5_000;
    return new Promise((resolve, reject) => {
      const req = https.request({ host: ep.host, port: ep.port, path, method: 'GET', headers: { accept: 'application/json' }, ...tls, agent: false, timeout }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) > 299) return reject(new Error(`bad status from https://${ep.host}:${ep.port}${path}: ${res.statusCode}`));
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch (err) {
            reject(new Error(`the response is not JSON: ${(err as Error).message}`));
          }
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`Get "https://${ep.host}:${ep.port}${path}": context deadline exceeded`)));
      req.on('error', (err) => reject(new Error(`Get "https://${ep.host}:${ep.port}${path}": ${err.message}`)));
      req.end();
    });
  }

  private async writeCondition(a: APIService, cond: AvailableCondition): Promise<void> {
    const prev = a.status?.conditions?.find((c) => c.type === 'Available');
    if (prev && prev.status === cond.status && prev.reason === cond.reason && prev.message === cond.message) return;
    const next = withTransitionTime(cond, prev, this.now());
    const others = (a.status?.conditions ?? []).filter((c) => c.type !== 'Available');
    try {
      await this.o.ops.update(
        this.o.defs.apiservices,
        '',
        a.metadata.name ?? '',
        (c) => ({ ...c, metadata: { ...c.metadata, resourceVersion: a.metadata.resourceVersion }, status: { ...((c.status as object) ?? {}), conditions: [...others, next] } }),
        { dryRun: false, subresource: 'status' },
      );
    } catch (err) {
      // Deleted or changed meanwhile: the next tick sees the new state.
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }

  private rebuildGroups(): void {
    const statics = this.o.staticGroups ?? [];
    const taken = new Set(statics.map((s) => `${s.group}/${s.version}`));
    const routing: DelegatedGroup[] = [...statics];
    const discovery: DelegatedGroup[] = [...statics];
    for (const b of [...this.backends.values()].sort((x, y) => x.name.localeCompare(y.name))) {
      const key = `${b.group}/${b.version}`;
      if (taken.has(key)) continue;
      taken.add(key);
      b.group0.resources = b.resources;
      routing.push(b.group0);
      if (b.available) discovery.push(b.group0);
    }
    const changed = discovery.length !== this.discovery.length || discovery.some((g, i) => g !== this.discovery[i] || g.resources !== this.discovery[i]!.resources);
    this.routing.splice(0, this.routing.length, ...routing);
    this.discovery.splice(0, this.discovery.length, ...discovery);
    if (changed) this.o.onDiscoveryChange?.();
    const signature = this.availableBackends().map((b) => `${b.name}@${b.resourceVersion}`).join(',');
    if (signature !== this.availableSignature) {
      this.availableSignature = signature;
      this.openApi.backendsChanged();
    }
  }

  /** Proxies one resource request to the APIService's backend; 503 when it is unavailable or unreachable. */
  private proxy(name: string, r: DelegatedRequest): Promise<void> {
    const b = this.backends.get(name);
    if (!b || !b.available || b.endpoints.length === 0) return Promise.reject(serviceUnavailable('service unavailable'));
    const ep = b.endpoints[this.next++ % b.endpoints.length]!;
    const headers = forwardedHeaders(r.req.headers);
    headers['X-Remote-User'] = r.user.username;
    if (r.user.groups.length) headers['X-Remote-Group'] = [...r.user.groups];
    for (const [k, v] of Object.entries(r.user.extra ?? {})) headers[`X-Remote-Extra-${encodeURIComponent(k)}`] = [...v];
    const timeout = this.o.timeoutMs ?? 5_000;
    return new Promise<void>((resolve, reject) => {
      let answered = false;
      const upstream = https.request({ host: ep.host, port: ep.port, method: r.req.method, path: r.req.url, headers, agent: b.agent }, (res: IncomingMessage) => {
        answered = true;
        clearTimeout(connectTimer);
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined && !HOP_BY_HOP.has(k.toLowerCase())) out[k] = v;
        r.res.writeHead(res.statusCode ?? 502, out);
        res.pipe(r.res);
        res.on('end', resolve);
        res.on('error', () => {
          r.res.destroy();
          resolve();
        });
      });
      // Connecting and the response head are bounded; a watch's body then streams for as long as it lasts.
      const connectTimer = setTimeout(() => upstream.destroy(new Error('context deadline exceeded')), timeout);
      upstream.on('error', (err) => {
        clearTimeout(connectTimer);
        if (answered) {
          r.res.destroy();
          return resolve();
        }
        // Look again now, so Available and discovery follow a backend that went away.
        void this.tick(true);
        reject(serviceUnavailable(`error trying to reach service: ${err.message}`));
      });
      r.res.on('close', () => {
        if (!r.res.writableFinished) upstream.destroy();
      });
      r.req.pipe(upstream);
    });
  }
}
