/**
 * Completes a WebSocket handshake with a subprotocol we chose ourselves. The `ws` package validates offered
 * subprotocols as RFC 7230 tokens and refuses `SPDY/3.1+portforward.k8s.io` (kubectl 1.31+ port-forward) with 400,
 * because '/' is not a token character; so the offer is replaced by a placeholder for the handshake and the real
 * name restored in the 101's headers (kubectl-api-compat.md, finding 5).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

const PLACEHOLDER = 'x-skiff-negotiated';

const chosen = new WeakMap<IncomingMessage, string>();

const wss = new WebSocketServer({
  noServer: true,
  perMessageDeflate: false,
  clientTracking: false,
  // Large enough for kubectl cp chunks; kubelet's wsstream has no smaller limit.
  maxPayload: 64 * 1024 * 1024,
  handleProtocols: () => PLACEHOLDER,
});
wss.on('headers', (headers: string[], req: IncomingMessage) => {
  const name = chosen.get(req);
  if (name === undefined) return;
  const i = headers.findIndex((h) => h.toLowerCase().startsWith('sec-websocket-protocol:'));
  if (i >= 0) headers[i] = `Sec-WebSocket-Protocol: ${name}`;
});

/**
 * Answers the upgrade with 101 and `protocol` ('' = no Sec-WebSocket-Protocol header). Rejects when the handshake
 * fails (ws has then answered the client with an HTTP error itself).
 */
export function acceptWebSocket(req: IncomingMessage, socket: Duplex, protocol: string): Promise<WebSocket> {
  if (protocol === '') {
    delete req.headers['sec-websocket-protocol'];
  } else {
    req.headers['sec-websocket-protocol'] = PLACEHOLDER;
    chosen.set(req, protocol);
  }
  return new Promise((resolve, reject) => {
    const onClose = () => reject(new Error('websocket handshake failed'));
    socket.once('close', onClose);
    wss.handleUpgrade(req, socket, Buffer.alloc(0), (ws) => {
      socket.off('close', onClose);
      resolve(ws);
    });
  });
}
