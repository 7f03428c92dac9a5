/** Plain-HTTP servers on 127.0.0.1:0 and raw-socket clients, for the filter tests. */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { RequestHandler } from './max-in-flight.js';

export async function listen(handler: RequestHandler, opts: http.ServerOptions = {}): Promise<{ server: http.Server; port: number; close(): Promise<void> }> {
  const server = http.createServer(opts, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface RawExchange {
  /** Everything the server sent. */
  text: string;
  /** How the connection ended: 'end' (server closed cleanly), 'error: CODE', or 'open' (still open at the deadline). */
  ending: string;
}

/**
 * Connects, writes `chunks` (one per `gapMs`, stopping at the first write error), and collects the answer until the
 * server closes the connection or `waitMs` passes. With `writeAll`, the server's end of the response does not stop the
 * client: it keeps sending its chunks, as a client still uploading does, and `ending` records a reset if one came.
 */
export function rawExchange(port: number, chunks: (string | Buffer)[], waitMs: number, gapMs = 0, writeAll = false): Promise<RawExchange> {
  return new Promise((resolve) => {
    // allowHalfOpen: like curl, a client still uploading keeps writing after the server's FIN.
    const sock = net.connect({ port, host: '127.0.0.1', allowHalfOpen: writeAll });
    let text = '';
    let ending = 'open';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ text, ending });
    };
    const timer = setTimeout(finish, waitMs);
    sock.on('data', (d) => (text += d.toString('latin1')));
    let written = false;
    sock.on('end', () => {
      ending = 'end';
      if (!writeAll || written) finish();
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      ending = `error: ${e.code}`;
      finish();
    });
    sock.on('connect', async () => {
      for (const c of chunks) {
        if (done || sock.destroyed) return;
        sock.write(c);
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      }
      // Give a reset for the last chunk time to arrive.
      await new Promise((r) => setTimeout(r, 50));
      written = true;
      if (ending === 'end') finish();
    });
  });
}
