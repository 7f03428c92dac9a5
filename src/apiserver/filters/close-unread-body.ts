/**
 * A response sent before its request body was read ends the connection. Node otherwise keeps a keep-alive connection
 * open after such a response and reads the rest of the body to discard it: a client that declared 3 MB and sends a
 * byte every 10 s held its connection (and a file handle) long after its 401 or 413. Go's net/http closes in this
 * case too (it refuses to drain more than a small remainder). Requests whose body was read keep their connection.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from './max-in-flight.js';

function declaresBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

export function withCloseOnUnreadBody(handler: RequestHandler): RequestHandler {
  return (req, res) => {
    if (declaresBody(req)) {
      const writeHead = res.writeHead;
      // Every way of starting a response (writeHead, write, end with implicit headers) goes through writeHead.
      res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
        if (!req.complete) {
          // Sends `Connection: close`; Node then ends the socket after the response instead of draining the body.
          res.shouldKeepAlive = false;
        }
        return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
      } as ServerResponse['writeHead'];
    }
    handler(req, res);
  };
}
