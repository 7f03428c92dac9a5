/**
 * Fuzzing the agent's HTTPS API (src/agent/server, src/agent/streaming) on a real socket, with the host-process
 * backend its unit tests use: mutated SPDY/3.1 sessions (valid streams first, then mutated header blocks, lengths, zlib
 * dictionaries, window updates, settings, huge lengths), mutated WebSocket sessions of the v4/v5/base64 channel
 * protocols (bad opcodes, masks, lengths, fragmented control frames, resize messages with junk JSON) and mutated HTTP
 * requests for /containerLogs, /exec, /attach, /portForward, /pods and /stats/summary.
 *
 * Every case is one TLS connection with a deadline (20 s after the client's last byte). Asserted: no 5xx answer,
 * every connection ends (the server ends the ones a client leaves open: handshake, stream creation and idle timeouts),
 * the backend only ever sees terminal sizes a client could mean (uint16), after the run no connection, session or
 * exec'd process is left and memory is back under a bound, and the server still serves a normal request. The PRNG is
 * seeded: a failure names the seed and the case (FUZZ_SEED, FUZZ_CASES to scale).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import zlib from 'node:zlib';
import { WebSocket } from 'ws';
import { ensurePki, type Pki } from '../src/apiserver/auth/pki.js';
import { AgentServer } from '../src/agent/server/agent-server.js';
import { HostProcessBackend } from '../src/agent/server/host-process-backend.js';
import { SPDY3_HEADER_DICTIONARY } from '../src/agent/streaming/spdy-dictionary.js';
import {
  encodeDataFrame,
  encodeGoAway,
  encodeHeaderBlock,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSynStream,
  encodeWindowUpdate,
  FLAG_FIN,
  SETTINGS_INITIAL_WINDOW_SIZE,
} from '../src/agent/streaming/spdy-frames.js';
import { prng } from './helpers/prng.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261207);
/** Connections per family (SPDY, WebSocket, HTTP). */
const CASES = Number(process.env.FUZZ_CASES ?? 300);
const CONCURRENCY = 12;
/** Longest a connection may stay open: the server's timeouts below, plus slack for a loaded machine. */
const CASE_DEADLINE_MS = 20_000;
const LIMITS = { handshakeTimeoutMs: 1_500, idleTimeoutMs: 2_000 };

type Rand = () => number;
const pick = <T>(rand: Rand, list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
const int = (rand: Rand, n: number) => Math.floor(rand() * n);

interface CaseResult {
  /** The status line's code, when the server sent one. */
  status?: number;
  /** The server closed the connection (or it ended) before the deadline. */
  ended: boolean;
  ms: number;
  received: number;
}

interface FuzzCase {
  family: string;
  index: number;
  what: string;
  /** Chunks written in order, each after `pauseMs` (a trickle) or at once. */
  chunks: Buffer[];
  pauseMs?: number;
  /** SPDY or WebSocket frames among the chunks. */
  frames?: number;
  /** Half-close after writing, as a client that is done does. */
  end: boolean;
  /** The client closes once the status line is in (log follow streams stay open as long as the container runs). */
  closeAfterStatus?: boolean;
}

describe('agent API fuzz', () => {
  let dir: string;
  let pki: Pki;
  let backend: HostProcessBackend;
  let agent: AgentServer;
  let echo: Server;
  let baseline: number;
  const failures: string[] = [];

  before(async () => {
    setFlagsFromString('--expose-gc');
    dir = await mkdtemp(join(tmpdir(), 'skiff-agent-fuzz-'));
    pki = await ensurePki(join(dir, 'pki'));
    echo = createServer((s) => s.pipe(s).on('error', () => s.destroy()));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    const echoPort = (echo.address() as { port: number }).port;
    backend = new HostProcessBackend({ dir: join(dir, 'pods'), portMap: { 80: echoPort }, statsSummary: () => ({ node: { nodeName: 'fuzz' }, pods: [] }) });
    await backend.addPod({
      metadata: { name: 'p', namespace: 'ns', uid: 'u1' },
      spec: {
        containers: [
          { name: 'c', image: 'x', command: ['sh', '-c', 'echo one; echo two; while read line; do echo "got $line"; done; exec sleep 3600'] },
          { name: 'done', image: 'x', command: ['sh', '-c', 'echo bye'] },
        ],
      },
    });
    agent = new AgentServer({ backend, tls: { ca: pki.caCertPem, cert: pki.servingCertPem, key: pki.servingKeyPem }, host: '127.0.0.1', port: 0, limits: LIMITS });
    await agent.start();
    gc();
    baseline = memory();
  });

  after(async () => {
    await agent?.close();
    await backend?.close();
    echo?.close();
    await rm(dir, { recursive: true, force: true });
  });

  function gc(): void {
    (runInNewContext('gc') as () => void)();
  }
  function memory(): number {
    const m = process.memoryUsage();
    return m.heapUsed + m.external;
  }

  function runCase(c: FuzzCase): Promise<CaseResult> {
    const started = Date.now();
    return new Promise((resolve) => {
      let head = '';
      let received = 0;
      let done = false;
      const socket = tlsConnect({ host: '127.0.0.1', port: agent.port, ca: pki.caCertPem, cert: pki.adminCertPem, key: pki.adminKeyPem, servername: 'localhost' });
      const finish = (ended: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket.destroy();
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
        resolve({ status: m ? Number(m[1]) : undefined, ended, ms: Date.now() - started, received });
      };
      // The server's deadline runs from the client's last byte (a byte-by-byte case on a loaded machine can take a while
      // to send); the writes themselves get a bound too.
      let timer = setTimeout(() => finish(false), CASE_DEADLINE_MS * 4);
      socket.on('data', (d: Buffer) => {
        received += d.length;
        if (head.length < 64) head += d.subarray(0, 64).toString('latin1');
        if (c.closeAfterStatus && /^HTTP\/1\.[01] \d{3}/.test(head)) finish(true);
      });
      socket.on('error', () => undefined);
      socket.on('close', () => finish(true));
      socket.once('secureConnect', async () => {
        for (const chunk of c.chunks) {
          if (socket.destroyed) return;
          socket.write(chunk);
          if (c.pauseMs) await new Promise((r) => setTimeout(r, c.pauseMs));
        }
        if (c.end && !socket.destroyed) socket.end();
        clearTimeout(timer);
        if (!done) timer = setTimeout(() => finish(false), CASE_DEADLINE_MS);
      });
    });
  }

  async function runAll(cases: FuzzCase[]): Promise<CaseResult[]> {
    const results: CaseResult[] = new Array(cases.length);
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < cases.length) {
          const i = next++;
          results[i] = await runCase(cases[i]!);
        }
      }),
    );
    cases.forEach((c, i) => {
      const r = results[i]!;
      const name = `${c.family} case ${c.index} (seed ${SEED}): ${c.what}`;
      if (r.status !== undefined && r.status >= 500) failures.push(`${name}: answered ${r.status}`);
      if (!r.ended) failures.push(`${name}: still open ${CASE_DEADLINE_MS} ms after the client's last byte`);
    });
    return results;
  }

  // ---------------------------------------------------------------- SPDY/3.1

  const spdyRequest = (path: string, protocol: string) =>
    Buffer.from(`POST ${path} HTTP/1.1\r\nHost: agent\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${protocol}\r\n\r\n`);

  /** A header block compressed in the connection's zlib context (the server's inflater shares its history). */
  class Deflater {
    private readonly d = zlib.createDeflate({ dictionary: SPDY3_HEADER_DICTIONARY });
    block(raw: Buffer): Promise<Buffer> {
      return new Promise((resolve) => {
        const out: Buffer[] = [];
        const onData = (b: Buffer) => out.push(b);
        this.d.on('data', onData);
        this.d.write(raw);
        this.d.flush(zlib.constants.Z_SYNC_FLUSH, () =>
          setImmediate(() => {
            this.d.off('data', onData);
            resolve(Buffer.concat(out));
          }),
        );
      });
    }
    close(): void {
      this.d.close();
    }
  }

  /** A header block gone wrong in one of the ways a broken or hostile client can send it. */
  async function badHeaderBlock(rand: Rand, deflater: Deflater, headers: Record<string, string[]>): Promise<[string, Buffer]> {
    const raw = encodeHeaderBlock(headers);
    switch (int(rand, 9)) {
      case 0:
        return ['header block without the SPDY dictionary', zlib.deflateSync(raw)];
      case 1:
        return ['header block with another dictionary', zlib.deflateSync(raw, { dictionary: Buffer.from('not the spdy dictionary at all') })];
      case 2:
        return ['uncompressed header block', raw];
      case 3: {
        const b = Buffer.from(await deflater.block(raw));
        for (let i = 0; i < 1 + int(rand, 4); i++) b[int(rand, b.length)] ^= 1 << int(rand, 8);
        return ['header block with flipped bits', b];
      }
      case 4: {
        const b = await deflater.block(raw);
        return ['truncated header block', b.subarray(0, int(rand, b.length))];
      }
      case 5: {
        const huge = Buffer.alloc(8);
        huge.writeUInt32BE(0xffffffff, 0);
        huge.writeUInt32BE(0xfffffff0, 4);
        return ['header block with huge count and name length', await deflater.block(huge)];
      }
      case 6:
        // Decompresses to 64 MiB: a block that must not be inflated whole.
        return ['zlib bomb header block', zlib.deflateSync(Buffer.concat([raw, Buffer.alloc(64 << 20)]), { dictionary: SPDY3_HEADER_DICTIONARY, level: 9 })];
      case 7:
        return ['random header block', Buffer.from(Array.from({ length: int(rand, 200) }, () => int(rand, 256)))];
      default: {
        const many: Record<string, string[]> = { ...headers };
        for (let i = 0; i < 2000; i++) many[`x-${i}`] = ['v'.repeat(int(rand, 100))];
        return ['header block of 2000 headers', await deflater.block(encodeHeaderBlock(many))];
      }
    }
  }

  function flipBytes(rand: Rand, frame: Buffer): Buffer {
    const b = Buffer.from(frame);
    for (let i = 0; i < 1 + int(rand, 3); i++) b[int(rand, b.length)] = int(rand, 256);
    return b;
  }

  function withLength(frame: Buffer, length: number): Buffer {
    const b = Buffer.from(frame);
    b.writeUInt32BE(((b[4]! << 24) | (length & 0xffffff)) >>> 0, 4);
    return b;
  }

  async function spdyCase(rand: Rand, index: number): Promise<FuzzCase> {
    const deflater = new Deflater();
    try {
      const kind = pick(rand, ['exec', 'attach', 'portforward'] as const);
      const frames: Buffer[] = [];
      const notes: string[] = [kind];
      let streams: Array<Record<string, string[]>>;
      let path: string;
      let protocol: string;
      if (kind === 'portforward') {
        path = '/portForward/ns/p';
        protocol = 'portforward.k8s.io';
        streams = [
          { streamtype: ['error'], port: ['80'], requestid: ['0'] },
          { streamtype: ['data'], port: ['80'], requestid: ['0'] },
        ];
      } else {
        path = kind === 'exec' ? '/exec/ns/p/c?command=sh&command=-c&command=head%20-n1%3B%20echo%20done&input=1&output=1&error=1' : '/attach/ns/p/c?input=1&output=1&error=1';
        protocol = pick(rand, ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io']);
        streams = ['error', 'stdin', 'stdout', 'stderr'].map((t) => ({ streamtype: [t] }));
      }
      // Valid streams first, with data on the writable one.
      let id = 1;
      const ids: number[] = [];
      for (const h of streams) {
        frames.push(encodeSynStream(id, await deflater.block(encodeHeaderBlock(h)), { flags: h.streamtype![0] === 'error' ? FLAG_FIN : 0 }));
        ids.push(id);
        id += 2;
      }
      const dataId = kind === 'portforward' ? ids[1]! : ids[1]!;
      frames.push(encodeDataFrame(dataId, Buffer.from('hello fuzz\n')));
      // Then one to four mutations.
      for (let m = 0; m < 1 + int(rand, 4); m++) {
        const op = int(rand, 16);
        switch (op) {
          case 0: {
            const [what, block] = await badHeaderBlock(rand, deflater, { streamtype: ['stdout'] });
            notes.push(what);
            frames.push(encodeSynStream(id, block));
            id += 2;
            break;
          }
          case 1: {
            const [what, block] = await badHeaderBlock(rand, deflater, { extra: ['1'] });
            notes.push(`HEADERS with ${what}`);
            frames.push(encodeHeaders(pick(rand, ids), block));
            break;
          }
          case 2: {
            const i = int(rand, frames.length);
            notes.push(`bytes of frame ${i} replaced`);
            frames[i] = flipBytes(rand, frames[i]!);
            break;
          }
          case 3: {
            const i = int(rand, frames.length);
            const len = pick(rand, [0, 1, 7, 8, 0xffff, 0xffffff, int(rand, 64)]);
            notes.push(`length of frame ${i} set to ${len}`);
            frames[i] = withLength(frames[i]!, len);
            break;
          }
          case 4: {
            const delta = pick(rand, [0, 1, 0x7fffffff, 0x40000000]);
            const sid = pick(rand, [0, ...ids, 999]);
            notes.push(`WINDOW_UPDATE ${sid} +${delta}`);
            frames.push(encodeWindowUpdate(sid, delta), encodeWindowUpdate(sid, delta));
            break;
          }
          case 5: {
            const value = pick(rand, [0, 1, 0x7fffffff, 0xffffffff]);
            notes.push(`SETTINGS INITIAL_WINDOW_SIZE ${value}`);
            frames.push(encodeSettings([{ id: SETTINGS_INITIAL_WINDOW_SIZE, value }, { id: int(rand, 0xffffff), value: int(rand, 1e9) }]));
            break;
          }
          case 6: {
            notes.push('SETTINGS claiming a huge count');
            const s = Buffer.from(encodeSettings([]));
            s.writeUInt32BE(0xfffffff, 8);
            frames.push(s);
            break;
          }
          case 7: {
            const sid = pick(rand, [0, 2, 1, id - 2, 0x7fffffff]);
            notes.push(`SYN_STREAM with id ${sid}`);
            frames.push(encodeSynStream(sid, await deflater.block(encodeHeaderBlock({ streamtype: ['stdout'] }))));
            break;
          }
          case 8: {
            const sid = pick(rand, [...ids, 777, 0x7fffffff]);
            notes.push(`DATA on ${sid}`);
            frames.push(encodeDataFrame(sid, Buffer.alloc(int(rand, 70_000), 'a'), rand() < 0.5 ? FLAG_FIN : 0));
            break;
          }
          case 9:
            notes.push('RST_STREAM');
            frames.push(encodeRstStream(pick(rand, [0, ...ids, 999]), int(rand, 20)));
            break;
          case 10:
            notes.push('GOAWAY');
            frames.push(encodeGoAway(int(rand, 10), int(rand, 5)));
            break;
          case 11:
            notes.push('PINGs');
            for (let i = 0; i < 50; i++) frames.push(encodePing(int(rand, 2 ** 32)));
            break;
          case 12: {
            notes.push('control frame of another version or an unknown type');
            const f = Buffer.from(encodePing(1));
            if (rand() < 0.5) f.writeUInt16BE(0x8000 | int(rand, 0x7fff), 0);
            else f.writeUInt16BE(10 + int(rand, 0xfff0), 2);
            frames.push(f);
            break;
          }
          case 13:
            notes.push('random bytes');
            frames.push(Buffer.from(Array.from({ length: 1 + int(rand, 64) }, () => int(rand, 256))));
            break;
          case 14:
            notes.push('FIN on every stream');
            for (const sid of ids) frames.push(encodeDataFrame(sid, Buffer.alloc(0), FLAG_FIN));
            break;
          default: {
            notes.push('stream with an unknown streamtype or port');
            const h: Record<string, string[]> = kind === 'portforward' ? { streamtype: ['data'], port: [pick(rand, ['0', '-1', '70000', 'x', ''])], requestid: ['1'] } : { streamtype: [pick(rand, ['', 'STDOUT', 'resize', 'x'.repeat(1000)])] };
            frames.push(encodeSynStream(id, await deflater.block(encodeHeaderBlock(h))));
            id += 2;
          }
        }
      }
      const trickle = rand() < 0.05;
      return {
        family: 'spdy',
        index,
        what: notes.join(', ') + (trickle ? ' (byte by byte)' : ''),
        frames: frames.length,
        chunks: [spdyRequest(path, protocol), ...(trickle ? frames.flatMap((f) => [...f].map((b) => Buffer.from([b]))).slice(0, 400) : frames)],
        pauseMs: trickle ? 1 : undefined,
        end: rand() < 0.5,
      };
    } finally {
      deflater.close();
    }
  }

  // ---------------------------------------------------------------- WebSocket

  function wsRequest(path: string, protocols: string[]): Buffer {
    const key = Buffer.from('0123456789abcdef').toString('base64');
    const proto = protocols.length ? `Sec-WebSocket-Protocol: ${protocols.join(', ')}\r\n` : '';
    return Buffer.from(`GET ${path} HTTP/1.1\r\nHost: agent\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n${proto}\r\n`);
  }

  /** A WebSocket frame as a client sends it (masked unless told otherwise), with every field settable. */
  function wsFrame(opcode: number, payload: Buffer, o: { fin?: boolean; mask?: boolean; rsv?: number; length?: bigint } = {}): Buffer {
    const fin = o.fin ?? true;
    const mask = o.mask ?? true;
    const len = o.length ?? BigInt(payload.length);
    const head: number[] = [(fin ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | (opcode & 0x0f)];
    let ext = Buffer.alloc(0);
    if (len < 126n) head.push((mask ? 0x80 : 0) | Number(len));
    else if (len < 65536n) {
      head.push((mask ? 0x80 : 0) | 126);
      ext = Buffer.alloc(2);
      ext.writeUInt16BE(Number(len));
    } else {
      head.push((mask ? 0x80 : 0) | 127);
      ext = Buffer.alloc(8);
      ext.writeBigUInt64BE(len);
    }
    const key = Buffer.from([1, 2, 3, 4]);
    const body = mask ? Buffer.from(payload.map((b, i) => b ^ key[i % 4]!)) : payload;
    return Buffer.concat([Buffer.from(head), ext, mask ? key : Buffer.alloc(0), body]);
  }

  const JUNK_RESIZE = [
    '{"Width":80,"Height":24}',
    '{"Width":1e308,"Height":1e308}',
    '{"Width":-1,"Height":5}',
    '{"Width":65536,"Height":24}',
    '{"Width":80.5,"Height":24.25}',
    '{"Width":"80","Height":[24]}',
    '{"Width":null}',
    '{{{{{{',
    '}}}}}}',
    '{"Width":80,"Height":24}{"Width":1,"Height":2}garbage{',
    'x'.repeat(10_000),
    '{' + '"a":1,'.repeat(5_000),
    '{"__proto__":{"Width":1},"Height":1}',
    '\u0000\ud800{"Width":3,"Height":4}',
  ];

  function wsCase(rand: Rand, index: number): FuzzCase {
    const kind = pick(rand, ['exec', 'attach', 'portforward'] as const);
    const notes: string[] = [kind];
    let path: string;
    let protocols: string[];
    if (kind === 'portforward') {
      path = `/portForward/ns/p?ports=${pick(rand, ['80', '80,80', '0', '99999', 'x', '80&ports='])}`;
      protocols = [pick(rand, ['v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'channel.k8s.io', 'SPDY/3.1+portforward.k8s.io'])];
    } else {
      path = kind === 'exec' ? '/exec/ns/p/c?command=sh&command=-c&command=head%20-n1%3B%20echo%20done&input=1&output=1&error=1&tty=' + pick(rand, ['0', '1']) : '/attach/ns/p/c?input=1&output=1&tty=1';
      protocols = rand() < 0.1 ? ['v9.channel.k8s.io'] : [pick(rand, ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'v3.channel.k8s.io', 'base64.channel.k8s.io'])];
    }
    notes.push(protocols.join(','));
    const base64 = protocols[0]!.includes('base64');
    const channelMsg = (ch: number, data: Buffer) => (base64 ? wsFrame(1, Buffer.from(String.fromCharCode(48 + ch) + data.toString('base64'))) : wsFrame(2, Buffer.concat([Buffer.from([ch]), data])));
    const frames: Buffer[] = [channelMsg(0, Buffer.from('hello fuzz\n'))];
    for (let m = 0; m < 1 + int(rand, 4); m++) {
      switch (int(rand, 13)) {
        case 0: {
          const junk = pick(rand, JUNK_RESIZE);
          notes.push(`resize ${JSON.stringify(junk.slice(0, 40))}`);
          frames.push(channelMsg(4, Buffer.from(junk)));
          break;
        }
        case 1: {
          const op = pick(rand, [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]);
          notes.push(`opcode ${op}`);
          frames.push(wsFrame(op, Buffer.from('x')));
          break;
        }
        case 2:
          notes.push('unmasked frame');
          frames.push(wsFrame(2, Buffer.from([0, 1, 2]), { mask: false }));
          break;
        case 3: {
          const len = pick(rand, [2n ** 63n - 1n, 2n ** 32n, 70_000n, 200n]);
          notes.push(`length ${len} with a short payload`);
          frames.push(wsFrame(2, Buffer.from([0, 65]), { length: len }));
          break;
        }
        case 4: {
          const op = pick(rand, [8, 9, 0xa]);
          notes.push(`fragmented control frame ${op}`);
          frames.push(wsFrame(op, Buffer.from('ab'), { fin: false }), wsFrame(0, Buffer.from('cd')));
          break;
        }
        case 5:
          notes.push('continuation without a start');
          frames.push(wsFrame(0, Buffer.from([0, 1])));
          break;
        case 6:
          notes.push('RSV bits');
          frames.push(wsFrame(2, Buffer.from([0, 1]), { rsv: 1 + int(rand, 7) }));
          break;
        case 7: {
          const payload = pick(rand, [Buffer.from([3]), Buffer.from([0x03, 0xe8, 0xff, 0xfe]), Buffer.from([0, 0]), Buffer.from([0x0b, 0xb8])]);
          notes.push(`close frame ${payload.toString('hex')}`);
          frames.push(wsFrame(8, payload));
          break;
        }
        case 8:
          notes.push('ping of 200 bytes');
          frames.push(wsFrame(9, Buffer.alloc(200)));
          break;
        case 9:
          notes.push('text frame with invalid UTF-8 or a bad channel digit');
          frames.push(wsFrame(1, pick(rand, [Buffer.from([0xff, 0xfe, 0x80]), Buffer.from('Zabc'), Buffer.from('9!!!'), Buffer.from('0%%%')])));
          break;
        case 10:
          notes.push('close signal for channels');
          frames.push(channelMsg(255, Buffer.from([int(rand, 256)])), channelMsg(255, Buffer.alloc(0)));
          break;
        case 11:
          notes.push('message on an unknown channel');
          frames.push(channelMsg(int(rand, 256), Buffer.alloc(int(rand, 5000), 1)));
          break;
        default:
          notes.push('random bytes');
          frames.push(Buffer.from(Array.from({ length: 1 + int(rand, 32) }, () => int(rand, 256))));
      }
    }
    return { family: 'websocket', index, what: notes.join(', '), chunks: [wsRequest(path, protocols), ...frames], frames: frames.length, end: rand() < 0.5 };
  }

  // ---------------------------------------------------------------- HTTP

  const PATHS = [
    '/containerLogs/ns/p/c',
    '/containerLogs/ns/p/done',
    '/exec/ns/p/c',
    '/exec/ns/p/u1/c',
    '/attach/ns/p/c',
    '/portForward/ns/p',
    '/portForward/ns/p/u1',
    '/pods',
    '/stats/summary',
    '/healthz',
  ];
  const QUERY_KEYS = ['follow', 'previous', 'timestamps', 'tailLines', 'sinceSeconds', 'sinceTime', 'limitBytes', 'command', 'input', 'output', 'error', 'tty', 'port', 'ports'];
  const QUERY_VALUES = ['', '0', '1', 'true', 'false', '-1', '99999999999999999999999', '1e400', 'NaN', '2024-01-01T00:00:00Z', '2024-13-45T99:99:99Z', '%', '%ZZ', '%E0%A4%A', '\u00e9', 'a'.repeat(5000), '80,,80', '65536'];

  function mutatePath(rand: Rand, path: string): string {
    const parts = path.split('/');
    switch (int(rand, 9)) {
      case 0:
        parts[1 + int(rand, parts.length - 1)] = pick(rand, ['%', '%ZZ', '%E0%A4%A', '%C0%AF', '..', '.', '', '%00', 'x'.repeat(20_000), '%2F', '\u00e9t\u00e9']);
        return parts.join('/');
      case 1:
        return path + '/' + pick(rand, ['extra', '', '%', 'a/b/c']);
      case 2:
        return '/' + path;
      case 3:
        return path.toUpperCase();
      case 4:
        return pick(rand, ['*', 'http://evil/pods', '//pods', '/pods#frag', '/%2e%2e/pods', '']);
      case 5:
        return parts.slice(0, int(rand, parts.length)).join('/') || '/';
      default:
        return path;
    }
  }

  function httpCase(rand: Rand, index: number): FuzzCase {
    const base = pick(rand, PATHS);
    const query = Array.from({ length: int(rand, 6) }, () => `${pick(rand, QUERY_KEYS)}=${encodeURI(pick(rand, QUERY_VALUES)).replace(/%25/g, '%')}`);
    if (rand() < 0.05) for (let i = 0; i < 3000; i++) query.push('command=x');
    const target = mutatePath(rand, base) + (query.length ? `?${query.join('&')}` : '');
    const method = pick(rand, ['GET', 'GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'G\u0000T', 'X'.repeat(300)]);
    const version = pick(rand, ['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/9.9', 'JUNK']);
    const headers = ['Host: agent'];
    switch (int(rand, 8)) {
      case 0:
        headers.push('Connection: Upgrade', 'Upgrade: SPDY/3.1', `X-Stream-Protocol-Version: ${pick(rand, ['v4.channel.k8s.io', 'portforward.k8s.io', 'bogus', ''])}`);
        break;
      case 1:
        headers.push('Connection: Upgrade', 'Upgrade: websocket', ...(rand() < 0.5 ? ['Sec-WebSocket-Version: 13'] : []), `Sec-WebSocket-Protocol: ${pick(rand, ['v5.channel.k8s.io', '', ',,,', 'SPDY/3.1+portforward.k8s.io'])}`);
        break;
      case 2:
        headers.push(`X-Big: ${'b'.repeat(20_000)}`);
        break;
      case 3:
        headers.push('Content-Length: 5', 'Transfer-Encoding: chunked');
        break;
      case 4:
        headers.push('Content-Length: 99999999');
        break;
      default:
    }
    const follow = /follow=(1|true|t|T|TRUE|True|)(&|$)/.test(target) || /follow(&|$)/.test(target);
    const head = Buffer.from(`${method} ${target} ${version}\r\n${headers.join('\r\n')}\r\n\r\n`, 'latin1');
    const chunks = rand() < 0.1 ? [head.subarray(0, int(rand, head.length))] : [head];
    return { family: 'http', index, what: `${JSON.stringify(method.slice(0, 20))} ${JSON.stringify(target.slice(0, 120))} ${version} ${headers.slice(1).map((h) => h.slice(0, 40)).join(' | ')}`, chunks, end: rand() < 0.5, closeAfterStatus: follow };
  }

  // ---------------------------------------------------------------- the run

  it('survives mutated SPDY, WebSocket and HTTP input: no 5xx, no connection left open, bounded memory', { timeout: 240_000 }, async (t) => {
    const rand = prng(SEED);
    const started = Date.now();
    const spdy: FuzzCase[] = [];
    for (let i = 0; i < CASES; i++) spdy.push(await spdyCase(rand, i));
    // Deterministic cases beside the random ones: a frame claiming 16 MiB that arrives in small pieces, a SPDY
    // session that never opens its streams, a WebSocket that never says anything.
    const bigFrame = encodeDataFrame(1, Buffer.alloc(8 << 20, 'z'));
    spdy.push({ family: 'spdy', index: CASES, what: '8 MiB DATA frame in 1 KiB writes', chunks: [spdyRequest('/portForward/ns/p', 'portforward.k8s.io'), ...Array.from({ length: Math.ceil(bigFrame.length / 1024) }, (_, i) => bigFrame.subarray(i * 1024, (i + 1) * 1024))], frames: 1, end: true });
    const flood = new Deflater();
    const synFlood: Buffer[] = [];
    for (let id = 1; id < 3000; id += 2) synFlood.push(encodeSynStream(id, await flood.block(encodeHeaderBlock({ streamtype: ['data'], port: ['80'], requestid: [String(id)] }))));
    flood.close();
    spdy.push({ family: 'spdy', index: CASES + 2, what: '1500 port-forward streams, no pair complete', chunks: [spdyRequest('/portForward/ns/p', 'portforward.k8s.io'), ...synFlood], frames: synFlood.length, end: false });
    spdy.push({ family: 'spdy', index: CASES + 1, what: 'no streams ever', chunks: [spdyRequest('/exec/ns/p/c?command=true&output=1', 'v4.channel.k8s.io')], end: false });
    const ws = Array.from({ length: CASES }, (_, i) => wsCase(rand, i));
    ws.push({ family: 'websocket', index: CASES, what: 'silent after the upgrade', chunks: [wsRequest('/attach/ns/p/c?output=1', ['v5.channel.k8s.io'])], end: false });
    const resize = (json: string) => wsFrame(2, Buffer.concat([Buffer.from([4]), Buffer.from(json)]));
    ws.push({
      family: 'websocket',
      index: CASES + 1,
      what: 'a valid resize between junk ones',
      chunks: [wsRequest('/exec/ns/p/c?command=sleep&command=0.5&output=1&tty=1', ['v5.channel.k8s.io']), resize('{"Width":1e308,"Height":3}'), resize('{"Width":123,"Height":45}'), resize('{"Width":-5,"Height":3}')],
      frames: 3,
      end: false,
    });
    const http = Array.from({ length: CASES }, (_, i) => httpCase(rand, i));
    http.push({ family: 'http', index: CASES, what: 'half a request head', chunks: [Buffer.from('GET /pods HTTP/1.1\r\nHost: x\r\n')], end: false });

    const frameCount = [...spdy, ...ws].reduce((n, c) => n + (c.frames ?? 0), 0);
    const all = [...spdy, ...ws, ...http];
    // The server shares this process: a case that blocks the event loop (a parser gone quadratic) shows here.
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    const rssBefore = process.memoryUsage().rss;
    const results = await runAll(all).finally(() => {
      clearInterval(sampler);
      loop.disable();
    });
    const codes = new Map<string, number>();
    for (const r of results) codes.set(String(r.status ?? 'none'), (codes.get(String(r.status ?? 'none')) ?? 0) + 1);
    const slowest = Math.max(...results.map((r) => r.ms));
    t.diagnostic(`${all.length} connections, ${frameCount} SPDY/WebSocket frames, in ${Date.now() - started} ms; slowest ${slowest} ms; answers ${JSON.stringify(Object.fromEntries(codes))}`);
    t.diagnostic(`peak RSS ${((peak - rssBefore) / 1048576).toFixed(0)} MiB above the start; event loop delay max ${(loop.max / 1e6).toFixed(0)} ms, p99 ${(loop.percentile(99) / 1e6).toFixed(0)} ms`);
    if (loop.max / 1e6 > 1_500) failures.push(`the event loop was blocked for ${(loop.max / 1e6).toFixed(0)} ms`);
    const slow = results.map((r, i) => ({ ms: r.ms, what: `${all[i]!.family} ${all[i]!.index}: ${all[i]!.what.slice(0, 100)}` })).sort((a, b) => b.ms - a.ms).slice(0, 5);
    for (const x of slow) t.diagnostic(`slow: ${x.ms} ms ${x.what}`);

    // The backend was only ever asked for terminal sizes a client could mean (kubelet's TerminalSize is uint16).
    const bad = backend.resizes.filter((s) => !Number.isInteger(s.width) || !Number.isInteger(s.height) || s.width < 0 || s.height < 0 || s.width > 65535 || s.height > 65535);
    assert.deepEqual(bad, [], 'terminal sizes passed to the backend');
    assert.ok(backend.resizes.some((r) => r.width === 123 && r.height === 45), `the valid resize reached the backend: ${JSON.stringify(backend.resizes)}`);

    // Nothing left behind: connections, sessions, exec'd processes.
    await waitFor(() => agent.openConnections === 0 && agent.activeSessions() === 0, 10_000, () => `${agent.openConnections} connections, ${agent.activeSessions()} sessions left`);
    await waitFor(() => childPids().length <= 2, 10_000, () => `processes left: ${childPids().map((p) => readCmdline(p)).join('; ')}`);

    gc();
    await new Promise((r) => setTimeout(r, 200));
    gc();
    const grown = memory() - baseline;
    t.diagnostic(`heap + external grew by ${(grown / 1048576).toFixed(1)} MiB`);
    assert.ok(grown < 64 * 1048576, `memory grew by ${(grown / 1048576).toFixed(1)} MiB`);
    assert.deepEqual(failures, []);
  });

  it('still serves normal requests afterwards', async () => {
    const r = await runCase({ family: 'http', index: 0, what: 'healthz', chunks: [Buffer.from('GET /healthz HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n')], end: false });
    assert.equal(r.status, 200);
    const out = await new Promise<string>((resolve, reject) => {
      const sock = new WebSocket(`wss://127.0.0.1:${agent.port}/exec/ns/p/c?command=echo&command=still%20here&output=1`, ['v5.channel.k8s.io'], { ca: pki.caCertPem, cert: pki.adminCertPem, key: pki.adminKeyPem });
      let text = '';
      sock.on('message', (m: Buffer) => {
        if (m[0] === 1) text += m.subarray(1).toString();
      });
      sock.on('close', (code) => (code === 1000 ? resolve(text) : reject(new Error(`closed ${code}`))));
      sock.on('error', reject);
    });
    assert.equal(out, 'still here\n');
  });
});

/** Processes whose parent is this test process (the pod's containers, and any exec that outlived its session). */
function childPids(): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) pids.push(Number(e));
    } catch {
      // gone
    }
  }
  return pids;
}

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return `${pid} (gone)`;
  }
}

async function waitFor(pred: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
