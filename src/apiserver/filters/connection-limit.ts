/**
 * Bounds the open connections of the server: in total, and per client address, so that one client (20,000 slow
 * connections from one address exhausted the file handles) cannot starve the others. A connection over a bound is
 * closed as soon as it is accepted, before the TLS handshake, which is the cheapest refusal there is.
 */
import type { Server, Socket } from 'node:net';

export interface ConnectionLimits {
  /** Open connections in total; 0 = unlimited. */
  maxConnections: number;
  /** Open connections from one remote address; 0 = unlimited. */
  maxConnectionsPerClient: number;
}

export const DEFAULT_MAX_CONNECTIONS = 10_000;
/**
 * Per address: high enough for one client with a thousand watches (informers of many kinds, a NAT or proxy in front
 * of many users, bench/api's 1,000 watchers), low enough that one address cannot take the server's file handles.
 */
export const DEFAULT_MAX_CONNECTIONS_PER_CLIENT = 2_500;

/** Applies the limits to `server` (before it listens); `open()` reports connections per address. */
export function limitConnections(server: Server, limits: ConnectionLimits): { open(): Map<string, number>; refused(): number } {
  const perClient = new Map<string, number>();
  let refused = 0;
  // Node closes connections beyond maxConnections right after accept(), without creating a socket object for them.
  if (limits.maxConnections > 0) server.maxConnections = limits.maxConnections;
  server.on('drop', () => refused++);
  if (limits.maxConnectionsPerClient > 0) {
    // prependListener: run before the TLS server's own listener starts a handshake on the socket.
    server.prependListener('connection', (socket: Socket) => {
      const address = socket.remoteAddress ?? '';
      const n = (perClient.get(address) ?? 0) + 1;
      if (n > limits.maxConnectionsPerClient) {
        refused++;
        socket.destroy();
        return;
      }
      perClient.set(address, n);
      socket.once('close', () => {
        const left = (perClient.get(address) ?? 1) - 1;
        if (left === 0) perClient.delete(address);
        else perClient.set(address, left);
      });
    });
  }
  return { open: () => new Map(perClient), refused: () => refused };
}
