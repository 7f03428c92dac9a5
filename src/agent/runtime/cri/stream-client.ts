/**
 * Client side of a CRI runtime's streaming server: the Exec, Attach and PortForward RPCs return a one-shot URL on it
 * (containerd: http://127.0.0.1:<stream_server_port>/exec/<token>), and this file turns that URL into the
 * StreamSession / Duplex of runtime/types.ts. It speaks the WebSocket channel protocol of Kubernetes' streaming
 * library (k8s.io/apimachinery/pkg/util/httpstream/wsstream, as vendored by containerd): every binary message starts
 * with one channel byte.
 *
 *   exec/attach  0 stdin, 1 stdout, 2 stderr, 3 error (v4: a JSON metav1.Status with the exit code), 4 resize (JSON)
 *   port-forward 0 data, 1 error (for the one port asked); Kubernetes' server first sends the port (uint16 LE) on
 *                each, containerd 1.6's does not
 *
 * v5.channel.k8s.io (k8s >= 1.30, containerd >= 1.7.x) adds channel 255 to close stdin; it is offered first and used
 * when the server picks it. Under v4 there is no way to half-close stdin: ending `stdin` sends ^D with a TTY (the
 * terminal makes it end-of-file) and otherwise only stops writing.
 */
import { Duplex, PassThrough, Writable } from 'node:stream';
import WebSocket from 'ws';
import type { StreamOptions, StreamSession, TerminalSize } from '../types.js';

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;
const CLOSE = 255;

const REMOTE_COMMAND_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'channel.k8s.io'];
const PORT_FORWARD_PROTOCOLS = ['v4.channel.k8s.io'];

/** Fails with what the server answered when it refuses the upgrade (an expired token, a stopped container...). */
function connect(url: string, protocols: string[]): Promise<WebSocket> {
  const wsUrl = url.replace(/^http/, 'ws');
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, protocols, { perMessageDeflate: false });
    ws.binaryType = 'nodebuffer';
    ws.once('open', () => {
      ws.removeAllListeners('error');
      resolve(ws);
    });
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => reject(new Error(`streaming server refused ${url}: HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString().trim()}`)));
      res.on('error', reject);
    });
    ws.once('error', reject);
  });
}

/**
 * The exit code in a v4 error-channel Status: Success = 0; reason NonZeroExitCode with a cause ExitCode = that code.
 * Anything else is an error message (the process could not start), returned as such.
 */
export function parseExitStatus(body: string, protocol: string): { exitCode: number } | { error: string } {
  if (body === '') return { exitCode: 0 };
  if (!protocol.startsWith('v4.') && !protocol.startsWith('v5.')) return { error: body };
  let status: { status?: string; reason?: string; message?: string; details?: { causes?: Array<{ reason?: string; message?: string }> } };
  try {
    status = JSON.parse(body);
  } catch {
    return { error: body };
  }
  if (status.status === 'Success') return { exitCode: 0 };
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  if (status.reason === 'NonZeroExitCode' && cause?.message !== undefined && /^\d+$/.test(cause.message)) return { exitCode: Number(cause.message) };
  return { error: status.message ?? body };
}

/**
 * Exec or attach over the URL a runtime returned. `done` resolves with the exit code the server reports (attach: 0
 * when the container's streams end), and rejects when the command could not run at all, with the runtime's message.
 */
export async function openRemoteCommand(url: string, options: StreamOptions): Promise<StreamSession> {
  const ws = await connect(url, REMOTE_COMMAND_PROTOCOLS);
  const protocol = ws.protocol;
  const stdout = options.stdout ? new PassThrough() : undefined;
  const stderr = options.stderr && !options.tty ? new PassThrough() : undefined;
  const errorChunks: Buffer[] = [];

  ws.on('message', (data: Buffer) => {
    if (data.length < 1) return;
    const channel = data[0];
    const payload = data.subarray(1);
    if (payload.length === 0) return; // the server's "channel open" hello
    if (channel === STDOUT) stdout?.write(payload);
    else if (channel === STDERR) stderr?.write(payload);
    else if (channel === ERROR) errorChunks.push(payload);
  });

  let closedByUs = false;
  const done = new Promise<{ exitCode: number }>((resolve, reject) => {
    const finish = (socketError?: Error) => {
      stdout?.end();
      stderr?.end();
      if (socketError && errorChunks.length === 0) return reject(socketError);
      // v4 and v5 servers write a Status when the command ends, Success included: no Status is a lost ending.
      if (errorChunks.length === 0 && !closedByUs) return reject(new Error(`streaming server at ${url} ended the session without an exit status`));
      const result = parseExitStatus(Buffer.concat(errorChunks).toString('utf8'), protocol);
      if ('error' in result) reject(new Error(result.error));
      else resolve(result);
    };
    let socketError: Error | undefined;
    ws.on('error', (err) => (socketError = err));
    ws.on('close', () => finish(socketError));
  });
  // Callers may never look at `done` (a detached attach); its rejection must not crash the process.
  done.catch(() => {});

  const send = (channel: number, payload: Buffer, callback?: (err?: Error) => void) => {
    if (ws.readyState !== WebSocket.OPEN) return callback?.(new Error('stream closed'));
    ws.send(Buffer.concat([Buffer.from([channel]), payload]), { binary: true }, callback);
  };

  const stdin = options.stdin
    ? new Writable({
        write(chunk: Buffer, _encoding, callback) {
          send(STDIN, chunk, callback);
        },
        final(callback) {
          if (protocol.startsWith('v5.')) send(CLOSE, Buffer.from([STDIN]), () => callback());
          // A terminal's line discipline turns ^D at the start of a line into end-of-file for the reader.
          else if (options.tty) send(STDIN, Buffer.from([0x04]), () => callback());
          else callback();
        },
      })
    : undefined;

  return {
    stdin,
    stdout,
    stderr,
    resize(size: TerminalSize) {
      if (!options.tty) return;
      send(RESIZE, Buffer.from(JSON.stringify({ Width: size.width, Height: size.height })));
    },
    done,
    close() {
      closedByUs = true;
      if (ws.readyState === WebSocket.OPEN) ws.close(1000);
      else ws.terminate();
    },
  };
}

/** A byte stream to `port` inside the sandbox, over a port-forward URL that was issued for that one port. */
export async function openPortForward(url: string, port: number): Promise<Duplex> {
  const withPort = new URL(url);
  withPort.searchParams.set('port', String(port));
  const ws = await connect(withPort.toString(), PORT_FORWARD_PROTOCOLS);
  // Kubernetes' server sends the port number (uint16 LE) as the first message of each channel; containerd 1.6's
  // does not. So a first message that is exactly those two bytes is the prefix, anything else is data.
  const portBytes = Buffer.alloc(2);
  portBytes.writeUInt16LE(port);
  const firstSeen = [false, false];
  let errorText = '';

  const duplex = new Duplex({
    read() {
      ws.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      // Closing already: the close handler reports why (the error channel's words), which beats "stream closed".
      if (ws.readyState !== WebSocket.OPEN) return callback();
      ws.send(Buffer.concat([Buffer.from([0]), chunk]), { binary: true }, (err) => callback(err && !errorText ? err : undefined));
    },
    // No half-close in the v4 protocol: the remote side ends the stream, or destroy() does.
    final(callback) {
      callback();
    },
    destroy(err, callback) {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.terminate();
      callback(err);
    },
  });

  ws.on('message', (data: Buffer) => {
    if (data.length < 1) return;
    const channel = data[0];
    const payload = data.subarray(1);
    if (channel > 1) return;
    if (!firstSeen[channel]) {
      firstSeen[channel] = true;
      if (payload.equals(portBytes)) return;
    }
    if (payload.length === 0) return;
    if (channel === 0) {
      if (!duplex.push(payload)) ws.pause();
    } else errorText += payload.toString('utf8');
  });
  ws.on('close', () => {
    if (errorText !== '') duplex.destroy(new Error(`port-forward to ${port}: ${errorText.trim()}`));
    else duplex.push(null);
  });
  ws.on('error', (err) => duplex.destroy(err));
  return duplex;
}
