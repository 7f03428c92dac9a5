/**
 * A connection that completes its TLS handshake and then sends nothing is closed after `timeoutMs`. Node's
 * headersTimeout only starts with the first byte of a request, so such connections otherwise stay open for good, each
 * holding a file handle; Go's ReadHeaderTimeout, which kube-apiserver sets to 32 s, runs from the start of the
 * connection. Once a request arrives the deadline is lifted: from then on Node's own deadlines (headers, request,
 * keep-alive) apply, and a watch may stay quiet as long as it likes.
 */
import type { Server as HttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';

export function closeSilentConnections(server: HttpsServer, timeoutMs: number): void {
  server.on('secureConnection', (socket: TLSSocket) => {
    // With no 'timeout' listener on the server, Node's HTTP server destroys a socket whose timeout fires.
    socket.setTimeout(timeoutMs);
  });
  server.prependListener('request', (req) => {
    req.socket.setTimeout(0);
  });
}
