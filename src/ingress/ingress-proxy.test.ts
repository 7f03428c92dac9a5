/** IngressProxy on real loopback sockets: backends are node http servers on 127.0.0.1:0. */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { Ingress } from 'kubernetes-types/networking/v1.js';
import { computeRouteTable, type RouteInputs } from './compute-routes.js';
import { createDefaultCertificate, DEFAULT_CERTIFICATE_CN } from './default-certificate.js';
import { IngressProxy } from './ingress-proxy.js';

function backend(name: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.url === '/upload') {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => res.end(`${name} got ${n}`));
      return;
    }
    if (req.url === '/big') {
      // 16 MiB in 64 KiB writes that respect backpressure, so a slow client slows this producer.
      let left = 256;
      const chunk = Buffer.alloc(64 << 10, 1);
      const pump = () => {
        while (left > 0) {
          left--;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      return pump();
    }
    if (req.url === '/cookies') {
      // Repeated headers and hop-by-hop ones, as a backend may send them.
      res.setHeader('Set-Cookie', ['a=1', 'b=2']);
      res.setHeader('X-Custom', 'Mixed Case');
      res.setHeader('Keep-Alive', 'timeout=5');
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ name, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders, remotePort: req.socket.remotePort }));
  });
  server.on('upgrade', (req, socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: Upgrade\r\n\r\n');
    socket.write(`hello from ${name}\n`);
    socket.pipe(socket);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}
const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;

function selfSigned(dir: string, cn: string, keyType: 'ec' | 'rsa' = 'ec'): { cert: string; key: string } {
  const newkey = keyType === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
  execFileSync('openssl', ['req', '-x509', ...newkey, '-nodes', '-keyout', join(dir, `${cn}.key`), '-out', join(dir, `${cn}.crt`), '-subj', `/CN=${cn}`, '-days', '2', '-addext', `subjectAltName=DNS:${cn}`], { stdio: 'ignore' });
  return { cert: readFileSync(join(dir, `${cn}.crt`), 'utf8'), key: readFileSync(join(dir, `${cn}.key`), 'utf8') };
}

function request(port: number, host: string, path: string, agent?: http.Agent, body?: Buffer): Promise<{ status: number; body: string; socketPort: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: body ? 'POST' : 'GET', headers: { host }, agent: agent ?? false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, socketPort: req.socket?.localPort ?? 0 }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function peerCN(port: number, servername: string, opts: tls.ConnectionOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, ...opts }, () => {
      const cn = s.getPeerCertificate().subject?.CN;
      s.end();
      resolve(Array.isArray(cn) ? cn[0]! : (cn ?? ''));
    });
    s.on('error', reject);
  });
}

describe('IngressProxy', () => {
  let a: http.Server;
  let b: http.Server;
  let proxy: IngressProxy;
  let dir: string;
  let secureCert: { cert: string; key: string };
  let rsaCert: { cert: string; key: string };

  const inputs = (aPort: number, routeBetaTo = 'b'): RouteInputs => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const ing: Ingress = {
      metadata: { namespace: 'ns', name: 'i' },
      spec: {
        tls: [
          { hosts: ['secure.test'], secretName: 'secure' },
          { hosts: ['rsa.test'], secretName: 'rsa' },
        ],
        rules: [
          { host: 'alpha.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'a', port: { number: 80 } } } }, { path: '/none', pathType: 'Prefix', backend: { service: { name: 'none', port: { number: 80 } } } }] } },
          { host: 'beta.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: routeBetaTo, port: { number: 80 } } } }] } },
          { host: 'secure.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'a', port: { number: 80 } } } }] } },
          { host: 'rsa.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'a', port: { number: 80 } } } }] } },
        ],
      },
    };
    const svc = (name: string) => ({ metadata: { namespace: 'ns', name }, spec: { ports: [{ port: 80, protocol: 'TCP' }] } });
    const slice = (name: string, port: number) => ({ addressType: 'IPv4', metadata: { namespace: 'ns', name, labels: { 'kubernetes.io/service-name': name } }, ports: [{ name: '', port, protocol: 'TCP' }], endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }] });
    return {
      ingresses: [ing],
      classes: [{ metadata: { name: 'skiff', annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } }, spec: { controller: 'skiff.dev/ingress' } }],
      services: [svc('a'), svc('b'), svc('none')],
      endpointSlices: [slice('a', aPort), slice('b', portOf(b))],
      secrets: [
        { metadata: { namespace: 'ns', name: 'secure' }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64(secureCert.cert), 'tls.key': b64(secureCert.key) } },
        { metadata: { namespace: 'ns', name: 'rsa' }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64(rsaCert.cert), 'tls.key': b64(rsaCert.key) } },
      ],
    };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-ingress-proxy-'));
    secureCert = selfSigned(dir, 'secure.test');
    rsaCert = selfSigned(dir, 'rsa.test', 'rsa');
    a = await backend('alpha');
    b = await backend('beta');
    proxy = new IngressProxy({ bindAddress: '127.0.0.1', httpPort: 0, httpsPort: 0, defaultCertificate: await createDefaultCertificate() });
    await proxy.listen();
    proxy.setTable(computeRouteTable(inputs(portOf(a))));
  });
  after(async () => {
    await proxy.close();
    a.close();
    b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("forwards headers as sent, appends to the client's X-Forwarded-For, replaces its other X-Forwarded-*, drops hop-by-hop ones both ways", async () => {
    const got = await new Promise<{ headers: http.IncomingHttpHeaders; rawHeaders: string[]; body: any }>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: proxy.httpPort,
          path: '/cookies',
          agent: false,
          headers: [
            'Host', 'alpha.test', 'X-Forwarded-For', '10.0.0.1', 'x-forwarded-for', '10.0.0.2', 'X-Forwarded-Proto', 'gopher', 'X-Real-Ip', '6.6.6.6',
            'Accept', 'a/b', 'Accept', 'c/d', 'TE', 'trailers', 'Proxy-Authorization', 'Basic eA==', 'X-Case', 'Kept',
          ],
        },
        (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ headers: res.headers, rawHeaders: res.rawHeaders, body: JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    const seen = got.body.headers;
    assert.equal(seen['x-forwarded-for'], '10.0.0.1, 10.0.0.2, 127.0.0.1');
    assert.equal(seen['x-forwarded-proto'], 'http');
    assert.equal(seen['x-real-ip'], '127.0.0.1');
    assert.equal(seen['x-forwarded-host'], 'alpha.test');
    assert.equal(seen.accept, 'a/b, c/d');
    assert.equal(seen.te, undefined);
    assert.equal(seen['proxy-authorization'], undefined);
    assert.ok(got.body.rawHeaders.includes('X-Case'), 'header names keep their case');
    assert.deepEqual(got.headers['set-cookie'], ['a=1', 'b=2']);
    assert.equal(got.headers['x-custom'], 'Mixed Case');
    assert.equal(got.headers['keep-alive'], undefined, "the backend's Keep-Alive is its connection's, not the client's");
  });

  it('routes by host, adds X-Forwarded headers, answers 404 and 503 with a body', async () => {
    const r = await request(proxy.httpPort, 'alpha.test', '/x?y=1');
    assert.equal(r.status, 200);
    const body = JSON.parse(r.body);
    assert.equal(body.name, 'alpha');
    assert.equal(body.url, '/x?y=1');
    assert.equal(body.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(body.headers['x-forwarded-proto'], 'http');
    assert.equal(body.headers['x-forwarded-host'], 'alpha.test');
    assert.equal(body.headers.host, 'alpha.test');
    assert.equal(JSON.parse((await request(proxy.httpPort, 'beta.test:8080', '/')).body).name, 'beta');
    const none = await request(proxy.httpPort, 'alpha.test', '/none');
    assert.equal(none.status, 503);
    assert.match(none.body, /no ready endpoints for Service ns\/none port 80/);
    const nowhere = await request(proxy.httpPort, 'nowhere.test', '/');
    assert.equal(nowhere.status, 404);
  });

  it('HTTPS: the Secret certificate by SNI, the default one otherwise; X-Forwarded-Proto https', async () => {
    assert.equal(await peerCN(proxy.httpsPort, 'secure.test'), 'secure.test');
    assert.equal(await peerCN(proxy.httpsPort, 'other.test'), DEFAULT_CERTIFICATE_CN);
    // Not execFileSync: the proxy runs in this process and must keep answering.
    const { stdout: out } = await promisify(execFile)('curl', ['-sk', '--resolve', `secure.test:${proxy.httpsPort}:127.0.0.1`, `https://secure.test:${proxy.httpsPort}/s`], { encoding: 'utf8' });
    assert.equal(JSON.parse(out).headers['x-forwarded-proto'], 'https');
  });

  it("HTTPS: a Secret's certificate whatever its key type and the client's preference; the default without a name; plain HTTP is closed", async () => {
    // An RSA Secret behind the EC default certificate, for clients that prefer ECDSA (Node, curl, browsers) ...
    assert.equal(await peerCN(proxy.httpsPort, 'rsa.test'), 'rsa.test');
    assert.equal(await peerCN(proxy.httpsPort, 'rsa.test', { maxVersion: 'TLSv1.2' }), 'rsa.test');
    const stdout = await new Promise<string>((resolve, reject) => {
      const c = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${proxy.httpsPort}`, '-servername', 'rsa.test'], { encoding: 'utf8', timeout: 20_000 }, (err, out) => (err && !out ? reject(err) : resolve(out)));
      c.stdin?.end();
    });
    assert.match(stdout, /subject=CN ?= ?rsa\.test/);
    // ... and an EC Secret for a client that prefers RSA-PSS (Go's order).
    assert.equal(await peerCN(proxy.httpsPort, 'secure.test', { sigalgs: 'rsa_pss_rsae_sha256:ecdsa_secp256r1_sha256:rsa_pkcs1_sha256' }), 'secure.test');
    assert.equal(await peerCN(proxy.httpsPort, 'RSA.Test'), 'rsa.test', 'names are case-insensitive');
    assert.equal(await peerCN(proxy.httpsPort, ''), DEFAULT_CERTIFICATE_CN);
    const plain = await new Promise<string>((resolve) => {
      const c = net.connect(proxy.httpsPort, '127.0.0.1', () => c.write('GET / HTTP/1.1\r\nHost: rsa.test\r\n\r\n'));
      let got = '';
      c.on('data', (d: Buffer) => (got += d.toString('latin1')));
      c.on('error', () => {});
      c.on('close', () => resolve(got));
    });
    assert.ok(!plain.includes('200'), 'plain HTTP to the TLS port is not served');
  });

  it('streams a large upload to the backend and its answer back', async () => {
    const r = await request(proxy.httpPort, 'alpha.test', '/upload', undefined, Buffer.alloc(8 << 20, 7));
    assert.equal(r.body, `alpha got ${8 << 20}`);
  });

  it('streams a large response to a slow client', async () => {
    const total = await new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: proxy.httpPort, path: '/big', headers: { host: 'alpha.test' }, agent: false }, (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => {
          n += c.length;
          // Read slowly at first: the proxy must pause the backend rather than buffer everything.
          if (n < 1 << 20) {
            res.pause();
            setTimeout(() => res.resume(), 2);
          }
        });
        res.on('end', () => resolve(n));
        res.on('error', reject);
      }).on('error', reject);
    });
    assert.equal(total, 16 << 20);
  });

  it('a table swap reroutes the next request on a kept-alive client connection, which stays open', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const first = await request(proxy.httpPort, 'beta.test', '/', agent);
    assert.equal(JSON.parse(first.body).name, 'beta');
    proxy.setTable(computeRouteTable(inputs(portOf(a), 'a')));
    const second = await request(proxy.httpPort, 'beta.test', '/', agent);
    assert.equal(JSON.parse(second.body).name, 'alpha');
    assert.equal(second.socketPort, first.socketPort, 'the same client connection');
    agent.destroy();
    proxy.setTable(computeRouteTable(inputs(portOf(a))));
  });

  it('keeps backend connections alive across requests', async () => {
    const ports = new Set<number>();
    for (let i = 0; i < 5; i++) ports.add(JSON.parse((await request(proxy.httpPort, 'alpha.test', '/')).body).remotePort);
    assert.equal(ports.size, 1, `one backend connection, saw ${[...ports].join(', ')}`);
  });

  it('passes an Upgrade through as a two-way stream', async () => {
    const s = net.connect(proxy.httpPort, '127.0.0.1');
    s.write('GET /ws HTTP/1.1\r\nhost: alpha.test\r\nconnection: Upgrade\r\nupgrade: echo\r\n\r\n');
    let got = '';
    s.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      s.on('data', (c: string) => {
        got += c;
        if (got.includes('hello from alpha\n') && !got.includes('ping')) s.write('ping\n');
        if (got.includes('ping\n')) resolve();
      });
      s.on('error', reject);
      setTimeout(() => reject(new Error(`no echo; got ${JSON.stringify(got)}`)), 3000);
    });
    s.destroy();
    assert.match(got, /^HTTP\/1.1 101/);
  });

  it('answers 502 with the reason when the endpoint refuses', async () => {
    const dead = await backend('dead');
    const port = portOf(dead);
    await new Promise((r) => dead.close(r));
    proxy.setTable(computeRouteTable(inputs(port)));
    const r = await request(proxy.httpPort, 'alpha.test', '/');
    assert.equal(r.status, 502);
    assert.match(r.body, /ECONNREFUSED/);
    proxy.setTable(computeRouteTable(inputs(portOf(a))));
  });
});
