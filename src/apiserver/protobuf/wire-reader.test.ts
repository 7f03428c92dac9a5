import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { double, fixed32, int, key, str, varint } from './wire-builder.js';
import { WIRE_END_GROUP, WIRE_START_GROUP, WireError, WireReader } from './wire-reader.js';

const reader = (...parts: Buffer[]) => new WireReader(Buffer.concat(parts));

describe('WireReader', () => {
  it('reads int32 values, including negatives sent as ten-byte varints', () => {
    for (const v of [0, 1, 127, 128, 300, 2 ** 31 - 1, -1, -(2 ** 31)]) {
      const r = reader(varint(v));
      assert.equal(r.int32(), v);
      assert.ok(r.done);
    }
    assert.equal(varint(-1).length, 10);
  });

  it('reads int64 values as numbers, exact within 2^53, and exactly as bigint', () => {
    for (const v of [0, 2 ** 32, 2 ** 53 - 1, -(2 ** 53) + 1, -1, -(2 ** 32) - 5]) assert.equal(reader(varint(v)).int64(), v);
    for (const v of [2n ** 63n - 1n, -(2n ** 63n), 9007199254740993n]) assert.equal(reader(varint(v)).int64Big(), v);
    // Beyond 2^53 the number is the nearest double, as JSON.parse would give for the same digits.
    assert.equal(reader(varint(9007199254740993n)).int64(), JSON.parse('9007199254740993'));
  });

  it('reads bools, doubles and keys', () => {
    assert.equal(reader(varint(1)).bool(), true);
    assert.equal(reader(varint(0)).bool(), false);
    assert.equal(reader(varint(2n ** 40n)).bool(), true);
    const d = reader(double(3, -2.5));
    assert.deepEqual(d.tag(), { field: 3, wire: 1 });
    assert.equal(d.double(), -2.5);
    assert.deepEqual(reader(key(536870911, 2)).tag(), { field: 536870911, wire: 2 });
  });

  it('reads strings as UTF-8 and bytes as views', () => {
    const r = reader(str(1, 'héllo ✓'));
    r.tag();
    assert.equal(r.string(), 'héllo ✓');
    assert.ok(r.done);
  });

  it('skips every wire type, groups nested', () => {
    const r = reader(
      int(1, -1),
      double(2, 1),
      str(3, 'x'),
      fixed32(4, 9),
      key(5, WIRE_START_GROUP),
      key(6, WIRE_START_GROUP),
      int(1, 1),
      key(6, WIRE_END_GROUP),
      key(5, WIRE_END_GROUP),
      int(7, 42),
    );
    for (;;) {
      const t = r.tag();
      if (t.field === 7) break;
      r.skip(t.wire, t.field);
    }
    assert.equal(r.int32(), 42);
    assert.ok(r.done);
  });

  it('refuses malformed data with WireError, never reading past its end', () => {
    const cases: [Buffer, RegExp, (r: WireReader) => unknown][] = [
      [Buffer.from([0x80, 0x80]), /truncated varint at offset 0/, (r) => r.int64()],
      [Buffer.alloc(0), /truncated varint/, (r) => r.uint32()],
      [Buffer.concat([Buffer.alloc(9, 0xff), Buffer.from([0x02])]), /overflows 64 bits/, (r) => r.int64()],
      [Buffer.concat([Buffer.alloc(10, 0xff), Buffer.from([0x01])]), /overflows 64 bits/, (r) => r.int64()],
      [Buffer.from([0x05, 0x61]), /length 5 at offset 0 runs past the end/, (r) => r.string()],
      [Buffer.from([0x01, 0x02]), /double at offset 0 needs 8 bytes, 2 left/, (r) => r.double()],
      [Buffer.from([0x00]), /invalid field number 0/, (r) => r.tag()],
    ];
    for (const [buf, message, read] of cases) assert.throws(() => read(new WireReader(buf)), (e: unknown) => e instanceof WireError && message.test(e.message));
    // A sub-reader ends where its slice ends, even if the buffer goes on.
    const bounded = new WireReader(Buffer.from([0x80, 0x01]), 0, 1);
    assert.throws(() => bounded.uint32(), /truncated varint/);
    assert.throws(() => reader(key(5, WIRE_START_GROUP), key(6, WIRE_END_GROUP)).skip(3, 5), /group 5 ended by end-group 6/);
    assert.throws(() => new WireReader(Buffer.from([0x07])).skip(7, 1), /invalid wire type 7/);
  });

  it('refuses groups nested without limit instead of overflowing the stack', () => {
    const open = Buffer.concat(Array.from({ length: 10_000 }, () => key(1, WIRE_START_GROUP)));
    const r = new WireReader(open);
    r.tag();
    assert.throws(() => r.skip(WIRE_START_GROUP, 1), /nested deeper than 64/);
  });
});
