/**
 * The SPDY client of spdy-stream-client.ts against a stand-in streaming server on a real socket, built from the
 * agent's own SPDY server side (agent/streaming/spdy-connection.ts): the upgrade, one stream per channel by its
 * streamtype header, half-close (stdin FIN is end-of-file), the v4 Status on the error stream, and a session that
 * ends without one. Needs no containerd; cri-runtime.test.ts runs the same client against containerd's server.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SpdyConnection, type SpdyStream } from '../../streaming/spdy-connection.js';
import { openSpdyPortForward, openSpdyRemoteCommand } from './spdy-stream-client.js';

/** What the stand-in server does once a session's streams are all open, keyed by the URL path. */
type Behaviour = (streams: Map<string, SpdyStream>, conn: SpdyConnection, req: IncomingMessage) => void;

function exitStatus(code: number): string {
  return JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command, exit status ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  });
}

function collect(stream: NodeJS.ReadableStream | undefined): Promise<string> {
  if (!stream) return Promise.resolve('');
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve, reject) => {
    stream.on('end', () => resolve(Buffer.concat(chunks).toString()));
    stream.on('error', reject);
  });
}

describe('SPDY stream client against a stand-in streaming server', () => {
  let server: Server;
  let base: string;
  const behaviours = new Map<string, { expect: string[]; run: Behaviour }>();
  const sockets = new Set<Socket>();
  const seenProtocols: string[] = [];

  before(async () => {
    server = createServer((_req, res) => res.writeHead(400).end('upgrade required'));
    server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      const behaviour = behaviours.get(req.url ?? '');
      const offered = String(req.headers['x-stream-protocol-version'] ?? '').split(/,\s*/);
      seenProtocols.push(...offered);
      if (!behaviour || req.headers.upgrade?.toLowerCase() !== 'spdy/3.1') {
        socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found');
        return;
      }
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${offered[0]}\r\n\r\n`);
      const streams = new Map<string, SpdyStream>();
      let started = false;
      const conn = new SpdyConnection(socket, {
        onStream(stream) {
          streams.set(stream.header('streamtype') ?? '', stream);
          if (!started && behaviour.expect.every((t) => streams.has(t))) {
            started = true;
            setImmediate(() => behaviour.run(streams, conn, req));
          }
        },
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  test('exec: stdin FIN is end-of-file for the command, output drains, the Status brings the exit code', async () => {
    behaviours.set('/exec/cat', {
      expect: ['error', 'stdin', 'stdout', 'stderr'],
      run(streams) {
        // `cat; echo done >&2; exit 3`: only a half-closed stdin lets it get past cat.
        const stdin = streams.get('stdin')!;
        stdin.pipe(streams.get('stdout')!);
        stdin.on('end', () => {
          streams.get('stderr')!.end('done\n');
          streams.get('error')!.end(exitStatus(3));
        });
      },
    });
    const session = await openSpdyRemoteCommand(`${base}/exec/cat`, { stdin: true, stdout: true, stderr: true, tty: false });
    const out = collect(session.stdout);
    const err = collect(session.stderr);
    session.stdin!.write('hello ');
    session.stdin!.end('world\n');
    assert.deepEqual(await session.done, { exitCode: 3 });
    assert.equal(await out, 'hello world\n');
    assert.equal(await err, 'done\n');
    assert.ok(seenProtocols.includes('v4.channel.k8s.io'));
  });

  test('exec with a TTY: no stderr stream, resize messages as JSON, a Success Status is exit 0', async () => {
    let resizes = '';
    behaviours.set('/exec/tty', {
      expect: ['error', 'stdin', 'stdout', 'resize'],
      run(streams) {
        assert.equal(streams.has('stderr'), false);
        const resize = streams.get('resize')!;
        resize.on('data', (c: Buffer) => {
          resizes += c.toString();
          if (resizes.includes('}')) {
            streams.get('stdout')!.end('sized\r\n');
            streams.get('error')!.end(JSON.stringify({ metadata: {}, status: 'Success' }));
          }
        });
      },
    });
    const session = await openSpdyRemoteCommand(`${base}/exec/tty`, { stdin: true, stdout: true, stderr: true, tty: true });
    assert.equal(session.stderr, undefined);
    const out = collect(session.stdout);
    session.resize({ width: 100, height: 30 });
    assert.deepEqual(await session.done, { exitCode: 0 });
    assert.equal(await out, 'sized\r\n');
    assert.deepEqual(JSON.parse(resizes), { Width: 100, Height: 30 });
  });

  test('a session the server ends without a Status rejects; one we close ourselves resolves', async () => {
    behaviours.set('/exec/vanish', {
      expect: ['error', 'stdout'],
      run(streams, conn) {
        streams.get('stdout')!.write('partial', () => conn.destroy());
      },
    });
    const lost = await openSpdyRemoteCommand(`${base}/exec/vanish`, { stdin: false, stdout: true, stderr: false, tty: false });
    const out = collect(lost.stdout);
    await assert.rejects(lost.done, /ended the session without an exit status/);
    assert.equal(await out, 'partial');

    behaviours.set('/attach/idle', { expect: ['error', 'stdout'], run() {} });
    const detached = await openSpdyRemoteCommand(`${base}/attach/idle`, { stdin: false, stdout: true, stderr: false, tty: false });
    detached.close();
    assert.deepEqual(await detached.done, { exitCode: 0 });
  });

  test('a Status that is not an exit code rejects with the runtime\'s words', async () => {
    behaviours.set('/exec/missing', {
      expect: ['error', 'stdout'],
      run(streams) {
        streams.get('stdout')!.end();
        streams.get('error')!.end(JSON.stringify({ metadata: {}, status: 'Failure', message: 'exec: "nope": executable file not found in $PATH', reason: 'InternalError' }));
      },
    });
    const session = await openSpdyRemoteCommand(`${base}/exec/missing`, { stdin: false, stdout: true, stderr: false, tty: false });
    await assert.rejects(session.done, /executable file not found/);
  });

  test('the server refusing the upgrade rejects with its status and words', async () => {
    await assert.rejects(openSpdyRemoteCommand(`${base}/exec/unknown-token`, { stdin: false, stdout: true, stderr: false, tty: false }), /HTTP 404: not found/);
  });

  test('port-forward: data both ways, headers port and requestid, our end half-closes, theirs ends the duplex', async () => {
    const headers: Array<Record<string, string | undefined>> = [];
    behaviours.set('/portforward/echo', {
      expect: ['error', 'data'],
      run(streams) {
        for (const s of streams.values()) headers.push({ streamtype: s.header('streamtype'), port: s.header('port'), requestid: s.header('requestid') });
        const data = streams.get('data')!;
        // An echo that answers only after our FIN: proves the half-close reached it with our side still readable.
        const chunks: Buffer[] = [];
        data.on('data', (c: Buffer) => chunks.push(c));
        data.on('end', () => {
          data.end(Buffer.concat(chunks).toString().toUpperCase());
          streams.get('error')!.end();
        });
      },
    });
    const duplex = await openSpdyPortForward(`${base}/portforward/echo`, 8080);
    const out = collect(duplex);
    duplex.write('ping ');
    duplex.end('pong');
    assert.equal(await out, 'PING PONG');
    assert.deepEqual(
      headers.sort((a, b) => String(a.streamtype).localeCompare(String(b.streamtype))),
      [
        { streamtype: 'data', port: '8080', requestid: '0' },
        { streamtype: 'error', port: '8080', requestid: '0' },
      ],
    );
  });

  test('port-forward: words on the error stream destroy the duplex with them', async () => {
    behaviours.set('/portforward/refused', {
      expect: ['error', 'data'],
      run(streams) {
        streams.get('error')!.end('failed to connect to localhost:9 inside namespace: connection refused');
        streams.get('data')!.end();
      },
    });
    const duplex = await openSpdyPortForward(`${base}/portforward/refused`, 9);
    duplex.resume();
    const [err] = (await once(duplex, 'error')) as [Error];
    assert.match(err.message, /port-forward to 9: failed to connect .* connection refused/);
  });
});
