/**
 * Port-forward, server side, in the three forms clients speak (kubelet's pkg/kubelet/cri/streaming/portforward, and
 * the API server's tunneling handler for the WebSocket-wrapped SPDY of kubectl 1.31+):
 *
 *   SPDY/3.1 upgrade, X-Stream-Protocol-Version portforward.k8s.io (kubectl <= 1.30, and the fallback of newer ones)
 *   WebSocket subprotocol SPDY/3.1+portforward.k8s.io: the same SPDY frames inside binary messages (kubectl 1.31+)
 *   WebSocket channel protocol with ?ports= (client-node, browsers): channels 2i / 2i+1 per port
 *
 * In the SPDY forms, each forwarded connection is a pair of streams with the same `requestid`: `error` (the client
 * half-closes it at once; we write failures there) and `data` (bytes both ways).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { createLogger } from '../../log/logger.js';
import { decodeChannelMessage, negotiateChannelProtocol, parseProtocolHeader, PORT_FORWARD_PROTOCOLS, type ChannelProtocol } from './channel-protocol.js';
import { SpdyConnection, type SpdyStream } from './spdy-connection.js';
import { HEADER_ACCEPTED_PROTOCOL_VERSIONS, isSpdyUpgradeRequest, isWebSocketRequest, negotiateStreamProtocol, offeredStreamProtocols, refuse, upgradeToSpdy } from './upgrade.js';
import { acceptWebSocket } from './websocket-accept.js';
import { ChannelWriter, WebSocketDuplex } from './websocket-channels.js';

const log = createLogger('streaming');

export const PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';
/** The WebSocket subprotocol of kubectl 1.31+ (client-go constants.WebsocketsSPDYTunnelingPrefix + the SPDY protocol). */
export const SPDY_TUNNEL_PROTOCOL = `SPDY/3.1+${PORT_FORWARD_PROTOCOL}`;
const STREAM_CREATION_TIMEOUT_MS = 30_000;

export interface PortForward {
  /** A byte stream to `port` in the pod. */
  dial: (port: number) => Promise<Duplex>;
  /** For error messages: `error forwarding port 80 to pod <pod>, uid <uid>: ...` (kubelet's words). */
  podName: string;
  podUid: string;
  streamCreationTimeoutMs?: number;
}

/** The `port` / `ports` query of a WebSocket port-forward (kubelet's NewV4Options: repeated and comma-separated). */
export function parsePortsQuery(query: URLSearchParams): { ports: number[] } | { error: string } {
  const raw = [...query.getAll('port'), ...query.getAll('ports')];
  if (raw.length === 0) return { error: 'query parameter "port" is required' };
  const ports: number[] = [];
  for (const value of raw) {
    if (value === '') return { error: 'query parameter "port" cannot be empty' };
    for (const p of value.split(',')) {
      const n = Number(p);
      if (!/^\d+$/.test(p) || n > 65535) return { error: `unable to parse "${p}" as a port: invalid syntax` };
      if (n < 1) return { error: `port "${p}" must be > 0` };
      ports.push(n);
    }
  }
  return { ports };
}

/** Like serveRemoteCommand: returns the protocol taken, or undefined when the request was refused. */
export function servePortForward(req: IncomingMessage, res: ServerResponse, pf: PortForward): string | undefined {
  if (isWebSocketRequest(req)) {
    const offered = parseProtocolHeader(req.headers['sec-websocket-protocol']);
    if (offered.includes(SPDY_TUNNEL_PROTOCOL)) {
      acceptWebSocket(req, req.socket, SPDY_TUNNEL_PROTOCOL).then(
        (ws) => serveSpdyPortForward(new WebSocketDuplex(ws), pf),
        (err) => log.debug('websocket handshake failed', { err }),
      );
      return `websocket/${SPDY_TUNNEL_PROTOCOL}`;
    }
    const protocol = negotiateChannelProtocol(offered, PORT_FORWARD_PROTOCOLS);
    if (!protocol) {
      refuse(res, 400, `requested protocol(s) are not supported: [${offered.join(' ')}]; supports [${[SPDY_TUNNEL_PROTOCOL, ...PORT_FORWARD_PROTOCOLS.map((p) => p.name)].join(' ')}]`);
      return undefined;
    }
    const parsed = parsePortsQuery(new URL(req.url ?? '/', 'http://agent').searchParams);
    if ('error' in parsed) {
      refuse(res, 400, parsed.error);
      return undefined;
    }
    acceptWebSocket(req, req.socket, protocol.name).then(
      (ws) => serveWebSocketPortForward(ws, protocol, parsed.ports, pf),
      (err) => log.debug('websocket handshake failed', { err }),
    );
    return `websocket/${protocol.name}`;
  }
  if (isSpdyUpgradeRequest(req)) {
    const n = negotiateStreamProtocol(offeredStreamProtocols(req), [PORT_FORWARD_PROTOCOL]);
    if (!n.ok) {
      refuse(res, 403, n.message, { [HEADER_ACCEPTED_PROTOCOL_VERSIONS]: PORT_FORWARD_PROTOCOL });
      return undefined;
    }
    serveSpdyPortForward(upgradeToSpdy(req, res, n.protocol), pf);
    return `spdy/${n.protocol}`;
  }
  refuse(res, 400, 'Upgrade request required');
  return undefined;
}

function forwardError(pf: PortForward, port: number, err: unknown): string {
  return `error forwarding port ${port} to pod ${pf.podName}, uid ${pf.podUid}: ${(err as Error).message ?? String(err)}`;
}

/** Copies bytes between a client stream and the pod's port until both directions are done or one side fails. */
function splice(client: Duplex, target: Duplex): Promise<void> {
  return new Promise((resolve) => {
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      resolve();
    };
    client.pipe(target);
    target.pipe(client);
    target.on('error', (err) => {
      log.debug('port-forward target error', { err });
      client.destroy();
      done();
    });
    client.on('error', () => {
      target.destroy();
      done();
    });
    client.on('close', () => {
      target.destroy();
      done();
    });
    target.on('close', () => {
      if (!client.writableEnded) client.end();
      done();
    });
  });
}

/** SPDY port-forward (kubelet's httpStreamHandler): pairs streams by requestid, one dial per pair. */
export function serveSpdyPortForward(transport: Duplex, pf: PortForward): SpdyConnection {
  const pairs = new Map<string, { data?: SpdyStream; error?: SpdyStream; timer: NodeJS.Timeout }>();
  const conn = new SpdyConnection(transport, {
    onStream: (stream) => {
      const type = stream.header('streamtype');
      if (type !== 'data' && type !== 'error') throw new Error(`invalid stream type ${JSON.stringify(type)}`);
      const portText = stream.header('port') ?? '';
      if (!/^\d+$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) throw new Error(`invalid port header ${JSON.stringify(portText)}`);
      // Clients before Kubernetes 1.5 sent no requestID: kubelet derives it from the stream ids (error = data - 2).
      const requestId = stream.header('requestid') ?? String(type === 'error' ? stream.id : stream.id - 2);
      let pair = pairs.get(requestId);
      if (!pair) {
        const timer = setTimeout(() => {
          const p = pairs.get(requestId);
          if (!p) return;
          pairs.delete(requestId);
          p.error?.end(`timed out waiting for streams of request ${requestId}`);
          p.data?.destroy();
        }, pf.streamCreationTimeoutMs ?? STREAM_CREATION_TIMEOUT_MS);
        pair = { timer };
        pairs.set(requestId, pair);
      }
      if (pair[type]) throw new Error(`duplicate ${type} stream for request ${requestId}`);
      pair[type] = stream;
      if (pair.data && pair.error) {
        clearTimeout(pair.timer);
        pairs.delete(requestId);
        const { data, error } = pair;
        setImmediate(() => void forward(Number(portText), data, error));
      }
    },
  });
  conn.on('close', () => {
    for (const p of pairs.values()) clearTimeout(p.timer);
    pairs.clear();
  });

  const forward = async (port: number, data: SpdyStream, error: SpdyStream) => {
    // The client writes nothing on the error stream (it half-closes it at once).
    error.resume();
    let target: Duplex;
    try {
      target = await pf.dial(port);
    } catch (err) {
      error.end(forwardError(pf, port, err));
      data.end();
      return;
    }
    let failure: unknown;
    target.once('error', (err) => (failure = err));
    await splice(data, target);
    if (failure && !conn.isClosed && !error.destroyed) error.end(forwardError(pf, port, failure));
    else if (!error.destroyed) error.end();
  };
  return conn;
}

/** WebSocket channel port-forward (kubelet's portforward/websocket.go): one connection per port for the socket's life. */
export async function serveWebSocketPortForward(ws: WebSocket, protocol: ChannelProtocol, ports: number[], pf: PortForward): Promise<void> {
  const data = ports.map((_, i) => new ChannelWriter(ws, protocol, 2 * i));
  const errors = ports.map((_, i) => new ChannelWriter(ws, protocol, 2 * i + 1));
  const targets: Array<Duplex | undefined> = ports.map(() => undefined);
  const early: Buffer[][] = ports.map(() => []);
  ws.on('error', (err) => log.debug('websocket error', { err }));
  ws.on('message', (raw: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    const buf = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
    let msg;
    try {
      msg = decodeChannelMessage(protocol, buf, isBinary);
    } catch {
      return;
    }
    if (!msg || msg.channel % 2 !== 0) return;
    const i = msg.channel / 2;
    if (i >= ports.length) return;
    const t = targets[i];
    if (t) {
      if (!t.write(msg.data)) {
        ws.pause();
        t.once('drain', () => ws.resume());
      }
    } else early[i]!.push(msg.data);
  });
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  // Each channel opens with its port, 2 bytes little-endian (client-node strips them).
  ports.forEach((port, i) => {
    const prefix = Buffer.alloc(2);
    prefix.writeUInt16LE(port);
    data[i]!.send(prefix);
    errors[i]!.send(prefix);
  });
  await Promise.all(
    ports.map(async (port, i) => {
      let target: Duplex;
      try {
        target = await pf.dial(port);
      } catch (err) {
        errors[i]!.send(Buffer.from(forwardError(pf, port, err)));
        return;
      }
      targets[i] = target;
      for (const chunk of early[i]!.splice(0)) target.write(chunk);
      target.on('data', (chunk: Buffer) => {
        target.pause();
        data[i]!.send(chunk, () => target.resume());
      });
      target.on('error', (err) => errors[i]!.send(Buffer.from(forwardError(pf, port, err))));
      void closed.then(() => target.destroy());
      await new Promise<void>((resolve) => target.once('close', () => resolve()));
    }),
  );
  if (ws.readyState === ws.OPEN) ws.close(1000);
}
