/** Table tests of the answer logic: question + Services/EndpointSlices → rcode and records (CoreDNS kubernetes plugin). */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { Answer, RecordType } from 'dns-packet';
import { computeDnsAnswer, reverseToIp, undashed, RCODE } from './compute-dns-answer.js';
import { DnsIndex } from './dns-records.js';

const zone = 'cluster.local';

function svc(ns: string, name: string, spec: Service['spec']): Service {
  return { metadata: { namespace: ns, name }, spec };
}

function slice(ns: string, service: string, name: string, endpoints: Array<{ ip: string; hostname?: string; ready?: boolean }>, ports: Array<{ name?: string; port: number; protocol?: string }>): EndpointSlice {
  return {
    metadata: { namespace: ns, name, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    endpoints: endpoints.map((e) => ({ addresses: [e.ip], ...(e.hostname ? { hostname: e.hostname } : {}), conditions: { ready: e.ready ?? true } })),
    ports,
  };
}

function cluster(): DnsIndex {
  const idx = new DnsIndex(zone);
  idx.setService(svc('app', 'web', { clusterIP: '10.43.0.20', clusterIPs: ['10.43.0.20'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { port: 9000 }] }));
  idx.setSlice(slice('app', 'web', 'web-abc', [{ ip: '10.42.0.5' }, { ip: '10.42.0.6', ready: false }], [{ name: 'http', port: 8080, protocol: 'TCP' }]));
  idx.setService(svc('app', 'db', { clusterIP: 'None', clusterIPs: ['None'], ports: [{ name: 'pg', port: 5432 }] }));
  idx.setSlice(slice('app', 'db', 'db-1', [{ ip: '10.42.0.7', hostname: 'db-0' }, { ip: '10.42.0.8' }, { ip: '10.42.0.9', ready: false }], [{ name: 'pg', port: 5432, protocol: 'TCP' }]));
  idx.setService(svc('app', 'ext', { type: 'ExternalName', externalName: 'example.com.' }));
  idx.setService(svc('app', 'dual', { clusterIP: '10.43.0.30', clusterIPs: ['10.43.0.30', 'fd43::30'], ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] }));
  idx.setService(svc('app', 'pending', { ports: [{ port: 1 }] }));
  return idx;
}

type Row = { name: string; q: string; type: string; rcode?: number; forward?: boolean; answers?: string[]; additionals?: string[] };

/** A record as one comparable line: "TYPE data" (SRV: "SRV port target", SOA in authority is checked separately). */
function line(a: Answer): string {
  const data = (a as { data: unknown }).data;
  if (a.type === 'SRV') {
    const d = data as { port: number; target: string };
    return `SRV ${d.port} ${d.target}`;
  }
  return `${a.type} ${String(data)}`;
}

const rows: Row[] = [
  { name: 'ClusterIP Service A', q: 'web.app.svc.cluster.local', type: 'A', answers: ['A 10.43.0.20'] },
  { name: 'case and trailing dot do not matter', q: 'WEB.App.svc.cluster.local.', type: 'A', answers: ['A 10.43.0.20'] },
  { name: 'ClusterIP Service AAAA without IPv6: NODATA', q: 'web.app.svc.cluster.local', type: 'AAAA', rcode: RCODE.NOERROR, answers: [] },
  { name: 'dual-stack AAAA', q: 'dual.app.svc.cluster.local', type: 'AAAA', answers: ['AAAA fd43::30'] },
  { name: 'TXT of an existing name: NODATA', q: 'web.app.svc.cluster.local', type: 'TXT', rcode: RCODE.NOERROR, answers: [] },
  { name: 'headless: one A per ready endpoint', q: 'db.app.svc.cluster.local', type: 'A', answers: ['A 10.42.0.7', 'A 10.42.0.8'] },
  { name: 'headless endpoint by hostname', q: 'db-0.db.app.svc.cluster.local', type: 'A', answers: ['A 10.42.0.7'] },
  { name: 'headless endpoint by dashed address', q: '10-42-0-8.db.app.svc.cluster.local', type: 'A', answers: ['A 10.42.0.8'] },
  { name: 'not-ready endpoint is not published', q: '10-42-0-9.db.app.svc.cluster.local', type: 'A', rcode: RCODE.NXDOMAIN },
  { name: 'ClusterIP Service endpoint names exist too', q: '10-42-0-5.web.app.svc.cluster.local', type: 'A', answers: ['A 10.42.0.5'] },
  { name: 'ExternalName: CNAME for A', q: 'ext.app.svc.cluster.local', type: 'A', answers: ['CNAME example.com'] },
  { name: 'ExternalName: CNAME for AAAA', q: 'ext.app.svc.cluster.local', type: 'AAAA', answers: ['CNAME example.com'] },
  { name: 'SRV of a named port (ClusterIP: Service port, Service name)', q: '_http._tcp.web.app.svc.cluster.local', type: 'SRV', answers: ['SRV 80 web.app.svc.cluster.local'], additionals: ['A 10.43.0.20'] },
  { name: 'SRV with the wrong protocol', q: '_http._udp.web.app.svc.cluster.local', type: 'SRV', rcode: RCODE.NXDOMAIN },
  { name: 'SRV of an unknown port', q: '_nope._tcp.web.app.svc.cluster.local', type: 'SRV', rcode: RCODE.NXDOMAIN },
  { name: 'SRV on the Service name: every named port', q: 'web.app.svc.cluster.local', type: 'SRV', answers: ['SRV 80 web.app.svc.cluster.local'] },
  { name: 'headless SRV: one per endpoint, endpoint port and name', q: '_pg._tcp.db.app.svc.cluster.local', type: 'SRV', answers: ['SRV 5432 db-0.db.app.svc.cluster.local', 'SRV 5432 10-42-0-8.db.app.svc.cluster.local'], additionals: ['A 10.42.0.7', 'A 10.42.0.8'] },
  { name: 'UDP named port', q: '_dns._udp.dual.app.svc.cluster.local', type: 'SRV', answers: ['SRV 53 dual.app.svc.cluster.local'] },
  { name: 'Service without a ClusterIP yet', q: 'pending.app.svc.cluster.local', type: 'A', rcode: RCODE.NXDOMAIN },
  { name: 'unknown Service', q: 'nope.app.svc.cluster.local', type: 'A', rcode: RCODE.NXDOMAIN },
  { name: 'unknown namespace', q: 'web.other.svc.cluster.local', type: 'A', rcode: RCODE.NXDOMAIN },
  { name: 'namespace name: exists, no records', q: 'app.svc.cluster.local', type: 'A', rcode: RCODE.NOERROR, answers: [] },
  { name: 'svc.<zone> exists', q: 'svc.cluster.local', type: 'A', rcode: RCODE.NOERROR, answers: [] },
  { name: 'search-path probe with ndots 5', q: 'web.app.svc.cluster.local.app.svc.cluster.local', type: 'A', rcode: RCODE.NXDOMAIN },
  { name: 'external name through the search path', q: 'example.com.app.svc.cluster.local', type: 'A', rcode: RCODE.NXDOMAIN },
  { name: 'external name under the zone', q: 'example.com.cluster.local', type: 'A', rcode: RCODE.NXDOMAIN },
  { name: 'pod A record (pods insecure)', q: '10-42-0-99.app.pod.cluster.local', type: 'A', answers: ['A 10.42.0.99'] },
  { name: 'pod AAAA of an IPv4 pod: NODATA', q: '10-42-0-99.app.pod.cluster.local', type: 'AAAA', rcode: RCODE.NOERROR, answers: [] },
  { name: 'pod IPv6', q: 'fd42--5.app.pod.cluster.local', type: 'AAAA', answers: ['AAAA fd42::5'] },
  { name: 'pod name that is no address', q: 'web.app.pod.cluster.local', type: 'A', rcode: RCODE.NXDOMAIN },
  { name: 'zone SOA', q: 'cluster.local', type: 'SOA', answers: ['SOA [object Object]'] },
  { name: 'PTR of a ClusterIP', q: '20.0.43.10.in-addr.arpa', type: 'PTR', answers: ['PTR web.app.svc.cluster.local'] },
  { name: 'PTR of an endpoint with a hostname', q: '7.0.42.10.in-addr.arpa', type: 'PTR', answers: ['PTR db-0.db.app.svc.cluster.local'] },
  { name: 'PTR of an endpoint without one', q: '5.0.42.10.in-addr.arpa', type: 'PTR', answers: ['PTR 10-42-0-5.web.app.svc.cluster.local'] },
  { name: 'PTR of an IPv6 ClusterIP', q: '0.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.4.d.f.ip6.arpa', type: 'PTR', answers: ['PTR dual.app.svc.cluster.local'] },
  { name: 'PTR of an unknown address: forwarded', q: '1.1.168.192.in-addr.arpa', type: 'PTR', forward: true },
  { name: 'outside the zone: forwarded', q: 'example.com', type: 'A', forward: true },
  { name: 'a zone that only ends like ours: forwarded', q: 'notcluster.local', type: 'A', forward: true },
];

describe('computeDnsAnswer', () => {
  const idx = cluster();
  for (const row of rows) {
    it(row.name, () => {
      const d = computeDnsAnswer({ name: row.q, type: row.type as RecordType }, idx, { zone, ttl: 5 });
      if (row.forward) {
        assert.equal(d.kind, 'forward');
        return;
      }
      assert.equal(d.kind, 'answer');
      if (d.kind !== 'answer') return;
      assert.equal(d.rcode, row.rcode ?? RCODE.NOERROR);
      if (row.answers) assert.deepEqual(d.answers.map(line), row.answers);
      if (row.additionals) assert.deepEqual(d.additionals.map(line), row.additionals);
      for (const a of d.answers) assert.equal(a.name, row.q, 'answers carry the question name as asked');
      // Negative answers carry the SOA so resolvers cache them (RFC 2308).
      if (d.answers.length === 0) assert.deepEqual(d.authorities.map((a) => a.type), ['SOA']);
    });
  }

  it('follows changes: an endpoint turning unready leaves the headless answer, a deleted Service goes NXDOMAIN', () => {
    const idx2 = cluster();
    const q = { name: 'db.app.svc.cluster.local', type: 'A' as const };
    const serial = idx2.serial;
    idx2.setSlice(slice('app', 'db', 'db-1', [{ ip: '10.42.0.7', hostname: 'db-0', ready: false }, { ip: '10.42.0.8' }], [{ name: 'pg', port: 5432 }]));
    const d = computeDnsAnswer(q, idx2, { zone, ttl: 5 });
    assert.deepEqual(d.kind === 'answer' && d.answers.map(line), ['A 10.42.0.8']);
    assert.ok(idx2.serial > serial, 'the SOA serial moves with the records');
    assert.deepEqual(idx2.ptr('10.42.0.7'), [], 'the unready address lost its PTR');
    idx2.deleteService(svc('app', 'db', {}));
    const gone = computeDnsAnswer(q, idx2, { zone, ttl: 5 });
    assert.equal(gone.kind === 'answer' && gone.rcode, RCODE.NXDOMAIN);
    idx2.deleteService(svc('app', 'web', {}));
    idx2.deleteService(svc('app', 'ext', {}));
    idx2.deleteService(svc('app', 'dual', {}));
    idx2.deleteService(svc('app', 'pending', {}));
    const ns = computeDnsAnswer({ name: 'app.svc.cluster.local', type: 'A' }, idx2, { zone, ttl: 5 });
    assert.equal(ns.kind === 'answer' && ns.rcode, RCODE.NXDOMAIN, 'a namespace without Services is gone');
  });

  it('a custom cluster domain', () => {
    const idx3 = new DnsIndex('corp.internal');
    idx3.setService(svc('app', 'web', { clusterIP: '10.43.0.20', clusterIPs: ['10.43.0.20'] }));
    const d = computeDnsAnswer({ name: 'web.app.svc.corp.internal', type: 'A' }, idx3, { zone: 'corp.internal', ttl: 5 });
    assert.deepEqual(d.kind === 'answer' && d.answers.map(line), ['A 10.43.0.20']);
    assert.equal(computeDnsAnswer({ name: 'web.app.svc.cluster.local', type: 'A' }, idx3, { zone: 'corp.internal', ttl: 5 }).kind, 'forward');
  });
});

describe('address labels', () => {
  it('reverse names and dashed labels parse, garbage does not', () => {
    assert.equal(reverseToIp('4.3.2.1.in-addr.arpa'), '1.2.3.4');
    assert.equal(reverseToIp('4.3.2.in-addr.arpa'), undefined);
    assert.equal(reverseToIp('400.3.2.1.in-addr.arpa'), undefined);
    assert.equal(undashed('1-2-3-4'), '1.2.3.4');
    assert.equal(undashed('1-2-3-400'), undefined);
    assert.equal(undashed('web'), undefined);
    assert.equal(undashed('fd00--1'), 'fd00::1');
  });
});
