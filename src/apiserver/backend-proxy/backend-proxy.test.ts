/**
 * pods/proxy and services/proxy through a bare API server to a real HTTP backend. Pod IPs must be global unicast
 * (upstream refuses loopback), so the backend listens on this machine's first non-loopback IPv4 address; the test
 * skips when there is none.
 */
import assert from 'node:assert/strict';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { networkInterfaces } from 'node:os';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { AuthorizationAttributes, Authorizer } from '../auth/authorizer.js';
import { startBareApiServer, type BareApiServer } from '../../../test/helpers/api-server.js';
import { BackendProxy } from './backend-proxy.js';

const hostIP = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

const seen: AuthorizationAttributes[] = [];
const authorizer: Authorizer = {
  authorize(attrs) {
    seen.push(attrs);
    return { decision: 'allow' };
  },
};

describe('pods/proxy and services/proxy to a real backend', { skip: hostIP ? false : 'no non-loopback IPv4 address on this machine' }, () => {
  let s: BareApiServer;
  let backend: http.Server;
  let port = 0;
  let last: Seen | undefined;
  /** Requests to /hold wait here until the test lets them go on. */
  let release: (() => void) | undefined;
  const proxy = new BackendProxy({
    listEndpointSlices: async (ns, svc) => (await s.send('GET', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices?labelSelector=kubernetes.io/service-name=${svc}`)).json.items,
    getPod: async (ns, name) => {
      const r = await s.send('GET', `/api/v1/namespaces/${ns}/pods/${name}`);
      return r.status === 200 ? r.json : undefined;
    },
    dialTimeoutMs: 700,
    responseTimeoutMs: 1500,
  });

  /** An HTTPS request to the API server with the admin certificate, with headers of the test's choosing. */
  const request = (method: string, path: string, opts: { headers?: Record<string, string>; body?: string } = {}) =>
    new Promise<{ status: number; headers: IncomingMessage['headers']; text: string }>((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: s.api.port, method, path, ca: s.pki.caCertPem, cert: s.pki.adminCertPem, key: s.pki.adminKeyPem, agent: false, headers: { ...opts.headers, ...(opts.body !== undefined ? { 'Content-Length': String(Buffer.byteLength(opts.body)) } : {}) } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      });
      req.on('error', reject);
      req.end(opts.body);
    });
  const podPath = (name: string, rest = '') => `/api/v1/namespaces/default/pods/${name}/proxy${rest}`;

  before(async () => {
    backend = http.createServer((req, res) => {
      if (req.url === '/stream-in') {
        // Answers each piece of the body as it comes: only a proxy that streams the request lets this finish.
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        req.on('data', (c: Buffer) => res.write(`got ${c.toString()};`));
        req.on('end', () => res.end('end'));
        return;
      }
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        last = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
        if (req.url === '/redirect') {
          res.writeHead(302, { Location: '/login?next=/' });
          res.end();
        } else if (req.url === '/missing') {
          res.writeHead(404, { 'Content-Type': 'text/plain' });
          res.end('no such page');
        } else if (req.url === '/page' || req.url === '/page.gz') {
          const html = Buffer.from('<html><a href="/next">next</a><img src="rel.png"></html>');
          const gz = req.url === '/page.gz';
          const body = gz ? gzipSync(html) : html;
          res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': body.length, ...(gz ? { 'Content-Encoding': 'gzip' } : {}) });
          res.end(body);
        } else if (req.url === '/slow') {
          // never answers
        } else if (req.url === '/hold') {
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          res.write('first\n');
          release = () => res.end('second\n');
        } else {
          res.writeHead(200, { 'Content-Type': 'application/json', 'X-Backend': 'yes', 'Access-Control-Allow-Origin': '*', Connection: 'keep-alive, X-Private', 'X-Private': 'hop' });
          res.end(JSON.stringify({ method: req.method, url: req.url, body }));
        }
      });
    });
    // A tiny upgrade echo: 101, then every byte back.
    backend.on('upgrade', (req: IncomingMessage, socket: Socket) => {
      if (req.headers.upgrade !== 'echo') {
        socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\nConnection: close\r\n\r\nnot an echo');
        return;
      }
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
      socket.pipe(socket);
    });
    await new Promise<void>((r) => backend.listen(0, hostIP, r));
    port = (backend.address() as { port: number }).port;
    s = await startBareApiServer({ server: { connectTargets: proxy.targets, authorizer } });
    const pod = (name: string, ip?: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, labels: { app: name } },
      spec: { nodeName: 'n1', containers: [{ name: 'app', image: 'x', ports: [{ name: 'http', containerPort: port }] }] },
      status: ip ? { podIP: ip, podIPs: [{ ip }] } : {},
    });
    for (const [name, ip] of [['web', hostIP], ['noip', undefined], ['gone', '192.0.2.250']] as const) {
      const created = await s.send('POST', '/api/v1/namespaces/default/pods', pod(name, ip));
      assert.equal(created.status, 201, created.text);
      if (ip) {
        const withStatus = { ...created.json, status: { podIP: ip, podIPs: [{ ip }] } };
        assert.equal((await s.send('PUT', `/api/v1/namespaces/default/pods/${name}/status`, withStatus)).status, 200);
      }
    }
    // The "gone" pod's address is on the test network but nobody has it: the dial times out.
    const svc = await s.send('POST', '/api/v1/namespaces/default/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: port }] } });
    assert.equal(svc.status, 201, svc.text);
    const slice = await s.send('POST', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices', {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'web-1', labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: [hostIP], conditions: { ready: true }, targetRef: { kind: 'Pod', namespace: 'default', name: 'web' } }],
      ports: [{ name: 'http', port, protocol: 'TCP' }],
    });
    assert.equal(slice.status, 201, slice.text);
  });

  after(async () => {
    proxy.close();
    await s?.stop();
    backend?.closeAllConnections();
    await new Promise((r) => backend?.close(r));
  });

  it('GET passes path, query and headers, not the credentials; status, headers and body come back', async () => {
    const r = await request('GET', podPath(`web:${port}`, '/echo/a?x=1&y=2'), { headers: { Authorization: 'Bearer secret', 'X-Custom': 'c', 'Impersonate-User': 'eve' } });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.text), { method: 'GET', url: '/echo/a?x=1&y=2', body: '' });
    assert.equal(r.headers['x-backend'], 'yes');
    assert.equal(r.headers['access-control-allow-origin'], undefined, 'CORS headers of the backend are dropped');
    assert.equal(r.headers['x-private'], undefined, 'headers listed in Connection are hop-by-hop');
    assert.equal(last!.headers.authorization, undefined);
    assert.equal(last!.headers['impersonate-user'], undefined);
    assert.equal(last!.headers['x-custom'], 'c');
    assert.equal(last!.headers['x-forwarded-uri'], `/api/v1/namespaces/default/pods/web:${port}/proxy/echo/a`);
    assert.equal(last!.headers['x-forwarded-for'], '127.0.0.1');
  });

  it('every proxied verb carries its body; HEAD answers without one', async () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
      const r = await request(method, podPath(`web:${port}`, '/echo'), { body: `payload-${method}`, headers: { 'Content-Type': 'text/plain' } });
      assert.equal(r.status, 200, `${method}: ${r.text}`);
      assert.deepEqual(JSON.parse(r.text), { method, url: '/echo', body: `payload-${method}` }, method);
    }
    const head = await request('HEAD', podPath(`web:${port}`, '/echo'));
    assert.deepEqual([head.status, head.text, last!.method], [200, '', 'HEAD']);
  });

  it('the name forms: a named container port, none (the first declared), percent-encoded as client libraries send them', async () => {
    for (const name of ['web:http', 'web', 'http:web:http', `web%3A${port}`]) {
      const r = await request('GET', podPath(name, '/echo%2Fencoded'));
      assert.equal(r.status, 200, name);
      assert.equal(JSON.parse(r.text).url, '/echo/encoded', name);
    }
  });

  it('an empty proxy path redirects to the one ending in a slash; a backend redirect is moved under the proxy path', async () => {
    const root = await request('GET', `${podPath(`web:${port}`)}?a=b`);
    assert.equal(root.status, 301);
    assert.equal(root.headers.location, `${podPath(`web:${port}`)}/?a=b`);
    const redirect = await request('GET', podPath(`web:${port}`, '/redirect'));
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.location, `/api/v1/namespaces/default/pods/web:${port}/proxy/login?next=/`);
  });

  it('links in an HTML page are moved under the proxy path, gzip-encoded pages too (proxy.Transport)', async () => {
    const want = `<html><a href="/api/v1/namespaces/default/pods/web:${port}/proxy/next">next</a><img src="rel.png"></html>`;
    const plain = await request('GET', podPath(`web:${port}`, '/page'));
    assert.deepEqual([plain.status, plain.text, plain.headers['content-length']], [200, want, undefined]);
    const zipped = await new Promise<Buffer>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port: s.api.port, path: podPath(`web:${port}`, '/page.gz'), ca: s.pki.caCertPem, cert: s.pki.adminCertPem, key: s.pki.adminKeyPem, agent: false }, (res) => {
          assert.equal(res.headers['content-encoding'], 'gzip');
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks)));
        })
        .on('error', reject);
    });
    assert.equal(gunzipSync(zipped).toString(), want);
  });

  it("the backend's own errors pass through as they are", async () => {
    const r = await request('GET', podPath(`web:${port}`, '/missing'));
    assert.deepEqual([r.status, r.text, r.headers['content-type']], [404, 'no such page', 'text/plain']);
  });

  it('the answer streams: the first part arrives before the backend finishes', async () => {
    const firstChunk = await new Promise<{ chunk: string; rest: Promise<string> }>((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: s.api.port, path: podPath(`web:${port}`, '/hold'), ca: s.pki.caCertPem, cert: s.pki.adminCertPem, key: s.pki.adminKeyPem, agent: false }, (res) => {
        res.setEncoding('utf8');
        res.once('data', (chunk: string) => {
          let more = '';
          res.on('data', (c: string) => (more += c));
          resolve({ chunk, rest: new Promise((r) => res.on('end', () => r(more))) });
        });
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(firstChunk.chunk, 'first\n');
    release!();
    assert.equal(await firstChunk.rest, 'second\n');
  });

  it('the request body streams too: the backend answers the first part while the client is still sending', async () => {
    const got = await new Promise<string>((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: s.api.port, method: 'POST', path: podPath(`web:${port}`, '/stream-in'), ca: s.pki.caCertPem, cert: s.pki.adminCertPem, key: s.pki.adminKeyPem, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        // The second part is sent only once the backend's answer to the first came back through the proxy.
        res.once('data', (c: string) => {
          text += c;
          req.end('part2');
          res.on('data', (more: string) => (text += more));
        });
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.write('part1');
    });
    assert.equal(got, 'got part1;got part2;end');
  });

  it('upgrades are spliced: the backend 101, then bytes both ways; a refused upgrade comes back as the backend said', async () => {
    const echoed = await new Promise<string>((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: s.api.port, path: podPath(`web:${port}`, '/ws'), ca: s.pki.caCertPem, cert: s.pki.adminCertPem, key: s.pki.adminKeyPem, agent: false, headers: { Connection: 'Upgrade', Upgrade: 'echo' } });
      req.on('upgrade', (res, socket) => {
        assert.equal(res.statusCode, 101);
        socket.write('ping');
        socket.once('data', (d: Buffer) => {
          socket.destroy();
          resolve(d.toString());
        });
      });
      req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
      req.on('error', reject);
      req.end();
    });
    assert.equal(echoed, 'ping');
    const refused = await request('GET', podPath(`web:${port}`, '/ws'), { headers: { Connection: 'Upgrade', Upgrade: 'other' } });
    assert.deepEqual([refused.status, refused.text], [400, 'not an echo']);
  });

  it('refusals in upstream words: no IP, a missing pod, a bad id, a closed port, an address nobody answers on, a silent backend', async () => {
    const cases: Array<[string, number, string, RegExp]> = [
      [podPath('noip:80', '/'), 400, 'BadRequest', /^address not allowed$/],
      [podPath('nope:80', '/'), 404, 'NotFound', /^pods "nope" not found$/],
      [podPath('ftp:web:80', '/'), 400, 'BadRequest', /^invalid pod request "ftp:web:80"$/],
      [podPath('web:1', '/'), 503, 'ServiceUnavailable', new RegExp(`^error trying to reach service: dial tcp ${hostIP!.replace(/\./g, '\\.')}:1: connect: connection refused$`)],
      [podPath('gone:80', '/'), 503, 'ServiceUnavailable', /^error trying to reach service: dial tcp 192\.0\.2\.250:80: (i\/o timeout|connect: no route to host)/],
      [podPath(`web:${port}`, '/slow'), 504, 'Timeout', /^Timeout: request did not complete/],
    ];
    for (const [path, code, reason, message] of cases) {
      const started = Date.now();
      const r = await request('GET', path);
      assert.equal(r.status, code, `${path}: ${r.text}`);
      const status = JSON.parse(r.text);
      assert.equal(status.reason, reason, path);
      assert.match(status.message, message, path);
      assert.ok(Date.now() - started < 5000, `${path} answered within the bounds`);
    }
  });

  it('services/proxy goes to a ready endpoint through the port name or number; refusals otherwise', async () => {
    for (const name of ['web:http', 'web:80', 'http:web:http']) {
      const r = await request('POST', `/api/v1/namespaces/default/services/${name}/proxy/echo?q=1`, { body: 'svc' });
      assert.equal(r.status, 200, `${name}: ${r.text}`);
      assert.deepEqual(JSON.parse(r.text), { method: 'POST', url: '/echo?q=1', body: 'svc' });
    }
    const noPort = await request('GET', '/api/v1/namespaces/default/services/web:81/proxy/');
    assert.deepEqual([noPort.status, JSON.parse(noPort.text).message], [503, 'no service port 81 found for service "web"']);
    // The endpoint goes unready: 503 in upstream's words.
    const slice = (await s.send('GET', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/web-1')).json;
    slice.endpoints[0].conditions.ready = false;
    assert.equal((await s.send('PUT', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/web-1', slice)).status, 200);
    const unready = await request('GET', '/api/v1/namespaces/default/services/web:http/proxy/');
    assert.deepEqual([unready.status, JSON.parse(unready.text).message], [503, 'no endpoints available for service "web:http"']);
    // A ready endpoint that names no pod (a hand-written slice aiming elsewhere) is not used.
    slice.endpoints[0].conditions.ready = true;
    delete slice.endpoints[0].targetRef;
    delete slice.metadata.resourceVersion;
    assert.equal((await s.send('PUT', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/web-1', slice)).status, 200);
    const unowned = await request('GET', '/api/v1/namespaces/default/services/web:http/proxy/');
    assert.deepEqual([unowned.status, JSON.parse(unowned.text).message], [503, 'no endpoints available for service "web:http"']);
  });

  it('authorization sees the verb of each method on pods/proxy with the whole name', async () => {
    seen.length = 0;
    for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']) await request(method, podPath(`web:${port}`, '/echo'));
    const attrs = seen.filter((a) => a.subresource === 'proxy').map((a) => [a.verb, a.resource, a.subresource, a.namespace, a.name]);
    assert.deepEqual(
      attrs,
      ['get', 'get', 'create', 'update', 'patch', 'delete'].map((v) => [v, 'pods', 'proxy', 'default', `web:${port}`]),
    );
  });
});
