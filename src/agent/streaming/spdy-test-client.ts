/** A SPDY/3.1 client for tests: sends frames as kubectl's spdystream does, parses and decompresses the answers. */
import type { Socket } from 'node:net';
import { encodeSynStream, SpdyFrameParser, type SpdyFrame } from './spdy-frames.js';
import { HeaderCompressor, HeaderDecompressor } from './spdy-header-compression.js';

export class SpdyTestClient {
  readonly frames: Array<SpdyFrame & { headers?: Record<string, string[]> }> = [];
  private readonly parser = new SpdyFrameParser();
  private readonly compressor = new HeaderCompressor();
  private readonly decompressor = new HeaderDecompressor();
  private chain: Promise<void> = Promise.resolve();
  private waiters: Array<() => void> = [];

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const f of this.parser.push(chunk)) {
        this.chain = this.chain.then(async () => {
          const withHeaders = f.type === 'syn_reply' ? { ...f, headers: await this.decompressor.decompress(f.headerBlock) } : f;
          this.frames.push(withHeaders);
          for (const w of this.waiters.splice(0)) w();
        });
      }
    });
  }

  async open(id: number, headers: Record<string, string[]>, flags = 0): Promise<void> {
    this.socket.write(encodeSynStream(id, await this.compressor.compress(headers), { flags }));
  }

  send(frame: Buffer): void {
    this.socket.write(frame);
  }

  async waitFor(pred: (f: SpdyFrame) => boolean, what: string): Promise<SpdyFrame & { headers?: Record<string, string[]> }> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const f = this.frames.find(pred);
      if (f) return f;
      if (Date.now() > deadline) throw new Error(`no ${what}; got ${this.frames.map((x) => x.type).join(', ')}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  dataOf(streamId: number): string {
    return Buffer.concat(this.frames.filter((f): f is Extract<SpdyFrame, { type: 'data' }> => f.type === 'data' && f.streamId === streamId).map((f) => f.data)).toString();
  }
}

