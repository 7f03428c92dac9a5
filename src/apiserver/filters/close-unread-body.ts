/**
 * A response sent before its request body was read ends the connection. Node otherwise keeps a keep-alive connection
 * open after such a response and reads the rest of the body to discard it: a client that declared 3 MB and sends a
 * byte every 10 s held its connection (and a file handle) long after its 401 or 413. Go's net/http closes in this
 * case too. Requests whose body was read keep their connection.
 *
 * The close lingers briefly, as Go's does (closeWriteAndWait): our side is shut for writing after the answer, and
 * what the client is still uploading is read and dropped for `lingerMs` before the socket is destroyed. Destroying at
 * once would reset a client that is still sending, and a reset discards the answer it had not read yet (a 413 would
 * arrive as ECONNRESET).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export const DEFAULT_LINGER_MS = 1000;

function declaresBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

function lingerOnClose(socket: Socket, lingerMs: number): void {
  socket.destroySoon = function (this: Socket) {
    this.end();
    const timer = setTimeout(() => this.destroy(), lingerMs);
    timer.unref();
    this.once('close', () => clearTimeout(timer));
  };
}

/**
 * Called as the response head is written (ApiServerResponse.writeHead): a body declared and not yet read means this
 * connection ends after the response.
 */
export function closeIfBodyUnread(req: IncomingMessage, res: ServerResponse, lingerMs = DEFAULT_LINGER_MS): void {
  if (!req.complete && declaresBody(req)) {
    res.shouldKeepAlive = false;
    lingerOnClose(req.socket, lingerMs);
  }
}
