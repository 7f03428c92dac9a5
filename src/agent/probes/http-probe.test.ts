import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { HTTPGetAction } from 'kubernetes-types/core/v1.js';
import { newRequestForHttpGetAction } from './http-get-request.js';
import { httpProbe } from './http-probe.js';
import { closedPort, listenHttp, listenHttps, type TestServer } from './probe-testing.js';

describe('httpProbe against a real server', () => {
  let server: TestServer;
  let tls: TestServer;
  let refused: number;
  const seen: IncomingHttpHeaders[] = [];

  const handler = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    seen.push(req.headers);
    const path = (req.url ?? '').split('?')[0];
    switch (path) {
      case '/ok': return void res.end('fine');
      case '/query': return void res.end(req.url);
      case '/created': res.statusCode = 201; return void res.end();
      case '/status500': res.statusCode = 500; return void res.end('secret stack trace');
      case '/status404': res.statusCode = 404; return void res.end();
      case '/to-ok': res.writeHead(302, { Location: '/ok' }); return void res.end();
      case '/to-headers': res.writeHead(301, { Location: '/headers' }); return void res.end();
      case '/to-headers-absolute': res.writeHead(307, { Location: `http://127.0.0.1:${server.port}/headers` }); return void res.end();
      case '/to-other-host': res.writeHead(302, { Location: `http://localhost:${server.port}/ok` }); return void res.end('moved away');
      case '/loop': res.writeHead(302, { Location: '/loop' }); return void res.end();
      case '/not-modified': res.statusCode = 304; return void res.end();
      case '/big': return void res.end('x'.repeat(20 * 1024));
      case '/headers': return void res.end(JSON.stringify(req.headers));
      case '/hang': return; // never answers
      default: res.statusCode = 418; return void res.end();
    }
  };

  before(async () => {
    server = await listenHttp(handler);
    tls = await listenHttps(handler);
    refused = await closedPort();
  });
  after(async () => {
    await server.close();
    await tls.close();
  });

  const probe = (action: Partial<HTTPGetAction>, timeoutMs = 1000, podIp = '127.0.0.1') =>
    httpProbe(newRequestForHttpGetAction({ port: server.port, ...action } as HTTPGetAction, { ports: [{ name: 'web', containerPort: server.port }] }, podIp, 'probe'), timeoutMs);

  const cases: Array<{ name: string; action: () => Partial<HTTPGetAction>; result: string; output: () => string }> = [
    { name: '200 is success with the body', action: () => ({ path: '/ok' }), result: 'success', output: () => 'fine' },
    { name: '201 is success', action: () => ({ path: '/created' }), result: 'success', output: () => '' },
    { name: 'the query string is kept', action: () => ({ path: '/query?a=1&b=2' }), result: 'success', output: () => '/query?a=1&b=2' },
    { name: 'port by container port name', action: () => ({ path: '/ok', port: 'web' }), result: 'success', output: () => 'fine' },
    { name: 'port as a number in a string', action: () => ({ path: '/ok', port: String(server.port) }), result: 'success', output: () => 'fine' },
    { name: '500 is a failure without the body', action: () => ({ path: '/status500' }), result: 'failure', output: () => 'HTTP probe failed with statuscode: 500' },
    { name: '404 is a failure', action: () => ({ path: '/status404' }), result: 'failure', output: () => 'HTTP probe failed with statuscode: 404' },
    { name: 'a redirect to the same host is followed', action: () => ({ path: '/to-ok' }), result: 'success', output: () => 'fine' },
    {
      name: 'a redirect to another host is a warning with the body',
      action: () => ({ path: '/to-other-host' }),
      result: 'warning',
      output: () => 'Probe terminated redirects, Response body: moved away',
    },
    { name: '304 (not followed) is a warning', action: () => ({ path: '/not-modified' }), result: 'warning', output: () => 'Probe terminated redirects, Response body: ' },
    {
      name: 'a redirect loop stops after 10 requests',
      action: () => ({ path: '/loop' }),
      result: 'failure',
      output: () => 'Get "/loop": stopped after 10 redirects',
    },
    {
      name: 'connection refused is quoted as Go prints it',
      action: () => ({ path: '/ok', port: refused }),
      result: 'failure',
      output: () => `Get "http://127.0.0.1:${refused}/ok": dial tcp 127.0.0.1:${refused}: connect: connection refused`,
    },
    {
      name: 'HTTPS without certificate verification',
      action: () => ({ path: '/ok', port: tls.port, scheme: 'HTTPS' }),
      result: 'success',
      output: () => 'fine',
    },
    {
      name: 'HTTPS to a plain HTTP server',
      action: () => ({ path: '/ok', scheme: 'HTTPS' }),
      result: 'failure',
      output: () => `Get "https://127.0.0.1:${server.port}/ok": http: server gave HTTP response to HTTPS client`,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const outcome = await probe(c.action());
      assert.equal(outcome.result, c.result, JSON.stringify(outcome));
      assert.equal(outcome.output, c.output());
    });
  }

  it('times out awaiting headers with Go client words', async () => {
    const started = Date.now();
    const outcome = await probe({ path: '/hang' }, 300);
    assert.equal(outcome.result, 'failure');
    assert.equal(outcome.output, `Get "http://127.0.0.1:${server.port}/hang": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`);
    assert.ok(Date.now() - started < 2000);
  });

  it('keeps at most 10 KiB of the body', async () => {
    const outcome = await probe({ path: '/big' });
    assert.equal(outcome.result, 'success');
    assert.equal(outcome.output.length, 10 * 1024);
  });

  it('sends kubelet headers: user agent, accept, no keep-alive, no compression', async () => {
    const outcome = await probe({ path: '/headers' });
    const headers = JSON.parse(outcome.output) as Record<string, string>;
    assert.equal(headers['user-agent'], 'kube-probe/1.32');
    assert.equal(headers.accept, '*/*');
    assert.equal(headers.host, `127.0.0.1:${server.port}`);
    assert.equal(headers.connection, 'close');
    assert.equal(headers['accept-encoding'], undefined);
  });

  it('httpHeaders: custom headers, Host override, user agent and Accept replaced, empty Accept removed', async () => {
    const outcome = await probe({
      path: '/headers',
      httpHeaders: [
        { name: 'x-custom', value: 'a' },
        { name: 'Host', value: 'app.example' },
        { name: 'user-agent', value: 'mine/1' },
        { name: 'Accept', value: '' },
      ],
    });
    const headers = JSON.parse(outcome.output) as Record<string, string>;
    assert.equal(headers['x-custom'], 'a');
    assert.equal(headers.host, 'app.example');
    assert.equal(headers['user-agent'], 'mine/1');
    assert.equal(headers.accept, undefined);
  });

  it('a Host override survives a relative redirect only (as Go)', async () => {
    const relative = await probe({ path: '/to-headers', httpHeaders: [{ name: 'Host', value: 'app.example' }] });
    assert.equal((JSON.parse(relative.output) as Record<string, string>).host, 'app.example');
    const absolute = await probe({ path: '/to-headers-absolute', httpHeaders: [{ name: 'Host', value: 'app.example' }] });
    assert.equal((JSON.parse(absolute.output) as Record<string, string>).host, `127.0.0.1:${server.port}`);
  });

  it('HTTPS to a refused port is a dial error', async () => {
    const outcome = await probe({ path: '/ok', port: refused, scheme: 'HTTPS' });
    assert.equal(outcome.output, `Get "https://127.0.0.1:${refused}/ok": dial tcp 127.0.0.1:${refused}: connect: connection refused`);
  });

  it('sends the Referer of the previous URL when following a redirect', async () => {
    seen.length = 0;
    await probe({ path: '/to-ok' });
    assert.equal(seen.length, 2);
    assert.equal(seen[1]!.referer, `http://127.0.0.1:${server.port}/to-ok`);
  });

  it('an unknown port name cannot build a request (kubelet: probe errored)', () => {
    assert.throws(() => newRequestForHttpGetAction({ port: 'metrics' }, { ports: [] }, '127.0.0.1', 'probe'), {
      message: 'strconv.Atoi: parsing "metrics": invalid syntax',
    });
  });
});
