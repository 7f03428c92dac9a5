/**
 * The plain-HTTP fast path of the ingress: ordinary HTTP/1.1 requests are proxied on the raw sockets, parsing only
 * what routing and framing need, so a request costs neither Node's HTTP parser nor its request/response objects on
 * either side.
 *
 * - Client side: the request head is read up to its blank line and checked strictly (origin-form target, HTTP/1.1,
 *   token header names, visible-ASCII values, CRLF lines, one Host). Host and path route it; Content-Length or
 *   `Transfer-Encoding: chunked` frame its body; Connection may say `keep-alive` or `close`.
 * - Anything else goes to the http server that answers today (`fallback`): Upgrade, Expect, HTTP/1.0, absolute or
 *   `*` targets, other Connection tokens, duplicate framing headers, heads over 16 KiB (Node's limit: the http server
 *   then answers as it always has), malformed heads, and requests with no backend to go to (404/503 from there). The
 *   hand-over happens at a request boundary only: the connection's unread bytes are put back and the socket is given
 *   to the http server, which serves it from then on.
 * - Upstream: the head is rewritten as the http path writes it (hop-by-hop headers dropped, the client's
 *   X-Forwarded-For appended to, X-Forwarded-Proto/-Host/-Port and X-Real-Ip set, `Connection: keep-alive`), the body
 *   bytes follow as they came (chunked bodies verbatim), on a pooled keep-alive socket per endpoint (LIFO).
 * - Response: only the framing is parsed (status line, Content-Length, chunked, Connection: close, 1xx skipped, no
 *   body for HEAD/204/304); its head is rewritten as Node's http server writes it (hop-by-hop headers dropped, Date if
 *   missing, `Connection: keep-alive` and `Keep-Alive: timeout=5`, or `Connection: close` when the client asked); a
 *   response that ends at close goes to the client chunked. Bytes move with back-pressure both ways (the sender is
 *   paused while the receiver's buffer is full).
 * - Pipelined requests are served in order, one at a time (the client is paused while a response is outstanding).
 * - A client that leaves takes its backend connection with it; a backend that fails before answering is a 502 with
 *   the reason, as on the http path; one that fails mid-response closes the client connection.
 */
import net from 'node:net';

/** What the fast path needs from the proxy. */
export interface FastPathHooks {
  /** The endpoint (`ip:port`) and backend name for a request, or undefined for the http server to answer. */
  route(host: string, path: string): { endpoint: string; name: string } | undefined;
  /** Takes over a connection (its unread bytes already put back). */
  fallback(socket: net.Socket): void;
  /** The value of X-Forwarded-Port. */
  port(): number;
  /** The value of X-Forwarded-Proto: `https` when the connections are TLS sockets after their handshake. */
  scheme: 'http' | 'https';
}

/** Node's default --max-http-header-size: a longer head goes to the http server, which answers it as today. */
const MAX_HEAD = 16 * 1024;
/** Node's http server closes a connection idle this long between requests (keepAliveTimeout). */
const IDLE_MS = 5_000;
/** A new connection has this long to send its first request head (Node's headersTimeout). */
const FIRST_HEAD_MS = 60_000;
const MAX_FREE_PER_ENDPOINT = 64;
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);
const SET_BY_US = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-real-ip']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Header values and targets: visible ASCII, space and tab only (anything else is left to the http server). */
const VALUE = /^[\t\x20-\x7e]*$/;
const TARGET = /^\/[\x21-\x7e]*$/;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: ([\t\x20-\x7e\x80-\xff]*))?$/;
const CRLF2 = Buffer.from('\r\n\r\n');
const LAST_CHUNK = Buffer.from('0\r\n\r\n');

let dateText = '';
let dateAt = 0;
function httpDate(): string {
  const now = Date.now();
  if (now - dateAt >= 1000) {
    dateAt = now - (now % 1000);
    dateText = new Date(dateAt).toUTCString();
  }
  return dateText;
}

/**
 * Finds the end of a chunked body (RFC 9112 §7.1) in a stream of bytes: feed() returns the offset just past the
 * last chunk's trailer section, or -1 when the body goes on; it throws on a malformed body.
 */
export class ChunkedScanner {
  private state: 'size' | 'ext' | 'sizeLf' | 'data' | 'dataCr' | 'dataLf' | 'trailerStart' | 'trailer' | 'trailerLf' | 'endLf' = 'size';
  private size = 0;
  private digits = 0;
  private left = 0;

  feed(b: Buffer, from = 0): number {
    let i = from;
    while (i < b.length) {
      const c = b[i]!;
      switch (this.state) {
        case 'size': {
          const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
          if (d >= 0) {
            if (++this.digits > 12) throw new Error('chunk size too large');
            this.size = this.size * 16 + d;
          } else if (this.digits === 0) throw new Error('invalid chunk size');
          else if (c === 0x0d) this.state = 'sizeLf';
          else if (c === 0x3b || c === 0x20 || c === 0x09) this.state = 'ext';
          else throw new Error('invalid chunk size');
          i++;
          break;
        }
        case 'ext':
          if (c === 0x0d) this.state = 'sizeLf';
          else if (c === 0x0a) throw new Error('invalid chunk extension');
          i++;
          break;
        case 'sizeLf':
          if (c !== 0x0a) throw new Error('invalid chunk size line');
          i++;
          if (this.size === 0) this.state = 'trailerStart';
          else {
            this.left = this.size;
            this.state = 'data';
          }
          this.size = 0;
          this.digits = 0;
          break;
        case 'data': {
          const n = Math.min(this.left, b.length - i);
          i += n;
          this.left -= n;
          if (this.left === 0) this.state = 'dataCr';
          break;
        }
        case 'dataCr':
          if (c !== 0x0d) throw new Error('chunk data not followed by CRLF');
          this.state = 'dataLf';
          i++;
          break;
        case 'dataLf':
          if (c !== 0x0a) throw new Error('chunk data not followed by CRLF');
          this.state = 'size';
          i++;
          break;
        case 'trailerStart':
          if (c === 0x0d) this.state = 'endLf';
          else this.state = 'trailer';
          i++;
          break;
        case 'trailer':
          if (c === 0x0d) this.state = 'trailerLf';
          i++;
          break;
        case 'trailerLf':
          if (c !== 0x0a) throw new Error('invalid trailer line');
          this.state = 'trailerStart';
          i++;
          break;
        case 'endLf':
          if (c !== 0x0a) throw new Error('invalid last chunk');
          this.state = 'size';
          return i + 1;
      }
    }
    return -1;
  }
}

function hasBareLf(b: Buffer): boolean {
  for (let i = b.indexOf(0x0a); i >= 0; i = b.indexOf(0x0a, i + 1)) if (i === 0 || b[i - 1] !== 0x0d) return true;
  return false;
}

/** A parsed request head the fast path can serve, or undefined (the http server takes the connection). */
interface RequestHead {
  method: string;
  path: string;
  host: string;
  /** Content-Length, or -1 for chunked. */
  length: number;
  close: boolean;
  /** The upstream head minus the X-Forwarded-* block and the final CRLF. */
  upstream: string;
}

export function parseRequestHead(text: string, remote: string, scheme: string, port: number): RequestHead | undefined {
  const lines = text.split('\r\n');
  const requestLine = lines[0]!;
  const sp1 = requestLine.indexOf(' ');
  const sp2 = requestLine.indexOf(' ', sp1 + 1);
  if (sp1 < 0 || sp2 < 0) return undefined;
  const method = requestLine.slice(0, sp1);
  const path = requestLine.slice(sp1 + 1, sp2);
  if (!METHODS.has(method) || requestLine.slice(sp2 + 1) !== 'HTTP/1.1' || !TARGET.test(path)) return undefined;
  let host: string | undefined;
  let length: number | undefined;
  let chunked = false;
  let close = false;
  let prior: string | undefined;
  let upstream = requestLine + '\r\n';
  // lines ends with the two empty strings of the blank line.
  for (let i = 1; i < lines.length - 2; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return undefined;
    const value = line.slice(colon + 1).trim();
    if (!VALUE.test(value) || value.includes('\r') || value.includes('\n')) return undefined;
    const lower = name.toLowerCase();
    switch (lower) {
      case 'host':
        if (host !== undefined) return undefined;
        host = value;
        break;
      case 'content-length':
        if (length !== undefined || !/^\d{1,15}$/.test(value)) return undefined;
        length = Number(value);
        break;
      case 'transfer-encoding':
        if (chunked || value.toLowerCase() !== 'chunked') return undefined;
        chunked = true;
        continue;
      case 'connection':
        for (const token of value.split(',')) {
          const t = token.trim().toLowerCase();
          if (t === 'close') close = true;
          else if (t !== 'keep-alive') return undefined;
        }
        continue;
      case 'upgrade':
      case 'expect':
        return undefined;
    }
    if (HOP_BY_HOP.has(lower)) continue;
    if (SET_BY_US.has(lower)) {
      if (lower === 'x-forwarded-for') prior = prior === undefined ? value : `${prior}, ${value}`;
      continue;
    }
    upstream += `${name}: ${value}\r\n`;
  }
  if (host === undefined || (chunked && length !== undefined) || lines[lines.length - 1] !== '' || lines[lines.length - 2] !== '') return undefined;
  upstream +=
    `x-forwarded-for: ${prior ? `${prior}, ${remote}` : remote}\r\nx-forwarded-proto: ${scheme}\r\nx-forwarded-host: ${host}\r\n` +
    `x-forwarded-port: ${port}\r\nx-real-ip: ${remote}\r\n` +
    (chunked ? 'Transfer-Encoding: chunked\r\n' : '') +
    'Connection: keep-alive\r\n\r\n';
  return { method, path, host, length: chunked ? -1 : (length ?? 0), close, upstream };
}

/** A backend connection: kept in the pool between requests, owned by one client connection during one. */
class Upstream {
  owner: ClientConnection | undefined;
  readonly socket: net.Socket;
  constructor(
    readonly endpoint: string,
    private readonly pool: BackendPool,
  ) {
    const colon = endpoint.lastIndexOf(':');
    this.socket = net.connect({ host: endpoint.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(endpoint.slice(colon + 1)), noDelay: true });
    this.socket.on('data', (chunk: Buffer) => (this.owner ? this.owner.upstreamData(chunk) : this.socket.destroy()));
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.owner?.upstreamGone(err.code ?? err.message));
    this.socket.on('close', () => {
      this.pool.forget(this);
      this.owner?.upstreamGone('ECONNRESET');
    });
    this.socket.on('drain', () => this.owner?.upstreamDrained());
  }
}

class BackendPool {
  private readonly free = new Map<string, Upstream[]>();

  take(endpoint: string): Upstream {
    const idle = this.free.get(endpoint);
    return idle?.pop() ?? new Upstream(endpoint, this);
  }

  give(u: Upstream): void {
    u.owner = undefined;
    let idle = this.free.get(u.endpoint);
    if (!idle) this.free.set(u.endpoint, (idle = []));
    if (idle.length >= MAX_FREE_PER_ENDPOINT || u.socket.destroyed) u.socket.destroy();
    else idle.push(u);
  }

  forget(u: Upstream): void {
    const idle = this.free.get(u.endpoint);
    const i = idle?.indexOf(u) ?? -1;
    if (i >= 0) idle!.splice(i, 1);
    if (idle?.length === 0) this.free.delete(u.endpoint);
  }

  destroy(): void {
    for (const idle of this.free.values()) for (const u of idle) u.socket.destroy();
    this.free.clear();
  }
}

type Framing = { kind: 'length'; left: number } | { kind: 'chunked'; scanner: ChunkedScanner } | { kind: 'close' } | { kind: 'none' };

/** One client connection on the fast path. */
class ClientConnection {
  private buf: Buffer = Buffer.alloc(0);
  /** head: reading a request head; body: forwarding its body; wait: body sent, response outstanding. */
  private phase: 'head' | 'body' | 'wait' = 'head';
  private req: RequestHead | undefined;
  private reqFraming: Framing = { kind: 'none' };
  private upstream: Upstream | undefined;
  private backendName = '';
  // Response state.
  private resHead: Buffer | undefined;
  private resStarted = false;
  private resFraming: Framing = { kind: 'none' };
  private upstreamReusable = true;
  private pausedForUpstream = false;
  private pausedForPipeline = false;
  private clientEnded = false;
  /** The connection ends after the response written last: bytes still arriving are dropped. */
  private closing = false;
  private readonly remote: string;

  constructor(
    private readonly socket: net.Socket,
    private readonly fast: FastHttp,
  ) {
    this.remote = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onGone);
    socket.on('close', this.onGone);
    socket.on('timeout', this.onTimeout);
    socket.on('drain', this.onDrain);
    socket.setTimeout(FIRST_HEAD_MS);
  }

  private readonly onData = (chunk: Buffer) => {
    if (this.closing) return;
    if (this.phase === 'body') return this.forwardBody(chunk);
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    if (this.phase === 'head') this.readHead();
    else this.pausePipeline();
  };

  private readonly onEnd = () => {
    this.clientEnded = true;
    // Gone before its body was all sent: the request cannot complete, and its backend request is aborted.
    if (this.phase === 'body') this.onGone();
    else if (this.phase === 'head') this.socket.end();
  };

  private readonly onTimeout = () => {
    if (this.phase === 'head') this.socket.destroy();
  };

  private readonly onDrain = () => this.upstream?.socket.resume();

  private readonly onGone = () => {
    this.fast.connections.delete(this);
    if (this.upstream) {
      const u = this.upstream;
      this.upstream = undefined;
      u.owner = undefined;
      u.socket.destroy();
    }
    this.socket.destroy();
  };

  private pausePipeline(): void {
    if (!this.pausedForPipeline) {
      this.pausedForPipeline = true;
      this.socket.pause();
    }
  }

  private readHead(): void {
    const end = this.buf.indexOf(CRLF2);
    if (end < 0) {
      // Too long to be served here, or lines that end in a bare LF: the http server answers those as it does today.
      if (this.buf.length > MAX_HEAD || hasBareLf(this.buf)) this.handOver();
      return;
    }
    if (end + 4 > MAX_HEAD) return this.handOver();
    const req = parseRequestHead(this.buf.toString('latin1', 0, end + 4), this.remote, this.fast.hooks.scheme, this.fast.hooks.port());
    const route = req && this.fast.hooks.route(req.host, req.path);
    if (!req || !route) return this.handOver();
    this.socket.setTimeout(0);
    this.req = req;
    this.backendName = route.name;
    this.upstreamReusable = true;
    this.resHead = undefined;
    this.resStarted = false;
    const u = this.fast.pool.take(route.endpoint);
    u.owner = this;
    this.upstream = u;
    const rest = this.buf.subarray(end + 4);
    this.buf = Buffer.alloc(0);
    this.reqFraming = req.length === -1 ? { kind: 'chunked', scanner: new ChunkedScanner() } : req.length > 0 ? { kind: 'length', left: req.length } : { kind: 'none' };
    this.phase = this.reqFraming.kind === 'none' ? 'wait' : 'body';
    if (this.phase === 'wait') {
      u.socket.write(req.upstream, 'latin1');
      if (rest.length) {
        this.buf = rest;
        this.pausePipeline();
      }
      return;
    }
    u.socket.cork();
    u.socket.write(req.upstream, 'latin1');
    this.forwardBody(rest);
    u.socket.uncork();
  }

  /** Client body bytes to the backend, up to the body's end; what follows is the next (pipelined) request. */
  private forwardBody(chunk: Buffer): void {
    const u = this.upstream;
    if (!u) return;
    let take = chunk.length;
    const f = this.reqFraming;
    if (f.kind === 'length') {
      take = Math.min(f.left, chunk.length);
      f.left -= take;
    } else if (f.kind === 'chunked') {
      let end: number;
      try {
        end = f.scanner.feed(chunk);
      } catch {
        // A malformed chunked body: neither side can be trusted to agree where the next message starts.
        return this.onGone();
      }
      if (end >= 0) {
        take = end;
        this.reqFraming = { kind: 'none' };
      }
    }
    if (take > 0 && !u.socket.write(take === chunk.length ? chunk : chunk.subarray(0, take)) && !this.pausedForUpstream) {
      this.pausedForUpstream = true;
      this.socket.pause();
    }
    if ((f.kind === 'length' && f.left === 0) || this.reqFraming.kind === 'none') {
      this.phase = 'wait';
      if (take < chunk.length) {
        this.buf = chunk.subarray(take);
        this.pausePipeline();
      }
    }
  }

  upstreamDrained(): void {
    if (this.pausedForUpstream) {
      this.pausedForUpstream = false;
      if (!this.pausedForPipeline) this.socket.resume();
    }
  }

  upstreamData(chunk: Buffer): void {
    if (!this.resStarted) {
      this.resHead = this.resHead ? Buffer.concat([this.resHead, chunk]) : chunk;
      for (;;) {
        const end = this.resHead.indexOf(CRLF2);
        if (end < 0) {
          if (this.resHead.length > MAX_HEAD) this.badGateway('HPE_HEADER_OVERFLOW');
          return;
        }
        if (end + 4 > MAX_HEAD) return this.badGateway('HPE_HEADER_OVERFLOW');
        const head = this.responseHead(this.resHead.toString('latin1', 0, end + 4));
        if (head === undefined) return this.badGateway('HPE_INVALID_RESPONSE');
        const rest = this.resHead.subarray(end + 4);
        if (head === 'informational') {
          this.resHead = rest;
          continue;
        }
        this.resHead = undefined;
        this.resStarted = true;
        this.socket.cork();
        this.socket.write(head, 'latin1');
        this.responseBody(rest);
        this.socket.uncork();
        return;
      }
    }
    this.responseBody(chunk);
  }

  /** The client's response head from the backend's, with the framing noted; 'informational' for a 1xx to skip. */
  private responseHead(text: string): string | 'informational' | undefined {
    const lines = text.split('\r\n');
    const m = STATUS_LINE.exec(lines[0]!);
    if (!m) return undefined;
    const status = Number(m[2]);
    if (status === 101) return undefined;
    if (status < 200) return 'informational';
    let length: number | undefined;
    let chunked = false;
    let hasDate = false;
    if (m[1] === '0') this.upstreamReusable = false;
    let out = `HTTP/1.1 ${m[2]} ${m[3] ?? ''}\r\n`;
    for (let i = 1; i < lines.length - 2; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) return undefined;
      const name = line.slice(0, colon);
      if (!TOKEN.test(name)) return undefined;
      const value = line.slice(colon + 1).trim();
      // A bare CR or LF inside a line would let the backend split the client's response: Node's parser rejects it too.
      if (value.includes('\n') || value.includes('\r')) return undefined;
      const lower = name.toLowerCase();
      if (lower === 'content-length') {
        if (!/^\d{1,15}$/.test(value) || (length !== undefined && length !== Number(value))) return undefined;
        if (length !== undefined) continue;
        length = Number(value);
      } else if (lower === 'transfer-encoding') {
        if (value.toLowerCase() !== 'chunked') return undefined;
        chunked = true;
        continue;
      } else if (lower === 'connection') {
        if (/(^|,)\s*close\s*(,|$)/i.test(value)) this.upstreamReusable = false;
        continue;
      } else if (lower === 'date') hasDate = true;
      if (HOP_BY_HOP.has(lower)) continue;
      out += `${name}: ${value}\r\n`;
    }
    if (lines[lines.length - 1] !== '' || lines[lines.length - 2] !== '') return undefined;
    const noBody = this.req!.method === 'HEAD' || status === 204 || status === 304;
    if (chunked && length !== undefined) return undefined;
    if (noBody) this.resFraming = { kind: 'none' };
    else if (chunked) this.resFraming = { kind: 'chunked', scanner: new ChunkedScanner() };
    else if (length !== undefined) this.resFraming = length > 0 ? { kind: 'length', left: length } : { kind: 'none' };
    else {
      this.resFraming = { kind: 'close' };
      this.upstreamReusable = false;
    }
    if (!hasDate) out += `Date: ${httpDate()}\r\n`;
    out += this.req!.close ? 'Connection: close\r\n' : 'Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n';
    if (!noBody && (chunked || length === undefined)) out += 'Transfer-Encoding: chunked\r\n';
    return out + '\r\n';
  }

  private responseBody(chunk: Buffer): void {
    const f = this.resFraming;
    let take = chunk.length;
    let done = false;
    if (f.kind === 'none') {
      take = 0;
      done = true;
    } else if (f.kind === 'length') {
      take = Math.min(f.left, chunk.length);
      f.left -= take;
      done = f.left === 0;
    } else if (f.kind === 'chunked') {
      let end: number;
      try {
        end = f.scanner.feed(chunk);
      } catch {
        return this.onGone();
      }
      if (end >= 0) {
        take = end;
        done = true;
      }
    }
    if (take < chunk.length) this.upstreamReusable = false; // bytes past the response: the backend is out of step
    let writable = true;
    if (take > 0) {
      const part = take === chunk.length ? chunk : chunk.subarray(0, take);
      if (f.kind === 'close') {
        this.socket.cork();
        this.socket.write(`${take.toString(16)}\r\n`, 'latin1');
        this.socket.write(part);
        writable = this.socket.write('\r\n', 'latin1');
        this.socket.uncork();
      } else writable = this.socket.write(part);
    }
    if (done) return this.responseDone();
    if (!writable) this.upstream?.socket.pause();
  }

  /** The backend closed or failed: the end of a response that runs to close, else a 502 or a broken connection. */
  upstreamGone(code: string): void {
    const u = this.upstream;
    if (!u) return;
    if (this.resStarted && this.resFraming.kind === 'close') {
      this.socket.write(LAST_CHUNK);
      return this.responseDone();
    }
    if (this.resStarted) return this.onGone();
    this.badGateway(code);
  }

  private badGateway(code: string): void {
    const u = this.upstream!;
    this.upstream = undefined;
    u.owner = undefined;
    u.socket.destroy();
    if (this.resStarted) return this.onGone();
    const body = `Bad Gateway: ${this.backendName} endpoint ${u.endpoint}: ${code}\n`;
    // A request body still on its way cannot be skipped reliably: the connection ends after this answer.
    const close = this.req!.close || this.phase === 'body';
    this.socket.write(
      `HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nDate: ${httpDate()}\r\n` +
        (close ? 'Connection: close\r\n' : 'Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n') +
        `\r\n${body}`,
    );
    this.finish(close);
  }

  private responseDone(): void {
    const u = this.upstream!;
    this.upstream = undefined;
    u.socket.resume();
    // The backend may still be reading a body the client goes on sending: it is not reused then, nor is the client's.
    const bodyLeft = this.phase === 'body';
    if (this.upstreamReusable && !bodyLeft) this.fast.pool.give(u);
    else {
      u.owner = undefined;
      u.socket.destroy();
    }
    this.finish(this.req!.close || bodyLeft);
  }

  /** After a response: close the connection, or read the next request (perhaps already buffered). */
  private finish(close: boolean): void {
    this.req = undefined;
    this.phase = 'head';
    this.pausedForUpstream = false;
    if (close || this.clientEnded) {
      this.closing = true;
      this.socket.end();
      return;
    }
    this.socket.setTimeout(IDLE_MS);
    if (this.pausedForPipeline) {
      this.pausedForPipeline = false;
      this.socket.resume();
    } else if (this.socket.isPaused()) this.socket.resume();
    if (this.buf.length) this.readHead();
  }

  /** At a request boundary: the bytes read so far go back, and the http server serves this connection from now on. */
  private handOver(): void {
    const s = this.socket;
    this.fast.connections.delete(this);
    s.off('data', this.onData);
    s.off('end', this.onEnd);
    s.off('error', this.onGone);
    s.off('close', this.onGone);
    s.off('timeout', this.onTimeout);
    s.off('drain', this.onDrain);
    s.setTimeout(0);
    s.pause();
    if (this.buf.length) s.unshift(this.buf);
    this.buf = Buffer.alloc(0);
    this.fast.hooks.fallback(s);
    // Emitted through 'data' before anything the http server reads itself (it reads the socket's handle directly).
    s.resume();
  }

  destroy(): void {
    this.onGone();
  }
}

/** The fast path's listener side: IngressProxy gives it every plain-HTTP connection, and every TLS one after its handshake. */
export class FastHttp {
  readonly pool = new BackendPool();
  readonly connections = new Set<ClientConnection>();

  constructor(readonly hooks: FastPathHooks) {}

  accept(socket: net.Socket): void {
    this.connections.add(new ClientConnection(socket, this));
  }

  destroy(): void {
    for (const c of [...this.connections]) c.destroy();
    this.pool.destroy();
  }
}
