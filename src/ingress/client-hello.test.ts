/** The ClientHello reader against real ClientHellos of Node's TLS client, captured on a loopback socket. */
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { describe, it } from 'node:test';
import { notTls, recordLength, serverNameOf } from './client-hello.js';

/** The first bytes a TLS client sends: its ClientHello record. */
function captureHello(opts: tls.ConnectionOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => {
      let buf = Buffer.alloc(0);
      socket.on('data', (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        const need = recordLength(buf);
        if (need !== undefined && buf.length >= need) {
          socket.destroy();
          server.close();
          resolve(buf.subarray(0, need));
        }
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const client = tls.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, rejectUnauthorized: false, ...opts });
      client.on('error', () => {});
    });
    server.on('error', reject);
  });
}

describe('serverNameOf', () => {
  it('reads the server name of TLS 1.3 and 1.2 ClientHellos, lower-cased', async () => {
    assert.equal(serverNameOf(await captureHello({ servername: 'Secure.Example.test' })), 'secure.example.test');
    assert.equal(serverNameOf(await captureHello({ servername: 'old.test', maxVersion: 'TLSv1.2' })), 'old.test');
  });

  it('is undefined without the extension, for truncated or foreign bytes', async () => {
    // Node sends no server_name for an IP address.
    assert.equal(serverNameOf(await captureHello({ servername: '' })), undefined);
    const hello = await captureHello({ servername: 'cut.test' });
    // A cut hello yields the whole name once its bytes are in, else nothing: never part of a name, never an exception.
    const seen = new Set<string | undefined>();
    for (let n = 0; n < hello.length; n++) seen.add(serverNameOf(hello.subarray(0, n)));
    assert.deepEqual([...seen].sort(), ['cut.test', undefined]);
    assert.equal(serverNameOf(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')), undefined);
    assert.ok(notTls(Buffer.from('GET /')));
    assert.ok(!notTls(hello));
    // Lengths that point past the record never read outside it.
    const broken = Buffer.from(hello);
    broken.writeUInt16BE(0xffff, 5 + 4 + 34 + 1 + broken[5 + 4 + 34]!);
    assert.equal(serverNameOf(broken), undefined);
  });
});
