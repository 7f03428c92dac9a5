/**
 * One listening socket of the userspace proxy: accepts TCP connections (or UDP datagrams) for one ServicePort and
 * relays them to an endpoint chosen by an EndpointPicker (kube-proxy's userspace ProxySocket, pkg/proxy/userspace/
 * proxysocket.go, Kubernetes 1.22).
 *
 * - TCP: the accepted socket is held paused until the endpoint answers, then both directions are piped (stream.pipe:
 *   no per-chunk JavaScript beyond the stream machinery, backpressure through pipe's pause/resume). Half-close is
 *   passed on (allowHalfOpen, pipe ends its destination); an error on either side destroys both. An endpoint that
 *   refuses or does not answer within the dial timeout is skipped for the next one (at most 3 tries, as kube-proxy).
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
    const clientIP = clientAddress(client.remoteAddress);
    // Until piped, a client error (a reset while we dial) only ends the client; dialing stops at the next step.
    client.on('error', () => client.destroy());
    this.dial(client, clientIP, 1);
  }

  private dial(client: net.Socket, clientIP: string, attempt: number): void {
    if (client.destroyed) return;
    const ep = this.picker.pick(clientIP);
    if (!ep) {
      // No endpoint (any more): the client is told at once, as a reset.
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect({ host: ep.ip, port: ep.port, allowHalfOpen: true, noDelay: true });
    this.track(upstream);
    const timer = setTimeout(() => upstream.destroy(new Error(`dial ${ep.ip}:${ep.port} timed out`)), this.o.dialTimeoutMs ?? 2000);
    const onDialError = () => {
      clearTimeout(timer);
      upstream.destroy();
      this.picker.forget(clientIP);
      if (attempt < Math.min(MAX_TRIES, this.picker.size)) this.dial(client, clientIP, attempt + 1);
      else client.resetAndDestroy();
    };
    upstream.once('error', onDialError);
    upstream.once('connect', () => {
      clearTimeout(timer);
      upstream.off('error', onDialError);
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      relay(client, upstream);
    });
  }
}

/** Pipes both ways; half-close passes through, an error anywhere ends both. */
function relay(client: net.Socket, upstream: net.Socket): void {
  const fail = () => {
    client.destroy();
    upstream.destroy();
  };
  client.removeAllListeners('error');
  client.on('error', fail);
  upstream.on('error', fail);
  // A reset from one side without an error event on the other (its write had nothing pending).
  client.on('close', (hadError) => hadError && upstream.destroy());
  upstream.on('close', (hadError) => hadError && client.destroy());
  client.pipe(upstream);
  upstream.pipe(client);
  client.resume();
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
