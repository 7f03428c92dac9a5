/**
 * HTTP/1.0 has no chunked transfer coding (RFC 9112 §7: a server must not send it to a 1.0 client). Node leaves it off
 * by itself unless a handler sets `Transfer-Encoding: chunked` explicitly, as streaming responses may; this
 * removes that header for 1.0 requests, so the body is delimited by closing the connection instead.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

/**
 * Called as the response head is written (ApiServerResponse.writeHead) for HTTP/1.0 requests: drops a chunked
 * Transfer-Encoding from the response and from the headers about to be written; returns those headers.
 */
export function withoutChunkedFraming<H>(res: ServerResponse, headers: H): H {
  res.removeHeader('transfer-encoding');
  if (!headers || typeof headers !== 'object' || Array.isArray(headers)) return headers;
  return Object.fromEntries(Object.entries(headers as OutgoingHttpHeaders).filter(([k]) => k.toLowerCase() !== 'transfer-encoding')) as H;
}
