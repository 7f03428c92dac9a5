import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeRangeResponse,
  decodeTxnResponse,
  decodeWatchResponse,
  encodeRangeRequest,
  encodeTxnRequest,
} from './etcd-store-codec.js';

// An independent encoder for building test messages: BigInt varints, fields written out by hand.
function varint(v: bigint | number): number[] {
  let n = BigInt(v);
  const out: number[] = [];
  while (n >= 0x80n) {
    out.push(Number(n & 0x7fn) | 0x80);
    n >>= 7n;
  }
  out.push(Number(n));
  return out;
}
const vfield = (field: number, v: bigint | number) => [...varint(field * 8), ...varint(v)];
const lfield = (field: number, bytes: number[]) => [...varint(field * 8 + 2), ...varint(bytes.length), ...bytes];
const str = (s: string) => [...Buffer.from(s)];

describe('etcd codec', () => {
  it('writes a create guard whose compared value is 0 (a oneof member has presence)', () => {
    const bytes = encodeTxnRequest({
      compare: [{ key: Buffer.from('k'), target: 'create', equals: 0 }],
      success: [{ put: { key: Buffer.from('k'), value: Buffer.from('v') } }],
      failure: [],
    });
    // Compare{target: CREATE(1), key: "k", create_revision: 0}; RequestOp{request_put: PutRequest{key, value}}.
    const compare = [...vfield(2, 1), ...lfield(3, str('k')), ...vfield(5, 0)];
    const put = [...lfield(1, str('k')), ...lfield(2, str('v'))];
    assert.deepEqual([...bytes], [...lfield(1, compare), ...lfield(2, lfield(2, put))]);
  });

  it('encodes revisions above 2^32 exactly', () => {
    const revision = 2 ** 40 + 3;
    const bytes = encodeRangeRequest({ key: Buffer.from('/a'), revision, countOnly: true });
    assert.deepEqual([...bytes], [...lfield(1, str('/a')), ...vfield(4, revision), ...vfield(9, 1)]);
  });

  it('decodes a watch response, skipping fields it does not know', () => {
    const big = 2n ** 52n + 7n;
    const kv = (key: string, value: string, create: bigint, mod: bigint) => [
      ...lfield(1, str(key)),
      ...vfield(2, create),
      ...vfield(3, mod),
      ...vfield(4, 2),
      ...lfield(5, str(value)),
      ...vfield(6, 99), // lease
      ...[0x39, 1, 2, 3, 4, 5, 6, 7, 8], // field 7, fixed64: unknown here
    ];
    const header = [...vfield(1, 2n ** 63n + 5n), ...vfield(3, big)]; // cluster_id beyond 2^53 is skipped harmlessly
    const event = [...vfield(1, 0), ...lfield(2, kv('/k', 'new', 10n, big)), ...lfield(3, kv('/k', 'old', 10n, 11n))];
    const msg = Buffer.from([...lfield(1, header), ...vfield(2, 0), ...vfield(3, 1), ...lfield(11, event), ...lfield(11, [...vfield(1, 1), ...lfield(2, lfield(1, str('/gone')))])]);
    const res = decodeWatchResponse(msg);
    assert.equal(res.revision, Number(big));
    assert.equal(res.created, true);
    assert.equal(res.canceled, false);
    assert.equal(res.events.length, 2);
    const [put, del] = res.events;
    assert.equal(put.type, 'put');
    assert.equal(put.kv.key.toString(), '/k');
    assert.equal(put.kv.value.toString(), 'new');
    assert.equal(put.kv.modRevision, Number(big));
    assert.equal(put.prevKv?.value.toString(), 'old');
    assert.equal(put.prevKv?.modRevision, 11);
    assert.equal(del.type, 'delete');
    assert.equal(del.kv.key.toString(), '/gone');
    assert.equal(del.prevKv, undefined);
  });

  it('decodes txn responses with nested range results', () => {
    const range = [...lfield(1, vfield(3, 42)), ...lfield(2, [...lfield(1, str('/x')), ...vfield(2, 5), ...vfield(3, 41)]), ...vfield(4, 1)];
    const res = decodeTxnResponse(Buffer.from([...lfield(1, vfield(3, 42)), ...lfield(3, lfield(1, range))]));
    assert.equal(res.succeeded, false);
    assert.equal(res.revision, 42);
    const op = res.responses[0];
    assert.ok('range' in op);
    assert.equal(op.range.kvs[0].key.toString(), '/x');
    assert.equal(op.range.kvs[0].modRevision, 41);
    assert.equal(op.range.count, 1);
  });

  it('refuses a truncated message instead of returning half of it', () => {
    const whole = Buffer.from([...lfield(1, vfield(3, 7)), ...lfield(2, lfield(1, str('/abc')))]);
    assert.throws(() => decodeRangeResponse(whole.subarray(0, whole.length - 2)), RangeError);
  });
});
