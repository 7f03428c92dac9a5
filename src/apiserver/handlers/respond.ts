/** Writing JSON responses and Status objects (negotiated resource responses: output.ts). */
import type { ServerResponse } from 'node:http';

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
