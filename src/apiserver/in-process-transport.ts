/**
 * The client Transport for components inside `skiff server`: requests go through the real request pipeline
 * (ApiHandler.handle: authentication, routing, decoding, admission, validation, storage) with no TLS and no socket,
 * so in-process controllers see exactly what remote clients see, minus the network.
 *
 * The handler gets a minimal request (a Readable body plus method, url, headers, a socket placeholder) and a
 * minimal response (writeHead, setHeader, flushHeaders, write, end, headersSent, writableLength, destroy, events).
 * Output is handed to the caller asynchronously, as a socket would, so a caller's event handler never runs inside
 * the server's write path, and writableLength shows what the caller has not taken yet (the handler's slow-watcher
 * cut-off works as over HTTPS).
 *
 * Authentication: the request carries no credentials; it is marked with the UserInfo it acts as, which the server's
 * authenticate step honours (see inProcessUser). The mark lives in a WeakMap keyed by request objects only this
 * module creates, so nothing arriving over the network can claim it.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { LineSplitter, TransportHttpError, type StreamHandle, type Transport, type TransportBody, type TransportResponse } from '../client/transport.js';
import { LOOPBACK_USER, type UserInfo } from './auth/user-info.js';
import type { SharedLineDecoder } from './shared-line-decoder.js';

/** The handler entry point: ApiHandler.handle. */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

export { LOOPBACK_USER };

const inProcessUsers = new WeakMap<object, UserInfo>();

/** The user an in-process request acts as, or undefined for any other request (which authenticates normally). */
export function inProcessUser(req: object): UserInfo | undefined {
  return inProcessUsers.get(req);
}

class InProcessRequest extends Readable {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  /** No connection: the authenticator finds no TLS socket and no client certificate on it. */
  readonly socket = new EventEmitter();
  /** The whole body is buffered at construction, as IncomingMessage.complete says once the parser has it all. */
  readonly complete = true;
  private closedFlag = false;

  constructor(method: string, url: string, headers: Record<string, string>, body: Buffer | undefined) {
    super({ emitClose: false, autoDestroy: false });
    this.method = method;
    this.url = url;
    this.headers = headers;
    if (body && body.length > 0) this.push(body);
    this.push(null);
  }

  override _read(): void {}

  /** The client went away (or the exchange is over): 'close' as an IncomingMessage emits it. */
  closeRequest(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.emit('close');
  }

  /** A 'close' listener registered after the close still hears it, so a watch set up late is still stopped. */
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    super.on(event, listener);
    if (event === 'close' && this.closedFlag) process.nextTick(listener);
    return this;
  }
}

interface ResponseSink {
  head(status: number, headers: Record<string, string>): void;
  /** Strings stay strings (watch lines are written as strings; no round trip through Buffer). */
  data(chunk: string | Buffer, bytes: number): void;
  end(): void;
  /** The handler destroyed the response (an error after the headers were sent): a cut connection. */
  reset(): void;
}

class InProcessResponse extends EventEmitter {
  statusCode = 200;
  headersSent = false;
  writableEnded = false;
  destroyed = false;
  /** Bytes written but not yet taken by the caller. */
  writableLength = 0;
  private readonly headerMap = new Map<string, string | string[] | number>();

  constructor(private readonly sink: ResponseSink) {
    super();
  }

  setHeader(name: string, value: string | string[] | number): this {
    this.headerMap.set(name.toLowerCase(), value);
    return this;
  }

  getHeader(name: string): string | string[] | number | undefined {
    return this.headerMap.get(name.toLowerCase());
  }

  removeHeader(name: string): void {
    this.headerMap.delete(name.toLowerCase());
  }

  writeHead(status: number, headers?: Record<string, string | string[] | number>): this {
    if (this.headersSent) return this;
    this.statusCode = status;
    for (const [k, v] of Object.entries(headers ?? {})) if (v !== undefined) this.setHeader(k, v);
    this.sendHead();
    return this;
  }

  flushHeaders(): void {
    this.sendHead();
  }

  write(chunk: string | Buffer): boolean {
    if (this.writableEnded || this.destroyed) return false;
    this.sendHead();
    const bytes = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    this.writableLength += bytes;
    this.sink.data(chunk, bytes);
    return true;
  }

  end(chunk?: string | Buffer): this {
    if (this.writableEnded || this.destroyed) return this;
    if (chunk !== undefined && chunk.length > 0) this.write(chunk);
    this.sendHead();
    this.writableEnded = true;
    this.sink.end();
    this.emit('finish');
    return this;
  }

  destroy(): this {
    if (this.destroyed || this.writableEnded) return this;
    this.destroyed = true;
    this.sink.reset();
    this.emit('close');
    return this;
  }

  private sendHead(): void {
    if (this.headersSent) return;
    this.headersSent = true;
    const headers: Record<string, string> = {};
    for (const [k, v] of this.headerMap) headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
    this.sink.head(this.statusCode, headers);
  }
}

/**
 * Delivers a response's events to the caller in order, asynchronously (one microtask batch), and lowers the
 * response's writableLength as chunks are taken.
 */
class Delivery {
  private readonly pending: (() => void)[] = [];
  private scheduled = false;

  constructor(private readonly res: () => InProcessResponse | undefined) {}

  push(step: () => void, bytes = 0): void {
    this.pending.push(() => {
      const r = this.res();
      if (r) r.writableLength -= bytes;
      step();
    });
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    for (const step of this.pending.splice(0)) step();
  }
}

export class InProcessTransport implements Transport {
  /**
   * lines: the server's one SharedLineDecoder, so its components parse each watch event once between them (and hold
   * one object for it in their informers instead of one each).
   */
  constructor(
    private readonly handler: RequestHandler,
    private readonly user: UserInfo = LOOPBACK_USER,
    lines?: SharedLineDecoder,
  ) {
    if (lines) this.decodeLine = (line) => lines.decode(line);
  }

  readonly decodeLine?: (line: string) => unknown;

  request(method: string, path: string, query: URLSearchParams, body?: TransportBody): Promise<TransportResponse> {
    return new Promise((resolve, reject) => {
      let status = 0;
      let headers: Record<string, string> = {};
      const chunks: (string | Buffer)[] = [];
      let res: InProcessResponse | undefined;
      const delivery = new Delivery(() => res);
      const req = this.makeRequest(method, path, query, body);
      res = new InProcessResponse({
        head: (s, h) => {
          status = s;
          headers = h;
        },
        data: (chunk, bytes) => delivery.push(() => chunks.push(chunk), bytes),
        end: () =>
          delivery.push(() => {
            req.closeRequest();
            const text = chunks.length === 1 && typeof chunks[0] === 'string' ? chunks[0] : Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c))).toString('utf8');
            resolve({ status, headers, body: text });
          }),
        reset: () =>
          delivery.push(() => {
            req.closeRequest();
            reject(new Error(`${method} ${path}: the server reset the in-process connection`));
          }),
      });
      this.handler(req as unknown as IncomingMessage, res as unknown as ServerResponse);
    });
  }

  stream(path: string, query: URLSearchParams, onLine: (line: string) => void, onClose: (err?: Error) => void): StreamHandle {
    let closed = false;
    let status = 0;
    const errorBody: (string | Buffer)[] = [];
    let res: InProcessResponse | undefined;
    const delivery = new Delivery(() => res);
    const close = (err?: Error) => {
      if (closed) return;
      closed = true;
      req.closeRequest();
      onClose(err);
    };
    const lines = new LineSplitter((line) => {
      if (!closed) onLine(line);
    });
    const ok = () => status >= 200 && status <= 299;
    const req = this.makeRequest('GET', path, query, undefined);
    res = new InProcessResponse({
      head: (s) => {
        status = s;
      },
      data: (chunk, bytes) =>
        delivery.push(() => {
          if (ok()) lines.push(chunk);
          else errorBody.push(chunk);
        }, bytes),
      end: () =>
        delivery.push(() => {
          if (!ok()) return close(new TransportHttpError(status, errorBody.map((c) => c.toString()).join('')));
          lines.end();
          close();
        }),
      reset: () => delivery.push(() => close(new Error(`watch ${path}: the server reset the in-process stream`))),
    });
    this.handler(req as unknown as IncomingMessage, res as unknown as ServerResponse);
    return {
      stop: () => {
        // The handler hears 'close' as from a client that hung up, stops its watch and ends the response.
        close();
      },
    };
  }

  private makeRequest(method: string, path: string, query: URLSearchParams, body: TransportBody | undefined): InProcessRequest {
    const qs = query.toString();
    const data = body ? Buffer.from(body.data, 'utf8') : undefined;
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'skiff-in-process' };
    if (body && data) {
      headers['content-type'] = body.contentType;
      headers['content-length'] = String(data.length);
    }
    const req = new InProcessRequest(method, qs ? `${path}?${qs}` : path, headers, data);
    inProcessUsers.set(req, this.user);
    return req;
  }
}
