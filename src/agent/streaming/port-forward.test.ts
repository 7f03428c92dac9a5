/** SPDY port-forward semantics on a socket: stream pairs by requestid, bytes both ways, failures on the error stream. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parsePortsQuery, serveSpdyPortForward } from './port-forward.js';
import type { SpdyConnection } from './spdy-connection.js';
import { encodeDataFrame, FLAG_FIN } from './spdy-frames.js';
import { SpdyTestClient } from './spdy-test-client.js';

describe('SPDY port-forward', () => {
  let echo: Server;
  let echoPort: number;
  let server: Server;
  let port: number;
  const conns: SpdyConnection[] = [];
  const sockets: Socket[] = [];

  before(async () => {
    echo = createServer((s) => s.pipe(s));
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    echoPort = (echo.address() as { port: number }).port;
    server = createServer((socket) =>
      conns.push(
        serveSpdyPortForward(socket, {
          podName: 'web_default',
          podUid: 'u1',
          streamCreationTimeoutMs: 300,
          dial: async (p) => {
            if (p !== 80) throw new Error(`connect ECONNREFUSED 127.0.0.1:${p}`);
            const s = connect({ host: '127.0.0.1', port: echoPort });
            await once(s, 'connect');
            return s;
          },
        }),
      ),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    for (const c of conns) c.destroy();
    await new Promise((r) => server.close(r));
    await new Promise((r) => echo.close(r));
  });

  async function client(): Promise<SpdyTestClient> {
    const s = connect({ host: '127.0.0.1', port });
    sockets.push(s);
    await once(s, 'connect');
    return new SpdyTestClient(s);
  }

  it('forwards a pair of streams as kubectl opens them (error first, half-closed; then data)', async () => {
    const c = await client();
    await c.open(1, { streamtype: ['error'], port: ['80'], requestid: ['0'] });
    c.send(encodeDataFrame(1, Buffer.alloc(0), FLAG_FIN));
    await c.open(3, { streamtype: ['data'], port: ['80'], requestid: ['0'] });
    await c.waitFor((f) => f.type === 'syn_reply' && f.streamId === 3, 'SYN_REPLY for data');
    c.send(encodeDataFrame(3, Buffer.from('through the pod port')));
    await c.waitFor(() => c.dataOf(3) === 'through the pod port', 'the echo');
    // Client closes its side: the pod connection is half-closed, the echo server ends, so does the data stream.
    c.send(encodeDataFrame(3, Buffer.alloc(0), FLAG_FIN));
    await c.waitFor((f) => f.type === 'data' && f.streamId === 3 && (f.flags & FLAG_FIN) !== 0, 'FIN on data');
    await c.waitFor((f) => f.type === 'data' && f.streamId === 1 && (f.flags & FLAG_FIN) !== 0, 'FIN on error');
    assert.equal(c.dataOf(1), '');
  });

  it('writes a failed dial on the error stream in kubelet words', async () => {
    const c = await client();
    await c.open(1, { streamtype: ['error'], port: ['81'], requestid: ['7'] });
    await c.open(3, { streamtype: ['data'], port: ['81'], requestid: ['7'] });
    await c.waitFor((f) => f.type === 'data' && f.streamId === 1 && (f.flags & FLAG_FIN) !== 0, 'FIN on error');
    assert.equal(c.dataOf(1), 'error forwarding port 81 to pod web_default, uid u1: connect ECONNREFUSED 127.0.0.1:81');
  });

  it('refuses streams without a valid type or port, and times out half pairs', async () => {
    const c = await client();
    await c.open(1, { streamtype: ['data'], port: ['x'], requestid: ['1'] });
    await c.waitFor((f) => f.type === 'rst_stream' && f.streamId === 1, 'RST for a bad port');
    await c.open(3, { streamtype: ['error'], port: ['80'], requestid: ['2'] });
    await c.waitFor((f) => f.type === 'data' && f.streamId === 3 && (f.flags & FLAG_FIN) !== 0, 'the timeout on the error stream');
    assert.match(c.dataOf(3), /timed out waiting for streams of request 2/);
  });
});

describe('parsePortsQuery', () => {
  it('takes port and ports, repeated and comma-separated', () => {
    assert.deepEqual(parsePortsQuery(new URLSearchParams('ports=80,81&port=90')), { ports: [90, 80, 81] });
    assert.deepEqual(parsePortsQuery(new URLSearchParams('')), { error: 'query parameter "port" is required' });
    assert.deepEqual(parsePortsQuery(new URLSearchParams('port=0')), { error: 'port "0" must be > 0' });
  });
});
