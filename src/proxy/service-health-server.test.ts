/**
 * ServiceHealthServer on real sockets (127.0.0.1): a health check port answers 200 with local endpoints and 503
 * without, in kube-proxy's body and headers; 503 while the proxy is unhealthy; listeners follow the Services (closed
 * when a Service goes, moved with its port); a port another process holds is retried at the next sync. And the pure
 * parts: which Services get a port, and how local endpoints are counted.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { NODE, slice, svc } from './golden-cases.js';
import { countLocalReadyEndpoints, healthCheckPortOf, ServiceHealthServer } from './service-health-server.js';
import { servicePortsOf } from './service-model.js';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function get(port: number, path = '/'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

/** A port nothing listens on now (the kernel's pick, released). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const refused = (port: number) => get(port).then(
  (a) => assert.fail(`port ${port} answered ${a.status}`),
  (err: NodeJS.ErrnoException) => assert.equal(err.code, 'ECONNREFUSED'),
);

describe('ServiceHealthServer', () => {
  const hs = new ServiceHealthServer({ bindAddress: '127.0.0.1' });
  after(() => hs.close());

  it('answers 200 with local endpoints and 503 without, in kube-proxy\'s shape', async () => {
    const port = await freePort();
    await hs.sync(new Map([['shop/web', { port, localEndpoints: 2 }]]));
    const ok = await get(port, '/healthz');
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['content-type'], 'application/json');
    assert.equal(ok.headers['x-content-type-options'], 'nosniff');
    assert.equal(ok.body, '{\n\t"service": {\n\t\t"namespace": "shop",\n\t\t"name": "web"\n\t},\n\t"localEndpoints": 2,\n\t"serviceProxyHealthy": true\n}');
    // Any path: load balancers ask for / or whatever they were configured with.
    assert.equal((await get(port, '/')).status, 200);

    await hs.sync(new Map([['shop/web', { port, localEndpoints: 0 }]]));
    const none = await get(port);
    assert.equal(none.status, 503);
    assert.deepEqual(JSON.parse(none.body), { service: { namespace: 'shop', name: 'web' }, localEndpoints: 0, serviceProxyHealthy: true });
    assert.equal(none.headers['x-content-type-options'], 'nosniff');

    await hs.sync(new Map([['shop/web', { port, localEndpoints: 1 }]]));
    assert.equal((await get(port)).status, 200, 'the same listener answers the new count');
    hs.setProxyHealthy(false);
    const sick = await get(port);
    assert.equal(sick.status, 503, 'an unhealthy proxy fails every check');
    assert.deepEqual(JSON.parse(sick.body), { service: { namespace: 'shop', name: 'web' }, localEndpoints: 1, serviceProxyHealthy: false });
    hs.setProxyHealthy(true);

    await hs.sync(new Map());
    await refused(port);
    assert.equal(hs.ports.size, 0);
  });

  it('follows a Service to a new port, and opens a held port once it is free', async () => {
    const [a, b] = [await freePort(), await freePort()];
    await hs.sync(new Map([['ns/one', { port: a, localEndpoints: 1 }]]));
    assert.equal((await get(a)).status, 200);
    await hs.sync(new Map([['ns/one', { port: b, localEndpoints: 1 }]]));
    await refused(a);
    assert.equal((await get(b)).status, 200);

    // Another process holds the port of a second Service: the first keeps answering, the second is tried again.
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(a, '127.0.0.1', r));
    const both = new Map([
      ['ns/one', { port: b, localEndpoints: 1 }],
      ['ns/two', { port: a, localEndpoints: 3 }],
    ]);
    await hs.sync(both);
    assert.deepEqual([...hs.ports], [['ns/one', b]]);
    await new Promise<void>((r) => holder.close(() => r()));
    await hs.sync(both);
    assert.deepEqual(JSON.parse((await get(a)).body).localEndpoints, 3);
    assert.equal(JSON.parse((await get(a)).body).service.name, 'two');

    await hs.close();
    await refused(a);
    await refused(b);
  });
});

describe('health check targets', () => {
  it('only LoadBalancer Services with externalTrafficPolicy Local and an allocated port get one', () => {
    const ports = [{ name: 'http', port: 80, nodePort: 31100 }];
    assert.equal(healthCheckPortOf(svc('a', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 31999, ports })), 31999);
    assert.equal(healthCheckPortOf(svc('b', { type: 'LoadBalancer', externalTrafficPolicy: 'Cluster', healthCheckNodePort: 31999, ports })), undefined);
    assert.equal(healthCheckPortOf(svc('c', { type: 'NodePort', externalTrafficPolicy: 'Local', healthCheckNodePort: 31999, ports })), undefined);
    assert.equal(healthCheckPortOf(svc('d', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports })), undefined);
  });

  it('counts this node\'s ready endpoints once per IP across the ports; terminating and other nodes\' do not count', () => {
    const s = svc('web', {
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Local',
      healthCheckNodePort: 31999,
      ports: [
        { name: 'http', port: 80, nodePort: 31100 },
        { name: 'https', port: 443, nodePort: 31101 },
      ],
    });
    const eps = [{ ip: '10.71.0.2' }, { ip: '10.71.0.3', ready: false, serving: true, terminating: true }, { ip: '10.71.0.4', ready: false }, { ip: '10.71.1.4', node: 'node-b' }];
    const slices = [
      slice('web', eps, [
        { name: 'http', port: 8080, protocol: 'TCP' },
        { name: 'https', port: 8443, protocol: 'TCP' },
      ]),
    ];
    assert.equal(countLocalReadyEndpoints(servicePortsOf(s, slices, NODE)), 1);
    assert.equal(countLocalReadyEndpoints(servicePortsOf(s, slices, 'node-b')), 1);
    assert.equal(countLocalReadyEndpoints(servicePortsOf(s, slices, 'node-c')), 0);
    assert.equal(countLocalReadyEndpoints(servicePortsOf(s, [slice('web', [{ ip: '10.71.0.2' }, { ip: '10.71.0.5' }], [{ name: 'http', port: 8080, protocol: 'TCP' }])], NODE)), 2);
  });
});
