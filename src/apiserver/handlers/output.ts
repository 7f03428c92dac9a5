/**
 * Encoding resource responses as the client negotiated them (endpoints/handlers/response.go): JSON, YAML or protobuf;
 * the object itself, its PartialObjectMetadata, or a Table. One object (get, and the answers of writes), a list, and
 * watch events each have their function; handlers decide what to send, this module only how.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { stringify as toYaml } from 'yaml';
import type { KubeObject } from '../../api/object.js';
import { groupVersion } from '../../api/object.js';
import { notAcceptable } from '../../api/status.js';
import { negotiateOutput, outputContentType, type NegotiatedOutput } from '../negotiation.js';
import { canEncode, encodeList, encodeMessage, encodeObject, encodePartialMetadata, encodeStatus, encodeWatchFrame, envelope } from '../protobuf/encode.js';
import type { ResourceDefinition } from '../registry/types.js';
import { parseIncludeObject, renderTable, tableRow, type TableOptions } from '../table.js';

export interface ResponseFormat extends NegotiatedOutput {
  /** JSON indented for people: `pretty` in the query (Go's ParseBool, bad values ignored) or browsers and curl. */
  indent: boolean;
}

/**
 * The response format of a resource request, or a 406 StatusError. `stream` for watches (no YAML). The protobuf
 * encoding is offered for the kinds in the schema table, i.e. built-in kinds, never custom resources.
 */
export function negotiateResponse(req: IncomingMessage, query: URLSearchParams, def: ResourceDefinition, stream = false): ResponseFormat {
  const out = negotiateOutput(req.headers.accept, { protobuf: !def.customSchema && canEncode(def.schemaName), stream });
  return { ...out, indent: out.format === 'json' && (out.pretty || isPrettyPrint(req, query)) };
}

/** Upstream's isPrettyPrint: `pretty=<bool>` decides when given; otherwise curl, Wget and browsers get indented JSON. */
function isPrettyPrint(req: IncomingMessage, query: URLSearchParams): boolean {
  const pretty = query.get('pretty');
  if (pretty) return pretty === '1' || pretty === 't' || pretty === 'T' || pretty === 'true' || pretty === 'TRUE' || pretty === 'True';
  const ua = req.headers['user-agent'] ?? '';
  return ua.startsWith('curl') || ua.startsWith('Wget') || ua.startsWith('Mozilla/5.0');
}

/** Go's `%T` of a served object, as upstream's 406 messages name it (`*v1.ConfigMap`, `*v1.DeploymentList`). */
function goTypeName(def: ResourceDefinition, list: boolean): string {
  return `*${def.version}.${list ? def.listKind : def.kind}`;
}

/**
 * Protobuf messages of objects, by object: the watch cache hands out the same immutable objects to every list and
 * watch, so each is encoded once (as its JSON text is serialized once).
 */
const messages = new WeakMap<object, Buffer>();
const metadataMessages = new WeakMap<object, Buffer>();

function messageOf(def: ResourceDefinition, obj: KubeObject): Buffer {
  let m = messages.get(obj);
  if (!m) {
    m = encodeMessage(def.schemaName, obj as unknown as Record<string, unknown>);
    messages.set(obj, m);
  }
  return m;
}

function metadataMessageOf(obj: KubeObject): Buffer {
  let m = metadataMessages.get(obj);
  if (!m) {
    m = encodePartialMetadata(obj.metadata as Record<string, unknown>);
    metadataMessages.set(obj, m);
  }
  return m;
}

function partial(version: string, metadata: unknown): Record<string, unknown> {
  return { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${version}`, metadata };
}

function send(res: ServerResponse, code: number, body: string | Buffer, contentType: string, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(code, { ...headers, 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function textOf(fmt: ResponseFormat, value: unknown, json?: string): string {
  if (fmt.format === 'yaml') return toYaml(json !== undefined ? JSON.parse(json) : value);
  if (fmt.indent) return `${JSON.stringify(json !== undefined ? JSON.parse(json) : value, null, 2)}\n`;
  return json ?? JSON.stringify(value);
}

/** Answers with one object (in the served version) as negotiated. */
export function sendObjectAs(res: ServerResponse, fmt: ResponseFormat, def: ResourceDefinition, code: number, obj: KubeObject, json: string | undefined, query: URLSearchParams, rv?: string): void {
  const ct = outputContentType(fmt);
  const convert = fmt.convert;
  if (convert?.kind === 'PartialObjectMetadataList') {
    throw notAcceptable(`you requested PartialObjectMetadataList, but the requested object is not a list (${goTypeName(def, false)})`);
  }
  if (convert?.kind === 'Table') {
    const version = convert.version as TableOptions['tableVersion'];
    const table = renderTable(def, [{ obj, json }], { resourceVersion: rv ?? obj.metadata.resourceVersion }, { tableVersion: version, includeObject: parseIncludeObject(query.get('includeObject')), now: new Date() });
    return send(res, code, textOf(fmt, undefined, table), ct);
  }
  if (convert?.kind === 'PartialObjectMetadata') {
    if (fmt.format === 'protobuf') return send(res, code, envelope(`meta.k8s.io/${convert.version}`, 'PartialObjectMetadata', encodePartialMetadata(obj.metadata as Record<string, unknown>)), ct);
    return send(res, code, textOf(fmt, partial(convert.version, obj.metadata)), ct);
  }
  if (fmt.format === 'protobuf') return send(res, code, encodeObject(def.schemaName, withType(def, obj)), ct);
  return send(res, code, textOf(fmt, obj, json), ct);
}

/** apiVersion and kind for the protobuf envelope (stored objects carry them; converted views set them too). */
function withType(def: ResourceDefinition, obj: KubeObject): Record<string, unknown> {
  if (obj.apiVersion && obj.kind) return obj as unknown as Record<string, unknown>;
  return { ...obj, apiVersion: groupVersion(def.group, def.version), kind: def.kind };
}

/** Answers with a list of objects (each with its cached JSON text) as negotiated. */
export function sendListAs(
  res: ServerResponse,
  fmt: ResponseFormat,
  def: ResourceDefinition,
  items: readonly { obj: KubeObject; json: string }[],
  listMeta: Record<string, unknown>,
  query: URLSearchParams,
): void {
  const ct = outputContentType(fmt);
  const convert = fmt.convert;
  if (convert?.kind === 'PartialObjectMetadata') {
    throw notAcceptable(`you requested PartialObjectMetadata, but the requested object is a list (${goTypeName(def, true)})`);
  }
  if (convert?.kind === 'Table') {
    const version = convert.version as TableOptions['tableVersion'];
    const table = renderTable(def, items as { obj: KubeObject; json: string }[], listMeta, { tableVersion: version, includeObject: parseIncludeObject(query.get('includeObject')), now: new Date() });
    return send(res, 200, textOf(fmt, undefined, table), ct);
  }
  const gv = groupVersion(def.group, def.version);
  if (convert?.kind === 'PartialObjectMetadataList') {
    const apiVersion = `meta.k8s.io/${convert.version}`;
    if (fmt.format === 'protobuf') {
      return send(res, 200, encodeList(apiVersion, 'PartialObjectMetadataList', listMeta, items.map((it) => metadataMessageOf(it.obj))), ct);
    }
    const list = { kind: 'PartialObjectMetadataList', apiVersion, metadata: listMeta, items: items.map((it) => partial(convert.version, it.obj.metadata)) };
    return send(res, 200, textOf(fmt, list), ct);
  }
  if (fmt.format === 'protobuf') {
    return send(res, 200, encodeList(gv, def.listKind, listMeta, items.map((it) => messageOf(def, it.obj))), ct);
  }
  // Items are cached as JSON text: the list is assembled from it without serializing the objects again.
  let body = `{"kind":"${def.listKind}","apiVersion":"${gv}","metadata":${JSON.stringify(listMeta)},"items":[`;
  for (let i = 0; i < items.length; i++) body += (i === 0 ? '' : ',') + items[i].json;
  body += ']}';
  return send(res, 200, fmt.format === 'json' && !fmt.indent ? body : textOf(fmt, undefined, body), ct);
}

/**
 * Encodes watch events as negotiated. JSON events are lines; protobuf events are length-prefixed frames, returned as
 * latin1 strings (one char per byte) so the watch's buffering, which works on strings, carries them unchanged: the
 * stream must be written with `encoding`.
 */
export class WatchEventEncoder {
  readonly contentType: string;
  readonly encoding: BufferEncoding;
  private tableHeaderSent = false;

  constructor(
    private readonly def: ResourceDefinition,
    private readonly fmt: ResponseFormat,
    private readonly table: TableOptions | undefined,
  ) {
    this.contentType = outputContentType(fmt, true);
    this.encoding = fmt.format === 'protobuf' ? 'latin1' : 'utf8';
  }

  /** One event of an object in the served version. */
  event(type: string, obj: KubeObject, json: string): string {
    const { fmt, def } = this;
    const convert = fmt.convert;
    if (convert?.kind === 'Table' && this.table) {
      const doc = {
        kind: 'Table',
        apiVersion: `meta.k8s.io/${convert.version}`,
        metadata: { resourceVersion: obj.metadata.resourceVersion },
        ...(this.tableHeaderSent ? {} : { columnDefinitions: def.printer.columns }),
        rows: [tableRow(def, obj, json, { ...this.table, now: new Date() })],
      };
      this.tableHeaderSent = true;
      return `{"type":"${type}","object":${JSON.stringify(doc)}}\n`;
    }
    // Each event carries one object: a PartialObjectMetadataList conversion cannot apply, and upstream then sends
    // the object unconverted.
    if (convert?.kind === 'PartialObjectMetadata') {
      if (fmt.format === 'protobuf') {
        const raw = envelope(`meta.k8s.io/${convert.version}`, 'PartialObjectMetadata', metadataMessageOf(obj));
        return encodeWatchFrame(type, raw).toString('latin1');
      }
      return `{"type":"${type}","object":${JSON.stringify(partial(convert.version, obj.metadata))}}\n`;
    }
    if (fmt.format === 'protobuf') return encodeWatchFrame(type, envelope(groupVersion(def.group, def.version), def.kind, messageOf(def, obj))).toString('latin1');
    return `{"type":"${type}","object":${json}}\n`;
  }

  /** A BOOKMARK event: an object of the watched kind carrying only a resourceVersion (and annotations). */
  bookmark(metadata: Record<string, unknown>): string {
    const obj = { kind: this.def.kind, apiVersion: groupVersion(this.def.group, this.def.version), metadata } as unknown as KubeObject;
    if (this.fmt.convert?.kind === 'Table') return `{"type":"BOOKMARK","object":${JSON.stringify(obj)}}\n`;
    return this.event('BOOKMARK', obj, JSON.stringify(obj));
  }

  /** An ERROR event carrying a Status. */
  error(status: Record<string, unknown>): string {
    if (this.fmt.format === 'protobuf') return encodeWatchFrame('ERROR', encodeStatus({ ...status, kind: 'Status', apiVersion: 'v1' })).toString('latin1');
    return `{"type":"ERROR","object":${JSON.stringify(status)}}\n`;
  }
}
