/**
 * How the RestClient reaches an API server. Two implementations with the same semantics: HttpsTransport
 * (node:https) and the apiserver's InProcessTransport (the real request pipeline without sockets). Transports move
 * bytes and status codes only; turning them into objects and StatusErrors is the RestClient's job.
 */

export interface TransportBody {
  contentType: string;
  data: string;
}

export interface TransportResponse {
  status: number;
  /** Lower-case header names; repeated headers joined with ', '. */
  headers?: Record<string, string>;
  body: string;
}

export interface StreamHandle {
  /** Ends the stream; the transport then calls onClose once with no error. Idempotent. */
  stop(): void;
}

export interface Transport {
  /**
   * One request/response exchange. `path` is the absolute URL path (already escaped), `query` its parameters.
   * Resolves with any HTTP status; rejects only when no response arrived (connection refused, reset, TLS failure).
   */
  request(method: string, path: string, query: URLSearchParams, body?: TransportBody): Promise<TransportResponse>;
  /**
   * A GET whose 2xx response body is newline-delimited JSON (a watch): onLine gets each complete non-empty line in
   * order. onClose is called exactly once: with no error when stopped or when the server ends the stream; with a
   * TransportHttpError when the server answered non-2xx; with the failure when the connection broke.
   */
  stream(path: string, query: URLSearchParams, onLine: (line: string) => void, onClose: (err?: Error) => void): StreamHandle;
  /**
   * Optional: the parsed value of a stream line, shared with other readers in this process that were sent the same
   * text (the in-process transport's SharedLineDecoder). Values from it must not be mutated. Without it, the
   * client parses each line itself.
   */
  decodeLine?(line: string): unknown;
}

/** A non-2xx answer to a stream request; the RestClient rebuilds the StatusError from `body`. */
export class TransportHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`the server answered ${status} to a streaming request`);
    this.name = 'TransportHttpError';
  }
}

/**
 * Splits a byte stream into lines across chunk boundaries (a watch event may arrive in pieces, several may arrive in
 * one chunk). Decodes UTF-8 safely across chunks.
 */
export class LineSplitter {
  private buffer = '';
  private readonly decoder = new TextDecoder();

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer | string): void {
    const text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    let nl = text.indexOf('\n');
    if (nl < 0) {
      this.buffer += text;
      return;
    }
    // Scan only the new text, so a long line arriving in many chunks costs linear time.
    this.emit(this.buffer + text.slice(0, nl));
    let from = nl + 1;
    while ((nl = text.indexOf('\n', from)) >= 0) {
      this.emit(text.slice(from, nl));
      from = nl + 1;
    }
    this.buffer = text.slice(from);
  }

  private emit(line: string): void {
    if (line.trim() !== '') this.onLine(line);
  }

  /** Delivers a last line that had no trailing newline. */
  end(): void {
    const rest = this.buffer + this.decoder.decode();
    this.buffer = '';
    if (rest.trim() !== '') this.onLine(rest);
  }
}
