import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatPod, goDuration, goQuote } from './go-format.js';
import { expand } from './expand-command.js';
import { canonicalHeaderKey, formatUrl } from './http-get-request.js';
import { decodeHealthCheckRequest, decodeHealthCheckResponse, encodeHealthCheckRequest, encodeHealthCheckResponse } from './health-messages.js';

describe('Go formatting kubelet messages rely on', () => {
  const durations: Array<[number, string]> = [[0, '0s'], [1000, '1s'], [10_000, '10s'], [90_000, '1m30s'], [3_600_000, '1h0m0s'], [500, '500ms'], [1500, '1.5s']];
  for (const [ms, text] of durations) it(`goDuration(${ms}) = ${text}`, () => assert.equal(goDuration(ms), text));

  const quotes: Array<[string, string]> = [['NOT_SERVING', '"NOT_SERVING"'], ['a"b\\c', '"a\\"b\\\\c"'], ['line\nnext\t\x01', '"line\\nnext\\t\\x01"'], ['héllo', '"héllo"']];
  for (const [s, q] of quotes) it(`goQuote(${JSON.stringify(s)}) = ${q}`, () => assert.equal(goQuote(s), q));

  it('formatPod is name_namespace(uid)', () => assert.equal(formatPod({ metadata: { name: 'web', namespace: 'prod', uid: 'u-1' } }), 'web_prod(u-1)'));
});

describe('$(VAR) expansion (third_party/forked/golang/expansion)', () => {
  const values = new Map([['A', 'x'], ['EMPTY', '']]);
  const cases: Array<[string, string]> = [
    ['$(A)', 'x'],
    ['pre-$(A)-post', 'pre-x-post'],
    ['$(EMPTY)', ''],
    ['$(B)', '$(B)'],
    ['$$(A)', '$(A)'],
    ['$$', '$'],
    ['$', '$'],
    ['a$b', 'a$b'],
    ['$(A', '$(A'],
    ['$(A)$(A)', 'xx'],
  ];
  for (const [input, output] of cases) it(`${input} -> ${output}`, () => assert.equal(expand(input, values), output));
});

describe('HTTP request pieces', () => {
  const keys: Array<[string, string]> = [['x-custom-header', 'X-Custom-Header'], ['HOST', 'Host'], ['user-agent', 'User-Agent'], ['bad key', 'bad key']];
  for (const [k, c] of keys) it(`canonicalHeaderKey(${k}) = ${c}`, () => assert.equal(canonicalHeaderKey(k), c));

  const urls: Array<[string, string, number, string, string]> = [
    ['http', '10.0.0.1', 80, '/healthz', 'http://10.0.0.1/healthz'],
    ['http', '10.0.0.1', 8080, '', 'http://10.0.0.1:8080/'],
    ['https', '::1', 8443, 'ready?full=1', 'https://[::1]:8443/ready?full=1'],
  ];
  for (const [scheme, host, port, path, href] of urls) it(`formatUrl(${scheme}, ${host}, ${port}, ${path})`, () => assert.equal(formatUrl(scheme, host, port, path).href, href));
});

describe('grpc.health.v1 messages', () => {
  it('encodes the request as protoc does', () => {
    assert.deepEqual(encodeHealthCheckRequest({ service: '' }), Buffer.alloc(0));
    assert.deepEqual(encodeHealthCheckRequest({ service: 'db' }), Buffer.from([0x0a, 0x02, 0x64, 0x62]));
    assert.deepEqual(decodeHealthCheckRequest(Buffer.from([0x0a, 0x02, 0x64, 0x62])), { service: 'db' });
  });
  it('decodes the response, skipping unknown fields', () => {
    assert.deepEqual(decodeHealthCheckResponse(Buffer.from([0x08, 0x01])), { status: 1 });
    assert.deepEqual(decodeHealthCheckResponse(Buffer.alloc(0)), { status: 0 });
    assert.deepEqual(decodeHealthCheckResponse(Buffer.from([0x12, 0x01, 0x41, 0x08, 0x02, 0x1d, 1, 2, 3, 4])), { status: 2 });
    assert.deepEqual(encodeHealthCheckResponse({ status: 2 }), Buffer.from([0x08, 0x02]));
  });
  it('refuses a truncated message', () => assert.throws(() => decodeHealthCheckResponse(Buffer.from([0x0a, 0x05, 0x01]))));
});
