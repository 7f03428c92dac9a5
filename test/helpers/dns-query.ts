/** DNS queries over UDP and TCP with dns-packet, for tests and bench/dns.ts (no dig needed). */
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import dnsPacket from 'dns-packet';
import type { Packet, RecordType } from 'dns-packet';

export type Decoded = Packet & { rcode: string; flag_tc: boolean; flag_aa: boolean };

export function queryUdp(port: number, name: string, type: RecordType, o: { edns?: number; host?: string; id?: number } = {}): Promise<Decoded> {
  const socket = createSocket('udp4');
  const msg = dnsPacket.encode({
    type: 'query',
    id: o.id ?? 4242,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type }],
    ...(o.edns ? { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: o.edns, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] } : {}),
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (socket.close(), reject(new Error(`no UDP answer for ${name}`))), 5000);
    socket.on('message', (out) => {
      clearTimeout(timer);
      socket.close();
      resolve(dnsPacket.decode(out) as unknown as Decoded);
    });
    socket.send(msg, port, o.host ?? '127.0.0.1');
  });
}

export function queryTcp(port: number, questions: Array<{ name: string; type: RecordType }>, host = '127.0.0.1'): Promise<Decoded[]> {
  return new Promise((resolve, reject) => {
    const conn = connect({ host, port });
    let buf = Buffer.alloc(0);
    const out: Decoded[] = [];
    conn.on('error', reject);
    conn.on('connect', () => {
      // All queries in one write, pipelined on one connection (RFC 7766 §6.2.1.1).
      conn.write(Buffer.concat(questions.map((q, i) => dnsPacket.streamEncode({ type: 'query', id: i + 1, questions: [q] }))));
    });
    conn.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        out.push(dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))) as unknown as Decoded);
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (out.length === questions.length) {
        conn.end();
        resolve(out.sort((a, b) => (a.id ?? 0) - (b.id ?? 0)));
      }
    });
  });
}

