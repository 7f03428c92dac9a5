import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { warningHeaderValues } from './warning-headers.js';

describe('warningHeaderValues', () => {
  it('quotes like kube-apiserver and drops duplicates', () => {
    assert.deepEqual(warningHeaderValues(['unknown field "spec.x"', 'a\\b', 'unknown field "spec.x"']), ['299 - "unknown field \\"spec.x\\""', '299 - "a\\\\b"']);
  });

  it('drops texts with control characters or broken UTF-16', () => {
    assert.deepEqual(warningHeaderValues(['my\ntext', 'nul\u0000', 'lone \ud800', 'tab\tok']), ['299 - "tab\tok"']);
  });

  it('truncates as upstream once the total passes the limit (upstream TestTruncation, limits 25 and 5)', () => {
    assert.deepEqual(warningHeaderValues(['aaaaaaaaaa', 'bb', 'ccc', 'Iñtërnâtiô'], 25, 5).map(latin1ToUtf8), ['299 - "aaaaaaaaaa"', '299 - "bb"', '299 - "ccc"', '299 - "Iñtërnâtiô"']);
    const over = warningHeaderValues(['aaaaaaaaaa', 'bb', 'ccc', 'Iñtërnâtiô', 'dddddddddd', 'eeeee', 'f', 'g', 'h'], 25, 5).map(latin1ToUtf8);
    assert.deepEqual(over, ['299 - "aaaaa"', '299 - "bb"', '299 - "ccc"', '299 - "Iñtër"', '299 - "ddddd"', '299 - "eeeee"']);
  });

  it('a 200 KB text becomes a header a client can read', () => {
    const values = warningHeaderValues([`unknown field "${'x'.repeat(200_000)}"`, 'second']);
    assert.ok(values.join('').length < 8 * 1024);
  });

  it('gives Node values it writes, and clients read back the UTF-8 text', async () => {
    const values = warningHeaderValues(['unknown field "spec.日本ü"']);
    const server = createServer((_req, res) => {
      res.setHeader('Warning', values);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const header = await new Promise<string>((resolve, reject) => {
        request({ host: '127.0.0.1', port: (server.address() as AddressInfo).port }, (res) => {
          res.resume();
          resolve(String(res.headers.warning));
        })
          .on('error', reject)
          .end();
      });
      assert.equal(latin1ToUtf8(header), '299 - "unknown field \\"spec.日本ü\\""');
    } finally {
      server.close();
    }
  });
});

function latin1ToUtf8(s: string): string {
  return Buffer.from(s, 'latin1').toString('utf8');
}
