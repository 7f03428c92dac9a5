/** Writing responses: JSON bodies, Status objects, and the Accept check every JSON-only answer makes. */
import type { ServerResponse } from 'node:http';
import { notAcceptable } from '../../api/status.js';
import type { MediaType } from '../negotiation.js';

export function sendJson(res: ServerResponse, code: number, body: string, contentType = 'application/json', extra: Record<string, string> = {}): void {
  res.writeHead(code, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

/** A `Status` of success, as kube-apiserver answers deletes of kinds other than pods, bindings and evictions. */
export function sendSuccess(res: ServerResponse, code: number, details?: Record<string, unknown>): void {
  const status: Record<string, unknown> = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' };
  if (details) status.details = details;
  if (code !== 200) status.code = code;
  sendJson(res, code, JSON.stringify(status));
}

/** Only JSON responses are produced; refuse an Accept that allows nothing JSON-compatible. */
export function checkAcceptsJson(accept: MediaType[]): void {
  if (accept.length === 0) return;
  for (const m of accept) {
    if (m.params.as) continue;
    if (m.type === 'application/json' || m.type === '*/*' || m.type === 'application/*' || m.type === 'application/vnd.kubernetes.protobuf' || m.type === 'application/yaml') return;
  }
  throw notAcceptable(`only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf`);
}
