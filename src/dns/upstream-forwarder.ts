/**
 * Names outside the cluster go to the node's resolvers (CoreDNS's `forward . /etc/resolv.conf` with `cache 30`, as
 * k3s's Corefile has them): the client's query is sent over UDP with a fresh id, a truncated answer is asked again
 * over TCP, an upstream that does not answer within the timeout passes the question to the next one, and when none
 * answers the client gets SERVFAIL. Answers are cached per (name, type, class) for their smallest TTL, at most 30 s,
 * in a bounded cache; concurrent identical questions share one upstream query.
 */
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import dnsPacket from 'dns-packet';
import type { Packet, Question } from 'dns-packet';
import { createLogger } from '../log/logger.js';

const log = createLogger('dns');

export interface Upstream {
  host: string;
  port: number;
}

export interface UpstreamForwarderOptions {
  upstreams: Upstream[];
  /** Per upstream and attempt (default 2000 ms, CoreDNS forward's read timeout). */
  timeoutMs?: number;
  /** Most answers kept (default 2000). */
  cacheSize?: number;
  /** Longest time an answer is kept (default 30 s). */
  maxTtlSeconds?: number;
  now?: () => number;
}

interface CacheEntry {
  response: Buffer;
  expires: number;
}

/** The nameservers of a resolv.conf text (`nameserver` lines), port 53; IPv6 zone suffixes kept. */
export function parseResolvConf(text: string): Upstream[] {
  const out: Upstream[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m) out.push({ host: m[1]!, port: 53 });
  }
  return out;
}

/** The node's resolvers from /etc/resolv.conf (or `path`); [] when the file cannot be read. */
export function hostUpstreams(path = '/etc/resolv.conf'): Upstream[] {
  try {
    return parseResolvConf(readFileSync(path, 'utf8'));
  } catch (err) {
    log.warn(`cannot read ${path}: names outside the cluster get SERVFAIL`, { err });
    return [];
  }
}

export class UpstreamForwarder {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<Buffer | undefined>>();
  private readonly pending = new Map<number, (msg: Buffer) => void>();
  private socket4: Socket | undefined;
  private socket6: Socket | undefined;
  private readonly timeoutMs: number;
  private readonly cacheSize: number;
  private readonly maxTtl: number;
  private readonly now: () => number;
  private closed = false;
  /** Answers served from the cache / asked upstream (for the README's numbers and tests). */
  readonly stats = { hits: 0, misses: 0, failures: 0 };

  constructor(private readonly o: UpstreamForwarderOptions) {
    this.timeoutMs = o.timeoutMs ?? 2000;
    this.cacheSize = o.cacheSize ?? 2000;
    this.maxTtl = o.maxTtlSeconds ?? 30;
    this.now = o.now ?? Date.now;
  }

  /**
   * The upstream's response to `query` (the client's raw message) with the client's id, or undefined when no
   * upstream answered (the caller answers SERVFAIL).
   */
  async forward(query: Buffer, q: Question): Promise<Buffer | undefined> {
    const id = query.readUInt16BE(0);
    const key = `${q.name.toLowerCase()}|${q.type}|${q.class ?? 'IN'}`;
    const hit = this.cache.get(key);
    if (hit && hit.expires > this.now()) {
      this.stats.hits++;
      return withId(hit.response, id);
    }
    if (hit) this.cache.delete(key);
    this.stats.misses++;
    let shared = this.inflight.get(key);
    if (!shared) {
      shared = this.ask(query).finally(() => this.inflight.delete(key));
      this.inflight.set(key, shared);
    }
    const response = await shared;
    if (!response) {
      this.stats.failures++;
      return undefined;
    }
    this.remember(key, response);
    return withId(response, id);
  }

  close(): void {
    this.closed = true;
    this.socket4?.close();
    this.socket6?.close();
    this.socket4 = this.socket6 = undefined;
    for (const resolve of this.pending.values()) resolve(Buffer.alloc(0));
    this.pending.clear();
  }

  private async ask(query: Buffer): Promise<Buffer | undefined> {
    for (const upstream of this.o.upstreams) {
      if (this.closed) return undefined;
      const udp = await this.askUdp(upstream, query);
      if (!udp || udp.length < 12) continue;
      // TC: the answer did not fit in a datagram; ask again over TCP (RFC 7766 §5).
      if (udp.readUInt16BE(2) & dnsPacket.TRUNCATED_RESPONSE) {
        const tcp = await this.askTcp(upstream, query);
        if (tcp) return tcp;
      }
      return udp;
    }
    return undefined;
  }

  private askUdp(upstream: Upstream, query: Buffer): Promise<Buffer | undefined> {
    const socket = this.socketFor(upstream.host);
    let id: number;
    do id = (Math.random() * 0x10000) | 0;
    while (this.pending.has(id));
    const msg = withId(query, id);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(undefined);
      }, this.timeoutMs);
      this.pending.set(id, (response) => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(response.length ? response : undefined);
      });
      const failed = () => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(undefined);
      };
      try {
        socket.send(msg, upstream.port, upstream.host, (err) => err && failed());
      } catch {
        // Closed meanwhile (stop), or an address the socket cannot send to.
        failed();
      }
    });
  }

  private askTcp(upstream: Upstream, query: Buffer): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const conn = connect({ host: upstream.host, port: upstream.port });
      const chunks: Buffer[] = [];
      let done = false;
      const finish = (value: Buffer | undefined) => {
        if (done) return;
        done = true;
        conn.destroy();
        resolve(value);
      };
      conn.setTimeout(this.timeoutMs, () => finish(undefined));
      conn.on('error', () => finish(undefined));
      conn.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(query.length);
        conn.write(Buffer.concat([len, query]));
      });
      conn.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        const all = Buffer.concat(chunks);
        if (all.length >= 2 && all.length >= 2 + all.readUInt16BE(0)) finish(all.subarray(2, 2 + all.readUInt16BE(0)));
      });
      conn.on('close', () => finish(undefined));
    });
  }

  private socketFor(host: string): Socket {
    const v6 = host.includes(':');
    let socket = v6 ? this.socket6 : this.socket4;
    if (socket) return socket;
    socket = createSocket(v6 ? 'udp6' : 'udp4');
    socket.on('message', (msg) => {
      if (msg.length < 12) return;
      this.pending.get(msg.readUInt16BE(0))?.(msg);
    });
    socket.on('error', (err) => log.warn('upstream DNS socket failed', { err }));
    // Idle sockets must not keep the process alive.
    socket.unref();
    if (v6) this.socket6 = socket;
    else this.socket4 = socket;
    return socket;
  }

  private remember(key: string, response: Buffer): void {
    let ttl: number | undefined;
    try {
      const p = dnsPacket.decode(response) as Packet & { rcode?: string; flag_tc?: boolean };
      if (p.rcode !== 'NOERROR' && p.rcode !== 'NXDOMAIN') return;
      if (p.flag_tc) return;
      const ttls = [...(p.answers ?? []), ...(p.authorities ?? [])].map((a) => ('ttl' in a && typeof a.ttl === 'number' ? a.ttl : undefined)).filter((t): t is number => t !== undefined);
      ttl = ttls.length ? Math.min(...ttls) : 5;
    } catch {
      return;
    }
    ttl = Math.min(ttl, this.maxTtl);
    if (ttl <= 0) return;
    if (this.cache.size >= this.cacheSize) {
      // Drop the oldest entry (Map keeps insertion order).
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(key, { response: Buffer.from(response), expires: this.now() + ttl * 1000 });
  }
}

function withId(msg: Buffer, id: number): Buffer {
  const copy = Buffer.from(msg);
  copy.writeUInt16BE(id, 0);
  return copy;
}
