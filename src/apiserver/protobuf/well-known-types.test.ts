import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DecodeError } from './decode-error.js';
import { decodeWellKnown, formatTime, goDurationString, type WellKnownKind } from './well-known-types.js';
import { bytes, int, str } from './wire-builder.js';

const noObject = (): unknown => {
  throw new Error('unexpected nested object');
};
const decode = (kind: WellKnownKind, ...fields: Buffer[]) => {
  const buf = Buffer.concat(fields);
  return decodeWellKnown(kind, buf, 0, buf.length, noObject);
};

describe('decodeWellKnown', () => {
  it('Duration {1: nanoseconds} is written as Go prints time.Duration', () => {
    assert.equal(decode('duration', int(1, 3723_000_000_000n)), '1h2m3s');
    assert.equal(decode('duration', int(1, 500_000_000)), '500ms');
    assert.equal(decode('duration'), '0s');
    assert.equal(decode('duration', int(1, -1_500_000_000)), '-1.5s');
  });

  it('Time drops nanoseconds, MicroTime keeps microseconds; empty is null', () => {
    assert.equal(decode('time', int(1, 1704164645), int(2, 500_000_000)), '2024-01-02T03:04:05Z');
    assert.equal(decode('microtime', int(1, 1704164645), int(2, 1_000)), '2024-01-02T03:04:05.000001Z');
    assert.equal(decode('microtime', int(1, 1704164645), int(2, 999_999_999)), '2024-01-02T03:04:05.999999Z');
    assert.equal(decode('time'), null);
    assert.equal(decode('microtime'), null);
  });

  it('Quantity is its string; an empty one is Go zero "0"', () => {
    assert.equal(decode('quantity', str(1, '1.5Gi')), '1.5Gi');
    assert.equal(decode('quantity'), '0');
  });

  it('IntOrString by its type field', () => {
    assert.equal(decode('intOrString', int(1, 0), int(2, -3)), -3);
    assert.equal(decode('intOrString', int(1, 1), str(3, '25%')), '25%');
    assert.throws(() => decode('intOrString', int(1, 7)), (e: unknown) => e instanceof DecodeError && /type 7/.test(e.message));
  });

  it('RawExtension and FieldsV1 parse their JSON; empty is null; a k8s\\0 raw is handed to decodeObject', () => {
    assert.deepEqual(decode('rawExtension', bytes(1, Buffer.from('[1,"a",null]'))), [1, 'a', null]);
    assert.deepEqual(decode('fieldsV1', bytes(1, Buffer.from('{"f:metadata":{}}'))), { 'f:metadata': {} });
    assert.equal(decode('rawExtension'), null);
    assert.equal(decode('fieldsV1', bytes(1, Buffer.alloc(0))), null);
    const inner = Buffer.from([0x6b, 0x38, 0x73, 0x00, 0x0a, 0x00]);
    const buf = bytes(1, inner);
    let handed: Uint8Array | undefined;
    assert.equal(decodeWellKnown('rawExtension', buf, 0, buf.length, (raw) => ((handed = raw), 'decoded')), 'decoded');
    assert.deepEqual(Buffer.from(handed!), inner);
    assert.throws(() => decode('fieldsV1', bytes(1, Buffer.from('f:x'))), /fieldsV1 is not valid JSON/);
  });

  it('embedded JSON nested past the body nesting limit is refused before it is parsed', () => {
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    assert.throws(() => decode('rawExtension', bytes(1, Buffer.from(deep))), (err: unknown) => err instanceof DecodeError && err.message === 'rawExtension is not valid JSON: exceeded max depth');
    const fine = '['.repeat(1000) + ']'.repeat(1000);
    assert.ok(Array.isArray(decode('rawExtension', bytes(1, Buffer.from(fine)))));
  });
});

describe('goDurationString (Go time.Duration.String)', () => {
  const cases: [bigint, string][] = [
    [0n, '0s'],
    [1n, '1ns'],
    [999n, '999ns'],
    [1_000n, '1µs'],
    [1_500n, '1.5µs'],
    [1_000_000n, '1ms'],
    [1_234_567n, '1.234567ms'],
    [500_000_000n, '500ms'],
    [1_000_000_000n, '1s'],
    [1_000_000_001n, '1.000000001s'],
    [60_000_000_000n, '1m0s'],
    [3_600_000_000_000n, '1h0m0s'],
    [3_723_000_000_000n, '1h2m3s'],
    [90_061_500_000_000n, '25h1m1.5s'],
    [-1n, '-1ns'],
    [-3_723_000_000_000n, '-1h2m3s'],
    [2n ** 63n - 1n, '2562047h47m16.854775807s'],
    [-(2n ** 63n), '-2562047h47m16.854775808s'],
  ];
  for (const [ns, want] of cases) it(`${ns}ns is ${want}`, () => assert.equal(goDurationString(ns), want));
});

describe('formatTime', () => {
  it('writes the edges of the RFC 3339 range and refuses beyond them', () => {
    assert.equal(formatTime(-62167219200, 0, false), '0000-01-01T00:00:00Z');
    assert.equal(formatTime(253402300799, 0, true), '9999-12-31T23:59:59.000000Z');
    assert.equal(formatTime(-62135596800, 0, false), null); // Go's zero time
    assert.throws(() => formatTime(253402300800, 0, false), DecodeError);
    assert.throws(() => formatTime(0, -1, true), DecodeError);
  });
});
