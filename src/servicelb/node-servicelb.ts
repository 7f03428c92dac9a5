/**
 * ServiceLB on one node (what k3s's svclb DaemonSet pods do, without pods): for every port of every LoadBalancer
 * Service the server has claimed, listen on the node's InternalIP and forward to the Service's ready endpoints
 * (round-robin per connection for TCP, per client address for UDP). Each change of Services, EndpointSlices or Nodes
 * recomputes the listeners (computeListeners); existing listeners keep their connections and only get the new
 * endpoint list. What listened and what could not (the port is taken) goes into the Node's
 * servicelb.skiff.dev/ports annotation, which the server's ServiceLB controller turns into Service status and Events.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { Node, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { KubeObject } from '../api/object.js';
import { EndpointSlices, Nodes, Services } from '../client/resources.js';
import type { Client, Informer, InformerFactory } from '../client/types.js';
import { createLogger } from '../log/logger.js';
import { computeListeners, readyEndpoints, SERVICELB_PORTS_ANNOTATION, type Listener, type PortReport } from './compute-servicelb.js';

const log = createLogger('servicelb');

export interface NodeServiceLBOptions {
  client: Client;
  informers: InformerFactory;
  nodeName: string;
  /** The address to listen on (the node's InternalIP, read at each sync: it is known only after registration). */
  nodeIP: () => string | undefined;
  coalesceMs?: number;
  /** A port that could not be opened is tried again after this long (default 10 s). */
  retryMs?: number;
  /** UDP flows idle this long are forgotten (default 30 s, as conntrack's UDP stream timeout is 120 s, unreplied 30 s). */
  udpIdleMs?: number;
}

interface Open {
  listener: Listener;
  address: string;
  endpoints: string[];
  next: number;
  /** 'ok' or why it is not listening. */
  state: string;
  close(): void;
}

type Obj<T> = T & KubeObject;

export class NodeServiceLB {
  private readonly services: Informer<Obj<Service>>;
  private readonly slices: Informer<Obj<EndpointSlice>>;
  private readonly nodes: Informer<Obj<Node>>;
  private readonly open = new Map<string, Open>();
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;
  private stopped = false;
  private reported = '';

  constructor(private readonly o: NodeServiceLBOptions) {
    this.services = o.informers.informerFor(Services);
    this.slices = o.informers.informerFor(EndpointSlices);
    this.nodes = o.informers.informerFor(Nodes);
  }

  start(): void {
    const changed = () => this.schedule();
    for (const inf of [this.services, this.slices, this.nodes] as Informer<KubeObject>[]) {
      inf.addEventHandler({ add: changed, update: changed, delete: changed });
      inf.start();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.retryTimer);
    await this.syncing;
    for (const o of this.open.values()) o.close();
    this.open.clear();
  }

  private schedule(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const run = async () => {
        await this.syncing;
        this.syncing = this.sync().catch((err) => log.error('servicelb sync failed', { err }));
        await this.syncing;
      };
      void run();
    }, this.o.coalesceMs ?? 50);
  }

  private async sync(): Promise<void> {
    if (this.stopped) return;
    if (![this.services, this.slices, this.nodes].every((i) => i.hasSynced())) return this.schedule();
    const nodes = this.nodes.lister.list();
    const me = nodes.find((n) => n.metadata.name === this.o.nodeName);
    const address = this.o.nodeIP();
    const wanted = address ? computeListeners(this.services.lister.list(), me, nodes) : [];
    const keep = new Set<string>();
    let failed = false;
    for (const l of wanted) {
      const key = `${l.service}|${l.portKey}`;
      const [ns, name] = l.service.split('/');
      const slices = this.slices.lister.list(ns).filter((s) => s.metadata.labels?.['kubernetes.io/service-name'] === name);
      const endpoints = readyEndpoints(slices, l.portName, l.protocol, l.local ? this.o.nodeName : undefined);
      // Local without a local ready endpoint: this node does not answer (nor report), so its address leaves the status.
      if (l.local && endpoints.length === 0) continue;
      keep.add(key);
      let cur = this.open.get(key);
      if (cur && (cur.state !== 'ok' || cur.address !== address || cur.listener.portName !== l.portName || cur.listener.local !== l.local)) {
        cur.close();
        this.open.delete(key);
        cur = undefined;
      }
      if (!cur) {
        cur = await this.listen(l, address!);
        this.open.set(key, cur);
      }
      cur.endpoints = endpoints;
      if (cur.state !== 'ok') failed = true;
    }
    for (const [key, o] of this.open) {
      if (keep.has(key)) continue;
      o.close();
      this.open.delete(key);
      log.info(`stopped listening on ${o.address}:${o.listener.portKey} for Service ${o.listener.service}`);
    }
    clearTimeout(this.retryTimer);
    if (failed) this.retryTimer = setTimeout(() => this.schedule(), this.o.retryMs ?? 10_000);
    await this.report();
  }

  private async report(): Promise<void> {
    const report: PortReport = {};
    for (const o of this.open.values()) (report[o.listener.service] ??= {})[o.listener.portKey] = o.state;
    const sorted = Object.fromEntries(Object.keys(report).sort().map((k) => [k, Object.fromEntries(Object.entries(report[k]!).sort())]));
    const text = Object.keys(sorted).length ? JSON.stringify(sorted) : '';
    if (text === this.reported) return;
    try {
      await this.o.client.patch(Nodes, '', this.o.nodeName, 'merge', { metadata: { annotations: { [SERVICELB_PORTS_ANNOTATION]: text || null } } });
      this.reported = text;
    } catch (err) {
      log.warn('cannot write the ServiceLB port report on the Node; retrying', { node: this.o.nodeName, err });
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.schedule(), 1000);
    }
  }

  private async listen(l: Listener, address: string): Promise<Open> {
    const entry: Open = { listener: l, address, endpoints: [], next: 0, state: 'ok', close: () => {} };
    const pick = () => {
      if (entry.endpoints.length === 0) return undefined;
      const ep = entry.endpoints[entry.next++ % entry.endpoints.length]!;
      const colon = ep.lastIndexOf(':');
      return { host: ep.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(ep.slice(colon + 1)) };
    };
    try {
      entry.close = l.protocol === 'TCP' ? await listenTcp(address, l.port, pick) : await listenUdp(address, l.port, pick, this.o.udpIdleMs ?? 30_000);
      log.info(`listening on ${address}:${l.portKey} for Service ${l.service}`);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      entry.state = e.code === 'EADDRINUSE' ? `${address}:${l.port} is already in use` : `listen ${address}:${l.portKey}: ${e.message}`;
      log.warn(`ServiceLB cannot listen for Service ${l.service}: ${entry.state}`);
    }
    return entry;
  }
}

type Pick = () => { host: string; port: number } | undefined;

function listenTcp(address: string, port: number, pick: Pick): Promise<() => void> {
  const conns = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const target = pick();
    if (!target) {
      client.destroy();
      return;
    }
    const upstream = net.connect(target);
    conns.add(client);
    conns.add(upstream);
    const done = () => {
      conns.delete(client);
      conns.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: address, port, exclusive: true }, () => {
      server.off('error', reject);
      resolve(() => {
        server.close();
        for (const c of conns) c.destroy();
      });
    });
  });
}

function listenUdp(address: string, port: number, pick: Pick, idleMs: number): Promise<() => void> {
  const socket = dgram.createSocket({ type: address.includes(':') ? 'udp6' : 'udp4' });
  const flows = new Map<string, { upstream: dgram.Socket; timer: NodeJS.Timeout }>();
  const forget = (key: string) => {
    const f = flows.get(key);
    if (!f) return;
    flows.delete(key);
    clearTimeout(f.timer);
    f.upstream.close();
  };
  socket.on('message', (msg, rinfo) => {
    const key = `${rinfo.address}:${rinfo.port}`;
    let flow = flows.get(key);
    if (!flow) {
      const target = pick();
      if (!target) return;
      const upstream = dgram.createSocket({ type: target.host.includes(':') ? 'udp6' : 'udp4' });
      upstream.on('message', (reply) => {
        socket.send(reply, rinfo.port, rinfo.address);
        const f = flows.get(key);
        if (f) f.timer.refresh();
      });
      upstream.on('error', () => forget(key));
      upstream.connect(target.port, target.host);
      flow = { upstream, timer: setTimeout(() => forget(key), idleMs) };
      flows.set(key, flow);
    }
    flow.timer.refresh();
    const f = flow;
    const send = () => f.upstream.send(msg, (err) => err && forget(key));
    // A connect() still under way queues nothing by itself: send once it is done.
    try {
      f.upstream.remoteAddress();
      send();
    } catch {
      f.upstream.once('connect', send);
    }
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address, port, exclusive: true }, () => {
      socket.off('error', reject);
      resolve(() => {
        for (const k of [...flows.keys()]) forget(k);
        socket.close();
      });
    });
  });
}
