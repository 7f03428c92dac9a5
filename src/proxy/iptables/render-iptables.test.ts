/**
 * Golden-file tests of the iptables rules: a table of Services and EndpointSlices, each rendered and compared with
 * testdata/<case>.rules. `UPDATE_GOLDEN=1` rewrites the files (read the diff before committing it). As root, each
 * golden file is also fed to `iptables-restore --test`, so a rule iptables would refuse fails here.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { computeServicePorts } from '../service-model.js';
import { chainPrefixFor, renderRestore, renderServicePort, type IptablesRenderOptions } from './render-iptables.js';

const here = dirname(fileURLToPath(import.meta.url)).replace(`${join('dist', 'src')}`, 'src');
const NODE = 'node-a';
const options: IptablesRenderOptions = { prefix: 'SKtest', clusterCIDRs: ['10.71.0.0/16'], masqueradeMark: '0x4000' };

function svc(name: string, spec: Service['spec'], status?: Service['status']): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'ns', name }, spec: { clusterIP: '10.81.0.10', ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }], ...spec }, ...(status ? { status } : {}) };
}

type Ep = { ip: string; node?: string; ready?: boolean; serving?: boolean; terminating?: boolean };
function slice(service: string, eps: Ep[], ports: Array<{ name?: string; port: number; protocol?: string }> = [{ name: 'http', port: 8080, protocol: 'TCP' }], suffix = 'a'): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: 'ns', name: `${service}-${suffix}`, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports,
    endpoints: eps.map((e) => ({
      addresses: [e.ip],
      nodeName: e.node ?? NODE,
      conditions: { ready: e.ready ?? true, serving: e.serving ?? e.ready ?? true, terminating: e.terminating ?? false },
    })),
  };
}

const three = [{ ip: '10.71.0.3' }, { ip: '10.71.0.2' }, { ip: '10.71.1.4', node: 'node-b' }];

const cases: Array<{ name: string; services: Service[]; slices: EndpointSlice[] }> = [
  { name: 'clusterip-three-endpoints', services: [svc('web', {})], slices: [slice('web', three)] },
  { name: 'no-endpoints-reject', services: [svc('web', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 31100 }] })], slices: [] },
  { name: 'unready-left-out', services: [svc('web', {})], slices: [slice('web', [{ ip: '10.71.0.2' }, { ip: '10.71.0.3', ready: false }])] },
  { name: 'terminating-serving-fallback', services: [svc('web', {})], slices: [slice('web', [{ ip: '10.71.0.2', ready: false, serving: true, terminating: true }, { ip: '10.71.0.3', ready: false, serving: false, terminating: true }])] },
  { name: 'nodeport-cluster-policy', services: [svc('web', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 31100 }] })], slices: [slice('web', three)] },
  { name: 'nodeport-local-policy', services: [svc('web', { type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, nodePort: 31101 }] })], slices: [slice('web', three)] },
  { name: 'local-policy-no-local-endpoints', services: [svc('web', { type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, nodePort: 31102 }] })], slices: [slice('web', [{ ip: '10.71.1.4', node: 'node-b' }])] },
  { name: 'internal-local', services: [svc('web', { internalTrafficPolicy: 'Local' })], slices: [slice('web', three)] },
  { name: 'internal-local-none-here', services: [svc('web', { internalTrafficPolicy: 'Local' })], slices: [slice('web', [{ ip: '10.71.1.4', node: 'node-b' }])] },
  { name: 'session-affinity', services: [svc('web', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 30 } } })], slices: [slice('web', three.slice(0, 2))] },
  { name: 'external-ips-and-loadbalancer', services: [svc('web', { type: 'LoadBalancer', externalIPs: ['192.0.2.10'], ports: [{ name: 'http', port: 80, nodePort: 31103 }] }, { loadBalancer: { ingress: [{ ip: '192.0.2.20' }] } })], slices: [slice('web', three.slice(0, 1))] },
  {
    name: 'udp-and-tcp-dns',
    services: [svc('dns', { clusterIP: '10.81.0.10', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }] })],
    slices: [slice('dns', [{ ip: '10.71.0.5' }], [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }])],
  },
  { name: 'headless-and-externalname-ignored', services: [svc('h', { clusterIP: 'None' }), svc('x', { type: 'ExternalName', externalName: 'example.com', clusterIP: '' })], slices: [slice('h', three)] },
];

function render(services: Service[], slices: EndpointSlice[]): string {
  const ports = computeServicePorts(services, slices, NODE).map((sp) => renderServicePort(sp, options));
  return renderRestore({ ports }, options);
}

describe('iptables rules (golden files)', () => {
  for (const c of cases) {
    it(c.name, () => {
      const got = render(c.services, c.slices);
      const file = join(here, 'testdata', `${c.name}.rules`);
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, got);
      assert.equal(got, readFileSync(file, 'utf8'), `rules differ from ${file} (UPDATE_GOLDEN=1 rewrites it)`);
    });
  }

  it('iptables-restore --test accepts every golden file', { skip: process.getuid?.() !== 0 || !existsSync('/usr/sbin/iptables-restore') ? 'needs root and iptables-restore' : false }, async () => {
    for (const c of cases) {
      const text = render(c.services, c.slices);
      await new Promise<void>((resolve, reject) => {
        const child = execFile('iptables-restore', ['-w', '5', '--noflush', '--test'], (err, _stdout, stderr) => (err ? reject(new Error(`${c.name}: ${stderr || err.message}`)) : resolve()));
        child.stdin!.end(text);
      });
    }
  });
});

describe('chain prefixes', () => {
  it('differ between agents and keep chain names within 28 characters', () => {
    const a = chainPrefixFor('/tmp/a');
    const b = chainPrefixFor('/tmp/b');
    assert.notEqual(a, b);
    const text = render(cases[0]!.services, cases[0]!.slices).replaceAll('SKtest', a);
    for (const m of text.matchAll(/^:(\S+)/gm)) assert.ok(m[1]!.length <= 28, `${m[1]} is longer than 28`);
  });

  it('a partial sync writes the changed ports chains only, and deletes stale ones', () => {
    const ports = computeServicePorts([svc('web', {}), svc('api', { clusterIP: '10.81.0.11' })], [slice('web', three), slice('api', three)], NODE).map((sp) => renderServicePort(sp, options));
    const text = renderRestore({ ports, changed: new Set(['ns/web:http/TCP']), staleNatChains: ['SKtest-SEP-OLD'] }, options);
    const api = ports.find((p) => p.key === 'ns/api:http/TCP')!;
    const web = ports.find((p) => p.key === 'ns/web:http/TCP')!;
    for (const c of api.natChains) assert.ok(!text.includes(`:${c} `), `unchanged chain ${c} is rewritten`);
    for (const c of web.natChains) assert.ok(text.includes(`:${c} `));
    assert.match(text, /-A SKtest-SERVICES .*ns\/api:http cluster IP/);
    assert.match(text, /:SKtest-SEP-OLD - \[0:0\]\n[\s\S]*-X SKtest-SEP-OLD\n/);
  });
});
