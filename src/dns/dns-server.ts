/**
 * The cluster DNS server on the wire: UDP and TCP (two-byte length framing, several queries per connection, RFC
 * 7766) on one address and port. Each message is decoded with dns-packet, answered by computeDnsAnswer from the
 * records, or forwarded upstream. Over UDP an answer larger than the client's buffer (512 bytes, or its EDNS0 size,
 * at most 4096) is sent truncated (TC set, no records) so the client asks again over TCP.
 */
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import dnsPacket from 'dns-packet';
import type { Answer, Packet } from 'dns-packet';
import { computeDnsAnswer, RCODE, type DnsAnswerOptions } from './compute-dns-answer.js';
import type { DnsRecords } from './dns-records.js';
import type { UpstreamForwarder } from './upstream-forwarder.js';
import { createLogger } from '../log/logger.js';

const log = createLogger('dns');

/** The EDNS0 buffer size skiff offers (the DNS flag day 2020 value). */
export const EDNS_UDP_SIZE = 1232;
const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
const TCP_IDLE_MS = 10_000;
/** Most encoded answers kept; past it the cache starts over (cheaper than LRU bookkeeping per query). */
const ANSWER_CACHE_SIZE = 10_000;

export interface DnsServerOptions extends DnsAnswerOptions {
  records: DnsRecords;
}

export interface DnsListenOptions {
  host: string;
  /** Tried first (53). */
  port: number;
  /** When `port` is taken or not allowed, listen on any free port instead (default true). */
  fallbackToAnyPort?: boolean;
}

export class DnsServer {
  private udp: Socket | undefined;
  private tcp: Server | undefined;
  private readonly connections = new Set<TcpSocket>();
  address = '';
  port = 0;
  /** Where names outside the zone go; unset: they get SERVFAIL. */
  forwarder: UpstreamForwarder | undefined;
  /** Encoded in-zone answers by transport + message without its id, valid for one records serial. */
  private readonly answers = new Map<string, Buffer>();
  private answersSerial = -1;

  constructor(private readonly o: DnsServerOptions) {}

  /** Listens on UDP and TCP at the same port: `port` if free, else (fallbackToAnyPort) one the kernel picks. */
  async listen(l: DnsListenOptions): Promise<{ address: string; port: number }> {
    const tries = [l.port, ...(l.fallbackToAnyPort === false || l.port === 0 ? [] : [0, 0, 0])];
    let lastErr: unknown;
    for (const port of tries) {
      try {
        await this.listenOn(l.host, port);
        return { address: this.address, port: this.port };
      } catch (err) {
        lastErr = err;
        await this.close();
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EADDRINUSE' && code !== 'EACCES') break;
      }
    }
    throw lastErr;
  }

  private async listenOn(host: string, port: number): Promise<void> {
    const udp = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
    this.udp = udp;
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind({ address: host, port, exclusive: true }, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    udp.on('error', (err) => log.warn('DNS UDP socket error', { err }));
    udp.on('message', (msg, rinfo) => {
      this.answer(msg, 'udp')
        .then((out) => {
          // The socket may have closed while a forwarded question was out.
          if (out && this.udp === udp) udp.send(out, rinfo.port, rinfo.address);
        })
        .catch((err: unknown) => log.warn('DNS query failed', { from: rinfo.address, err }));
    });
    const bound = udp.address();
    const tcp = createServer((conn) => this.serveTcp(conn));
    this.tcp = tcp;
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ host, port: bound.port, exclusive: true }, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    this.address = bound.address;
    this.port = bound.port;
  }

  async close(): Promise<void> {
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    for (const c of this.connections) c.destroy();
    this.connections.clear();
    if (udp) await new Promise<void>((resolve) => udp.close(() => resolve())).catch(() => undefined);
    if (tcp) await new Promise<void>((resolve) => tcp.close(() => resolve()));
  }

  private serveTcp(conn: TcpSocket): void {
    this.connections.add(conn);
    conn.setTimeout(TCP_IDLE_MS, () => conn.destroy());
    conn.on('error', () => conn.destroy());
    conn.on('close', () => this.connections.delete(conn));
    let buffered: Buffer = Buffer.alloc(0);
    conn.on('data', (chunk: Buffer) => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      while (buffered.length >= 2) {
        const len = buffered.readUInt16BE(0);
        if (buffered.length < 2 + len) break;
        const msg = buffered.subarray(2, 2 + len);
        buffered = buffered.subarray(2 + len);
        this.answer(msg, 'tcp')
          .then((out) => {
            if (!out || conn.destroyed) return;
            const head = Buffer.alloc(2);
            head.writeUInt16BE(out.length);
            conn.write(Buffer.concat([head, out]));
          })
          .catch((err: unknown) => {
            log.warn('DNS query over TCP failed', { from: conn.remoteAddress, err });
            conn.destroy();
          });
      }
    });
  }

  /** The response to one message (undefined: drop it, as for garbage too short to carry an id). */
  async answer(msg: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    if (msg.length < 12) return undefined;
    // The same message (all but its id) gets the same answer while the records stand: search-path storms and
    // repeated lookups cost a copy, not a decode and an encode. Any change of the records empties the cache.
    const serial = this.o.records.serial;
    if (serial !== this.answersSerial) {
      this.answers.clear();
      this.answersSerial = serial;
    }
    const key = transport + msg.toString('latin1', 2);
    const hit = this.answers.get(key);
    if (hit) {
      const out = Buffer.allocUnsafe(hit.length);
      hit.copy(out);
      out[0] = msg[0]!;
      out[1] = msg[1]!;
      return out;
    }
    const out = await this.compute(msg, transport);
    if (out?.cacheable) {
      if (this.answers.size >= ANSWER_CACHE_SIZE) this.answers.clear();
      this.answers.set(key, out.response);
    }
    return out?.response;
  }

  /** The response, and whether it is the zone's own answer (cacheable) rather than forwarded or an error. */
  private async compute(msg: Buffer, transport: 'udp' | 'tcp'): Promise<{ response: Buffer; cacheable: boolean } | undefined> {
    let query: Packet;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return { response: headerOnly(msg, RCODE.FORMERR), cacheable: false };
    }
    if (query.type === 'response') return undefined;
    const opt = query.additionals?.find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
    const limit = transport === 'tcp' ? 65535 : Math.min(4096, Math.max(512, opt?.udpPayloadSize ?? 512));
    const questions = query.questions ?? [];
    const fail = (rcode: number) => ({ response: this.encode(query, opt, rcode, [], [], [], limit, false), cacheable: false });
    if ((query as { opcode?: string }).opcode !== 'QUERY') return fail(RCODE.NOTIMP);
    if (questions.length !== 1) return fail(RCODE.FORMERR);
    let decision;
    try {
      decision = computeDnsAnswer(questions[0]!, this.o.records, this.o);
    } catch (err) {
      log.error('DNS answer failed', { name: questions[0]!.name, type: questions[0]!.type, err });
      return fail(RCODE.SERVFAIL);
    }
    if (decision.kind === 'forward') {
      const forwarded = this.forwarder ? await this.forwarder.forward(msg, questions[0]!) : undefined;
      if (!forwarded) return fail(RCODE.SERVFAIL);
      return { response: forwarded.length <= limit ? forwarded : truncate(forwarded), cacheable: false };
    }
    return { response: this.encode(query, opt, decision.rcode, decision.answers, decision.authorities, decision.additionals, limit, true), cacheable: true };
  }

  private encode(query: Packet, opt: unknown, rcode: number, answers: Answer[], authorities: Answer[], additionals: Answer[], limit: number, authoritative: boolean): Buffer {
    const rd = query.flags !== undefined && (query.flags & dnsPacket.RECURSION_DESIRED) !== 0;
    const flags = (authoritative ? dnsPacket.AUTHORITATIVE_ANSWER : 0) | (rd ? dnsPacket.RECURSION_DESIRED : 0) | dnsPacket.RECURSION_AVAILABLE | rcode;
    const edns: Answer[] = opt ? [{ type: 'OPT', name: '.', udpPayloadSize: EDNS_UDP_SIZE, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [];
    const packet: Packet = { type: 'response', id: query.id ?? 0, flags, questions: query.questions ?? [], answers, authorities, additionals: [...additionals, ...edns] };
    const out = dnsPacket.encode(packet);
    if (out.length <= limit) return out;
    // Too big for the client's UDP buffer: drop the records and set TC so it asks over TCP (RFC 2181 §9).
    return dnsPacket.encode({ ...packet, flags: flags | dnsPacket.TRUNCATED_RESPONSE, answers: [], authorities: [], additionals: edns });
  }
}

/** A FORMERR (or other rcode) echoing only the header of a message that could not be decoded. */
function headerOnly(msg: Buffer, rcode: number): Buffer {
  const out = Buffer.alloc(12);
  msg.copy(out, 0, 0, 4);
  const flags = (msg.readUInt16BE(2) & 0x7900) | 0x8000 | dnsPacket.RECURSION_AVAILABLE | rcode;
  out.writeUInt16BE(flags & 0xffff, 2);
  return out;
}

/** A forwarded response too big for the client's UDP buffer: its header and question, TC set. */
function truncate(response: Buffer): Buffer {
  try {
    const p = dnsPacket.decode(response);
    return dnsPacket.encode({ type: 'response', id: p.id ?? 0, flags: (p.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, questions: p.questions ?? [], answers: [], authorities: [], additionals: [] });
  } catch {
    return headerOnly(response, RCODE.SERVFAIL);
  }
}

export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? String(rcode);
}
