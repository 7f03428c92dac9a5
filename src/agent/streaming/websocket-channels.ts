/**
 * Node streams over WebSocket messages: a Writable per outgoing channel of the channel protocol, and a Duplex over a
 * whole WebSocket whose binary messages form one byte stream (the tunnel of kubectl 1.31+ port-forward, which carries
 * SPDY frames in messages that need not line up with frame boundaries).
 */
import { Duplex, Writable } from 'node:stream';
import { WebSocket } from 'ws';
import { encodeChannelMessage, type ChannelProtocol } from './channel-protocol.js';

/** Sends each write as one message on `channel`; the write completes when ws has handed it to the socket. */
export class ChannelWriter extends Writable {
  constructor(
    private readonly ws: WebSocket,
    private readonly protocol: ChannelProtocol,
    readonly channel: number,
  ) {
    super();
  }

  send(data: Buffer, cb?: (err?: Error) => void): void {
    if (this.ws.readyState !== WebSocket.OPEN) {
      cb?.(new Error('websocket closed'));
      return;
    }
    this.ws.send(encodeChannelMessage(this.protocol, this.channel, data), { binary: !this.protocol.base64 }, cb);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.send(chunk, (err) => cb(err ?? null));
  }
}

/** One byte stream over a WebSocket's binary messages; end() closes the WebSocket normally (1000). */
export class WebSocketDuplex extends Duplex {
  constructor(private readonly ws: WebSocket) {
    super({ allowHalfOpen: false });
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      if (!isBinary) return;
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      if (!this.push(buf)) ws.pause();
    });
    ws.on('close', () => this.push(null));
    ws.on('error', (err) => this.destroy(err));
  }

  override _read(): void {
    this.ws.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.ws.readyState !== WebSocket.OPEN) return cb(new Error('websocket closed'));
    this.ws.send(chunk, { binary: true }, (err) => cb(err ?? null));
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    cb(err);
  }
}
