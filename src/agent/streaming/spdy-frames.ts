/**
 * SPDY/3.1 frame layout (SPDY Protocol draft 3.1, section 2.2): pure encoding and an incremental parser. Header blocks
 * stay compressed here; the connection (spdy-connection.ts) owns the per-direction zlib contexts, because their state
 * spans frames. All integers are big-endian.
 *
 *   control: 1 | version (15) | type (16) | flags (8) | length (24) | data
 *   data:    0 | stream id (31)           | flags (8) | length (24) | data
 */

export const SPDY_VERSION = 3;

export const FrameType = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
} as const;

export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;

/** RST_STREAM status codes (section 2.6.3). */
export const RstStatus = {
  PROTOCOL_ERROR: 1,
  INVALID_STREAM: 2,
  REFUSED_STREAM: 3,
  UNSUPPORTED_VERSION: 4,
  CANCEL: 5,
  INTERNAL_ERROR: 6,
  FLOW_CONTROL_ERROR: 7,
  STREAM_IN_USE: 8,
  STREAM_ALREADY_CLOSED: 9,
  FRAME_TOO_LARGE: 11,
} as const;

/** SETTINGS ids (section 2.6.4). */
export const SETTINGS_INITIAL_WINDOW_SIZE = 7;

/** Largest payload a frame's 24-bit length can carry. */
export const MAX_FRAME_LENGTH = 0xffffff;

export type SpdyFrame =
  | { type: 'data'; streamId: number; flags: number; data: Buffer }
  | { type: 'syn_stream'; streamId: number; associatedStreamId: number; priority: number; slot: number; flags: number; headerBlock: Buffer }
  | { type: 'syn_reply'; streamId: number; flags: number; headerBlock: Buffer }
  | { type: 'headers'; streamId: number; flags: number; headerBlock: Buffer }
  | { type: 'rst_stream'; streamId: number; status: number }
  | { type: 'settings'; flags: number; settings: Array<{ id: number; flags: number; value: number }> }
  | { type: 'ping'; id: number }
  | { type: 'goaway'; lastGoodStreamId: number; status: number }
  | { type: 'window_update'; streamId: number; delta: number }
  /** A control frame of a type this codec does not know: ignored by receivers (section 2.2.1). */
  | { type: 'unknown'; version: number; controlType: number; flags: number; payload: Buffer };

export class SpdyProtocolError extends Error {
  constructor(message: string) {
    super(`spdy: ${message}`);
    this.name = 'SpdyProtocolError';
  }
}

function controlFrame(type: number, flags: number, payload: Buffer): Buffer {
  if (payload.length > MAX_FRAME_LENGTH) throw new SpdyProtocolError(`control frame of ${payload.length} bytes is too large`);
  const head = Buffer.alloc(8);
  head.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt32BE(((flags & 0xff) << 24) | payload.length, 4);
  return Buffer.concat([head, payload]);
}

export function encodeDataFrame(streamId: number, data: Buffer, flags = 0): Buffer {
  if (data.length > MAX_FRAME_LENGTH) throw new SpdyProtocolError(`data frame of ${data.length} bytes is too large`);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(streamId & 0x7fffffff, 0);
  head.writeUInt32BE((((flags & 0xff) << 24) | data.length) >>> 0, 4);
  return Buffer.concat([head, data]);
}

export function encodeSynStream(streamId: number, headerBlock: Buffer, opts: { flags?: number; associatedStreamId?: number; priority?: number } = {}): Buffer {
  const p = Buffer.alloc(10);
  p.writeUInt32BE(streamId & 0x7fffffff, 0);
  p.writeUInt32BE((opts.associatedStreamId ?? 0) & 0x7fffffff, 4);
  p.writeUInt8(((opts.priority ?? 0) & 0x7) << 5, 8);
  p.writeUInt8(0, 9);
  return controlFrame(FrameType.SYN_STREAM, opts.flags ?? 0, Buffer.concat([p, headerBlock]));
}

export function encodeSynReply(streamId: number, headerBlock: Buffer, flags = 0): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(streamId & 0x7fffffff, 0);
  return controlFrame(FrameType.SYN_REPLY, flags, Buffer.concat([p, headerBlock]));
}

export function encodeHeaders(streamId: number, headerBlock: Buffer, flags = 0): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(streamId & 0x7fffffff, 0);
  return controlFrame(FrameType.HEADERS, flags, Buffer.concat([p, headerBlock]));
}

export function encodeRstStream(streamId: number, status: number): Buffer {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(streamId & 0x7fffffff, 0);
  p.writeUInt32BE(status, 4);
  return controlFrame(FrameType.RST_STREAM, 0, p);
}

export function encodeSettings(settings: Array<{ id: number; value: number; flags?: number }>, flags = 0): Buffer {
  const p = Buffer.alloc(4 + settings.length * 8);
  p.writeUInt32BE(settings.length, 0);
  settings.forEach((s, i) => {
    p.writeUInt32BE((((s.flags ?? 0) << 24) | (s.id & 0xffffff)) >>> 0, 4 + i * 8);
    p.writeUInt32BE(s.value >>> 0, 8 + i * 8);
  });
  return controlFrame(FrameType.SETTINGS, flags, p);
}

export function encodePing(id: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(id >>> 0, 0);
  return controlFrame(FrameType.PING, 0, p);
}

export function encodeGoAway(lastGoodStreamId: number, status = 0): Buffer {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(lastGoodStreamId & 0x7fffffff, 0);
  p.writeUInt32BE(status, 4);
  return controlFrame(FrameType.GOAWAY, 0, p);
}

export function encodeWindowUpdate(streamId: number, delta: number): Buffer {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(streamId & 0x7fffffff, 0);
  p.writeUInt32BE(delta & 0x7fffffff, 4);
  return controlFrame(FrameType.WINDOW_UPDATE, 0, p);
}

function need(payload: Buffer, n: number, what: string): void {
  if (payload.length < n) throw new SpdyProtocolError(`${what} frame of ${payload.length} bytes is too short (at least ${n})`);
}

function decodeControl(version: number, type: number, flags: number, payload: Buffer): SpdyFrame {
  if (version !== SPDY_VERSION) throw new SpdyProtocolError(`unsupported version ${version} (only ${SPDY_VERSION})`);
  switch (type) {
    case FrameType.SYN_STREAM:
      need(payload, 10, 'SYN_STREAM');
      return {
        type: 'syn_stream',
        streamId: payload.readUInt32BE(0) & 0x7fffffff,
        associatedStreamId: payload.readUInt32BE(4) & 0x7fffffff,
        priority: payload.readUInt8(8) >> 5,
        slot: payload.readUInt8(9),
        flags,
        headerBlock: payload.subarray(10),
      };
    case FrameType.SYN_REPLY:
      need(payload, 4, 'SYN_REPLY');
      return { type: 'syn_reply', streamId: payload.readUInt32BE(0) & 0x7fffffff, flags, headerBlock: payload.subarray(4) };
    case FrameType.HEADERS:
      need(payload, 4, 'HEADERS');
      return { type: 'headers', streamId: payload.readUInt32BE(0) & 0x7fffffff, flags, headerBlock: payload.subarray(4) };
    case FrameType.RST_STREAM:
      need(payload, 8, 'RST_STREAM');
      return { type: 'rst_stream', streamId: payload.readUInt32BE(0) & 0x7fffffff, status: payload.readUInt32BE(4) };
    case FrameType.SETTINGS: {
      need(payload, 4, 'SETTINGS');
      const count = payload.readUInt32BE(0);
      need(payload, 4 + count * 8, 'SETTINGS');
      const settings = [];
      for (let i = 0; i < count; i++) {
        const word = payload.readUInt32BE(4 + i * 8);
        settings.push({ flags: word >>> 24, id: word & 0xffffff, value: payload.readUInt32BE(8 + i * 8) });
      }
      return { type: 'settings', flags, settings };
    }
    case FrameType.PING:
      need(payload, 4, 'PING');
      return { type: 'ping', id: payload.readUInt32BE(0) };
    case FrameType.GOAWAY:
      need(payload, 8, 'GOAWAY');
      return { type: 'goaway', lastGoodStreamId: payload.readUInt32BE(0) & 0x7fffffff, status: payload.readUInt32BE(4) };
    case FrameType.WINDOW_UPDATE:
      need(payload, 8, 'WINDOW_UPDATE');
      return { type: 'window_update', streamId: payload.readUInt32BE(0) & 0x7fffffff, delta: payload.readUInt32BE(4) & 0x7fffffff };
    default:
      return { type: 'unknown', version, controlType: type, flags, payload };
  }
}

/**
 * Cuts a byte stream into frames. Bytes may arrive in any chunking (the WebSocket tunnel splits one frame into
 * messages of 2, 2, 4, ... bytes), so input is buffered until a whole frame is there.
 */
export class SpdyFrameParser {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** Adds bytes and returns every frame now complete, in order. Throws SpdyProtocolError on a malformed frame. */
  push(chunk: Buffer): SpdyFrame[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames: SpdyFrame[] = [];
    while (this.buffered >= 8) {
      // Join the pieces only once the whole frame is there: joining on every push made a 16 MiB frame sent in small
      // pieces cost O(n²) copying, seconds to minutes with the event loop blocked (found by test/agent-api-fuzz.test.ts).
      const length = this.peekHeader().readUInt32BE(4) & 0xffffff;
      if (this.buffered < 8 + length) break;
      const buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
      this.chunks = [buf];
      const flags = buf.readUInt8(4);
      const payload = buf.subarray(8, 8 + length);
      const first = buf.readUInt32BE(0);
      if (first & 0x80000000) {
        frames.push(decodeControl((first >>> 16) & 0x7fff, first & 0xffff, flags, payload));
      } else {
        const streamId = first & 0x7fffffff;
        if (streamId === 0) throw new SpdyProtocolError('data frame on stream 0');
        frames.push({ type: 'data', streamId, flags, data: Buffer.from(payload) });
      }
      const rest = buf.subarray(8 + length);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
    }
    return frames;
  }

  /** The first 8 buffered bytes (a frame's header), copying at most those. */
  private peekHeader(): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= 8) return first;
    const head = Buffer.alloc(8);
    let at = 0;
    for (const c of this.chunks) {
      at += c.copy(head, at, 0, Math.min(c.length, 8 - at));
      if (at === 8) break;
    }
    return head;
  }
}

/** Header name/value pairs as SPDY carries them: lower-case names, several values joined by NUL. */
export type SpdyHeaders = Record<string, string[]>;

/** The uncompressed header block (section 2.6.10): count, then length-prefixed names and values (32-bit lengths). */
export function encodeHeaderBlock(headers: SpdyHeaders): Buffer {
  const parts: Buffer[] = [];
  const names = Object.keys(headers);
  const count = Buffer.alloc(4);
  count.writeUInt32BE(names.length);
  parts.push(count);
  for (const name of names) {
    const n = Buffer.from(name.toLowerCase(), 'utf8');
    const v = Buffer.from(headers[name]!.join('\0'), 'utf8');
    const nl = Buffer.alloc(4);
    nl.writeUInt32BE(n.length);
    const vl = Buffer.alloc(4);
    vl.writeUInt32BE(v.length);
    parts.push(nl, n, vl, v);
  }
  return Buffer.concat(parts);
}

export function decodeHeaderBlock(block: Buffer): SpdyHeaders {
  const headers: SpdyHeaders = {};
  const read = (at: number, what: string): [Buffer, number] => {
    if (block.length < at + 4) throw new SpdyProtocolError(`header block truncated in ${what}`);
    const len = block.readUInt32BE(at);
    if (block.length < at + 4 + len) throw new SpdyProtocolError(`header block truncated in ${what}`);
    return [block.subarray(at + 4, at + 4 + len), at + 4 + len];
  };
  if (block.length < 4) throw new SpdyProtocolError('header block truncated in count');
  const count = block.readUInt32BE(0);
  let at = 4;
  for (let i = 0; i < count; i++) {
    const [name, afterName] = read(at, 'a name');
    const [value, afterValue] = read(afterName, 'a value');
    at = afterValue;
    const key = name.toString('utf8').toLowerCase();
    (headers[key] ??= []).push(...value.toString('utf8').split('\0'));
  }
  return headers;
}
