/**
 * Taking over a connection for a streaming protocol: SPDY/3.1 upgrades as apimachinery's httpstream does them
 * (Handshake for X-Stream-Protocol-Version, then spdy.ResponseUpgrader), and raw HTTP answers for refusals.
 *
 * Requests reach the handlers as (req, res); an upgrade request's `res` is a ServerResponse on the upgraded socket
 * (the server's 'upgrade' listener makes one), so refusals before the switch are ordinary HTTP answers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export const HEADER_PROTOCOL_VERSION = 'x-stream-protocol-version';
export const HEADER_ACCEPTED_PROTOCOL_VERSIONS = 'x-accepted-stream-protocol-versions';

/** Whether a request asks for a WebSocket (wsstream.IsWebSocketRequest). */
export function isWebSocketRequest(req: IncomingMessage): boolean {
  const connection = String(req.headers.connection ?? '').toLowerCase();
  return connection.split(',').some((t) => t.trim() === 'upgrade') && String(req.headers.upgrade ?? '').toLowerCase() === 'websocket';
}

/** `Upgrade: SPDY/3.1` with `Connection: upgrade` (httpstream.IsUpgradeRequest and the upgrader's check). */
export function isSpdyUpgradeRequest(req: IncomingMessage): boolean {
  const connection = String(req.headers.connection ?? '').toLowerCase();
  return connection.split(',').some((t) => t.trim() === 'upgrade') && String(req.headers.upgrade ?? '').toLowerCase() === 'spdy/3.1';
}

/** The client's X-Stream-Protocol-Version values in its order (several header lines arrive joined by ", "). */
export function offeredStreamProtocols(req: IncomingMessage): string[] {
  const v = req.headers[HEADER_PROTOCOL_VERSION];
  const joined = Array.isArray(v) ? v.join(',') : (v ?? '');
  return joined
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export type Negotiation = { ok: true; protocol: string } | { ok: false; message: string };

/**
 * httpstream.Handshake: no offer means the legacy unversioned protocol (''); otherwise the first protocol of the
 * client's list that the server supports.
 */
export function negotiateStreamProtocol(offered: string[], supported: string[]): Negotiation {
  if (offered.length === 0) return { ok: true, protocol: '' };
  const protocol = offered.find((p) => supported.includes(p));
  if (protocol !== undefined) return { ok: true, protocol };
  return { ok: false, message: `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(' ')}], server supports [${supported.join(' ')}]` };
}

/** A plain-text refusal, as http.Error writes them. */
export function refuse(res: ServerResponse, code: number, message: string, headers: Record<string, string | string[]> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = message.endsWith('\n') ? message : `${message}\n`;
  res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', 'Content-Length': Buffer.byteLength(body), Connection: 'close', ...headers });
  res.end(body);
}

/** Detaches the socket from the HTTP machinery so a protocol can own it. */
export function takeOver(req: IncomingMessage, res: ServerResponse): Socket {
  const socket = req.socket;
  if ((socket as unknown as { _httpMessage?: unknown })._httpMessage === res) res.detachSocket(socket);
  socket.setTimeout(0);
  socket.setNoDelay(true);
  return socket;
}

/** Answers 101 for SPDY/3.1 (spdy.ResponseUpgrader) and returns the socket that now carries SPDY frames. */
export function upgradeToSpdy(req: IncomingMessage, res: ServerResponse, protocol: string): Socket {
  const socket = takeOver(req, res);
  const lines = ['HTTP/1.1 101 Switching Protocols', 'Connection: Upgrade', 'Upgrade: SPDY/3.1'];
  if (protocol !== '') lines.push(`X-Stream-Protocol-Version: ${protocol}`);
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  return socket;
}
