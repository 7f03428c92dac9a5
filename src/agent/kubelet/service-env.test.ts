/** Table tests of the service environment variables (kubelet's envvars_test.go TestFromServices, getServiceEnvVarMap). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Service } from 'kubernetes-types/core/v1.js';
import { fromService, serviceEnvironment } from './service-env.js';

const svc = (name: string, namespace: string, spec: Service['spec']): Service => ({ metadata: { name, namespace }, spec });

describe('fromService (envvars.FromServices)', () => {
  it('names every variable as kubelet does, first port special-cased, named ports, protocols', () => {
    const s = svc('super-ipv6', 'ns', {
      clusterIP: '2001:DB8::',
      ports: [
        { name: 'u-d-p', port: 8084, protocol: 'UDP' },
        { name: 't-c-p', port: 8083, protocol: 'TCP' },
      ],
    });
    assert.deepEqual(fromService(s), [
      ['SUPER_IPV6_SERVICE_HOST', '2001:DB8::'],
      ['SUPER_IPV6_SERVICE_PORT', '8084'],
      ['SUPER_IPV6_SERVICE_PORT_U_D_P', '8084'],
      ['SUPER_IPV6_SERVICE_PORT_T_C_P', '8083'],
      ['SUPER_IPV6_PORT', 'udp://[2001:DB8::]:8084'],
      ['SUPER_IPV6_PORT_8084_UDP', 'udp://[2001:DB8::]:8084'],
      ['SUPER_IPV6_PORT_8084_UDP_PROTO', 'udp'],
      ['SUPER_IPV6_PORT_8084_UDP_PORT', '8084'],
      ['SUPER_IPV6_PORT_8084_UDP_ADDR', '2001:DB8::'],
      ['SUPER_IPV6_PORT_8083_TCP', 'tcp://[2001:DB8::]:8083'],
      ['SUPER_IPV6_PORT_8083_TCP_PROTO', 'tcp'],
      ['SUPER_IPV6_PORT_8083_TCP_PORT', '8083'],
      ['SUPER_IPV6_PORT_8083_TCP_ADDR', '2001:DB8::'],
    ]);
  });
  it('an unnamed single port, protocol defaulting to TCP', () => {
    assert.deepEqual(fromService(svc('foo-bar', 'ns', { clusterIP: '1.2.3.4', ports: [{ port: 8080 }] })), [
      ['FOO_BAR_SERVICE_HOST', '1.2.3.4'],
      ['FOO_BAR_SERVICE_PORT', '8080'],
      ['FOO_BAR_PORT', 'tcp://1.2.3.4:8080'],
      ['FOO_BAR_PORT_8080_TCP', 'tcp://1.2.3.4:8080'],
      ['FOO_BAR_PORT_8080_TCP_PROTO', 'tcp'],
      ['FOO_BAR_PORT_8080_TCP_PORT', '8080'],
      ['FOO_BAR_PORT_8080_TCP_ADDR', '1.2.3.4'],
    ]);
  });
});

describe('serviceEnvironment (getServiceEnvVarMap)', () => {
  const services = [
    svc('kubernetes', 'default', { clusterIP: '10.43.0.1', ports: [{ name: 'https', port: 443 }] }),
    svc('web', 'app', { clusterIP: '10.43.0.5', ports: [{ port: 80 }] }),
    svc('web', 'other', { clusterIP: '10.43.0.6', ports: [{ port: 80 }] }),
    svc('headless', 'app', { clusterIP: 'None', ports: [{ port: 80 }] }),
    svc('ext', 'app', { type: 'ExternalName', externalName: 'example.com' }),
    svc('pending', 'app', { clusterIP: '', ports: [{ port: 80 }] }),
  ];
  const table: Array<{ name: string; ns: string; links: boolean; services?: Service[]; want: Record<string, string | undefined> }> = [
    { name: 'namespace Services and kubernetes', ns: 'app', links: true, want: { KUBERNETES_SERVICE_HOST: '10.43.0.1', KUBERNETES_SERVICE_PORT_HTTPS: '443', WEB_SERVICE_HOST: '10.43.0.5', HEADLESS_SERVICE_HOST: undefined, EXT_SERVICE_HOST: undefined, PENDING_SERVICE_HOST: undefined } },
    { name: 'enableServiceLinks false: kubernetes only', ns: 'app', links: false, want: { KUBERNETES_SERVICE_HOST: '10.43.0.1', WEB_SERVICE_HOST: undefined } },
    { name: 'another namespace sees its own web', ns: 'other', links: true, want: { WEB_SERVICE_HOST: '10.43.0.6' } },
    { name: 'the default namespace gets kubernetes once', ns: 'default', links: true, want: { KUBERNETES_SERVICE_HOST: '10.43.0.1', WEB_SERVICE_HOST: undefined } },
    {
      name: "a namespace's own kubernetes Service wins over the default one",
      ns: 'app',
      links: true,
      services: [...services, svc('kubernetes', 'app', { clusterIP: '10.43.0.99', ports: [{ port: 443 }] })],
      want: { KUBERNETES_SERVICE_HOST: '10.43.0.99' },
    },
    { name: 'no Services known: nothing', ns: 'app', links: true, services: [], want: { KUBERNETES_SERVICE_HOST: undefined } },
  ];
  for (const t of table) {
    it(t.name, () => {
      const env = serviceEnvironment(t.services ?? services, t.ns, t.links);
      for (const [k, v] of Object.entries(t.want)) assert.equal(env.get(k), v, k);
    });
  }
});
