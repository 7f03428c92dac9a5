/** The DNS server on real sockets (127.0.0.1, port 0): UDP, TCP framing, EDNS0 sizes, truncation, forwarding. */
import { strict as assert } from 'node:assert';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import { DnsIndex } from './dns-records.js';
import { DnsServer } from './dns-server.js';
import { UpstreamForwarder, parseResolvConf } from './upstream-forwarder.js';
import { queryTcp, queryUdp } from '../../test/helpers/dns-query.js';

/** A fake upstream resolver: answers A 192.0.2.x for anything, 120 A records over UDP-truncated for big.example. */
async function fakeUpstream() {
  let udpQueries = 0;
  let tcpQueries = 0;
  const answerFor = (msg: Buffer, viaTcp: boolean) => {
    const q = dnsPacket.decode(msg);
    const question = q.questions![0]!;
    const big = question.name === 'big.example';
    if (big && !viaTcp) return dnsPacket.encode({ type: 'response', id: q.id, flags: dnsPacket.TRUNCATED_RESPONSE, questions: q.questions });
    const answers = big
      ? Array.from({ length: 120 }, (_, i) => ({ type: 'A' as const, name: question.name, ttl: 60, data: `198.51.100.${i + 1}` }))
      : question.name === 'missing.example'
        ? []
        : [{ type: 'A' as const, name: question.name, ttl: 60, data: '192.0.2.99' }];
    return dnsPacket.encode({ type: 'response', id: q.id, flags: question.name === 'missing.example' ? 3 : 0, questions: q.questions, answers });
  };
  const udp = createSocket('udp4');
  udp.on('message', (msg, r) => {
    udpQueries++;
    udp.send(answerFor(msg, false), r.port, r.address);
  });
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  const port = udp.address().port;
  const tcp = createServer((c) => {
    let buf = Buffer.alloc(0);
    c.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        tcpQueries++;
        c.end(dnsPacket.streamEncode(dnsPacket.decode(answerFor(buf.subarray(2, 2 + buf.readUInt16BE(0)), true))));
      }
    });
  });
  await new Promise<void>((resolve) => tcp.listen(port, '127.0.0.1', resolve));
  return {
    port,
    counts: () => ({ udp: udpQueries, tcp: tcpQueries }),
    close: () => {
      udp.close();
      tcp.close();
    },
  };
}

describe('DnsServer on sockets', () => {
  const index = new DnsIndex('cluster.local');
  const server = new DnsServer({ zone: 'cluster.local', ttl: 5, records: index });
  let upstream: Awaited<ReturnType<typeof fakeUpstream>>;
  let deadUpstream: ReturnType<typeof createSocket>;
  let forwarder: UpstreamForwarder;
  let port = 0;

  before(async () => {
    index.setService({ metadata: { namespace: 'app', name: 'web' }, spec: { clusterIP: '10.43.0.20', clusterIPs: ['10.43.0.20'] } });
    index.setService({ metadata: { namespace: 'app', name: 'many' }, spec: { clusterIP: 'None' } });
    index.setSlice({
      metadata: { namespace: 'app', name: 'many-1', labels: { 'kubernetes.io/service-name': 'many' } },
      addressType: 'IPv4',
      endpoints: Array.from({ length: 60 }, (_, i) => ({ addresses: [`10.42.1.${i + 1}`], conditions: { ready: true } })),
      ports: [],
    });
    upstream = await fakeUpstream();
    // An upstream that never answers comes first: the forwarder must give up on it and ask the next.
    deadUpstream = createSocket('udp4');
    await new Promise<void>((resolve) => deadUpstream.bind(0, '127.0.0.1', resolve));
    forwarder = new UpstreamForwarder({ upstreams: [{ host: '127.0.0.1', port: deadUpstream.address().port }, { host: '127.0.0.1', port: upstream.port }], timeoutMs: 300 });
    server.forwarder = forwarder;
    ({ port } = await server.listen({ host: '127.0.0.1', port: 0 }));
  });
  after(async () => {
    await server.close();
    forwarder.close();
    upstream.close();
    deadUpstream.close();
  });

  it('answers a Service over UDP, authoritative, with the query id', async () => {
    const r = await queryUdp(port, 'web.app.svc.cluster.local', 'A', { id: 777 });
    assert.equal(r.id, 777);
    assert.equal(r.rcode, 'NOERROR');
    assert.equal(r.flag_aa, true);
    assert.deepEqual(r.answers?.map((a) => (a as { data: string }).data), ['10.43.0.20']);
  });

  it('a repeated question is answered from the encoded-answer cache until the records change', async () => {
    index.setService({ metadata: { namespace: 'app', name: 'moving' }, spec: { clusterIP: '10.43.0.40', clusterIPs: ['10.43.0.40'] } });
    const ask = async (id: number) => (await queryUdp(port, 'moving.app.svc.cluster.local', 'A', { id })).answers?.map((a) => (a as { data: string }).data);
    assert.deepEqual(await ask(1), ['10.43.0.40']);
    const second = await queryUdp(port, 'moving.app.svc.cluster.local', 'A', { id: 2 });
    assert.equal(second.id, 2, 'a cached answer carries the new query id');
    index.setService({ metadata: { namespace: 'app', name: 'moving' }, spec: { clusterIP: '10.43.0.41', clusterIPs: ['10.43.0.41'] } });
    assert.deepEqual(await ask(3), ['10.43.0.41'], 'a change of the records is seen at once');
    index.deleteService({ metadata: { namespace: 'app', name: 'moving' } });
    assert.equal((await queryUdp(port, 'moving.app.svc.cluster.local', 'A')).rcode, 'NXDOMAIN');
  });

  it('NXDOMAIN with the SOA in authority', async () => {
    const r = await queryUdp(port, 'nope.app.svc.cluster.local', 'A');
    assert.equal(r.rcode, 'NXDOMAIN');
    assert.deepEqual(r.authorities?.map((a) => a.type), ['SOA']);
  });

  it('answers too big for 512 bytes are truncated over UDP, fit with EDNS0 4096, and come whole over TCP', async () => {
    const small = await queryUdp(port, 'many.app.svc.cluster.local', 'A');
    assert.equal(small.flag_tc, true);
    assert.equal(small.answers?.length, 0);
    const edns = await queryUdp(port, 'many.app.svc.cluster.local', 'A', { edns: 4096 });
    assert.equal(edns.flag_tc, false);
    assert.equal(edns.answers?.length, 60);
    assert.ok(edns.additionals?.some((a) => a.type === 'OPT'), 'EDNS0 queries get an OPT record back');
    const [tcp] = await queryTcp(port, [{ name: 'many.app.svc.cluster.local', type: 'A' }]);
    assert.equal(tcp!.answers?.length, 60);
  });

  it('several queries pipelined on one TCP connection', async () => {
    const rs = await queryTcp(port, [
      { name: 'web.app.svc.cluster.local', type: 'A' },
      { name: 'nope.app.svc.cluster.local', type: 'A' },
      { name: '20.0.43.10.in-addr.arpa', type: 'PTR' },
    ]);
    assert.deepEqual(rs.map((r) => r.rcode), ['NOERROR', 'NXDOMAIN', 'NOERROR']);
    assert.equal((rs[2]!.answers![0] as { data: string }).data, 'web.app.svc.cluster.local');
  });

  it('forwards other names past a dead upstream, caches the answer, and retries truncated answers over TCP', async () => {
    const started = Date.now();
    const r = await queryUdp(port, 'www.example', 'A');
    assert.equal(r.rcode, 'NOERROR');
    assert.deepEqual(r.answers?.map((a) => (a as { data: string }).data), ['192.0.2.99']);
    assert.ok(Date.now() - started >= 250, 'the dead upstream was tried first');
    const before = upstream.counts().udp;
    const again = await queryUdp(port, 'WWW.example', 'A', { id: 9 });
    assert.equal(again.id, 9);
    assert.deepEqual(again.answers?.map((a) => (a as { data: string }).data), ['192.0.2.99']);
    assert.equal(upstream.counts().udp, before, 'the second answer came from the cache');
    const nx = await queryUdp(port, 'missing.example', 'A');
    assert.equal(nx.rcode, 'NXDOMAIN');
    const [big] = await queryTcp(port, [{ name: 'big.example', type: 'A' }]);
    assert.equal(big!.answers?.length, 120);
    assert.ok(upstream.counts().tcp >= 1, 'the upstream was asked over TCP after TC');
    const bigUdp = await queryUdp(port, 'big.example', 'A');
    assert.equal(bigUdp.flag_tc, true, 'too big for the client’s 512 bytes: truncated');
  });

  it('SERVFAIL when no upstream answers; garbage is answered FORMERR or dropped, and the server keeps serving', async () => {
    const lonely = new DnsServer({ zone: 'cluster.local', ttl: 5, records: index });
    const dead = new UpstreamForwarder({ upstreams: [{ host: '127.0.0.1', port: deadUpstream.address().port }], timeoutMs: 100 });
    lonely.forwarder = dead;
    const { port: p } = await lonely.listen({ host: '127.0.0.1', port: 0 });
    try {
      const r = await queryUdp(p, 'www.example', 'A');
      assert.equal(r.rcode, 'SERVFAIL');
      const garbage = await lonely.answer(Buffer.from('0102030400010000000000000aff', 'hex'), 'udp');
      assert.ok(garbage === undefined || (garbage.readUInt16BE(2) & 0xf) === 1, 'FORMERR or nothing');
      assert.equal(await lonely.answer(Buffer.from('01'), 'udp'), undefined);
      const still = await queryUdp(p, 'web.app.svc.cluster.local', 'A');
      assert.equal(still.rcode, 'NOERROR');
    } finally {
      await lonely.close();
      dead.close();
    }
  });

  it('random bytes and cut-off queries never throw, and every answer keeps the id it was asked with', async () => {
    const valid = dnsPacket.encode({ type: 'query', id: 0x1234, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: 'web.app.svc.cluster.local', type: 'A' }] });
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const inputs: Buffer[] = [];
    for (let len = 0; len < valid.length; len++) inputs.push(valid.subarray(0, len));
    for (let i = 0; i < 500; i++) inputs.push(Buffer.from(Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256))));
    // Flipped bytes in a valid query: counts, label lengths and types that lie.
    for (let i = 0; i < 300; i++) {
      const b = Buffer.from(valid);
      b[2 + Math.floor(rand() * (b.length - 2))] = Math.floor(rand() * 256);
      inputs.push(b);
    }
    for (const input of inputs) {
      const out = await server.answer(input, 'udp');
      if (out) assert.equal(out.readUInt16BE(0), input.readUInt16BE(0), `id kept for ${input.toString('hex')}`);
    }
    assert.equal((await queryUdp(port, 'web.app.svc.cluster.local', 'A')).rcode, 'NOERROR', 'still serving');
  });

  it('falls back to another port when the asked one is taken, UDP and TCP on the same port', async () => {
    const other = new DnsServer({ zone: 'cluster.local', ttl: 5, records: index });
    const { port: p } = await other.listen({ host: '127.0.0.1', port });
    try {
      assert.notEqual(p, port);
      assert.equal((await queryUdp(p, 'web.app.svc.cluster.local', 'A')).rcode, 'NOERROR');
      assert.equal((await queryTcp(p, [{ name: 'web.app.svc.cluster.local', type: 'A' }]))[0]!.rcode, 'NOERROR');
    } finally {
      await other.close();
    }
  });
});

describe('parseResolvConf', () => {
  it('takes the nameserver lines', () => {
    assert.deepEqual(parseResolvConf('# x\nsearch a b\nnameserver 10.0.0.2\nnameserver fd00::53\noptions ndots:1\n'), [
      { host: '10.0.0.2', port: 53 },
      { host: 'fd00::53', port: 53 },
    ]);
  });
});
