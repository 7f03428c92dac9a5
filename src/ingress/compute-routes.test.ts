import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { Ingress, IngressClass } from 'kubernetes-types/networking/v1.js';
import { certificateFor, computeRouteTable, isSkiffIngress, normalizeHost, prefixMatches, routeRequest, skiffClasses, type RouteInputs } from './compute-routes.js';

const skiffClass: IngressClass = { metadata: { name: 'skiff', annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } }, spec: { controller: 'skiff.dev/ingress' } };

function svc(name: string, ports: Array<{ name?: string; port: number }>, type = 'ClusterIP'): Service {
  return { metadata: { namespace: 'ns', name }, spec: { type, ports: ports.map((p) => ({ ...p, protocol: 'TCP' })) } };
}
function slice(service: string, portName: string, port: number, eps: Array<[string, boolean | undefined]>): EndpointSlice {
  return {
    addressType: 'IPv4',
    metadata: { namespace: 'ns', name: `${service}-abc`, labels: { 'kubernetes.io/service-name': service } },
    ports: [{ name: portName, port, protocol: 'TCP' }],
    endpoints: eps.map(([ip, ready]) => ({ addresses: [ip], conditions: ready === undefined ? {} : { ready } })),
  };
}
const be = (name: string, port: number | string) => ({ service: { name, port: typeof port === 'number' ? { number: port } : { name: port } } });

function inputs(ingresses: Ingress[], extra: Partial<RouteInputs> = {}): RouteInputs {
  return {
    ingresses,
    classes: [skiffClass],
    services: [svc('a', [{ port: 80 }]), svc('b', [{ name: 'http', port: 8080 }]), svc('c', [{ port: 80 }]), svc('empty', [{ port: 80 }]), svc('ext', [{ port: 80 }], 'ExternalName')],
    endpointSlices: [slice('a', '', 9001, [['10.0.0.1', true], ['10.0.0.2', undefined], ['10.0.0.3', false]]), slice('b', 'http', 9002, [['10.0.0.4', true]]), slice('c', '', 9003, [['10.0.0.5', true]]), slice('empty', '', 9004, [['10.0.0.6', false]])],
    secrets: [],
    ...extra,
  };
}

const ingress: Ingress = {
  metadata: { namespace: 'ns', name: 'main', creationTimestamp: '2024-01-01T00:00:00Z' as never },
  spec: {
    ingressClassName: 'skiff',
    defaultBackend: be('c', 80),
    rules: [
      {
        host: 'one.example',
        http: {
          paths: [
            { path: '/', pathType: 'Prefix', backend: be('a', 80) },
            { path: '/api/', pathType: 'Prefix', backend: be('b', 'http') },
            { path: '/api', pathType: 'Exact', backend: be('c', 80) },
            { path: '/api/v1', pathType: 'ImplementationSpecific', backend: be('c', 80) },
            { path: '/gone', pathType: 'Prefix', backend: be('empty', 80) },
            { path: '/missing', pathType: 'Prefix', backend: be('nosuch', 80) },
            { path: '/external', pathType: 'Prefix', backend: be('ext', 80) },
          ],
        },
      },
      { host: '*.wild.example', http: { paths: [{ path: '/', pathType: 'Prefix', backend: be('b', 8080) }] } },
      { http: { paths: [{ path: '/any', pathType: 'Exact', backend: be('b', 8080) }] } },
    ],
  },
};

test('routeRequest: hosts, wildcards, path precedence and the default backend', () => {
  const table = computeRouteTable(inputs([ingress]));
  const cases: Array<[string | undefined, string, string | undefined]> = [
    ['one.example', '/', 'ns/a:80'],
    ['ONE.example:8443', '/index.html?x=1', 'ns/a:80'],
    ['one.example', '/api', 'ns/c:80'], // Exact beats Prefix /api at equal length
    ['one.example', '/api/', 'ns/b:http'],
    ['one.example', '/api/x', 'ns/b:http'],
    ['one.example', '/apix', 'ns/a:80'], // element-wise: /api does not match /apix
    ['one.example', '/api/v1', 'ns/c:80'], // the longer ImplementationSpecific prefix wins
    ['one.example', '/api/v1/pods', 'ns/c:80'],
    ['one.example', '/api/v10', 'ns/b:http'],
    ['x.wild.example', '/', 'ns/b:8080'],
    ['a.b.wild.example', '/', 'ns/c:80'], // a wildcard covers one label only: default backend
    ['wild.example', '/', 'ns/c:80'],
    ['other.example', '/any', 'ns/b:8080'], // rules without a host
    ['other.example', '/any/more', 'ns/c:80'], // Exact: no prefix match
    ['one.example', '/any', 'ns/a:80'], // the host's own / rule comes before host-less rules
    [undefined, '/', 'ns/c:80'],
  ];
  for (const [host, path, want] of cases) assert.equal(routeRequest(table, host, path)?.backend.name, want, `${host} ${path}`);
});

test('backends: ready endpoints only (ready unset counts as ready), ports by number and name, 502/503 problems', () => {
  const table = computeRouteTable(inputs([ingress]));
  const r = (path: string) => routeRequest(table, 'one.example', path)!.backend;
  assert.deepEqual(r('/').endpoints, ['10.0.0.1:9001', '10.0.0.2:9001']);
  assert.deepEqual(r('/api/x').endpoints, ['10.0.0.4:9002']);
  assert.equal(r('/gone').problem?.status, 503);
  assert.match(r('/gone').problem!.message, /no ready endpoints for Service ns\/empty port 80/);
  assert.equal(r('/missing').problem?.status, 503);
  assert.equal(r('/external').problem?.status, 502);
});

test('no route and no default backend: undefined (404)', () => {
  const noDefault = { ...ingress, spec: { ...ingress.spec, defaultBackend: undefined } };
  const table = computeRouteTable(inputs([noDefault]));
  assert.equal(routeRequest(table, 'nowhere.example', '/'), undefined);
});

test('classes: skiff serves its class, class-less Ingresses only while its class is the default, never others', () => {
  const classes = skiffClasses([skiffClass, { metadata: { name: 'nginx' }, spec: { controller: 'k8s.io/ingress-nginx' } }]);
  const ing = (className?: string, annotation?: string): Ingress => ({ metadata: { annotations: annotation ? { 'kubernetes.io/ingress.class': annotation } : {} }, spec: className ? { ingressClassName: className } : {} });
  assert.equal(isSkiffIngress(ing('skiff'), classes), true);
  assert.equal(isSkiffIngress(ing(), classes), true);
  assert.equal(isSkiffIngress(ing('nginx'), classes), false);
  assert.equal(isSkiffIngress(ing(undefined, 'nginx'), classes), false);
  assert.equal(isSkiffIngress(ing(undefined, 'skiff'), classes), true);
  const notDefault = skiffClasses([{ ...skiffClass, metadata: { name: 'skiff' } }]);
  assert.equal(isSkiffIngress(ing(), notDefault), false);
  assert.equal(isSkiffIngress(ing('skiff'), notDefault), true);
  assert.equal(computeRouteTable(inputs([{ ...ingress, spec: { ...ingress.spec, ingressClassName: 'nginx' } }])).defaultBackend, undefined);
});

test('an older Ingress keeps a host+path another Ingress also claims', () => {
  const newer: Ingress = { metadata: { namespace: 'ns', name: 'newer', creationTimestamp: '2025-01-01T00:00:00Z' as never }, spec: { rules: [{ host: 'one.example', http: { paths: [{ path: '/', pathType: 'Prefix', backend: be('b', 'http') }, { path: '/new', pathType: 'Prefix', backend: be('b', 'http') }] } }] } };
  const table = computeRouteTable(inputs([newer, ingress]));
  assert.equal(routeRequest(table, 'one.example', '/')?.backend.name, 'ns/a:80');
  assert.equal(routeRequest(table, 'one.example', '/new/x')?.backend.name, 'ns/b:http');
});

test('TLS certificates by SNI: exact, then wildcard; a missing Secret is a warning', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const withTls: Ingress = { ...ingress, spec: { ...ingress.spec, tls: [{ hosts: ['one.example'], secretName: 'one' }, { hosts: ['*.wild.example'], secretName: 'wild' }, { hosts: ['lost.example'], secretName: 'lost' }] } };
  const secrets = [
    { metadata: { namespace: 'ns', name: 'one' }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64('CERT1'), 'tls.key': b64('KEY1') } },
    { metadata: { namespace: 'ns', name: 'wild' }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64('CERT2'), 'tls.key': b64('KEY2') } },
  ];
  const table = computeRouteTable(inputs([withTls], { secrets }));
  assert.equal(certificateFor(table, 'one.example')?.cert, 'CERT1');
  assert.equal(certificateFor(table, 'x.wild.example')?.cert, 'CERT2');
  assert.equal(certificateFor(table, 'other.example'), undefined);
  assert.equal(table.warnings.length, 1);
  assert.match(table.warnings[0]!, /TLS Secret ns\/lost was not found/);
  assert.deepEqual(table.ingressWarnings.map((w) => [w.ingress.metadata?.name, w.reason, w.message]), [['main', 'TLSSecretNotFound', 'TLS Secret ns/lost was not found: lost.example is served with the default certificate']]);
});

test('a TLS Secret of another type, or without tls.crt / tls.key, is a Warning for its Ingress and its hosts get no certificate', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const withTls: Ingress = { ...ingress, spec: { ...ingress.spec, tls: [{ hosts: ['a.example', 'b.example'], secretName: 'opaque' }, { hosts: ['c.example'], secretName: 'nokey' }] } };
  const secrets: { metadata: { namespace: string; name: string }; type: string; data: Record<string, string> }[] = [
    { metadata: { namespace: 'ns', name: 'opaque' }, type: 'Opaque', data: { 'tls.crt': b64('C'), 'tls.key': b64('K') } },
    { metadata: { namespace: 'ns', name: 'nokey' }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64('C') } },
  ];
  const table = computeRouteTable(inputs([withTls], { secrets }));
  assert.equal(certificateFor(table, 'a.example'), undefined);
  assert.equal(certificateFor(table, 'c.example'), undefined);
  assert.deepEqual(table.ingressWarnings.map((w) => [w.reason, w.message]), [
    ['InvalidTLSSecret', 'TLS Secret ns/opaque is of type Opaque, not kubernetes.io/tls: a.example, b.example are served with the default certificate'],
    ['InvalidTLSSecret', 'TLS Secret ns/nokey has no tls.key: c.example is served with the default certificate'],
  ]);
});

test('prefixMatches and normalizeHost', () => {
  assert.equal(prefixMatches('/', '/anything'), true);
  assert.equal(prefixMatches('/foo', '/foo'), true);
  assert.equal(prefixMatches('/foo', '/foo/'), true);
  assert.equal(prefixMatches('/foo', '/foobar'), false);
  assert.equal(prefixMatches('/foo/bar', '/foo'), false);
  assert.equal(normalizeHost('Example.COM:80'), 'example.com');
  assert.equal(normalizeHost('[::1]:80'), '::1');
  assert.equal(normalizeHost('example.com.'), 'example.com');
});
