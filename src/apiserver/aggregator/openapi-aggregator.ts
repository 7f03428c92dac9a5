/**
 * The OpenAPI of aggregated APIServices, merged into this server's (kube-aggregator's openapi and openapiv3
 * controllers), so `kubectl explain` and client-side validation know aggregated kinds such as metrics.k8s.io's.
 *
 *   an APIService turns Available (or changes) ─▶ fetch its backend's /openapi/v2 and /openapi/v3 (in the background)
 *   every 60 s ─▶ fetch again with If-None-Match (304: nothing to do)
 *   unavailable or deleted ─▶ dropped from both documents
 *
 *   /openapi/v2: the backend's paths under /apis/<group>/<version>, with the definitions they reach; a definition
 *                that differs from one of this server's of the same name is renamed `<name>_v2` (`_v3`, ...), its
 *                references rewritten, as upstream's merge does. A spec that is not usable (dangling $ref, a shape
 *                the protobuf encoding refuses) is left out with a warning, so one backend never breaks the document.
 *   /openapi/v3: the backend's index entry for `apis/<group>/<version>` is listed in ours; GET of it is fetched from
 *                the backend and cached by its hash (an unreachable backend: 503 for that document only).
 *
 * A backend's failed fetch keeps what was fetched before (upstream keeps the last good spec too).
 */
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { serviceUnavailable } from '../../api/status.js';
import { createLogger } from '../../log/logger.js';
import type { JsonSchema } from '../openapi/component-schemas.js';
import type { ExtraOpenApi } from '../openapi/openapi.js';
import { v2Document } from '../openapi/v2-document.js';
import { v2Protobuf } from '../openapi/v2-protobuf.js';

const log = createLogger('kube-aggregator');
/** Between conditional re-fetches of every backend's documents (upstream's openapi controller: a minute). */
const REFRESH_MS = 60_000;

export interface OpenApiBackend {
  /** The APIService's name, e.g. `v1beta1.metrics.k8s.io`. */
  name: string;
  group: string;
  version: string;
  resourceVersion: string;
}

export interface BackendResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface OpenApiBackends {
  /** The available APIServices with a service reference. */
  available(): OpenApiBackend[];
  /** A GET to the backend of the named APIService. */
  fetch(name: string, path: string, headers: Record<string, string>): Promise<BackendResponse>;
}

/** A group version served in process with no backend to ask (metrics.k8s.io): its v3 document, made on first use. */
export interface StaticOpenApi {
  group: string;
  version: string;
  v3(): JsonSchema;
}

interface Fetched {
  backend: OpenApiBackend;
  v2?: { etag?: string; spec: JsonSchema };
  v3?: { etag?: string; url: string; hash: string };
  /** The last v3 group-version document fetched, by the hash it was fetched for. */
  v3Document?: { hash: string; body: Buffer; contentType: string };
}

export class AggregatedOpenApi implements ExtraOpenApi {
  private readonly fetched = new Map<string, Fetched>();
  private readonly listeners: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private syncing: Promise<void> = Promise.resolve();

  private staticEntries: Fetched[] | undefined;

  constructor(
    private readonly backends: OpenApiBackends,
    private readonly statics: readonly StaticOpenApi[] = [],
  ) {}

  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** The set of available backends (or one of their APIServices) changed: fetch what is new, drop what went. */
  backendsChanged(): void {
    this.syncing = this.syncing.then(() => this.sync(false)).catch((err: unknown) => log.error('OpenAPI aggregation failed', { err }));
  }

  /** Resolves once the fetches started so far are done (tests). */
  idle(): Promise<void> {
    return this.syncing;
  }

  private async sync(all: boolean): Promise<void> {
    if (this.stopped) return;
    const available = new Map(this.backends.available().map((b) => [b.name, b]));
    let changed = false;
    for (const name of [...this.fetched.keys()]) {
      if (available.has(name)) continue;
      this.fetched.delete(name);
      changed = true;
    }
    await Promise.all(
      [...available.values()].map(async (b) => {
        const current = this.fetched.get(b.name);
        if (!all && current && current.backend.resourceVersion === b.resourceVersion) return;
        const next: Fetched = { ...current, backend: b };
        await this.fetchV2(next, current);
        await this.fetchV3(next, current);
        if (this.stopped || !this.backends.available().some((x) => x.name === b.name)) return;
        this.fetched.set(b.name, next);
        // A 304 keeps the very same objects: nothing to render again.
        if (!current || next.v2 !== current.v2 || next.v3?.url !== current.v3?.url) changed = true;
      }),
    );
    if (changed) for (const fn of this.listeners) fn();
    this.scheduleRefresh();
  }

  private scheduleRefresh(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.syncing = this.syncing.then(() => this.sync(true)).catch((err: unknown) => log.error('OpenAPI aggregation failed', { err }));
    }, REFRESH_MS);
    this.timer.unref();
  }

  private async fetchV2(next: Fetched, current: Fetched | undefined): Promise<void> {
    const { group, version, name } = next.backend;
    try {
      const etag = current?.v2?.etag;
      const res = await this.backends.fetch(name, '/openapi/v2', { Accept: 'application/json', ...(etag ? { 'If-None-Match': etag } : {}) });
      if (res.status === 304 && current?.v2) return;
      if (res.status === 404) {
        next.v2 = undefined;
        return;
      }
      if (res.status !== 200) throw new Error(`answered ${res.status}`);
      const spec = groupVersionSpec(JSON.parse(res.body.toString('utf8')) as JsonSchema, group, version);
      // The whole document is refused by kubectl's parser for one bad part, and its protobuf encoding throws:
      // find out now, for this backend alone.
      v2Protobuf({ swagger: '2.0', info: { title: name, version }, paths: spec.paths, definitions: spec.definitions });
      next.v2 = { ...(headerValue(res.headers.etag) ? { etag: headerValue(res.headers.etag)! } : {}), spec };
    } catch (err) {
      log.warn('cannot use the OpenAPI v2 of an APIService; its paths are left out of /openapi/v2', { apiservice: name, err: (err as Error).message });
    }
  }

  private async fetchV3(next: Fetched, current: Fetched | undefined): Promise<void> {
    const { group, version, name } = next.backend;
    const key = `apis/${group}/${version}`;
    try {
      const etag = current?.v3?.etag;
      const res = await this.backends.fetch(name, '/openapi/v3', { Accept: 'application/json', ...(etag ? { 'If-None-Match': etag } : {}) });
      if (res.status === 304 && current?.v3) return;
      if (res.status === 404) {
        next.v3 = undefined;
        return;
      }
      if (res.status !== 200) throw new Error(`answered ${res.status}`);
      const index = JSON.parse(res.body.toString('utf8')) as { paths?: Record<string, { serverRelativeURL?: string }> };
      const url = index.paths?.[key]?.serverRelativeURL;
      if (!url) {
        next.v3 = undefined;
        return;
      }
      const hash = new URL(url, 'https://backend').searchParams.get('hash') ?? '';
      // Served under our own URL: the same path, the backend's hash.
      next.v3 = { ...(headerValue(res.headers.etag) ? { etag: headerValue(res.headers.etag)! } : {}), url: `/openapi/v3/${key}${hash ? `?hash=${hash}` : ''}`, hash };
    } catch (err) {
      log.warn('cannot read the OpenAPI v3 index of an APIService; its group version is left out of /openapi/v3', { apiservice: name, err: (err as Error).message });
    }
  }

  v3Paths(): ReadonlyMap<string, string> {
    const out = new Map<string, string>();
    for (const f of this.sorted()) if (f.v3) out.set(`apis/${f.backend.group}/${f.backend.version}`, f.v3.url);
    return out;
  }

  serveV3(key: string, query: URLSearchParams, res: ServerResponse): boolean {
    const f = this.sorted().find((x) => x.v3 && `apis/${x.backend.group}/${x.backend.version}` === key);
    if (!f?.v3) return false;
    const v3 = f.v3;
    const send = (doc: { hash: string; body: Buffer; contentType: string }) => {
      const headers: Record<string, string | number> = { 'Content-Type': doc.contentType, 'Content-Length': doc.body.length, ...(doc.hash ? { Etag: JSON.stringify(doc.hash) } : {}) };
      if (doc.hash && query.get('hash') === doc.hash) {
        headers['Cache-Control'] = 'public, immutable';
        headers.Expires = new Date(Date.now() + 365 * 24 * 3600 * 1000).toUTCString();
        headers.Vary = 'Accept';
      }
      res.writeHead(200, headers);
      res.end(doc.body);
    };
    if (f.v3Document && v3.hash && f.v3Document.hash === v3.hash) {
      send(f.v3Document);
      return true;
    }
    this.backends
      .fetch(f.backend.name, `/openapi/v3/${key}${v3.hash ? `?hash=${encodeURIComponent(v3.hash)}` : ''}`, { Accept: 'application/json' })
      .then((r) => {
        if (r.status !== 200) throw new Error(`answered ${r.status}`);
        const doc = { hash: v3.hash, body: r.body, contentType: headerValue(r.headers['content-type']) ?? 'application/json' };
        if (v3.hash) f.v3Document = doc;
        send(doc);
      })
      .catch((err: unknown) => {
        if (res.headersSent) return res.destroy();
        const status = serviceUnavailable(`error trying to reach service: ${(err as Error).message}`);
        const body = JSON.stringify(status.status);
        res.writeHead(status.code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
      });
    return true;
  }

  mergeV2(doc: JsonSchema): JsonSchema {
    const paths = { ...(doc.paths as Record<string, unknown> | undefined) };
    const definitions = { ...(doc.definitions as Record<string, unknown> | undefined) };
    for (const f of this.sorted()) {
      if (!f.v2) continue;
      const spec = structuredClone(f.v2.spec);
      const defs = spec.definitions as Record<string, unknown>;
      // Same name, different schema: the backend's is renamed (upstream's MergeSpecs renames conflicts `_vN`).
      const renames = new Map<string, string>();
      for (const [name, schema] of Object.entries(defs)) {
        if (!(name in definitions) || isDeepStrictEqual(definitions[name], schema)) continue;
        let n = 2;
        while (`${name}_v${n}` in definitions && !isDeepStrictEqual(definitions[`${name}_v${n}`], schema)) n++;
        renames.set(name, `${name}_v${n}`);
      }
      const rewritten = renames.size > 0 ? (rewriteRefs({ paths: spec.paths, definitions: defs }, renames) as { paths: Record<string, unknown>; definitions: Record<string, unknown> }) : { paths: spec.paths as Record<string, unknown>, definitions: defs };
      for (const [name, schema] of Object.entries(rewritten.definitions)) definitions[renames.get(name) ?? name] ??= schema;
      for (const [path, item] of Object.entries(rewritten.paths)) paths[path] ??= item;
    }
    return { ...doc, paths: sortedRecord(paths), definitions: sortedRecord(definitions) };
  }

  /** The in-process group versions first (they win a conflict), then the backends by APIService name. */
  private sorted(): Fetched[] {
    this.staticEntries ??= this.statics.map((st) => {
      const doc = st.v3();
      const body = Buffer.from(JSON.stringify(doc));
      const hash = createHash('sha512').update(body).digest('hex').toUpperCase();
      const spec = groupVersionSpec(v2Document([doc]), st.group, st.version);
      return {
        backend: { name: `${st.version}.${st.group}`, group: st.group, version: st.version, resourceVersion: '' },
        v2: { spec },
        v3: { url: `/openapi/v3/apis/${st.group}/${st.version}?hash=${hash}`, hash },
        v3Document: { hash, body, contentType: 'application/json' },
      };
    });
    return [...this.staticEntries, ...[...this.fetched.values()].sort((a, b) => a.backend.name.localeCompare(b.backend.name))];
  }
}

/**
 * The part of a backend's Swagger 2.0 document that is its group version's: paths under /apis/<group>/<version>,
 * and the definitions they reach. A reference to a definition the document lacks makes the whole spec unusable.
 */
export function groupVersionSpec(doc: JsonSchema, group: string, version: string): { paths: Record<string, unknown>; definitions: Record<string, unknown> } {
  const prefix = `/apis/${group}/${version}`;
  const allPaths = (doc.paths ?? {}) as Record<string, unknown>;
  const allDefs = (doc.definitions ?? {}) as Record<string, unknown>;
  const paths: Record<string, unknown> = {};
  for (const [p, item] of Object.entries(allPaths)) if (p === prefix || p.startsWith(`${prefix}/`)) paths[p] = item;
  const definitions: Record<string, unknown> = {};
  const pending = [...refsIn(paths)];
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (name in definitions) continue;
    if (!(name in allDefs)) throw new Error(`the definition ${JSON.stringify(name)} is referenced but not defined`);
    definitions[name] = allDefs[name];
    pending.push(...refsIn(allDefs[name]));
  }
  return { paths, definitions };
}

const DEFINITION_REF = '#/definitions/';

function refsIn(value: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) refsIn(v, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') {
        if (!v.startsWith(DEFINITION_REF)) throw new Error(`the reference ${JSON.stringify(v)} is not to a definition of the document`);
        out.add(v.slice(DEFINITION_REF.length));
      } else refsIn(v, out);
    }
  }
  return out;
}

function rewriteRefs(value: unknown, renames: ReadonlyMap<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => rewriteRefs(v, renames));
  if (!value || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === '$ref' && typeof v === 'string' && v.startsWith(DEFINITION_REF)) {
      const name = v.slice(DEFINITION_REF.length);
      out[k] = `${DEFINITION_REF}${renames.get(name) ?? name}`;
    } else out[k] = rewriteRefs(v, renames);
  }
  return out;
}

function sortedRecord(record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(record).sort()) out[k] = record[k];
  return out;
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
