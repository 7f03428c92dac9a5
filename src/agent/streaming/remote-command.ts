/**
 * exec and attach, server side, over whichever protocol the client speaks (kubelet's
 * pkg/kubelet/cri/streaming/remotecommand: ServeExec / ServeAttach):
 *
 *   WebSocket (kubectl 1.30+, client-node): channel protocol v5 / v4 / v3 / v2 / v1 and base64 variants
 *   SPDY/3.1 (kubectl <= 1.29, and 1.30+ when WebSocket fails): X-Stream-Protocol-Version v4 / v3 / v2 / v1, one SPDY
 *   stream per channel, named by the `streamtype` header
 *
 * Either way: open the session once the client's streams are there, copy bytes, write the Status on the error stream,
 * close.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import type { WebSocket } from 'ws';
import type { StreamOptions, StreamSession, TerminalSize } from '../runtime/types.js';
import { createLogger } from '../../log/logger.js';
import {
  CLOSE_SIGNAL,
  decodeChannelMessage,
  encodeChannelMessage,
  ERROR_CHANNEL,
  negotiateChannelProtocol,
  parseProtocolHeader,
  REMOTE_COMMAND_PROTOCOLS,
  RESIZE_CHANNEL,
  STDERR_CHANNEL,
  STDIN_CHANNEL,
  STDOUT_CHANNEL,
  type ChannelProtocol,
} from './channel-protocol.js';
import { encodeExitStatus } from './exec-status.js';
import { ResizeDecoder } from './resize-decoder.js';
import { runSession } from './run-session.js';
import { SpdyConnection, type SpdyStream } from './spdy-connection.js';
import { HEADER_ACCEPTED_PROTOCOL_VERSIONS, isSpdyUpgradeRequest, isWebSocketRequest, negotiateStreamProtocol, offeredStreamProtocols, refuse, upgradeToSpdy } from './upgrade.js';
import { acceptWebSocket } from './websocket-accept.js';
import { ChannelWriter } from './websocket-channels.js';

const log = createLogger('streaming');

/** SPDY remotecommand protocols kubelet serves (v5 exists only over WebSocket). */
export const SPDY_REMOTE_COMMAND_PROTOCOLS = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];

/** kubelet's default --streaming-connection-idle... creation timeout for the client's streams (DefaultStreamCreationTimeout). */
export const STREAM_CREATION_TIMEOUT_MS = 30_000;

export interface RemoteCommand {
  options: StreamOptions;
  /** exec: the command (for messages); attach: undefined. */
  command?: string[];
  /** Opens the runtime session; a rejection is reported on the error stream. */
  start: () => Promise<StreamSession>;
  /** exec reports exit codes; attach reports Success when it ends. */
  reportExitCode: boolean;
  streamCreationTimeoutMs?: number;
}

/**
 * Serves one exec/attach request on its connection: a WebSocket upgrade, a SPDY upgrade, or 400 "Upgrade request
 * required" for anything else. Returns the protocol taken (`websocket/<subprotocol>`, `spdy/<version>`) or undefined
 * when the request was refused.
 */
export function serveRemoteCommand(req: IncomingMessage, res: ServerResponse, cmd: RemoteCommand): string | undefined {
  if (!cmd.options.stdin && !cmd.options.stdout && !cmd.options.stderr) {
    refuse(res, 400, 'you must specify at least 1 of stdin, stdout, stderr');
    return undefined;
  }
  if (isWebSocketRequest(req)) {
    const protocol = negotiateChannelProtocol(parseProtocolHeader(req.headers['sec-websocket-protocol']), REMOTE_COMMAND_PROTOCOLS);
    if (!protocol) {
      const offered = parseProtocolHeader(req.headers['sec-websocket-protocol']);
      refuse(res, 400, `requested protocol(s) are not supported: [${offered.join(' ')}]; supports [${REMOTE_COMMAND_PROTOCOLS.map((p) => p.name).join(' ')}]`);
      return undefined;
    }
    acceptWebSocket(req, req.socket, protocol.name).then(
      (ws) => serveWebSocketRemoteCommand(ws, protocol, cmd),
      (err) => log.debug('websocket handshake failed', { err }),
    );
    return `websocket/${protocol.name}`;
  }
  if (isSpdyUpgradeRequest(req)) {
    const n = negotiateStreamProtocol(offeredStreamProtocols(req), SPDY_REMOTE_COMMAND_PROTOCOLS);
    if (!n.ok) {
      refuse(res, 403, n.message, { [HEADER_ACCEPTED_PROTOCOL_VERSIONS]: SPDY_REMOTE_COMMAND_PROTOCOLS });
      return undefined;
    }
    const socket = upgradeToSpdy(req, res, n.protocol);
    serveSpdyRemoteCommand(socket, versionOf(n.protocol), cmd);
    return `spdy/${n.protocol}`;
  }
  refuse(res, 400, 'Upgrade request required');
  return undefined;
}

function versionOf(spdyProtocol: string): number {
  const m = /^v(\d+)\./.exec(spdyProtocol);
  return m ? Number(m[1]) : 1;
}

/** exec/attach over the WebSocket channel protocol (kubelet's createWebSocketStreams + wsstream). */
export async function serveWebSocketRemoteCommand(ws: WebSocket, protocol: ChannelProtocol, cmd: RemoteCommand): Promise<void> {
  const opts = cmd.options;
  const stdin = opts.stdin ? new PassThrough() : undefined;
  const stdout = opts.stdout ? new ChannelWriter(ws, protocol, STDOUT_CHANNEL) : undefined;
  const stderr = opts.stderr && !opts.tty ? new ChannelWriter(ws, protocol, STDERR_CHANNEL) : undefined;
  const resize = new ResizeDecoder();
  let session: StreamSession | undefined;
  let pendingSize: TerminalSize | undefined;
  const onSize = (size: TerminalSize) => {
    if (session) session.resize(size);
    else pendingSize = size;
  };

  ws.on('message', (raw: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    const buf = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
    let msg;
    try {
      msg = decodeChannelMessage(protocol, buf, isBinary);
    } catch (err) {
      log.debug('bad channel message', { err });
      return;
    }
    if (!msg) return;
    switch (msg.channel) {
      case STDIN_CHANNEL:
        if (stdin && !stdin.writableEnded && !stdin.write(msg.data)) {
          ws.pause();
          stdin.once('drain', () => ws.resume());
        }
        return;
      case RESIZE_CHANNEL:
        if (protocol.version >= 3) for (const size of resize.push(msg.data)) onSize(size);
        return;
      case CLOSE_SIGNAL:
        // v5: [255, n] = the client will send nothing more on channel n.
        if (protocol.version >= 5 && msg.data[0] === STDIN_CHANNEL) stdin?.end();
        return;
      default:
        return;
    }
  });
  const clientGone = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  void clientGone.then(() => {
    if (stdin && !stdin.writableEnded) stdin.end();
  });
  ws.on('error', (err) => log.debug('websocket error', { err }));

  // An empty message on the lowest writable channel tells the client the streams are ready (kubelet does the same).
  const first = stdout ?? stderr;
  if (first) first.send(Buffer.alloc(0));
  else ws.send(encodeChannelMessage(protocol, ERROR_CHANNEL, Buffer.alloc(0)), { binary: !protocol.base64 });

  const status = await runSession({
    start: cmd.start,
    io: { stdin, stdout, stderr },
    clientGone,
    reportExitCode: cmd.reportExitCode,
    command: cmd.command,
    onSession: (s) => {
      session = s;
      if (pendingSize) s.resize(pendingSize);
    },
  });
  if (ws.readyState !== ws.OPEN) return;
  const payload = encodeExitStatus(protocol.version, status);
  if (payload.length > 0 || protocol.version >= 4) {
    await new Promise<void>((resolve) => ws.send(encodeChannelMessage(protocol, ERROR_CHANNEL, payload), { binary: !protocol.base64 }, () => resolve()));
  }
  ws.close(1000);
}

/** exec/attach over SPDY: wait for the client's streams (by `streamtype`), then run (kubelet's createHTTPStreamStreams). */
export function serveSpdyRemoteCommand(transport: import('node:stream').Duplex, version: number, cmd: RemoteCommand): SpdyConnection {
  const opts = cmd.options;
  const expected = new Set<string>(['error']);
  if (opts.stdin) expected.add('stdin');
  if (opts.stdout) expected.add('stdout');
  if (opts.stderr && !opts.tty) expected.add('stderr');
  if (opts.tty && version >= 3) expected.add('resize');
  const streams = new Map<string, SpdyStream>();
  let started = false;
  let timer: NodeJS.Timeout | undefined;

  const conn = new SpdyConnection(transport, {
    onStream: (stream) => {
      const type = stream.header('streamtype') ?? '';
      if (!['error', 'stdin', 'stdout', 'stderr', 'resize'].includes(type)) throw new Error(`unexpected stream type: ${JSON.stringify(type)}`);
      streams.set(type, stream);
      if (!started && [...expected].every((t) => streams.has(t))) {
        started = true;
        clearTimeout(timer);
        // After the SYN_REPLY for this stream is queued.
        setImmediate(() => void run());
      }
    },
  });
  timer = setTimeout(() => {
    if (started) return;
    log.warn('timed out waiting for the client to create streams', { have: [...streams.keys()], want: [...expected] });
    conn.destroy();
  }, cmd.streamCreationTimeoutMs ?? STREAM_CREATION_TIMEOUT_MS);
  const clientGone = new Promise<void>((resolve) => conn.once('close', () => resolve()));
  void clientGone.then(() => clearTimeout(timer));

  const run = async () => {
    const errorStream = streams.get('error')!;
    // Streams we only write to: drain whatever the client sends on them (it sends nothing, then FIN).
    for (const t of ['stdout', 'stderr', 'error']) streams.get(t)?.resume();
    const resizeStream = streams.get('resize');
    let session: StreamSession | undefined;
    if (resizeStream) {
      const decoder = new ResizeDecoder();
      resizeStream.on('data', (chunk: Buffer) => {
        for (const size of decoder.push(chunk)) session?.resize(size);
      });
    }
    const status = await runSession({
      start: cmd.start,
      io: { stdin: streams.get('stdin'), stdout: streams.get('stdout'), stderr: streams.get('stderr') },
      clientGone,
      reportExitCode: cmd.reportExitCode,
      command: cmd.command,
      onSession: (s) => (session = s),
    });
    if (conn.isClosed) return;
    const payload = encodeExitStatus(version, status);
    await new Promise<void>((resolve) => errorStream.end(payload, () => resolve()));
    await conn.close();
  };
  return conn;
}
