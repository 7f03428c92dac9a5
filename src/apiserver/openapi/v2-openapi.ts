/**
 * GET /openapi/v2 as kube-openapi's handler serves it: content negotiation between the JSON document and
 * gnostic protobuf, one ETag (upper-case hex SHA-512 of the JSON) for both, `Vary: Accept`, conditional
 * requests answered 304, and 406 when nothing acceptable is asked for. kubectl 1.27 and 1.28 send
 * `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf` (the deprecated spelling, answered
 * with the current Content-Type `application/com.github.proto-openapi.spec.v2.v1.0+protobuf`, as upstream).
 *
 * The document is built on first request and cached; the protobuf bytes are encoded on their first request.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { notAcceptable } from '../../api/status.js';
import { parseAccept } from '../negotiation.js';
import type { JsonSchema } from './component-schemas.js';
import { v2Document } from './v2-document.js';
import { v2Protobuf } from './v2-protobuf.js';

export const OPENAPI_V2_PATH = '/openapi/v2';
export const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';
/** The spelling client-go's discovery client sends; kube-openapi still accepts it. */
export const OPENAPI_V2_PROTOBUF_DEPRECATED = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';

type Format = 'json' | 'protobuf';

/** Media types in kube-openapi's preference order for a wildcard: JSON first. */
const OFFERED: { type: string; format: Format }[] = [
  { type: 'application/json', format: 'json' },
  { type: OPENAPI_V2_PROTOBUF_DEPRECATED, format: 'protobuf' },
  { type: OPENAPI_V2_PROTOBUF, format: 'protobuf' },
];

interface Rendered {
  json: string;
  /** Quoted, as sent in the ETag header. */
  etag: string;
  lastModified: string;
}

export class OpenApiV2 {
  private rendered: Rendered | undefined;
  private protobufBytes: Buffer | undefined;

  /**
   * sources: the OpenAPI v3 group-version documents (objects) to derive the v2 document from; called once.
   * extend: what is added to the derived document before it is rendered (aggregated APIServices' paths).
   */
  constructor(
    private readonly sources: () => readonly JsonSchema[],
    private readonly extend: (doc: JsonSchema) => JsonSchema = (doc) => doc,
  ) {}

  /** The Swagger 2.0 document as JSON text. */
  json(): string {
    return this.render().json;
  }

  /** The document as gnostic protobuf `openapi.v2.Document` bytes. */
  protobuf(): Buffer {
    this.protobufBytes ??= v2Protobuf(JSON.parse(this.render().json) as JsonSchema);
    return this.protobufBytes;
  }

  /** The quoted ETag, shared by both encodings (kube-openapi derives it from the JSON bytes). */
  etag(): string {
    return this.render().etag;
  }

  /** Answers GET /openapi/v2 according to the request's Accept and If-None-Match headers. */
  serve(headers: IncomingHttpHeaders, res: ServerResponse): void {
    const format = negotiate(headers.accept);
    if (!format) {
      const status = notAcceptable(`only application/json and ${OPENAPI_V2_PROTOBUF} are served at ${OPENAPI_V2_PATH}`);
      const body = JSON.stringify(status.status);
      res.writeHead(status.code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Vary: 'Accept' });
      res.end(body);
      return;
    }
    const { etag, lastModified } = this.render();
    const common = { Etag: etag, 'Last-Modified': lastModified, Vary: 'Accept' };
    if (matchesEtag(headers['if-none-match'], etag)) {
      res.writeHead(304, common);
      res.end();
      return;
    }
    const body = format === 'json' ? Buffer.from(this.json(), 'utf8') : this.protobuf();
    res.writeHead(200, { ...common, 'Content-Type': format === 'json' ? 'application/json' : OPENAPI_V2_PROTOBUF, 'Content-Length': body.length });
    res.end(body);
  }

  private render(): Rendered {
    if (!this.rendered) {
      const json = JSON.stringify(this.extend(v2Document(this.sources())));
      this.rendered = {
        json,
        etag: JSON.stringify(createHash('sha512').update(json).digest('hex').toUpperCase()),
        lastModified: new Date().toUTCString(),
      };
    }
    return this.rendered;
  }
}

/**
 * The format for an Accept header, as kube-openapi picks it: clauses by descending q (stable), the first
 * clause matching an offered type (type and subtype each equal or `*`) wins; a missing header means `*`/`*`.
 */
function negotiate(accept: string | undefined): Format | undefined {
  const clauses = parseAccept(accept || '*/*')
    .map((m, i) => ({ type: m.type, q: m.params.q === undefined ? 1 : Number(m.params.q), i }))
    .filter((c) => c.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const clause of clauses) {
    const [type, subtype = ''] = clause.type.split('/');
    for (const offered of OFFERED) {
      const [otype, osubtype] = offered.type.split('/');
      if ((type === otype || type === '*') && (subtype === osubtype || subtype === '*')) return offered.format;
    }
  }
  return undefined;
}

/** If-None-Match against our ETag (weak comparison, as Go's http.ServeContent does). */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || tag.replace(/^W\//, '') === etag;
  });
}
