/**
 * One listening socket of the userspace proxy: accepts TCP connections (or UDP datagrams) for one ServicePort and
 * relays them to an endpoint chosen by an EndpointPicker (kube-proxy's userspace ProxySocket, pkg/proxy/userspace/
 * proxysocket.go, Kubernetes 1.22).
 *
 * - TCP: the accepted socket is held paused until the endpoint answers, then bytes move both ways without stream
 *   pipes (TcpRelay: plain 'data' writes one way, net's onread into a reused buffer the other, backpressure by
 *   pause/resume). Half-close is passed on (allowHalfOpen, end() after the data); an error on either side destroys
 *   both. An endpoint that refuses or does not answer within the dial timeout is skipped for the next one (at most 3
 *   tries, as kube-proxy).
 * - UDP: one session per client address (ip:port) with its own socket to the endpoint, so replies go back to the
 *   client that asked; a session ends after `udpIdleTimeoutMs` without traffic (kube-proxy's --udp-timeout), or when
 *   its endpoint leaves the Service.
 * - Changing the endpoints never touches established connections or sessions; close() stops accepting and leaves
 *   them too (as conntrack keeps NATed flows); destroyAll() ends them (the agent stopping).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { createLogger } from '../../log/logger.js';
import type { ProxyEndpoint } from '../service-model.js';
import { EndpointPicker, type PickedEndpoint } from './endpoint-picker.js';

export interface ProxySocketOptions {
  protocol: 'TCP' | 'UDP';
  /** 0: any free port. */
  port: number;
  bindAddress: string;
  udpIdleTimeoutMs?: number;
  dialTimeoutMs?: number;
  /**
   * UDP on 0.0.0.0 only: a second socket on 127.0.0.1 with the same port, so that datagrams REDIRECTed there from the
   * node's OUTPUT chain are answered from 127.0.0.1 (the address conntrack expects the reply from); a reply sent
   * through the 0.0.0.0 socket would leave from the node's own address and never reach the client.
   */
  alsoLoopback?: boolean;
  now?: () => number;
}

export interface ProxySocket {
  readonly protocol: 'TCP' | 'UDP';
  /** The port it listens on (known once open). */
  readonly port: number;
  setEndpoints(eps: readonly ProxyEndpoint[], affinitySeconds: number | undefined): void;
  /** Open TCP connections / UDP sessions. */
  readonly active: number;
  /** Stops listening; established connections stay. */
  close(): Promise<void>;
  /** Ends every connection and session too. */
  destroyAll(): void;
}

const MAX_TRIES = 3;
const log = createLogger('proxy');

/** Opens a listening proxy socket; rejects when the port cannot be bound (EADDRINUSE, EACCES). */
export function openProxySocket(o: ProxySocketOptions): Promise<ProxySocket> {
  return o.protocol === 'UDP' ? UdpProxySocket.open(o) : TcpProxySocket.open(o);
}

const clientAddress = (a: string | undefined) => (a?.startsWith('::ffff:') ? a.slice(7) : (a ?? ''));

class TcpProxySocket implements ProxySocket {
  readonly protocol = 'TCP' as const;
  private readonly picker: EndpointPicker;
  private readonly open = new Set<net.Socket>();
  private server!: net.Server;
  port = 0;

  private constructor(private readonly o: ProxySocketOptions) {
    this.picker = new EndpointPicker(o.now);
  }

  static async open(o: ProxySocketOptions): Promise<TcpProxySocket> {
    const s = new TcpProxySocket(o);
    s.server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (c) => s.accept(c));
    await new Promise<void>((resolve, reject) => {
      s.server.once('error', reject);
      s.server.listen({ port: o.port, host: o.bindAddress, exclusive: true }, () => {
        s.server.off('error', reject);
        resolve();
      });
    });
    // After listening, errors are per connection (EMFILE and the like): the server keeps accepting; said once.
    let said = false;
    s.server.on('error', (err) => {
      if (!said) log.warn(`the userspace proxy failed to accept a connection on TCP port ${s.port}; it keeps listening`, { err });
      said = true;
    });
    s.port = (s.server.address() as net.AddressInfo).port;
    return s;
  }

  get active(): number {
    return this.open.size;
  }

  setEndpoints(eps: readonly ProxyEndpoint[], affinitySeconds: number | undefined): void {
    this.picker.setEndpoints(eps, affinitySeconds);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      // close()'s callback waits for the connections; listening stops at once.
      this.server.close();
      resolve();
    });
  }

  destroyAll(): void {
    for (const s of this.open) s.destroy();
    this.open.clear();
  }

  private track(s: net.Socket): void {
    this.open.add(s);
    s.once('close', () => this.open.delete(s));
  }

  private accept(client: net.Socket): void {
    this.track(client);
    // The client's address costs a getpeername: only affinity needs it.
    const clientIP = this.picker.usesClientIP ? clientAddress(client.remoteAddress) : '';
    new TcpRelay(this, client, clientIP).dial();
  }

  /** The endpoint for a new connection (undefined: none left). */
  pick(clientIP: string): PickedEndpoint | undefined {
    return this.picker.pick(clientIP);
  }

  /** The endpoint picked for clientIP did not answer: the next try may pick another. */
  dialFailed(clientIP: string, attempt: number): boolean {
    this.picker.forget(clientIP);
    return attempt < Math.min(MAX_TRIES, this.picker.size);
  }

  connect(ep: PickedEndpoint, onread: net.OnReadOpts): net.Socket {
    const upstream = net.connect({ host: ep.ip, port: ep.port, allowHalfOpen: true, noDelay: true, onread });
    this.track(upstream);
    return upstream;
  }

  get dialTimeoutMs(): number {
    return this.o.dialTimeoutMs ?? 2000;
  }
}

/**
 * What an endpoint's socket reads into: one buffer per connection, reused for every read, taken from a free list and
 * given back when both sockets have closed (a buffer per connection would be an external allocation V8 counts
 * towards its next garbage collection).
 */
const UPSTREAM_READ_BYTES = 16 * 1024;
const MAX_FREE_BUFFERS = 64;
const freeBuffers: Buffer[] = [];

/**
 * One accepted connection: dials an endpoint (the next one when it refuses or does not answer), then moves bytes both
 * ways with no stream pipes:
 * - client → endpoint: the client's 'data' chunks are written to the endpoint's socket; the client is paused while
 *   that socket's write buffer is over its mark, resumed on 'drain'.
 * - endpoint → client: the endpoint's socket reads into this connection's own buffer (net's onread: no allocation and
 *   no Readable machinery per read); each read is written to the client at once. A write the kernel did not take
 *   whole keeps a reference to the buffer, so the endpoint's socket stops reading until the client's write buffer is
 *   empty again (this is also the backpressure).
 * - An end (FIN) is passed on once the data before it is written (end() after the writes, or a close when the socket
 *   has nothing left to read or write: passEnd); an error on either side, or a close after an error, destroys both.
 */
class TcpRelay {
  private upstream: net.Socket | undefined;
  private readonly buffer = freeBuffers.pop() ?? Buffer.allocUnsafeSlow(UPSTREAM_READ_BYTES);
  /** Sockets of the relay closed: at 2 (or the client's, with nothing relayed) the buffer is free. */
  private closed = 0;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The endpoint's socket stopped reading until the client's write buffer empties. */
  private upstreamWaits = false;
  private relaying = false;

  constructor(
    private readonly owner: TcpProxySocket,
    private readonly client: net.Socket,
    private readonly clientIP: string,
  ) {
    client.on('error', this.onError);
    client.on('close', this.onClientClose);
  }

  dial(): void {
    if (this.client.destroyed) return;
    const ep = this.owner.pick(this.clientIP);
    if (!ep) {
      // No endpoint (any more): the client is told at once, as a reset.
      this.client.resetAndDestroy();
      return;
    }
    this.attempt++;
    const upstream = (this.upstream = this.owner.connect(ep, { buffer: this.buffer, callback: this.onUpstreamRead }));
    this.timer = setTimeout(this.onDialTimeout, this.owner.dialTimeoutMs);
    upstream.once('error', this.onDialError);
    upstream.once('connect', this.onConnect);
  }

  private readonly onDialTimeout = () => this.upstream?.destroy(new Error('dial timed out'));

  private readonly onDialError = () => {
    clearTimeout(this.timer);
    this.upstream!.off('connect', this.onConnect);
    this.upstream!.destroy();
    this.upstream = undefined;
    if (this.client.destroyed) return;
    if (this.owner.dialFailed(this.clientIP, this.attempt)) this.dial();
    else this.client.resetAndDestroy();
  };

  private readonly onConnect = () => {
    clearTimeout(this.timer);
    const { client } = this;
    const upstream = this.upstream!;
    upstream.off('error', this.onDialError);
    if (client.destroyed) {
      upstream.destroy();
      return;
    }
    this.relaying = true;
    upstream.on('error', this.onError);
    upstream.on('close', this.onUpstreamClose);
    upstream.on('end', this.onUpstreamEnd);
    upstream.on('drain', this.onUpstreamDrain);
    client.on('data', this.onClientData);
    client.on('end', this.onClientEnd);
    client.resume();
  };

  private readonly onClientData = (chunk: Buffer) => {
    if (!this.upstream!.write(chunk)) this.client.pause();
  };

  private readonly onUpstreamDrain = () => this.client.resume();

  /** net's onread callback: false stops the endpoint's socket reading (until resume()). */
  private readonly onUpstreamRead = (n: number, buf: Uint8Array): boolean => {
    const { client } = this;
    client.write(n === buf.length ? buf : buf.subarray(0, n), this.onClientWritten);
    if (client.writableLength === 0) return true;
    this.upstreamWaits = true;
    return false;
  };

  /** Every write's callback: once nothing waits to be written, the buffer is free and the endpoint is read again. */
  private readonly onClientWritten = () => {
    if (this.upstreamWaits && this.client.writableLength === 0) {
      this.upstreamWaits = false;
      this.upstream!.resume();
    }
  };

  private readonly onClientEnd = () => passEnd(this.upstream!);
  private readonly onUpstreamEnd = () => passEnd(this.client);

  private readonly onError = () => {
    clearTimeout(this.timer);
    this.client.destroy();
    // Before the relay starts, an upstream error is a dial error (onDialError); a client error ends the dial.
    this.upstream?.destroy();
  };

  /** A reset from one side without an error event on the other (its write had nothing pending). */
  private readonly onClientClose = (hadError: boolean) => {
    if (!this.relaying) {
      // A dial in progress is abandoned: its socket never reads.
      clearTimeout(this.timer);
      this.upstream?.destroy();
      this.releaseBuffer();
      return;
    }
    if (hadError) this.upstream!.destroy();
    if (++this.closed === 2) this.releaseBuffer();
  };

  private readonly onUpstreamClose = (hadError: boolean) => {
    if (hadError) this.client.destroy();
    if (++this.closed === 2) this.releaseBuffer();
  };

  private releaseBuffer(): void {
    if (freeBuffers.length < MAX_FREE_BUFFERS) freeBuffers.push(this.buffer);
  }
}

/**
 * Passes an end (FIN) on to a socket. When that socket has already read its own end and has nothing left to write,
 * closing it sends the same FIN after the bytes the kernel still holds (nothing unread is left to turn it into a
 * reset): a shutdown() less per connection, the usual case of a connection per request (the endpoint ends first, then
 * the client).
 */
function passEnd(s: net.Socket): void {
  if (s.readableEnded && s.writableLength === 0) s.destroy();
  else s.end();
}

interface UdpSession {
  socket: dgram.Socket;
  /** The listening socket the client's datagrams came in on: replies go out through it. */
  via: dgram.Socket;
  ep: PickedEndpoint;
  timer: NodeJS.Timeout;
}

class UdpProxySocket implements ProxySocket {
  readonly protocol = 'UDP' as const;
  private readonly picker: EndpointPicker;
  private readonly sessions = new Map<string, UdpSession>();
  private readonly sockets: dgram.Socket[] = [];
  port = 0;

  private constructor(private readonly o: ProxySocketOptions) {
    this.picker = new EndpointPicker(o.now);
  }

  static async open(o: ProxySocketOptions): Promise<UdpProxySocket> {
    const s = new UdpProxySocket(o);
    const loopbackToo = o.alsoLoopback === true && o.bindAddress === '0.0.0.0';
    const bind = async (address: string, port: number) => {
      // SO_REUSEADDR lets the 127.0.0.1 socket share the port with the 0.0.0.0 one (the kernel delivers to the more
      // specific bind); without a second socket there is nothing to share with.
      const socket = dgram.createSocket({ type: 'udp4', reuseAddr: loopbackToo });
      s.sockets.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ port, address, exclusive: true }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      let said = false;
      socket.on('error', (err) => {
        if (!said) log.warn(`the userspace proxy's UDP socket on ${address}:${s.port} reported an error; it keeps listening`, { err });
        said = true;
      });
      socket.on('message', (msg, rinfo) => s.onMessage(msg, rinfo, socket));
      return socket;
    };
    try {
      const main = await bind(o.bindAddress, o.port);
      s.port = main.address().port;
      if (loopbackToo) await bind('127.0.0.1', s.port);
    } catch (err) {
      s.destroyAll();
      throw err;
    }
    return s;
  }

  get active(): number {
    return this.sessions.size;
  }

  setEndpoints(eps: readonly ProxyEndpoint[], affinitySeconds: number | undefined): void {
    this.picker.setEndpoints(eps, affinitySeconds);
    // A session to an endpoint that went away would keep a client that keeps its port talking to nothing (UDP has no
    // end): its next datagram starts a session with a live endpoint (kube-proxy deletes such conntrack entries).
    const live = new Set(eps.map((e) => `${e.ip}:${e.port}`));
    for (const [key, session] of this.sessions) if (!live.has(`${session.ep.ip}:${session.ep.port}`)) this.endSession(key);
  }

  async close(): Promise<void> {
    // The sessions reply through the listening socket: closing it ends them.
    this.destroyAll();
  }

  destroyAll(): void {
    for (const key of [...this.sessions.keys()]) this.endSession(key);
    for (const socket of this.sockets) {
      try {
        socket.close();
      } catch {
        // Already closed.
      }
    }
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo, via: dgram.Socket): void {
    const key = `${via === this.sockets[0] ? '' : 'lo '}${rinfo.address}:${rinfo.port}`;
    let s = this.sessions.get(key);
    if (!s) {
      const ep = this.picker.pick(rinfo.address);
      if (!ep) return;
      const socket = dgram.createSocket('udp4');
      const session: UdpSession = { socket, via, ep, timer: setTimeout(() => this.endSession(key), this.o.udpIdleTimeoutMs ?? 1000) };
      session.timer.unref();
      socket.on('message', (reply, from) => {
        if (from.address !== ep.ip || from.port !== ep.port) return;
        session.timer.refresh();
        via.send(reply, rinfo.port, rinfo.address);
      });
      // ICMP unreachable from the endpoint and the like: the next datagram starts a new session.
      socket.on('error', () => {
        this.picker.forget(rinfo.address);
        this.endSession(key);
      });
      this.sessions.set(key, (s = session));
    }
    s.timer.refresh();
    s.socket.send(msg, s.ep.port, s.ep.ip);
  }

  private endSession(key: string): void {
    const s = this.sessions.get(key);
    if (!s) return;
    this.sessions.delete(key);
    clearTimeout(s.timer);
    try {
      s.socket.close();
    } catch {
      // Already closed.
    }
  }
}
