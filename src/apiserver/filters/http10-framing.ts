/**
 * HTTP/1.0 has no chunked transfer coding (RFC 9112 §7: a server must not send it to a 1.0 client). Node leaves it off
 * by itself unless a handler sets `Transfer-Encoding: chunked` explicitly, as streaming responses may; this filter
 * removes that header for 1.0 requests, so the body is delimited by closing the connection instead.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { RequestHandler } from './max-in-flight.js';

export function withHttp10Framing(handler: RequestHandler): RequestHandler {
  return (req, res) => {
    if (req.httpVersionMajor === 1 && req.httpVersionMinor === 0) {
      const writeHead = res.writeHead;
      res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
        res.removeHeader('transfer-encoding');
        const i = typeof args[1] === 'string' ? 2 : 1;
        const headers = args[i];
        if (headers && typeof headers === 'object' && !Array.isArray(headers)) {
          args[i] = Object.fromEntries(Object.entries(headers as OutgoingHttpHeaders).filter(([k]) => k.toLowerCase() !== 'transfer-encoding'));
        }
        return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
      } as ServerResponse['writeHead'];
    }
    handler(req, res);
  };
}
