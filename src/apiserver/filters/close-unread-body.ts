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
import type { RequestHandler } from './max-in-flight.js';

function declaresBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/** Replaces the socket's close-after-response (Node calls destroySoon) with a half-close and a bounded linger. */
function lingerOnClose(socket: Socket, lingerMs: number): void {
  socket.destroySoon = function (this: Socket) {
    this.end();
    const timer = setTimeout(() => this.destroy(), lingerMs);
    timer.unref();
    this.once('close', () => clearTimeout(timer));
  };
}

export function withCloseOnUnreadBody(handler: RequestHandler, opts: { lingerMs?: number } = {}): RequestHandler {
  const lingerMs = opts.lingerMs ?? 1000;
  return (req, res) => {
    if (declaresBody(req)) {
      const writeHead = res.writeHead;
      // Every way of starting a response (writeHead, write, end with implicit headers) goes through writeHead.
      res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
        if (!req.complete) {
          // Sends `Connection: close`; Node then ends the socket after the response instead of draining the body.
          res.shouldKeepAlive = false;
          lingerOnClose(req.socket, lingerMs);
        }
        return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
      } as ServerResponse['writeHead'];
    }
    handler(req, res);
  };
}
