/**
 * SPDY/3.1: the frame codec, the header dictionary and compression, and the server-side connection on a real socket
 * driven by a hand-rolled client (the frames kubectl's spdystream sends).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { MAX_CONCURRENT_STREAMS, SpdyConnection, type SpdyStream } from './spdy-connection.js';
import { SPDY3_HEADER_DICTIONARY } from './spdy-dictionary.js';
import {
  decodeHeaderBlock,
  encodeDataFrame,
  encodeGoAway,
  encodeHeaderBlock,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSynReply,
  encodeSynStream,
  encodeWindowUpdate,
  FLAG_FIN,
  RstStatus,
  SETTINGS_INITIAL_WINDOW_SIZE,
  SpdyFrameParser,
  SpdyProtocolError,
  type SpdyFrame,
} from './spdy-frames.js';
import { HeaderCompressor, HeaderDecompressor } from './spdy-header-compression.js';
import { SpdyTestClient as TestClient } from './spdy-test-client.js';

function adler32(buf: Buffer): number {
  let a = 1;
  let b = 0;
  for (const byte of buf) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

describe('SPDY/3 header dictionary', () => {
  it('is the 1423 bytes whose Adler-32 is the DICTID kubectl sends (0xE3C6A7C2)', () => {
    assert.equal(SPDY3_HEADER_DICTIONARY.length, 1423);
    assert.equal(adler32(SPDY3_HEADER_DICTIONARY), 0xe3c6a7c2);
  });
});

describe('SPDY frame codec', () => {
  const cases: Array<[string, Buffer, Partial<SpdyFrame>]> = [
    ['data', encodeDataFrame(5, Buffer.from('hello'), FLAG_FIN), { type: 'data', streamId: 5, flags: FLAG_FIN, data: Buffer.from('hello') }],
    ['syn_stream', encodeSynStream(3, Buffer.from([1, 2]), { flags: FLAG_FIN, priority: 2 }), { type: 'syn_stream', streamId: 3, associatedStreamId: 0, priority: 2, slot: 0, flags: FLAG_FIN, headerBlock: Buffer.from([1, 2]) }],
    ['syn_reply', encodeSynReply(3, Buffer.from([9])), { type: 'syn_reply', streamId: 3, flags: 0, headerBlock: Buffer.from([9]) }],
    ['rst_stream', encodeRstStream(7, RstStatus.CANCEL), { type: 'rst_stream', streamId: 7, status: 5 }],
    ['settings', encodeSettings([{ id: SETTINGS_INITIAL_WINDOW_SIZE, value: 1000 }]), { type: 'settings', flags: 0, settings: [{ id: 7, flags: 0, value: 1000 }] }],
    ['ping', encodePing(0xfffffffe), { type: 'ping', id: 0xfffffffe }],
    ['goaway', encodeGoAway(9, 1), { type: 'goaway', lastGoodStreamId: 9, status: 1 }],
    ['window_update', encodeWindowUpdate(1, 4096), { type: 'window_update', streamId: 1, delta: 4096 }],
  ];
  for (const [name, bytes, want] of cases) {
    it(`round-trips ${name}, also fed one byte at a time`, () => {
      assert.deepEqual(new SpdyFrameParser().push(bytes), [want]);
      const p = new SpdyFrameParser();
      const got: SpdyFrame[] = [];
      for (const b of bytes) got.push(...p.push(Buffer.from([b])));
      assert.deepEqual(got, [want]);
    });
  }

  it('writes the control frame head as the spec lays it out', () => {
    // 80 03 | 00 06 | flags 00 | length 00 00 04 | id
    assert.deepEqual([...encodePing(1)], [0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 1]);
    assert.deepEqual([...encodeDataFrame(1, Buffer.from('a'), FLAG_FIN)], [0, 0, 0, 1, 0x01, 0, 0, 1, 0x61]);
  });

  it('parses several frames from one chunk and keeps a partial one', () => {
    const p = new SpdyFrameParser();
    const two = Buffer.concat([encodePing(1), encodeDataFrame(1, Buffer.from('xy'))]);
    const partial = encodeRstStream(1, 5);
    assert.equal(p.push(Buffer.concat([two, partial.subarray(0, 5)])).length, 2);
    assert.deepEqual(p.push(partial.subarray(5)), [{ type: 'rst_stream', streamId: 1, status: 5 }]);
  });

  it('refuses other versions and data on stream 0', () => {
    const v2 = encodePing(1);
    v2.writeUInt16BE(0x8002, 0);
    assert.throws(() => new SpdyFrameParser().push(v2), SpdyProtocolError);
    assert.throws(() => new SpdyFrameParser().push(encodeDataFrame(0, Buffer.from('x'))), /stream 0/);
  });

  it('encodes header blocks with lower-case names and NUL-joined values', () => {
    const block = encodeHeaderBlock({ StreamType: ['data'], port: ['80', '81'] });
    assert.deepEqual(decodeHeaderBlock(block), { streamtype: ['data'], port: ['80', '81'] });
    assert.throws(() => decodeHeaderBlock(block.subarray(0, block.length - 1)), /truncated/);
  });

  it('compresses header blocks with one zlib context per direction, seeded with the dictionary', async () => {
    const c = new HeaderCompressor();
    const d = new HeaderDecompressor();
    const first = await c.compress({ streamtype: ['error'], port: ['80'], requestid: ['0'] });
    // zlib header: CMF/FLG with FDICT, then the dictionary's id.
    assert.equal(first[1]! & 0x20, 0x20);
    assert.equal(first.readUInt32BE(2), 0xe3c6a7c2);
    const second = await c.compress({ streamtype: ['data'], port: ['80'], requestid: ['0'] });
    assert.ok(second.length < first.length, 'the second block reuses the first one\'s context');
    assert.deepEqual(await d.decompress(first), { streamtype: ['error'], port: ['80'], requestid: ['0'] });
    assert.deepEqual(await d.decompress(second), { streamtype: ['data'], port: ['80'], requestid: ['0'] });
    // A peer's independent zlib (as Go's framer) decodes the same bytes.
    const inflate = zlib.inflateSync(Buffer.concat([first]), { dictionary: SPDY3_HEADER_DICTIONARY, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    assert.deepEqual(decodeHeaderBlock(inflate), { streamtype: ['error'], port: ['80'], requestid: ['0'] });
    c.close();
    d.close();
  });

  // Both found by test/agent-api-fuzz.test.ts.
  it('refuses a header block that inflates past 1 MiB, without inflating it all (a zlib bomb)', async () => {
    const d = new HeaderDecompressor();
    const bomb = zlib.deflateSync(Buffer.concat([encodeHeaderBlock({ streamtype: ['error'] }), Buffer.alloc(256 << 20)]), { dictionary: SPDY3_HEADER_DICTIONARY, level: 9 });
    const started = performance.now();
    await assert.rejects(d.decompress(bomb), /header block larger than 1048576 bytes/);
    assert.ok(performance.now() - started < 500, `gave up after ${performance.now() - started} ms`);
    d.close();
    // A block just under the limit still decodes.
    const c = new HeaderCompressor();
    const d2 = new HeaderDecompressor();
    assert.deepEqual(await d2.decompress(await c.compress({ big: ['v'.repeat(1_000_000)] })), { big: ['v'.repeat(1_000_000)] });
    c.close();
    d2.close();
  });

  it('parses a large frame that arrives in small pieces in linear time', () => {
    const frame = encodeDataFrame(1, Buffer.alloc(8 << 20, 'z'));
    const parser = new SpdyFrameParser();
    const started = performance.now();
    const frames: SpdyFrame[] = [];
    for (let i = 0; i < frame.length; i += 1024) frames.push(...parser.push(frame.subarray(i, i + 1024)));
    // Joining the pieces on every push took ~28 s here.
    assert.ok(performance.now() - started < 2_000, `${performance.now() - started} ms`);
    assert.equal(frames.length, 1);
    assert.equal(frames[0]!.type === 'data' && frames[0]!.data.length, 8 << 20);
    // A header split across pieces smaller than itself.
    const p2 = new SpdyFrameParser();
    const ping = encodePing(7);
    assert.deepEqual([...ping].flatMap((b) => p2.push(Buffer.from([b]))), [{ type: 'ping', id: 7 }]);
  });
});

describe('SpdyConnection (server side, on a socket)', () => {
  let server: Server;
  let port: number;
  let onStream: (s: SpdyStream) => void = () => undefined;
  let conns: SpdyConnection[] = [];
  const clients: Socket[] = [];

  before(async () => {
    server = createServer((socket) => conns.push(new SpdyConnection(socket, { onStream: (s) => onStream(s) })));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    for (const c of clients) c.destroy();
    for (const c of conns) c.destroy();
    await new Promise((r) => server.close(r));
  });

  async function client(): Promise<TestClient> {
    const s = connect({ host: '127.0.0.1', port });
    clients.push(s);
    await once(s, 'connect');
    return new TestClient(s);
  }

  it('replies to every stream, echoes data, honours FIN and echoes client pings', async () => {
    onStream = (s) => {
      assert.equal(s.header('streamtype'), 'data');
      s.pipe(s); // echo, ends with the client's FIN
    };
    const c = await client();
    await c.open(1, { streamtype: ['data'], port: ['80'] });
    const reply = await c.waitFor((f) => f.type === 'syn_reply' && f.streamId === 1, 'SYN_REPLY');
    assert.deepEqual(reply.headers, {});
    c.send(encodeDataFrame(1, Buffer.from('hello ')));
    c.send(encodeDataFrame(1, Buffer.from('world'), FLAG_FIN));
    await c.waitFor((f) => f.type === 'data' && f.streamId === 1 && (f.flags & FLAG_FIN) !== 0, 'FIN');
    assert.equal(c.dataOf(1), 'hello world');
    c.send(encodePing(1));
    assert.deepEqual(await c.waitFor((f) => f.type === 'ping', 'PING'), { type: 'ping', id: 1 });
  });

  it(`refuses streams beyond ${MAX_CONCURRENT_STREAMS} open ones, and takes new ones once some are done`, async () => {
    const open: SpdyStream[] = [];
    onStream = (s) => void open.push(s);
    const c = await client();
    for (let id = 1; id <= 2 * MAX_CONCURRENT_STREAMS + 1; id += 2) await c.open(id, { streamtype: ['data'] });
    const last = 2 * MAX_CONCURRENT_STREAMS + 1;
    assert.deepEqual(await c.waitFor((f) => f.type === 'rst_stream' && f.streamId === last, 'RST_STREAM'), { type: 'rst_stream', streamId: last, status: RstStatus.REFUSED_STREAM });
    assert.equal(open.length, MAX_CONCURRENT_STREAMS);
    assert.equal(c.frames.filter((f) => f.type === 'rst_stream').length, 1);
    // Both sides end one stream: there is room again.
    c.send(encodeDataFrame(1, Buffer.alloc(0), FLAG_FIN));
    open[0]!.resume();
    open[0]!.end();
    await c.waitFor((f) => f.type === 'data' && f.streamId === 1 && (f.flags & FLAG_FIN) !== 0, 'FIN of stream 1');
    await c.open(last + 2, { streamtype: ['data'] });
    await c.waitFor((f) => f.type === 'syn_reply' && f.streamId === last + 2, 'SYN_REPLY for a new stream');
  });

  // Found by test/agent-api-fuzz.test.ts (seed 3): a write racing the connection's end crashed the process.
  it('a write to a stream whose connection just went away is no uncaught error', async () => {
    let stream: SpdyStream | undefined;
    onStream = (s) => void (stream = s);
    const c = await client();
    await c.open(1, { streamtype: ['error'] });
    await c.waitFor((f) => f.type === 'syn_reply', 'SYN_REPLY');
    const conn = conns.at(-1)!;
    // The transport is destroyed; its 'close' (and the connection's teardown) comes a tick later.
    conn.transport.destroy();
    const failed = new Promise<Error | null | undefined>((resolve) => stream!.write('too late', (err) => resolve(err)));
    assert.match(String((await failed)?.message), /connection closed/);
    await once(conn, 'close');
  });

  it('refuses streams the handler throws for, and tells a reset stream', async () => {
    let reset: SpdyStream | undefined;
    onStream = (s) => {
      if (s.header('streamtype') === 'bogus') throw new Error('unexpected stream type');
      reset = s;
    };
    const c = await client();
    await c.open(1, { streamtype: ['bogus'] });
    assert.deepEqual(await c.waitFor((f) => f.type === 'rst_stream', 'RST_STREAM'), { type: 'rst_stream', streamId: 1, status: RstStatus.REFUSED_STREAM });
    await c.open(3, { streamtype: ['data'] });
    await c.waitFor((f) => f.type === 'syn_reply' && f.streamId === 3, 'SYN_REPLY');
    const closed = once(reset!, 'close');
    c.send(encodeRstStream(3, RstStatus.CANCEL));
    await closed;
    assert.equal(reset!.wasReset, true);
  });

  it('ignores windows from a peer that never sends WINDOW_UPDATE (spdystream), and keeps them once it does', async () => {
    let stream: SpdyStream | undefined;
    onStream = (s) => (stream = s);
    const c = await client();
    await c.open(1, { streamtype: ['stdout'] });
    await c.waitFor((f) => f.type === 'syn_reply', 'SYN_REPLY');
    const big = Buffer.alloc(200 * 1024, 'a');
    await new Promise<void>((resolve) => stream!.write(big, () => resolve()));
    await c.waitFor(() => c.dataOf(1).length === big.length, 'all 200 KiB without a window update');

    await c.open(3, { streamtype: ['stdout'] });
    await c.waitFor((f) => f.type === 'syn_reply' && f.streamId === 3, 'SYN_REPLY');
    c.send(encodeSettings([{ id: SETTINGS_INITIAL_WINDOW_SIZE, value: 1024 }]));
    c.send(encodeWindowUpdate(0, 1_000_000));
    await new Promise((r) => setTimeout(r, 50));
    stream!.write(Buffer.alloc(4096, 'b'));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(c.dataOf(3).length, 1024, 'stops at the stream window');
    c.send(encodeWindowUpdate(3, 3072));
    await c.waitFor(() => c.dataOf(3).length === 4096, 'the rest after WINDOW_UPDATE');
  });

  it('sends WINDOW_UPDATE for data it consumed and GOAWAY on close', async () => {
    let stream: SpdyStream | undefined;
    onStream = (s) => {
      stream = s;
      s.resume();
    };
    const c = await client();
    await c.open(1, { streamtype: ['stdin'] });
    await c.waitFor((f) => f.type === 'syn_reply', 'SYN_REPLY');
    c.send(encodeDataFrame(1, Buffer.alloc(40 * 1024)));
    const wu = await c.waitFor((f) => f.type === 'window_update' && f.streamId === 1, 'WINDOW_UPDATE');
    assert.equal((wu as { delta: number }).delta, 40 * 1024);
    assert.ok(stream);
    await conns[conns.length - 1]!.close();
    assert.deepEqual(await c.waitFor((f) => f.type === 'goaway', 'GOAWAY'), { type: 'goaway', lastGoodStreamId: 1, status: 0 });
  });
});
