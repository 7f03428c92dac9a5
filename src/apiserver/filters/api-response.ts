/**
 * The API server's ServerResponse (passed to https.createServer as `ServerResponse`). Two filters act when a response
 * head is written, so they live here as one prototype method rather than as a per-request wrapper: patching each
 * response's writeHead cost a closure and a change of the object's shape on every request (about 2 KB of garbage per
 * create in bench/api). Node writes implicit heads through writeHead too (`_implicitHeader`), so every response passes.
 */
import { ServerResponse, type IncomingMessage, type OutgoingHttpHeader, type OutgoingHttpHeaders } from 'node:http';
import { closeIfBodyUnread } from './close-unread-body.js';
import { withoutChunkedFraming } from './http10-framing.js';

type Headers = OutgoingHttpHeaders | OutgoingHttpHeader[];

export class ApiServerResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  override writeHead(statusCode: number, reasonOrHeaders?: string | Headers, headers?: Headers): this {
    const req = this.req;
    closeIfBodyUnread(req, this);
    if (req.httpVersionMajor === 1 && req.httpVersionMinor === 0) {
      if (typeof reasonOrHeaders === 'string') headers = withoutChunkedFraming(this, headers);
      else reasonOrHeaders = withoutChunkedFraming(this, reasonOrHeaders);
    }
    // Node reads a headers object from the second argument when the third is absent (`obj ??= reason`).
    return super.writeHead(statusCode, reasonOrHeaders as string, headers);
  }
}
