import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pod, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { isStatusError } from '../../api/status.js';
import { restPathOf, splitSchemeNamePort } from '../handlers/connect.js';
import { backendPath, endpointRejection, isGlobalUnicast, podProxyAddress, rewriteLocation, serviceProxyCandidates } from './locations.js';

/** The Status a call throws, as [code, reason, message]. */
function statusOf(fn: () => unknown): [number, string, string] {
  try {
    fn();
  } catch (err) {
    if (isStatusError(err)) return [err.code, err.status.reason ?? '', err.status.message ?? ''];
    throw err;
  }
  throw new Error('did not throw');
}

describe('splitSchemeNamePort (utilnet.SplitSchemeNamePort)', () => {
  const cases: Array<[string, ReturnType<typeof splitSchemeNamePort>]> = [
    ['web', { scheme: '', name: 'web', port: '' }],
    ['web:8080', { scheme: '', name: 'web', port: '8080' }],
    ['web:http', { scheme: '', name: 'web', port: 'http' }],
    ['https:web:443', { scheme: 'https', name: 'web', port: '443' }],
    ['http:web:', { scheme: 'http', name: 'web', port: '' }],
    [':web:80', { scheme: '', name: 'web', port: '80' }],
    ['ftp:web:21', undefined],
    [':8080', undefined],
    ['', undefined],
    ['a:b:c:d', undefined],
  ];
  for (const [id, want] of cases) it(JSON.stringify(id), () => assert.deepEqual(splitSchemeNamePort(id), want));
});

describe('restPathOf: the proxy path after the subresource, as sent', () => {
  const cases: Array<[string, number, string]> = [
    ['/api/v1/namespaces/ns/pods/web/proxy', 0, ''],
    ['/api/v1/namespaces/ns/pods/web/proxy/', 0, '/'],
    ['/api/v1/namespaces/ns/pods/web/proxy/a/b', 2, '/a/b'],
    ['/api/v1/namespaces/ns/pods/web/proxy/a//b/', 2, '/a//b/'],
    ['/api/v1/namespaces/ns/services/proxy/proxy/proxy', 1, '/proxy'],
  ];
  for (const [path, n, want] of cases) it(`${path} (${n})`, () => assert.equal(restPathOf(path, n), want));
});

describe('isGlobalUnicast (Go net.IP.IsGlobalUnicast)', () => {
  const cases: Array<[string, boolean]> = [
    ['10.63.0.5', true],
    ['192.0.2.2', true],
    ['fd00::2', true],
    ['2001:db8::1', true],
    ['127.0.0.1', false],
    ['0.0.0.0', false],
    ['169.254.1.1', false],
    ['224.0.0.1', false],
    ['255.255.255.255', false],
    ['::1', false],
    ['fe80::1', false],
    ['ff02::1', false],
    ['::ffff:127.0.0.1', false],
    ['', false],
    ['web', false],
  ];
  for (const [ip, want] of cases) it(ip || '(empty)', () => assert.equal(isGlobalUnicast(ip), want));
});

describe('podProxyAddress (pod.ResourceLocation)', () => {
  const pod = (over: { ip?: string; ports?: Array<{ name?: string; containerPort: number }> } = {}): Pod => ({
    metadata: { name: 'web', namespace: 'ns' },
    spec: { nodeName: 'n1', containers: [{ name: 'side', image: 'x' }, { name: 'app', image: 'x', ports: over.ports ?? [{ name: 'http', containerPort: 8080 }, { name: 'admin', containerPort: 9090 }] }] },
    status: over.ip === '' ? {} : { podIP: over.ip ?? '10.63.0.5', podIPs: [{ ip: over.ip ?? '10.63.0.5' }] },
  });
  const ok: Array<[string, Pod, string, string, { scheme: string; host: string; port: number }]> = [
    ['a port number', pod(), '', '8080', { scheme: 'http', host: '10.63.0.5', port: 8080 }],
    ['no port: the first declared container port', pod(), '', '', { scheme: 'http', host: '10.63.0.5', port: 8080 }],
    ['no port, none declared: 80', pod({ ports: [] }), '', '', { scheme: 'http', host: '10.63.0.5', port: 80 }],
    ['no port, none declared, https: 443', pod({ ports: [] }), 'https', '', { scheme: 'https', host: '10.63.0.5', port: 443 }],
    ['a named container port', pod(), '', 'admin', { scheme: 'http', host: '10.63.0.5', port: 9090 }],
    ['https with a port', pod(), 'https', '8443', { scheme: 'https', host: '10.63.0.5', port: 8443 }],
    ['IPv6', pod({ ip: 'fd00::5' }), '', '80', { scheme: 'http', host: 'fd00::5', port: 80 }],
  ];
  for (const [name, p, scheme, port, want] of ok) it(name, () => assert.deepEqual(podProxyAddress(p, scheme, port), want));

  const refused: Array<[string, Pod, string, [number, string, string]]> = [
    ['a pod without an IP: upstream 400', pod({ ip: '' }), '80', [400, 'BadRequest', 'address not allowed']],
    ['a loopback IP (hostNetwork on a loopback node)', pod({ ip: '127.0.0.1' }), '80', [400, 'BadRequest', 'address not allowed']],
    ['a link-local IP', pod({ ip: '169.254.169.254' }), '80', [400, 'BadRequest', 'address not allowed']],
    ['port 0', pod(), '0', [400, 'BadRequest', 'invalid port "0" for pod "web": must be between 1 and 65535']],
    ['port 65536', pod(), '65536', [400, 'BadRequest', 'invalid port "65536" for pod "web": must be between 1 and 65535']],
    ['an unknown port name', pod(), 'nope', [503, 'ServiceUnavailable', 'error trying to reach service: pod "web" has no container port named "nope"']],
  ];
  for (const [name, p, port, want] of refused) it(name, () => assert.deepEqual(statusOf(() => podProxyAddress(p, '', port)), want));
});

describe('serviceProxyCandidates (service ResourceLocation over EndpointSlices)', () => {
  const svc = (over: Partial<Service['spec']> = {}): Service => ({
    metadata: { name: 'web', namespace: 'ns' },
    spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'tls', port: 443, targetPort: 8443 }], ...over },
  });
  const ep = (ip: string, ready?: boolean) => ({ addresses: [ip], ...(ready === undefined ? {} : { conditions: { ready } }), targetRef: { kind: 'Pod', namespace: 'ns', name: `pod-${ip}` } });
  const slice = (endpoints: EndpointSlice['endpoints'], ports = [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'tls', port: 8443, protocol: 'TCP' }], addressType = 'IPv4'): EndpointSlice => ({
    addressType,
    endpoints,
    ports,
    metadata: { name: 'web-abc', labels: { 'kubernetes.io/service-name': 'web' } },
  });
  const hosts = (c: Array<{ host: string; port: number }>) => c.map((x) => `${x.host}:${x.port}`);

  it('a port name maps to the endpoint port of that name; only ready endpoints (ready unset counts as ready)', () => {
    const got = serviceProxyCandidates(svc(), [slice([ep('10.63.0.5', true), ep('10.63.0.6', false), ep('10.63.0.7')])], 'web:http', 'http');
    assert.deepEqual(hosts(got), ['10.63.0.5:8080', '10.63.0.7:8080']);
    assert.deepEqual(got[0]!.targetRef, { kind: 'Pod', namespace: 'ns', name: 'pod-10.63.0.5' });
  });
  it('a port number maps through the service port of that number to its name', () => {
    assert.deepEqual(hosts(serviceProxyCandidates(svc(), [slice([ep('10.63.0.5')])], 'https:web:443', '443')), ['10.63.0.5:8443']);
  });
  it('no port: the unnamed port of a one-port service', () => {
    const one = svc({ ports: [{ port: 80, targetPort: 8080 }] });
    assert.deepEqual(hosts(serviceProxyCandidates(one, [slice([ep('10.63.0.5')], [{ port: 8080, protocol: 'TCP' } as never])], 'web', '')), ['10.63.0.5:8080']);
  });
  it('endpoints across several slices; FQDN slices are not addresses', () => {
    const got = serviceProxyCandidates(svc(), [slice([ep('10.63.0.5')]), slice([ep('10.63.1.5')]), slice([{ addresses: ['db.example.com'] }], undefined, 'FQDN')], 'web:http', 'http');
    assert.deepEqual(hosts(got), ['10.63.0.5:8080', '10.63.1.5:8080']);
  });

  const refused: Array<[string, Service, EndpointSlice[], string, string, [number, string, string]]> = [
    ['a port number the service does not have', svc(), [slice([ep('10.63.0.5')])], 'web:81', '81', [503, 'ServiceUnavailable', 'no service port 81 found for service "web"']],
    ['no endpoints at all', svc(), [slice([])], 'web:http', 'http', [503, 'ServiceUnavailable', 'no endpoints available for service "web"']],
    ['a selector service whose slices are not made yet', svc(), [], 'web', '', [503, 'ServiceUnavailable', 'no endpoints available for service "web"']],
    ['only not-ready endpoints: upstream names the whole id', svc(), [slice([ep('10.63.0.5', false)])], 'web:http', 'http', [503, 'ServiceUnavailable', 'no endpoints available for service "web:http"']],
    ['a port name no endpoint has', svc(), [slice([ep('10.63.0.5')])], 'web:nope', 'nope', [503, 'ServiceUnavailable', 'no endpoints available for service "web:nope"']],
    ['ExternalName: no Endpoints object upstream', svc({ type: 'ExternalName', externalName: 'example.com', selector: undefined }), [], 'web', '', [404, 'NotFound', 'endpoints "web" not found']],
    ['a service without a selector and no slices', svc({ selector: undefined }), [], 'web', '', [404, 'NotFound', 'endpoints "web" not found']],
  ];
  for (const [name, s, slices, id, port, want] of refused) it(name, () => assert.deepEqual(statusOf(() => serviceProxyCandidates(s, slices, id, port)), want));
});

describe('endpointRejection (upstream isValidAddress)', () => {
  const pod: Pod = { metadata: { name: 'p', namespace: 'ns' }, status: { podIP: '10.63.0.5', podIPs: [{ ip: '10.63.0.5' }] } };
  const cand = (targetRef?: { kind?: string; namespace?: string; name?: string }, host = '10.63.0.5') => ({ host, port: 80, ...(targetRef ? { targetRef } : {}) });
  const cases: Array<[string, ReturnType<typeof cand>, Pod | undefined, RegExp | undefined]> = [
    ['the pod has the address', cand({ kind: 'Pod', namespace: 'ns', name: 'p' }), pod, undefined],
    ['no target ref (a hand-written slice)', cand(), pod, /has no target ref/],
    ['another namespace', cand({ kind: 'Pod', namespace: 'other', name: 'p' }), pod, /namespace/],
    ['the pod is gone', cand({ kind: 'Pod', namespace: 'ns', name: 'p' }), undefined, /is missing/],
    ['the pod has another IP', cand({ kind: 'Pod', namespace: 'ns', name: 'p' }, '10.63.0.9'), pod, /doesn't match endpoint ip/],
  ];
  for (const [name, c, p, want] of cases) {
    it(name, () => {
      const why = endpointRejection(c, 'ns', p);
      if (want) assert.match(why ?? '', want);
      else assert.equal(why, undefined);
    });
  }
});

describe('backendPath (net.JoinPreserveTrailingSlash)', () => {
  const cases: Array<[string, string]> = [
    ['', ''],
    ['/', '/'],
    ['/a/b', '/a/b'],
    ['/a//b/', '/a/b/'],
    ['//', '/'],
  ];
  for (const [rest, want] of cases) it(JSON.stringify(rest), () => assert.equal(backendPath(rest), want));
});

describe('rewriteLocation (proxy.Transport.rewriteURL)', () => {
  const prefix = '/api/v1/namespaces/ns/pods/web:8080/proxy';
  const cases: Array<[string, string, string]> = [
    ['an absolute path', '/login', `${prefix}/login`],
    ['an absolute path with a query and a trailing slash', '/a/?next=/b', `${prefix}/a/?next=/b`],
    ['the backend host: scheme and host dropped', 'http://10.63.0.5:8080/x', `${prefix}/x`],
    ['the host the client asked keeps them', 'https://127.0.0.1:6443/x', `https://127.0.0.1:6443${prefix}/x`],
    ['already under the prefix', `${prefix}/x`, `${prefix}/x`],
    ['another host passes', 'https://example.com/x', 'https://example.com/x'],
    ['a relative URL passes', 'next/page', 'next/page'],
  ];
  for (const [name, loc, want] of cases) it(name, () => assert.equal(rewriteLocation(loc, '10.63.0.5:8080', '127.0.0.1:6443', prefix), want));
});
