/**
 * The end of a proxied upgrade (exec and port-forward through nodes/proxy and the node agents, WebSockets through
 * pods/proxy and services/proxy): once the upstream answered 101, its response head goes to the client verbatim and
 * the two connections are joined byte for byte until either closes.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { createLogger } from '../../log/logger.js';
import type { ConnectRequest } from './connect.js';

const log = createLogger('apiserver');

/** Takes the client's socket from the HTTP server and splices it to `upstream`; `upstreamHead` is what came after the head. */
export function spliceUpgrade(c: ConnectRequest, res: IncomingMessage, upstream: Socket, upstreamHead: Buffer, upstreamName: string): Socket {
  const client = c.req.socket;
  if ((client as unknown as { _httpMessage?: unknown })._httpMessage === c.res) c.res.detachSocket(client);
  client.setTimeout(0);
  client.setNoDelay(true);
  const lines = [`HTTP/1.1 ${res.statusCode} ${res.statusMessage ?? 'Switching Protocols'}`];
  for (let i = 0; i < res.rawHeaders.length; i += 2) lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
  client.write(`${lines.join('\r\n')}\r\n\r\n`);
  if (upstreamHead.length > 0) client.write(upstreamHead);
  upstream.pipe(client);
  client.pipe(upstream);
  const end = () => {
    upstream.destroy();
    client.destroy();
  };
  upstream.once('close', end);
  client.once('close', end);
  upstream.on('error', (err) => log.debug(`${upstreamName} connection error`, { err: err.message }));
  client.on('error', (err) => log.debug('client connection error', { err: err.message }));
  return client;
}
