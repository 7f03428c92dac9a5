/**
 * The server side of a SPDY/3.1 session over any byte stream (an upgraded socket, or the WebSocket tunnel of kubectl
 * 1.31+ port-forward), as much of it as Kubernetes' streaming needs: the peer opens streams (SYN_STREAM), we accept
 * each with a SYN_REPLY, DATA flows both ways, FIN half-closes, RST_STREAM aborts, PINGs are echoed, GOAWAY ends.
 * Upstream's counterpart is k8s.io/apimachinery/pkg/util/httpstream/spdy (on moby/spdystream).
 *
 * Flow control: we send WINDOW_UPDATEs for what we consume, as SPDY/3.1 asks. We honour the peer's windows only once
 * it has shown it keeps them (a WINDOW_UPDATE or a SETTINGS INITIAL_WINDOW_SIZE): spdystream, which every kubectl
 * uses, never sends WINDOW_UPDATE and ignores windows, so enforcing the default 64 KiB would stall every session.
 */
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import { createLogger } from '../../log/logger.js';
import { HeaderCompressor, HeaderDecompressor } from './spdy-header-compression.js';
import {
  encodeDataFrame,
  encodeGoAway,
  encodePing,
  encodeRstStream,
  encodeSynReply,
  encodeWindowUpdate,
  FLAG_FIN,
  RstStatus,
  SETTINGS_INITIAL_WINDOW_SIZE,
  SpdyFrameParser,
  type SpdyFrame,
  type SpdyHeaders,
} from './spdy-frames.js';

const log = createLogger('spdy');

/** SPDY/3.1's default initial window, for streams and the session. */
const DEFAULT_WINDOW = 64 * 1024;
/** Payload per DATA frame we send. */
const MAX_DATA_CHUNK = 32 * 1024;
/** Bytes buffered per stream before we stop reading the connection. */
const STREAM_HIGH_WATER_MARK = 256 * 1024;
/**
 * Open streams per connection; more are refused (RST_STREAM REFUSED_STREAM). exec/attach open at most five and a
 * port-forward two per forwarded connection; without a bound, SYN_STREAMs of ~20 bytes each pinned a stream object
 * (and for port-forward a timer) apiece for as long as the connection lasted.
 */
export const MAX_CONCURRENT_STREAMS = 1000;

export interface SpdyConnectionOptions {
  /**
   * Called for each stream the peer opens, before it is answered. Throwing refuses the stream (RST_STREAM
   * REFUSED_STREAM); otherwise a SYN_REPLY with no headers follows, as spdystream's server sends.
   */
  onStream(stream: SpdyStream): void;
}

export class SpdyConnection extends EventEmitter {
  private readonly parser = new SpdyFrameParser();
  private readonly compressor = new HeaderCompressor();
  private readonly decompressor = new HeaderDecompressor();
  private readonly streams = new Map<number, SpdyStream>();
  private inbound: Promise<void> = Promise.resolve();
  private outbound: Promise<void> = Promise.resolve();
  private lastStreamId = 0;
  private closed = false;
  private goAwaySent = false;
  /** Send windows, enforced only once the peer shows it does flow control. */
  flowControl = false;
  sessionSendWindow = DEFAULT_WINDOW;
  initialSendWindow = DEFAULT_WINDOW;
  private sessionUnacked = 0;
  private readonly windowWaiters: Array<() => void> = [];
  private readonly paused = new Set<SpdyStream>();

  constructor(
    readonly transport: Duplex,
    private readonly opts: SpdyConnectionOptions,
  ) {
    super();
    transport.on('data', (chunk: Buffer) => this.receive(chunk));
    transport.on('end', () => this.teardown());
    transport.on('close', () => this.teardown());
    transport.on('error', (err) => {
      log.debug('transport error', { err });
      this.teardown();
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends GOAWAY and ends the transport once everything queued is written. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (!this.goAwaySent) {
      this.goAwaySent = true;
      await this.send(() => encodeGoAway(this.lastStreamId, 0)).catch(() => undefined);
    }
    await this.outbound.catch(() => undefined);
    this.transport.end();
    this.teardown();
  }

  destroy(): void {
    this.transport.destroy();
    this.teardown();
  }

  private teardown(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.streams.values()) s.destroy();
    this.streams.clear();
    for (const wake of this.windowWaiters.splice(0)) wake();
    this.compressor.close();
    this.decompressor.close();
    this.emit('close');
  }

  private receive(chunk: Buffer): void {
    let frames: SpdyFrame[];
    try {
      frames = this.parser.push(chunk);
    } catch (err) {
      log.warn('malformed SPDY frame; closing the connection', { err });
      this.destroy();
      return;
    }
    for (const frame of frames) {
      this.inbound = this.inbound.then(() => this.handle(frame)).catch((err) => {
        log.warn('SPDY frame handling failed; closing the connection', { err, frame: frame.type });
        this.destroy();
      });
    }
  }

  private async handle(frame: SpdyFrame): Promise<void> {
    if (this.closed) return;
    switch (frame.type) {
      case 'syn_stream': {
        const headers = await this.decompressor.decompress(frame.headerBlock);
        if (frame.streamId % 2 === 0 || frame.streamId <= this.lastStreamId) {
          // Client streams are odd and increase (section 2.3.2).
          await this.send(() => encodeRstStream(frame.streamId, RstStatus.PROTOCOL_ERROR));
          return;
        }
        this.lastStreamId = frame.streamId;
        if (this.streams.size >= MAX_CONCURRENT_STREAMS) {
          await this.send(() => encodeRstStream(frame.streamId, RstStatus.REFUSED_STREAM));
          return;
        }
        const stream = new SpdyStream(this, frame.streamId, headers);
        this.streams.set(frame.streamId, stream);
        if (frame.flags & FLAG_FIN) stream.remoteEnd();
        try {
          this.opts.onStream(stream);
        } catch (err) {
          log.debug('stream refused', { streamId: frame.streamId, err });
          this.streams.delete(frame.streamId);
          stream.markReset();
          stream.destroy();
          await this.send(() => encodeRstStream(frame.streamId, RstStatus.REFUSED_STREAM));
          return;
        }
        await this.send(async () => encodeSynReply(frame.streamId, await this.compressor.compress({})));
        return;
      }
      case 'data': {
        const stream = this.streams.get(frame.streamId);
        this.acknowledge(frame.streamId, frame.data.length, stream);
        // Data for a stream we no longer know (reset, finished) is dropped, as spdystream does.
        if (!stream) return;
        if (frame.data.length > 0) stream.remoteData(frame.data);
        if (frame.flags & FLAG_FIN) stream.remoteEnd();
        return;
      }
      case 'syn_reply':
      case 'headers': {
        const headers = await this.decompressor.decompress(frame.headerBlock);
        const stream = this.streams.get(frame.streamId);
        if (stream) for (const [k, v] of Object.entries(headers)) (stream.headers[k] ??= []).push(...v);
        if (stream && frame.flags & FLAG_FIN) stream.remoteEnd();
        return;
      }
      case 'rst_stream': {
        const stream = this.streams.get(frame.streamId);
        if (!stream) return;
        this.streams.delete(frame.streamId);
        stream.markReset();
        stream.destroy();
        return;
      }
      case 'settings':
        for (const s of frame.settings) {
          if (s.id === SETTINGS_INITIAL_WINDOW_SIZE) {
            const delta = s.value - this.initialSendWindow;
            this.initialSendWindow = s.value;
            for (const st of this.streams.values()) st.sendWindow += delta;
            this.flowControl = true;
            this.wakeWriters();
          }
        }
        return;
      case 'ping':
        // Odd ids are the client's pings: echo them (section 2.6.5). Even ids would answer ours; we send none.
        if (frame.id % 2 === 1) await this.send(() => encodePing(frame.id));
        return;
      case 'goaway':
        await this.close();
        return;
      case 'window_update':
        this.flowControl = true;
        if (frame.streamId === 0) this.sessionSendWindow += frame.delta;
        else {
          const stream = this.streams.get(frame.streamId);
          if (stream) stream.sendWindow += frame.delta;
        }
        this.wakeWriters();
        return;
      case 'unknown':
        return;
    }
  }

  /** Receive-side flow control: give the window back once half of it is used. */
  private acknowledge(streamId: number, n: number, stream: SpdyStream | undefined): void {
    if (n === 0) return;
    this.sessionUnacked += n;
    if (this.sessionUnacked >= DEFAULT_WINDOW / 2) {
      const delta = this.sessionUnacked;
      this.sessionUnacked = 0;
      void this.send(() => encodeWindowUpdate(0, delta)).catch(() => undefined);
    }
    if (stream) {
      stream.recvUnacked += n;
      if (stream.recvUnacked >= DEFAULT_WINDOW / 2 && !stream.remoteEnded) {
        const delta = stream.recvUnacked;
        stream.recvUnacked = 0;
        void this.send(() => encodeWindowUpdate(streamId, delta)).catch(() => undefined);
      }
    }
  }

  private wakeWriters(): void {
    for (const wake of this.windowWaiters.splice(0)) wake();
  }

  /**
   * Queues a frame. Frames leave in call order, so a SYN_REPLY (compressed asynchronously) is never overtaken by its
   * stream's data. Resolves once the frame is handed to the transport.
   */
  send(produce: () => Buffer | Promise<Buffer>): Promise<void> {
    const next = this.outbound.then(async () => {
      if (this.transport.destroyed || this.transport.writableEnded) throw new Error('spdy: connection closed');
      const frame = await produce();
      if (!this.transport.write(frame)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            this.transport.off('drain', done);
            this.transport.off('close', done);
            resolve();
          };
          this.transport.on('drain', done);
          this.transport.on('close', done);
        });
      }
    });
    this.outbound = next.catch(() => undefined);
    return next;
  }

  /** Sends `data` on a stream in DATA frames, within the peer's windows when it keeps them. */
  async sendData(stream: SpdyStream, data: Buffer): Promise<void> {
    let off = 0;
    while (off < data.length) {
      if (this.closed) throw new Error('spdy: connection closed');
      let n = Math.min(data.length - off, MAX_DATA_CHUNK);
      if (this.flowControl) n = Math.min(n, stream.sendWindow, this.sessionSendWindow);
      if (n <= 0) {
        await new Promise<void>((resolve) => this.windowWaiters.push(resolve));
        continue;
      }
      if (this.flowControl) {
        stream.sendWindow -= n;
        this.sessionSendWindow -= n;
      }
      const chunk = data.subarray(off, off + n);
      off += n;
      await this.send(() => encodeDataFrame(stream.id, chunk));
    }
  }

  sendFin(stream: SpdyStream): Promise<void> {
    return this.send(() => encodeDataFrame(stream.id, Buffer.alloc(0), FLAG_FIN));
  }

  sendReset(stream: SpdyStream, status: number): Promise<void> {
    return this.send(() => encodeRstStream(stream.id, status));
  }

  /** Called by a stream whose reader cannot keep up: stop reading the connection until it drains. */
  pauseFor(stream: SpdyStream): void {
    this.paused.add(stream);
    this.transport.pause();
  }

  resumeFor(stream: SpdyStream): void {
    if (!this.paused.delete(stream)) return;
    if (this.paused.size === 0) this.transport.resume();
  }

  forget(stream: SpdyStream): void {
    if (this.streams.get(stream.id) === stream) this.streams.delete(stream.id);
    this.resumeFor(stream);
  }
}

/**
 * One SPDY stream as a Duplex: readable = the peer's DATA (ends at its FIN), writable = our DATA (end() sends FIN).
 * destroy() before both sides finished sends RST_STREAM CANCEL, unless the peer reset it (`wasReset`).
 */
export class SpdyStream extends Duplex {
  sendWindow: number;
  recvUnacked = 0;
  remoteEnded = false;
  private localEnded = false;
  private reset = false;

  constructor(
    private readonly conn: SpdyConnection,
    readonly id: number,
    readonly headers: SpdyHeaders,
  ) {
    super({ readableHighWaterMark: STREAM_HIGH_WATER_MARK, allowHalfOpen: true });
    this.sendWindow = conn.initialSendWindow;
    // A write that loses the race with the connection's end fails with 'spdy: connection closed'. Streams are written
    // from many places (error messages, pipes, timers) that cannot all listen for that; unheard, the 'error' event was
    // an uncaught exception that ended the agent (found by test/agent-api-fuzz.test.ts). Callers that care still see
    // it in their write callback or their own 'error' listener.
    this.on('error', (err) => log.debug('stream failed', { streamId: id, err: err.message }));
  }

  /** First value of a header (names are lower-case on the wire). */
  header(name: string): string | undefined {
    return this.headers[name.toLowerCase()]?.[0];
  }

  get wasReset(): boolean {
    return this.reset;
  }

  markReset(): void {
    this.reset = true;
  }

  remoteData(data: Buffer): void {
    if (this.remoteEnded || this.destroyed) return;
    if (!this.push(data)) this.conn.pauseFor(this);
  }

  remoteEnd(): void {
    if (this.remoteEnded) return;
    this.remoteEnded = true;
    this.push(null);
    this.maybeDone();
  }

  override _read(): void {
    this.conn.resumeFor(this);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.conn.sendData(this, chunk).then(() => cb(), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.localEnded = true;
    this.conn.sendFin(this).then(
      () => {
        this.maybeDone();
        cb();
      },
      () => cb(),
    );
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.reset && !(this.localEnded && this.remoteEnded) && !this.conn.isClosed) {
      this.reset = true;
      void this.conn.sendReset(this, RstStatus.CANCEL).catch(() => undefined);
    }
    this.conn.forget(this);
    cb(err);
  }

  private maybeDone(): void {
    if (this.localEnded && this.remoteEnded) this.conn.forget(this);
  }
}
