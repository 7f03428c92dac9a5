/**
 * SPDY/3 header block compression (draft 3, section 2.6.10.1): one zlib stream per direction for the whole
 * connection, seeded with the SPDY/3 dictionary, each block ended by a sync flush so the peer can decode it at once.
 * Node's zlib streams are asynchronous, so callers serialize blocks (the connection does: one queue per direction).
 */
import zlib from 'node:zlib';
import { SPDY3_HEADER_DICTIONARY } from './spdy-dictionary.js';
import { decodeHeaderBlock, encodeHeaderBlock, SpdyProtocolError, type SpdyHeaders } from './spdy-frames.js';

/**
 * Largest header block we inflate (Go's http.DefaultMaxHeaderBytes). Kubernetes' blocks are a few hundred bytes; a
 * 260 KB block of zeros inflates to 256 MiB and cost a second and a half of CPU and that much memory, per frame (found
 * by test/agent-api-fuzz.test.ts's zlib bomb cases).
 */
export const MAX_HEADER_BLOCK_BYTES = 1 << 20;

/** Runs `block` through a zlib stream and returns what it produced up to a sync flush (at most `limit` bytes). */
function process(stream: zlib.Deflate | zlib.Inflate, block: Buffer, limit = Infinity): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size <= limit) {
        out.push(c);
        return;
      }
      // No more inflating: the context is useless now, and the connection is closed on this error.
      stream.off('data', onData);
      stream.off('error', onError);
      stream.destroy();
      reject(new Error(`header block larger than ${limit} bytes`));
    };
    const onError = (err: Error) => {
      stream.off('data', onData);
      reject(err);
    };
    stream.on('data', onData);
    stream.once('error', onError);
    stream.write(block);
    stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      // Output pushed by the flush's own chunk may be delivered on the next turn; wait for it.
      setImmediate(() => {
        stream.off('data', onData);
        stream.off('error', onError);
        resolve(Buffer.concat(out));
      });
    });
  });
}

export class HeaderCompressor {
  private readonly deflate = zlib.createDeflate({ dictionary: SPDY3_HEADER_DICTIONARY, level: zlib.constants.Z_DEFAULT_COMPRESSION });
  private queue: Promise<unknown> = Promise.resolve();

  /** Compressed header blocks come out in call order. */
  compress(headers: SpdyHeaders): Promise<Buffer> {
    const block = encodeHeaderBlock(headers);
    const result = this.queue.then(() => process(this.deflate, block));
    this.queue = result.catch(() => undefined);
    return result;
  }

  close(): void {
    this.deflate.close();
  }
}

export class HeaderDecompressor {
  private readonly inflate = zlib.createInflate({ dictionary: SPDY3_HEADER_DICTIONARY });
  private queue: Promise<unknown> = Promise.resolve();

  decompress(compressed: Buffer): Promise<SpdyHeaders> {
    const result = this.queue.then(async () => {
      let raw: Buffer;
      try {
        raw = await process(this.inflate, compressed, MAX_HEADER_BLOCK_BYTES);
      } catch (err) {
        throw new SpdyProtocolError(`header block does not decompress: ${(err as Error).message}`);
      }
      return decodeHeaderBlock(raw);
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  close(): void {
    this.inflate.close();
  }
}
