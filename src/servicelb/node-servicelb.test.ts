/** NodeServiceLB on real loopback sockets: TCP and UDP forwarding to ready endpoints, the port report on the Node. */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Node, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { KubeObject } from '../api/object.js';
import { EndpointSlices, Nodes, Services } from '../client/resources.js';
import { FakeClient } from '../client/testing/fake-client.js';
import { FakeInformerFactory } from '../client/testing/fake-informer-factory.js';
import { SERVICELB_FINALIZER, SERVICELB_PORTS_ANNOTATION } from './compute-servicelb.js';
import { NodeServiceLB } from './node-servicelb.js';

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });

async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('NodeServiceLB', () => {
  const client = new FakeClient();
  const informers = new FakeInformerFactory();
  let lb: NodeServiceLB;
  let tcpBackend: net.Server;
  let udpBackend: dgram.Socket;
  let blocker: net.Server;
  let tcpPort: number;
  let udpPort: number;
  let takenPort: number;

  const node: Node & KubeObject = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' }, status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }] } };
  const report = () => JSON.parse(client.peek<Node & KubeObject>(Nodes, '', 'n1')?.metadata.annotations?.[SERVICELB_PORTS_ANNOTATION] ?? '{}');

  before(async () => {
    tcpBackend = net.createServer((s) => s.end('tcp backend\n')).listen(0, '127.0.0.1');
    await new Promise((r) => tcpBackend.once('listening', r));
    udpBackend = dgram.createSocket('udp4');
    udpBackend.on('message', (m, r) => udpBackend.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
    await new Promise<void>((r) => udpBackend.bind(0, '127.0.0.1', () => r()));
    [tcpPort, udpPort, takenPort] = [await freePort(), await freePort(), await freePort()];
    blocker = net.createServer().listen(takenPort, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));

    client.seed(Nodes, node);
    informers.informerFor<Node & KubeObject>(Nodes).add(node);
    const svc: Service & KubeObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { namespace: 'ns', name: 'lb', finalizers: [SERVICELB_FINALIZER] },
      spec: { type: 'LoadBalancer', ports: [{ name: 'web', port: tcpPort, protocol: 'TCP' }, { name: 'dns', port: udpPort, protocol: 'UDP' }, { name: 'taken', port: takenPort, protocol: 'TCP' }] },
    };
    informers.informerFor<Service & KubeObject>(Services).add(svc);
    const slice: EndpointSlice & KubeObject = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      addressType: 'IPv4',
      metadata: { namespace: 'ns', name: 'lb-1', labels: { 'kubernetes.io/service-name': 'lb' } },
      ports: [
        { name: 'web', port: (tcpBackend.address() as net.AddressInfo).port, protocol: 'TCP' },
        { name: 'dns', port: udpBackend.address().port, protocol: 'UDP' },
      ],
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }, { addresses: ['127.0.0.2'], conditions: { ready: false } }],
    };
    informers.informerFor<EndpointSlice & KubeObject>(EndpointSlices).add(slice);
    lb = new NodeServiceLB({ client, informers, nodeName: 'n1', nodeIP: () => '127.0.0.1', coalesceMs: 1, retryMs: 200 });
    lb.start();
  });

  after(async () => {
    await lb.stop();
    tcpBackend.close();
    udpBackend.close();
    blocker.close();
  });

  it('reports on the Node which ports listen and which are taken', async () => {
    const r = await until('the port report', () => report()['ns/lb']);
    assert.equal(r[`${tcpPort}/TCP`], 'ok');
    assert.equal(r[`${udpPort}/UDP`], 'ok');
    assert.equal(r[`${takenPort}/TCP`], `127.0.0.1:${takenPort} is already in use`);
  });

  it('forwards TCP to a ready endpoint', async () => {
    const text = await new Promise<string>((resolve, reject) => {
      let got = '';
      net.connect(tcpPort, '127.0.0.1').on('data', (c) => (got += c)).on('end', () => resolve(got)).on('error', reject);
    });
    assert.equal(text, 'tcp backend\n');
  });

  it('forwards UDP datagrams and their replies', async () => {
    const sock = dgram.createSocket('udp4');
    const reply = new Promise<string>((resolve) => sock.once('message', (m) => resolve(m.toString())));
    sock.send('ping', udpPort, '127.0.0.1');
    assert.equal(await reply, 'echo:ping');
    sock.close();
  });

  it('takes a port once it frees, and closes every port when the claim goes', async () => {
    await new Promise((r) => blocker.close(r));
    await until('the freed port listening', () => report()['ns/lb']?.[`${takenPort}/TCP`] === 'ok');
    const svcs = informers.informerFor<Service & KubeObject>(Services);
    const svc = svcs.lister.get('ns', 'lb')!;
    svcs.update({ ...svc, metadata: { ...svc.metadata, finalizers: [] } });
    await until('the report cleared', () => Object.keys(report()).length === 0);
    await assert.rejects(
      new Promise((resolve, reject) => net.connect(tcpPort, '127.0.0.1').on('connect', resolve).on('error', reject)),
      /ECONNREFUSED/,
    );
  });
});
