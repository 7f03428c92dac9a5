/**
 * Builds protobuf wire bytes by hand, for tests: each helper returns one encoded field, and `message`
 * nests fields. Not an encoder for API objects (the server answers in JSON).
 */
import { PROTOBUF_MAGIC, WIRE_BYTES, WIRE_FIXED32, WIRE_FIXED64, WIRE_VARINT } from './wire-reader.js';

/** A varint; negative numbers take ten bytes as 64-bit two's complement, as int32/int64 fields do. */
export function varint(value: number | bigint): Buffer {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v ? low | 0x80 : low);
  } while (v);
  return Buffer.from(out);
}

export function key(field: number, wire: number): Buffer {
  return varint((field << 3) | wire);
}

export function int(field: number, value: number | bigint): Buffer {
  return Buffer.concat([key(field, WIRE_VARINT), varint(value)]);
}

export function bool(field: number, value: boolean): Buffer {
  return int(field, value ? 1 : 0);
}

export function bytes(field: number, value: Uint8Array): Buffer {
  return Buffer.concat([key(field, WIRE_BYTES), varint(value.length), value]);
}

export function str(field: number, value: string): Buffer {
  return bytes(field, Buffer.from(value, 'utf8'));
}

export function message(field: number, ...parts: Uint8Array[]): Buffer {
  return bytes(field, Buffer.concat(parts));
}

export function double(field: number, value: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(value);
  return Buffer.concat([key(field, WIRE_FIXED64), b]);
}

export function fixed32(field: number, value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value);
  return Buffer.concat([key(field, WIRE_FIXED32), b]);
}

/** A map<string, ?> entry: {1: key, 2: value} with the value already encoded as field 2. */
export function mapEntry(field: number, k: string, value: Uint8Array): Buffer {
  return message(field, str(1, k), value);
}

/** A whole request body: "k8s\0" + runtime.Unknown {typeMeta, raw}; raw is the concatenation of rawParts. */
export function envelope(apiVersion: string, kind: string, ...rawParts: Uint8Array[]): Buffer {
  return Buffer.concat([Buffer.from(PROTOBUF_MAGIC), message(1, str(1, apiVersion), str(2, kind)), bytes(2, Buffer.concat(rawParts))]);
}
