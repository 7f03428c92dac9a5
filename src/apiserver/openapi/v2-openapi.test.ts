import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { resources } from '../registry/index.js';
import { OpenApiV3 } from './openapi.js';

const PROTOBUF = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';
/** What client-go's discovery client sends (kubectl 1.27/1.28, observed). */
const PROTOBUF_CLIENT_GO = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';

describe('GET /openapi/v2 through OpenApiV3.serveOpenApi', () => {
  const api = new OpenApiV3(resources);
  let server: Server;
  let base: string;
  before(async () => {
    const serve = api.serveOpenApi; // unbound, as the HTTP handler's extensions hold it
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (!serve(url.pathname, url.searchParams, res)) {
        res.writeHead(418);
        res.end('not served');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const get = (headers: Record<string, string> = {}) => fetch(`${base}/openapi/v2?timeout=32s`, { headers });

  test('the protobuf Accept kubectl 1.27/1.28 send gets the gnostic bytes, with the current Content-Type and an ETag', async () => {
    for (const accept of [PROTOBUF_CLIENT_GO, PROTOBUF]) {
      const res = await get({ Accept: accept });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), PROTOBUF);
      assert.equal(res.headers.get('vary'), 'Accept');
      const body = Buffer.from(await res.arrayBuffer());
      assert.ok(body.equals(api.openApiV2.protobuf()), `body for ${accept}`);
      // Document.swagger (field 1, length-delimited) comes first: 0a 03 "2.0".
      assert.deepEqual([...body.subarray(0, 5)], [0x0a, 0x03, 0x32, 0x2e, 0x30]);
    }
  });

  test('JSON for application/json, */* and no Accept; the ETag is the SHA-512 of the JSON for both encodings', async () => {
    const json = api.openApiV2.json();
    const etag = `"${createHash('sha512').update(json).digest('hex').toUpperCase()}"`;
    for (const headers of [{ Accept: 'application/json' }, { Accept: '*/*' }, {} as Record<string, string>]) {
      const res = await get(headers);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/json');
      assert.equal(res.headers.get('etag'), etag);
      const doc = (await res.json()) as Record<string, unknown>;
      assert.equal(doc.swagger, '2.0');
    }
    assert.equal((await get({ Accept: PROTOBUF })).headers.get('etag'), etag);
  });

  test('q-values order the choice; nothing acceptable is 406', async () => {
    const preferProto = await get({ Accept: `application/json;q=0.5, ${PROTOBUF}` });
    assert.equal(preferProto.headers.get('content-type'), PROTOBUF);
    await preferProto.arrayBuffer();
    const refused = await get({ Accept: 'text/html' });
    assert.equal(refused.status, 406);
    const status = (await refused.json()) as Record<string, unknown>;
    assert.equal(status.reason, 'NotAcceptable');
  });

  test('a matching If-None-Match is answered 304 without a body', async () => {
    const first = await get({ Accept: PROTOBUF_CLIENT_GO });
    const etag = first.headers.get('etag')!;
    await first.arrayBuffer();
    const again = await get({ Accept: PROTOBUF_CLIENT_GO, 'If-None-Match': etag });
    assert.equal(again.status, 304);
    assert.equal((await again.arrayBuffer()).byteLength, 0);
    const stale = await get({ Accept: PROTOBUF_CLIENT_GO, 'If-None-Match': '"0123"' });
    assert.equal(stale.status, 200);
    await stale.arrayBuffer();
  });

  test('the document is built once: repeated requests return the same cached bytes', () => {
    assert.equal(api.openApiV2.protobuf(), api.openApiV2.protobuf());
    assert.equal(api.openApiV2.json(), api.openApiV2.json());
  });
});
