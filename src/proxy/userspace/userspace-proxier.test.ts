/**
 * The userspace backend without iptables (redirect off, as without root): its listeners follow the Services — a
 * NodePort opens with endpoints and closes without them, switching endpoints keeps established connections, deleting
 * the Service or remove() leaves nothing listening — and the relay itself (round robin, ClientIP affinity, dial
 * retry past a dead endpoint, half-close, UDP sessions with their idle timeout). Real sockets on loopback: endpoints
 * are servers on 127.0.0.2-4 (one port), the "NodePort" a free port on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { NODE, slice, svc } from '../golden-cases.js';
import { servicePortsOf } from '../service-model.js';
import { renderPortals } from './render-portals.js';
import { UserspaceBackend } from './userspace-proxier.js';

const EPS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];

/** A free port (TCP and UDP both) on 127.0.0.1. */
async function freePort(): Promise<number> {
  for (;;) {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    const u = dgram.createSocket('udp4');
    const ok = await new Promise<boolean>((r) => {
      u.once('error', () => r(false));
      u.bind(port, '127.0.0.1', () => r(true));
    });
    u.close();
    if (ok) return port;
  }
}

/** Sends one line on a new connection and reads the answer to the end. */
function ask(port: number, line = 'hi'): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ host: '127.0.0.1', port }, () => c.end(`${line}\n`));
    let out = '';
    c.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.on('end', () => resolve(out));
    c.on('error', reject);
  });
}

const ports = (s: Service, slices: EndpointSlice[]) => servicePortsOf(s, slices, NODE);

describe('userspace proxy: listeners follow the Services, relays hold', { timeout: 20_000 }, () => {
  let epPort: number;
  const servers: net.Server[] = [];
  const udp: dgram.Socket[] = [];
  let backend: UserspaceBackend;

  before(async () => {
    epPort = await freePort();
    for (const ip of EPS) {
      // Answers "<ip> <line>" once the client half-closes (proves the FIN came through), then closes.
      const s = net.createServer({ allowHalfOpen: true }, (c) => {
        let got = '';
        c.setEncoding('utf8').on('data', (d: string) => (got += d));
        c.on('end', () => c.end(`${ip} ${got.trim()}`));
        c.on('error', () => undefined);
      });
      await new Promise<void>((r) => s.listen(epPort, ip, () => r()));
      servers.push(s);
      const u = dgram.createSocket('udp4');
      u.on('message', (m, r) => u.send(`${ip} ${m.toString()}`, r.port, r.address));
      await new Promise<void>((r) => u.bind(epPort, ip, () => r()));
      udp.push(u);
    }
    backend = new UserspaceBackend({ prefix: 'SKtest', redirect: false, bindAddress: '127.0.0.1', udpIdleTimeoutMs: 300, dialTimeoutMs: 500 });
  });

  after(async () => {
    await backend.remove();
    for (const s of servers) s.close();
    for (const u of udp) u.close();
  });

  const sync = async (s: Service, slices: EndpointSlice[]) => {
    const all = ports(s, slices).map((sp) => backend.render(sp));
    await backend.apply(all, undefined);
  };

  it('a NodePort opens with endpoints, balances round robin over the ready ones, closes without endpoints and with its Service', async () => {
    const nodePort = await freePort();
    const service = svc('web', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort }] });
    const eps = (list: Array<{ ip: string; ready?: boolean }>) => [slice('web', list, [{ name: 'http', port: epPort, protocol: 'TCP' }])];
    await sync(service, eps([{ ip: EPS[0]! }, { ip: EPS[1]! }, { ip: EPS[2]!, ready: false }]));
    assert.equal(backend.listeners().get('ns/web:http/TCP')?.external, nodePort);
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await ask(nodePort, `r${i}`));
    assert.deepEqual(answers, ['127.0.0.2 r0', '127.0.0.3 r1', '127.0.0.2 r2', '127.0.0.3 r3', '127.0.0.2 r4', '127.0.0.3 r5'], 'round robin, the unready endpoint left out');

    await sync(service, eps([]));
    assert.equal(backend.listeners().get('ns/web:http/TCP')?.external, undefined);
    await assert.rejects(ask(nodePort), (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED', 'no endpoints: refused');

    await sync(service, eps([{ ip: EPS[2]! }]));
    assert.equal(await ask(nodePort, 'back'), '127.0.0.4 back');

    await backend.apply([], undefined);
    assert.equal(backend.listeners().size, 0);
    await assert.rejects(ask(nodePort), (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED', 'Service deleted: nothing listens');
  });

  it('switching endpoints keeps an established connection; new connections go to the new endpoint', async () => {
    const nodePort = await freePort();
    const service = svc('sw', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort }] });
    const eps = (ip: string) => [slice('sw', [{ ip }], [{ name: 'http', port: epPort, protocol: 'TCP' }])];
    await sync(service, eps(EPS[0]!));
    const c = net.connect({ host: '127.0.0.1', port: nodePort });
    await new Promise((r) => c.once('connect', r));
    c.write('first part ');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(backend.listeners().get('ns/sw:http/TCP')?.active, 2, 'client and upstream sockets open');
    await sync(service, eps(EPS[1]!));
    assert.equal(backend.listeners().get('ns/sw:http/TCP')?.external, nodePort, 'the same listener');
    const answer = new Promise<string>((resolve) => {
      let out = '';
      c.setEncoding('utf8').on('data', (d: string) => (out += d));
      c.on('end', () => resolve(out));
    });
    c.end('second part');
    assert.equal(await answer, '127.0.0.2 first part second part', 'the established connection finished on its endpoint');
    assert.equal(await ask(nodePort, 'new'), '127.0.0.3 new');
    await backend.apply([], undefined);
  });

  it('sessionAffinity ClientIP keeps one client on one endpoint; a dead endpoint is skipped', async () => {
    const nodePort = await freePort();
    const sticky = svc('sticky', { type: 'NodePort', sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 30 } }, ports: [{ name: 'http', port: 80, nodePort }] });
    await sync(sticky, [slice('sticky', [{ ip: EPS[0]! }, { ip: EPS[1]! }, { ip: EPS[2]! }], [{ name: 'http', port: epPort, protocol: 'TCP' }])]);
    const answers = new Set<string>();
    for (let i = 0; i < 8; i++) answers.add((await ask(nodePort, 'x')).split(' ')[0]!);
    assert.equal(answers.size, 1, `one endpoint: ${[...answers].join(', ')}`);

    // 127.0.0.5 has nothing listening: the relay moves on to the next endpoint instead of failing the client.
    const deadPort = await freePort();
    const dead = svc('dead', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: deadPort }] });
    await sync(dead, [slice('dead', [{ ip: EPS[0]! }, { ip: '127.0.0.5' }], [{ name: 'http', port: epPort, protocol: 'TCP' }])]);
    for (let i = 0; i < 4; i++) assert.equal(await ask(deadPort, `d${i}`), `127.0.0.2 d${i}`);
    await backend.apply([], undefined);
  });

  it('externalTrafficPolicy Local: the NodePort relays to this node\'s endpoints only, and is closed when it has none', async () => {
    const nodePort = await freePort();
    const local = svc('loc', { type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, nodePort }] });
    const eps = (list: Array<{ ip: string; node?: string }>) => [slice('loc', list, [{ name: 'http', port: epPort, protocol: 'TCP' }])];
    await sync(local, eps([{ ip: EPS[0]!, node: 'node-b' }, { ip: EPS[1]! }, { ip: EPS[2]!, node: 'node-b' }]));
    for (let i = 0; i < 4; i++) assert.equal(await ask(nodePort, `l${i}`), `127.0.0.3 l${i}`);
    await sync(local, eps([{ ip: EPS[0]!, node: 'node-b' }]));
    await assert.rejects(ask(nodePort), (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED', 'no local endpoint: refused');
    await backend.apply([], undefined);
  });

  it('backpressure: a client that does not read stalls the endpoint\'s writes (the relay buffers little); all bytes arrive after', async () => {
    const TOTAL = 64 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 7);
    let flushed = 0;
    // Writes TOTAL bytes as fast as the connection takes them, counting what the kernel accepted.
    const big = net.createServer((c) => {
      c.on('error', () => undefined);
      const pump = () => {
        while (flushed < TOTAL) {
          flushed += chunk.length;
          if (!c.write(chunk)) return void c.once('drain', pump);
        }
        c.end();
      };
      pump();
    });
    const bigPort = await freePort();
    await new Promise<void>((r) => big.listen(bigPort, EPS[1]!, () => r()));
    const nodePort = await freePort();
    await sync(svc('big', { type: 'NodePort', ports: [{ name: 'data', port: 80, nodePort }] }), [slice('big', [{ ip: EPS[1]! }], [{ name: 'data', port: bigPort, protocol: 'TCP' }])]);
    try {
      const c = net.connect({ host: '127.0.0.1', port: nodePort });
      c.pause();
      await new Promise((r) => c.once('connect', r));
      await new Promise((r) => setTimeout(r, 800));
      const whilePaused = flushed;
      assert.ok(whilePaused < TOTAL / 2, `the endpoint wrote ${whilePaused} of ${TOTAL} bytes while the client read nothing`);
      let received = 0;
      c.on('data', (d: Buffer) => (received += d.length));
      c.resume();
      await new Promise((r) => c.once('end', r));
      c.destroy();
      assert.equal(received, TOTAL);
    } finally {
      big.close();
      await backend.apply([], undefined);
    }
  });

  it('UDP: one session per client address, replies to the asker, moved off an endpoint that leaves, ended after the idle timeout', async () => {
    const nodePort = await freePort();
    const dns = svc('dns', { type: 'NodePort', ports: [{ name: 'dns', port: 53, protocol: 'UDP', nodePort }] });
    await sync(dns, [slice('dns', [{ ip: EPS[0]! }, { ip: EPS[1]! }], [{ name: 'dns', port: epPort, protocol: 'UDP' }])]);
    const clients = [dgram.createSocket('udp4'), dgram.createSocket('udp4')];
    try {
      const query = (c: dgram.Socket, text: string) =>
        new Promise<string>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('no UDP answer')), 2000);
          c.once('message', (m) => {
            clearTimeout(t);
            resolve(m.toString());
          });
          c.send(text, nodePort, '127.0.0.1');
        });
      const a1 = await query(clients[0]!, 'q1');
      const a2 = await query(clients[0]!, 'q2');
      const b1 = await query(clients[1]!, 'q3');
      assert.equal(a1.split(' ')[0], a2.split(' ')[0], 'one client address stays with its endpoint');
      assert.notEqual(a1.split(' ')[0], b1.split(' ')[0], 'the next client gets the next endpoint');
      assert.equal(a2.split(' ')[1], 'q2');
      assert.equal(backend.listeners().get('ns/dns:dns/UDP')?.active, 2);
      // The first client's endpoint leaves: its next datagram (same source port) goes to the one left.
      const gone = a1.split(' ')[0]!;
      const left = EPS.slice(0, 2).find((ip) => ip !== gone)!;
      await sync(dns, [slice('dns', [{ ip: left }], [{ name: 'dns', port: epPort, protocol: 'UDP' }])]);
      assert.equal(await query(clients[0]!, 'q4'), `${left} q4`);
      await new Promise((r) => setTimeout(r, 700));
      assert.equal(backend.listeners().get('ns/dns:dns/UDP')?.active, 0, 'sessions ended after 300 ms idle');
    } finally {
      for (const c of clients) c.close();
    }
    await backend.remove();
    assert.equal(backend.listeners().size, 0);
  });

  it('renders REDIRECT portals for ports with listeners and a REJECT for those without', () => {
    const [web] = servicePortsOf(svc('web', { externalIPs: ['192.0.2.10'] }), [slice('web', [{ ip: '10.71.0.2' }])], NODE);
    const [empty] = servicePortsOf(svc('empty', { clusterIP: '10.81.0.11', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] }), [], NODE);
    const text = renderPortals('SK1234', [
      { sp: web!, internalPort: 40001, externalPort: 40002 },
      { sp: empty!, internalPort: undefined, externalPort: undefined },
    ]);
    assert.equal(
      text,
      [
        '*nat',
        ':SK1234-PORTALS-CONTAINER - [0:0]',
        ':SK1234-PORTALS-HOST - [0:0]',
        '-A SK1234-PORTALS-CONTAINER -d 10.81.0.10/32 -p tcp -m tcp --dport 80 -m comment --comment "ns/web:http cluster IP" -j REDIRECT --to-ports 40001',
        '-A SK1234-PORTALS-HOST -d 10.81.0.10/32 -p tcp -m tcp --dport 80 -m comment --comment "ns/web:http cluster IP" -j REDIRECT --to-ports 40001',
        '-A SK1234-PORTALS-CONTAINER -d 192.0.2.10/32 -p tcp -m tcp --dport 80 -m comment --comment "ns/web:http external IP" -j REDIRECT --to-ports 40002',
        '-A SK1234-PORTALS-HOST -d 192.0.2.10/32 -p tcp -m tcp --dport 80 -m comment --comment "ns/web:http external IP" -j REDIRECT --to-ports 40002',
        'COMMIT',
        '*filter',
        ':SK1234-PORTALS-REJECT - [0:0]',
        '-A SK1234-PORTALS-REJECT -d 10.81.0.11/32 -p udp -m udp --dport 53 -m comment --comment "ns/empty:dns has no endpoints" -j REJECT',
        'COMMIT',
        '',
      ].join('\n'),
    );
  });
});
