/**
 * Audit events as kube-apiserver writes them (audit.k8s.io/v1 Event), one JSON line each: every request after
 * authentication gets the level its policy rule gives; above None it is logged at RequestReceived, ResponseStarted
 * (watches and other long-running requests, once the headers are out) and ResponseComplete, less the omitted stages.
 * Metadata carries who (user, impersonated user, source IPs, user agent), what (verb, URI, objectRef), the outcome
 * (responseStatus, with the Status message of a failure), the authorization decision and what admission adds
 * (`auditAnnotator(req)`: webhooks' and policies' annotations, at the levels they ask for) as annotations; Request adds
 * the request body, RequestResponse the response body (JSON, or protobuf decoded to its JSON form).
 *
 * Bodies are observed, never consumed: the request's `data` events (however the handler reads it) and the response's
 * write/end calls. Nothing is hooked for requests at level None, so a policy that logs little costs little.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UserInfo } from '../auth/user-info.js';
import { decodeProtobufObject } from '../protobuf/decode.js';
import { LEVELS, type AuditDecision, type AuditLevel, type AuditPolicyChecker, type AuditRequestAttributes, type AuditStage } from './audit-policy.js';

/** Bodies larger than this are not put in events (kube-apiserver truncates at its own limits too). */
const MAX_BODY_BYTES = 3 * 1024 * 1024;
const LONG_RUNNING_VERBS = new Set(['watch', 'proxy']);

/**
 * Adds an annotation to the audit event of the request in progress, as admission plugins do upstream
 * (admission.Attributes.AddAnnotationWithLevel): recorded when the event's level is at least `level` (default
 * Metadata; webhooks' patches ask for Request), and a key keeps its first value (upstream refuses an override).
 */
export type AuditAnnotate = (key: string, value: string, level?: Exclude<AuditLevel, 'None'>) => void;

/** The annotators of requests being audited (none for requests at level None, or without a policy). */
const annotators = new WeakMap<IncomingMessage, AuditAnnotate>();

/** The request's audit annotator, or undefined when nothing about it is logged. */
export function auditAnnotator(req: IncomingMessage): AuditAnnotate | undefined {
  return annotators.get(req);
}

export interface AuditSink {
  write(line: string): void;
}

export interface AuditRequest {
  attrs: AuditRequestAttributes & { apiVersion: string };
  /** The authenticated user; when impersonating, `acting` is whom the request acts as. */
  user: UserInfo;
  acting?: UserInfo;
  decision: 'allow' | 'forbid';
  reason?: string;
}

interface AuditUser {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** Kubernetes' MicroTime: RFC 3339 with microseconds. */
function microTime(ms: number): string {
  const iso = new Date(Math.floor(ms)).toISOString();
  const micros = String(Math.floor((ms % 1) * 1000)).padStart(3, '0');
  return `${iso.slice(0, -1)}${micros}Z`;
}

function toAuditUser(u: UserInfo): AuditUser {
  return {
    username: u.username,
    ...(u.uid ? { uid: u.uid } : {}),
    ...(u.groups.length ? { groups: [...u.groups] } : {}),
    ...(u.extra && Object.keys(u.extra).length ? { extra: u.extra } : {}),
  };
}

function withoutManagedFields(obj: any): any {
  if (obj && typeof obj === 'object') {
    if (obj.metadata?.managedFields) delete obj.metadata.managedFields;
    if (Array.isArray(obj.items)) for (const item of obj.items) if (item?.metadata?.managedFields) delete item.metadata.managedFields;
  }
  return obj;
}

/** A body as an object: JSON, or Kubernetes' protobuf envelope (kubectl 1.32+ writes built-in kinds that way). */
function parseBody(chunks: Buffer[], size: number, contentType: unknown): unknown {
  if (size === 0 || size > MAX_BODY_BYTES) return undefined;
  const body = Buffer.concat(chunks, size);
  if (typeof contentType === 'string' && contentType.startsWith('application/vnd.kubernetes.protobuf')) {
    try {
      return decodeProtobufObject(body);
    } catch {
      return undefined;
    }
  }
  const text = body.toString('utf8');
  const first = text.trimStart()[0];
  if (first !== '{' && first !== '[') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export class Auditor {
  constructor(private readonly checker: AuditPolicyChecker, private readonly sink: AuditSink, private readonly now: () => number = () => performance.timeOrigin + performance.now()) {}

  /** Starts auditing one request (call once authorization has decided); a no-op at level None. */
  begin(req: IncomingMessage, res: ServerResponse, r: AuditRequest): void {
    const acting = r.acting ?? r.user;
    const decision: AuditDecision = this.checker.decide({ ...r.attrs, user: acting });
    if (decision.level === 'None') return;
    const received = this.now();
    const headerId = req.headers['audit-id'];
    const auditID = typeof headerId === 'string' && headerId !== '' ? headerId : randomUUID();
    if (!res.headersSent) res.setHeader('Audit-Id', auditID);
    const a = r.attrs;
    const forwarded = typeof req.headers['x-forwarded-for'] === 'string' ? req.headers['x-forwarded-for'].split(',').map((s) => s.trim()).filter(Boolean) : [];
    const remote = (req.socket as { remoteAddress?: string } | undefined)?.remoteAddress;
    const sourceIPs = [...forwarded, ...(remote ? [remote.replace(/^::ffff:/, '')] : [])];
    const base: Record<string, unknown> = {
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: decision.level,
      auditID,
      requestURI: req.url ?? '/',
      verb: a.verb,
      user: toAuditUser(r.user),
      ...(r.acting ? { impersonatedUser: toAuditUser(r.acting) } : {}),
      ...(sourceIPs.length ? { sourceIPs } : {}),
      ...(typeof req.headers['user-agent'] === 'string' ? { userAgent: req.headers['user-agent'] } : {}),
      ...(a.isResourceRequest
        ? {
            objectRef: {
              resource: a.resource,
              ...(a.namespace ? { namespace: a.namespace } : {}),
              ...(a.name ? { name: a.name } : {}),
              apiGroup: a.apiGroup,
              apiVersion: a.apiVersion,
              ...(a.subresource ? { subresource: a.subresource } : {}),
            },
          }
        : {}),
    };
    const annotations: Record<string, string> = { 'authorization.k8s.io/decision': r.decision, 'authorization.k8s.io/reason': r.reason ?? '' };
    // Admission's annotations join the object every later stage serializes (in practice ResponseComplete).
    const rank = LEVELS.indexOf(decision.level);
    annotators.set(req, (key, value, level = 'Metadata') => {
      if (LEVELS.indexOf(level) > rank || key in annotations) return;
      annotations[key] = value;
    });
    const emit = (stage: AuditStage, extra: Record<string, unknown>) => {
      if (decision.omitStages.has(stage)) return;
      const event = { ...base, stage, ...extra, requestReceivedTimestamp: microTime(received), stageTimestamp: microTime(this.now()), annotations };
      this.sink.write(`${JSON.stringify(event)}\n`);
    };
    emit('RequestReceived', {});

    // The request body, as the handler reads it (Request and above; writes only).
    const reqChunks: Buffer[] = [];
    let reqSize = 0;
    if (decision.level !== 'Metadata' && (req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH')) {
      const emitOrig = req.emit;
      req.emit = function (this: IncomingMessage, event: string | symbol, ...args: any[]) {
        if (event === 'data' && reqSize <= MAX_BODY_BYTES) {
          const c = Buffer.isBuffer(args[0]) ? args[0] : Buffer.from(String(args[0]));
          reqChunks.push(c);
          reqSize += c.length;
        }
        return emitOrig.call(this, event, ...args);
      } as typeof req.emit;
    }

    // The response body: kept for RequestResponse, and for failures (their Status message goes in responseStatus).
    const longRunning = LONG_RUNNING_VERBS.has(a.verb) || a.subresource === 'exec' || a.subresource === 'attach' || a.subresource === 'portforward' || (a.subresource === 'log' && /[?&]follow=(true|1)/.test(req.url ?? ''));
    const resChunks: Buffer[] = [];
    let resSize = 0;
    if (!longRunning) {
      const keep = (chunk: unknown, encoding?: unknown) => {
        if (chunk === undefined || chunk === null || typeof chunk === 'function' || resSize > MAX_BODY_BYTES) return;
        const c = Buffer.isBuffer(chunk) ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk) : Buffer.from(String(chunk), typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
        resChunks.push(c);
        resSize += c.length;
      };
      const write = res.write;
      const end = res.end;
      res.write = function (this: ServerResponse, chunk: any, ...rest: any[]) {
        keep(chunk, rest[0]);
        return (write as any).call(this, chunk, ...rest);
      } as typeof res.write;
      res.end = function (this: ServerResponse, chunk?: any, ...rest: any[]) {
        keep(chunk, rest[0]);
        return (end as any).call(this, chunk, ...rest);
      } as typeof res.end;
    } else if (!decision.omitStages.has('ResponseStarted')) {
      const writeHead = res.writeHead;
      let started = false;
      res.writeHead = function (this: ServerResponse, code: number, ...rest: any[]) {
        if (!started) {
          started = true;
          emit('ResponseStarted', { responseStatus: { metadata: {}, code } });
        }
        return (writeHead as any).call(this, code, ...rest);
      } as typeof res.writeHead;
    }

    let done = false;
    const complete = () => {
      if (done) return;
      done = true;
      const code = res.statusCode;
      const extra: Record<string, unknown> = {};
      const body = longRunning ? undefined : parseBody(resChunks, resSize, res.getHeader('content-type'));
      const status: Record<string, unknown> = { metadata: {}, code };
      if (code >= 300 && body && typeof body === 'object' && (body as any).kind === 'Status') {
        const s = body as { status?: string; message?: string; reason?: string };
        Object.assign(status, { ...(s.status ? { status: s.status } : {}), ...(s.message ? { message: s.message } : {}), ...(s.reason ? { reason: s.reason } : {}) });
      }
      extra.responseStatus = status;
      if (decision.level === 'Request' || decision.level === 'RequestResponse') {
        const reqObj = parseBody(reqChunks, reqSize, req.headers['content-type']);
        if (reqObj !== undefined) extra.requestObject = decision.omitManagedFields ? withoutManagedFields(reqObj) : reqObj;
      }
      if (decision.level === 'RequestResponse' && body !== undefined) extra.responseObject = decision.omitManagedFields ? withoutManagedFields(body) : body;
      emit('ResponseComplete', extra);
    };
    res.once('finish', complete);
    res.once('close', complete);
  }
}
