/**
 * Which endpoint a new connection (TCP) or a new client session (UDP) goes to: round robin over the endpoints the
 * model chose, with sessionAffinity ClientIP (a client IP keeps its endpoint until it has been idle for the timeout),
 * as kube-proxy's userspace load balancer did (pkg/proxy/userspace/roundrobin.go, Kubernetes 1.22). Pure state, an
 * injected clock.
 */
import type { ProxyEndpoint } from '../service-model.js';

export interface PickedEndpoint {
  ip: string;
  port: number;
}

export class EndpointPicker {
  private endpoints: PickedEndpoint[] = [];
  private next = 0;
  /** Client IP → endpoint key and when it was last used (ms). */
  private readonly affinity = new Map<string, { key: string; ep: PickedEndpoint; lastUsed: number }>();
  private affinityMs: number | undefined;
  private picks = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Replaces the endpoints; affinity entries to endpoints still present are kept. */
  setEndpoints(eps: readonly ProxyEndpoint[], affinitySeconds: number | undefined): void {
    this.endpoints = eps.map((e) => ({ ip: e.ip, port: e.port }));
    this.affinityMs = affinitySeconds === undefined ? undefined : affinitySeconds * 1000;
    if (this.affinityMs === undefined) this.affinity.clear();
    const present = new Set(this.endpoints.map(keyOf));
    for (const [client, a] of this.affinity) if (!present.has(a.key)) this.affinity.delete(client);
    if (this.next >= this.endpoints.length) this.next = 0;
  }

  get size(): number {
    return this.endpoints.length;
  }

  /** Whether pick() looks at the client IP (sessionAffinity ClientIP): without it, callers need not find it out. */
  get usesClientIP(): boolean {
    return this.affinityMs !== undefined;
  }

  /** The endpoint for a new connection from clientIP; undefined when there is none. */
  pick(clientIP: string): PickedEndpoint | undefined {
    if (this.endpoints.length === 0) return undefined;
    const now = this.now();
    if (this.affinityMs !== undefined) {
      if (++this.picks % 1024 === 0) this.expire(now);
      const a = this.affinity.get(clientIP);
      if (a && now - a.lastUsed <= this.affinityMs) {
        a.lastUsed = now;
        return a.ep;
      }
    }
    const ep = this.endpoints[this.next]!;
    this.next = (this.next + 1) % this.endpoints.length;
    if (this.affinityMs !== undefined) this.affinity.set(clientIP, { key: keyOf(ep), ep, lastUsed: now });
    return ep;
  }

  /** The client's endpoint did not answer: its affinity goes (the retry picks another). */
  forget(clientIP: string): void {
    this.affinity.delete(clientIP);
  }

  private expire(now: number): void {
    for (const [client, a] of this.affinity) if (now - a.lastUsed > this.affinityMs!) this.affinity.delete(client);
  }
}

const keyOf = (e: PickedEndpoint) => `${e.ip}:${e.port}`;
