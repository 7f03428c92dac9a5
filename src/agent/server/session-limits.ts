/**
 * Bounds on the agent's streaming sessions (exec, attach, port-forward): how many one client identity and all clients
 * together may hold open at once, how long a connection may sit idle, and how long a client may take to finish its
 * handshake. kubelet has no session count limit; it relies on its streaming server's timeouts
 * (--streaming-connection-idle-timeout, 4h by default; 30 s for the client to create its streams). Without a count
 * limit one client can pin a connection, a runtime session and a process per request until the node runs out.
 *
 * The API server proxies every user's session with its own kubelet-client certificate: its identities are held to the
 * total limit only (a per-client limit would be one for all users of the cluster together), as kubelet holds it to none.
 */
import type { Status } from 'kubernetes-types/meta/v1.js';

export interface StreamingLimits {
  /** Concurrent streaming sessions per client identity (certificate CN). Default 32. */
  maxSessionsPerClient: number;
  /** Concurrent streaming sessions on this agent. Default 256. */
  maxSessionsTotal: number;
  /** A streaming connection with no bytes either way for this long is closed (kubelet's default: 4 h). */
  idleTimeoutMs: number;
  /**
   * Time for a client to finish its handshake: the TLS handshake and the request head on a new connection, and after
   * a SPDY upgrade the streams it must create (kubelet's stream creation timeout, 30 s).
   */
  handshakeTimeoutMs: number;
}

export const DEFAULT_STREAMING_LIMITS: StreamingLimits = {
  maxSessionsPerClient: 32,
  maxSessionsTotal: 256,
  idleTimeoutMs: 4 * 60 * 60 * 1000,
  handshakeTimeoutMs: 30_000,
};

/** Counts open sessions per client; acquire() either admits one (and returns its release) or says why not. */
export class SessionLimiter {
  private readonly perClient = new Map<string, number>();
  private total = 0;

  constructor(private readonly limits: Pick<StreamingLimits, 'maxSessionsPerClient' | 'maxSessionsTotal'>) {}

  /** Sessions open now (all clients, or one). */
  active(client?: string): number {
    return client === undefined ? this.total : (this.perClient.get(client) ?? 0);
  }

  /** A release function (idempotent) when admitted, or the refusal as a 429 Status. `perClientLimit` false: the total only. */
  acquire(client: string, perClientLimit = true): { release: () => void } | { refusal: Status } {
    const mine = this.perClient.get(client) ?? 0;
    if (perClientLimit && mine >= this.limits.maxSessionsPerClient) {
      return { refusal: tooManySessions(`too many streaming sessions for user ${JSON.stringify(client)}: ${mine} open, at most ${this.limits.maxSessionsPerClient}`) };
    }
    if (this.total >= this.limits.maxSessionsTotal) {
      return { refusal: tooManySessions(`too many streaming sessions on this node: ${this.total} open, at most ${this.limits.maxSessionsTotal}`) };
    }
    this.perClient.set(client, mine + 1);
    this.total++;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.total--;
        const n = (this.perClient.get(client) ?? 1) - 1;
        if (n <= 0) this.perClient.delete(client);
        else this.perClient.set(client, n);
      },
    };
  }
}

function tooManySessions(message: string): Status {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: 'TooManyRequests', code: 429, details: { retryAfterSeconds: 1 } };
}
