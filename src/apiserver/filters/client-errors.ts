/**
 * Answers requests that Node's HTTP parser refused before any handler saw them: 431 for headers over the size limit,
 * 408 when the headers or the body did not arrive in time, 400 for anything malformed. Node's default answer closes
 * the socket at once, so a client still sending its oversized headers gets EPIPE/ECONNRESET instead of the 431. Here
 * the answer is sent, our side is closed for writing, and what the client still sends is read and dropped for a short
 * while (Go's net/http lingers the same way) before the socket is destroyed.
 */
import type { Server } from 'node:net';
import type { Duplex } from 'node:stream';

export interface ClientErrorOptions {
  /** How long to keep reading (and discarding) after the answer; default 2 s. */
  lingerMs?: number;
  /** Stop lingering after this many discarded bytes; default 1 MiB. */
  lingerBytes?: number;
}

function statusLine(code: string | undefined): string {
  if (code === 'HPE_HEADER_OVERFLOW') return '431 Request Header Fields Too Large';
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return '408 Request Timeout';
  return '400 Bad Request';
}

export function answerClientErrors(server: Server, opts: ClientErrorOptions = {}): void {
  const lingerMs = opts.lingerMs ?? 2000;
  const lingerBytes = opts.lingerBytes ?? 1 << 20;
  const answered = new WeakSet<Duplex>();
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // The parser may report again for data that arrives while lingering.
    if (answered.has(socket)) return;
    answered.add(socket);
    // Only the HTTP parser's refusals get an HTTP answer. TLS failures (a handshake that timed out or went wrong) come
    // here too on an https server and end the connection at once, as do a client that went away and a connection
    // whose answer is already under way.
    const httpError = err.code?.startsWith('HPE_') || err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    const inProgress = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (!httpError || !socket.writable || inProgress?.headersSent) {
      socket.destroy();
      return;
    }
    socket.end(`HTTP/1.1 ${statusLine(err.code)}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    let discarded = 0;
    const timer = setTimeout(() => socket.destroy(), lingerMs);
    timer.unref();
    socket.on('data', (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > lingerBytes) socket.destroy();
    });
    socket.once('close', () => clearTimeout(timer));
    socket.resume();
  });
}
