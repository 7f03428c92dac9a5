/**
 * SPDY/3.1 client side of a CRI runtime's streaming server, as kubelet's callers (kubectl, the API server) speak it to
 * containerd: an HTTP upgrade (`Upgrade: SPDY/3.1`, `X-Stream-Protocol-Version`), then one SPDY stream per channel,
 * named by a `streamtype` header. Unlike the WebSocket channel protocol before v5, SPDY streams half-close (FIN), so
 * ending stdin gives the process end-of-file and ending a port-forward stream lets the pod's side finish
 * (k8s.io/apimachinery/pkg/util/remotecommand and .../portforward; containerd 1.6 serves them with moby/spdystream).
 *
 *   exec/attach (v4.channel.k8s.io): streams error, stdin, stdout, stderr, resize; the error stream brings the
 *                                    metav1.Status with the exit code, as on the WebSocket error channel
 *   port-forward (portforward.k8s.io): streams error and data, each with headers port and requestid
 *
 * The frame codec and header compression are the agent's own (agent/streaming), shared with its SPDY server.
 */
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { Duplex, PassThrough, Writable } from 'node:stream';
import { encodeDataFrame, encodePing, encodeSynStream, FLAG_FIN, SpdyFrameParser, type SpdyFrame, type SpdyHeaders } from '../../streaming/spdy-frames.js';
import { HeaderCompressor } from '../../streaming/spdy-header-compression.js';
import type { StreamOptions, StreamSession, TerminalSize } from '../types.js';
import { parseExitStatus } from './stream-client.js';

interface StreamHandlers {
  data(chunk: Buffer): void;
  /** The server half-closed (FIN) or reset the stream, or the connection ended. */
  end(): void;
}

/** A client session: we open every stream (odd ids), the server answers and sends DATA/FIN on them. */
class SpdyClientSession {
  readonly #socket: Socket;
  readonly #parser = new SpdyFrameParser();
  readonly #compressor = new HeaderCompressor();
  readonly #handlers = new Map<number, StreamHandlers>();
  #nextId = 1;
  #outbound: Promise<void> = Promise.resolve();
  #closed = false;
  readonly closed: Promise<void>;

  constructor(socket: Socket, head: Buffer) {
    this.#socket = socket;
    this.closed = new Promise((resolve) => {
      const finish = () => {
        if (this.#closed) return;
        this.#closed = true;
        for (const h of this.#handlers.values()) h.end();
        this.#handlers.clear();
        this.#compressor.close();
        resolve();
      };
      socket.on('close', finish);
      socket.on('end', finish);
      socket.on('error', finish);
    });
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    if (head.length > 0) this.#receive(head);
  }

  #receive(chunk: Buffer): void {
    let frames: SpdyFrame[];
    try {
      frames = this.#parser.push(chunk);
    } catch {
      this.#socket.destroy();
      return;
    }
    for (const frame of frames) {
      if (frame.type === 'data') {
        const h = this.#handlers.get(frame.streamId);
        if (!h) continue;
        if (frame.data.length > 0) h.data(frame.data);
        if (frame.flags & FLAG_FIN) {
          this.#handlers.delete(frame.streamId);
          h.end();
        }
      } else if (frame.type === 'syn_reply' && frame.flags & FLAG_FIN) {
        const h = this.#handlers.get(frame.streamId);
        this.#handlers.delete(frame.streamId);
        h?.end();
      } else if (frame.type === 'rst_stream') {
        const h = this.#handlers.get(frame.streamId);
        this.#handlers.delete(frame.streamId);
        h?.end();
      } else if (frame.type === 'ping') {
        this.#write(async () => encodePing(frame.id));
      } else if (frame.type === 'goaway') {
        this.#socket.end();
      }
    }
  }

  /** Frames leave in call order, header compression (async) included. */
  #write(frame: () => Promise<Buffer> | Buffer): Promise<void> {
    const next = this.#outbound.then(async () => {
      if (this.#closed) throw new Error('stream connection closed');
      const bytes = await frame();
      await new Promise<void>((resolve, reject) => this.#socket.write(bytes, (err) => (err ? reject(err) : resolve())));
    });
    this.#outbound = next.catch(() => undefined);
    return next;
  }

  /** Opens a stream; returns its id. */
  open(headers: SpdyHeaders, handlers: StreamHandlers): number {
    const id = this.#nextId;
    this.#nextId += 2;
    this.#handlers.set(id, handlers);
    void this.#write(async () => encodeSynStream(id, await this.#compressor.compress(headers))).catch(() => undefined);
    return id;
  }

  send(streamId: number, data: Buffer): Promise<void> {
    return this.#write(() => encodeDataFrame(streamId, data));
  }

  /** Half-closes our side of the stream (an empty DATA frame with FIN, as spdystream's Close sends). */
  finish(streamId: number): Promise<void> {
    return this.#write(() => encodeDataFrame(streamId, Buffer.alloc(0), FLAG_FIN));
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

/** The HTTP upgrade to SPDY/3.1; fails with the server's status and words when it refuses. */
function upgrade(url: string, protocols: string[]): Promise<SpdyClientSession> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      // A connection of its own: a pooled keep-alive socket that answered an earlier refusal may be closed already.
      agent: false,
      method: 'POST',
      headers: { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': protocols },
    });
    req.on('upgrade', (res, socket, head) => {
      const chosen = res.headers['x-stream-protocol-version'];
      if (protocols.length > 0 && chosen !== undefined && !protocols.includes(String(chosen))) {
        socket.destroy();
        return reject(new Error(`streaming server at ${url} chose protocol ${String(chosen)}, not one of ${protocols.join(', ')}`));
      }
      socket.setNoDelay(true);
      resolve(new SpdyClientSession(socket, head));
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => reject(new Error(`streaming server refused ${url}: HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString().trim()}`)));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Exec or attach over SPDY; the same contract as openRemoteCommand (stream-client.ts), plus a real stdin EOF. */
export async function openSpdyRemoteCommand(url: string, options: StreamOptions): Promise<StreamSession> {
  const protocol = 'v4.channel.k8s.io';
  const session = await upgrade(url, [protocol]);
  const errorChunks: Buffer[] = [];
  const outputs: Array<Promise<void>> = [];
  const output = (type: string): PassThrough => {
    const stream = new PassThrough();
    outputs.push(
      new Promise((resolve) =>
        session.open(
          { streamtype: [type] },
          {
            data: (c) => stream.write(c),
            end: () => {
              stream.end();
              resolve();
            },
          },
        ),
      ),
    );
    return stream;
  };

  // kubectl's order (remotecommand v2+): error first, then stdin, stdout, stderr, resize.
  let errorEnded!: () => void;
  const errorDone = new Promise<void>((resolve) => (errorEnded = resolve));
  const errorId = session.open({ streamtype: ['error'] }, { data: (c) => errorChunks.push(c), end: () => errorEnded() });
  void session.finish(errorId).catch(() => undefined); // we never write to it
  const stdinId = options.stdin ? session.open({ streamtype: ['stdin'] }, { data: () => {}, end: () => {} }) : undefined;
  const stdout = options.stdout ? output('stdout') : undefined;
  const stderr = options.stderr && !options.tty ? output('stderr') : undefined;
  const resizeId = options.tty ? session.open({ streamtype: ['resize'] }, { data: () => {}, end: () => {} }) : undefined;

  let closedByUs = false;
  const done = (async () => {
    await Promise.race([errorDone, session.closed]);
    // Output the server sent before its status still drains to the caller.
    await Promise.race([Promise.all(outputs), session.closed]);
    session.destroy();
    stdout?.end();
    stderr?.end();
    const body = Buffer.concat(errorChunks).toString('utf8');
    // Under v4 the server writes a Status when the command ends, Success included (kubelet's remotecommand server,
    // which containerd vendors): a connection that ends without one lost the command's end, which is no exit 0.
    if (body === '' && !closedByUs) throw new Error(`streaming server at ${url} ended the session without an exit status`);
    const result = parseExitStatus(body, protocol);
    if ('error' in result) throw new Error(result.error);
    return result;
  })();
  done.catch(() => {});

  const stdin =
    stdinId !== undefined
      ? new Writable({
          write(chunk: Buffer, _encoding, callback) {
            session.send(stdinId, chunk).then(() => callback(), callback);
          },
          final(callback) {
            // A terminal does not turn the writer's close into end-of-file for its reader; ^D at a line start does
            // (what a user's raw-mode terminal would send through kubectl). Closing the stream as well would make
            // containerd close the terminal under the process, which then dies before it has read or written.
            if (options.tty) session.send(stdinId, Buffer.from([0x04])).then(() => callback(), () => callback());
            else session.finish(stdinId).then(() => callback(), () => callback());
          },
        })
      : undefined;

  return {
    stdin,
    stdout,
    stderr,
    resize(size: TerminalSize) {
      if (resizeId === undefined) return;
      void session.send(resizeId, Buffer.from(JSON.stringify({ Width: size.width, Height: size.height }))).catch(() => undefined);
    },
    done,
    close() {
      closedByUs = true;
      session.destroy();
    },
  };
}

/** A byte stream to `port` in the sandbox over SPDY port-forward; ending it half-closes toward the pod. */
export async function openSpdyPortForward(url: string, port: number): Promise<Duplex> {
  const session = await upgrade(url, ['portforward.k8s.io']);
  const headers = (type: string): SpdyHeaders => ({ streamtype: [type], port: [String(port)], requestid: ['0'] });
  let errorText = '';
  let remoteEnded = false;
  let localEnded = false;
  const maybeClose = () => {
    if (remoteEnded && localEnded) session.destroy();
  };

  // Declared before the streams open: data can arrive as soon as the server answers.
  const duplex: Duplex = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      session.send(dataId, chunk).then(
        () => callback(),
        () => callback(errorText ? new Error(`port-forward to ${port}: ${errorText.trim()}`) : undefined),
      );
    },
    final(callback) {
      localEnded = true;
      session.finish(dataId).then(
        () => callback(),
        () => callback(),
      );
      maybeClose();
    },
    destroy(err, callback) {
      session.destroy();
      callback(err);
    },
  });

  const errorId = session.open(headers('error'), {
    data: (c) => (errorText += c.toString('utf8')),
    end: () => {
      if (errorText.trim() !== '') duplex.destroy(new Error(`port-forward to ${port}: ${errorText.trim()}`));
    },
  });
  void session.finish(errorId).catch(() => undefined);
  const dataId = session.open(headers('data'), {
    data: (c) => duplex.push(c),
    end: () => {
      remoteEnded = true;
      duplex.push(null);
      maybeClose();
    },
  });
  void session.closed.then(() => {
    if (errorText.trim() !== '' && !duplex.destroyed) duplex.destroy(new Error(`port-forward to ${port}: ${errorText.trim()}`));
    else if (!remoteEnded) duplex.push(null);
  });
  return duplex;
}
