/**
 * A bounds-checked reader of the protobuf wire format (https://protobuf.dev/programming-guides/encoding/):
 * varints, fixed 32/64-bit values, length-delimited slices, and skipping of any field by its wire type.
 * Every read checks the end of the current slice, so a truncated or malicious body throws WireError
 * instead of reading garbage or looping.
 */

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_BYTES = 2;
export const WIRE_START_GROUP = 3;
export const WIRE_END_GROUP = 4;
export const WIRE_FIXED32 = 5;

/** "k8s\0": every Kubernetes protobuf body starts with it, before the runtime.Unknown envelope. */
export const PROTOBUF_MAGIC: readonly number[] = [0x6b, 0x38, 0x73, 0x00];

export function hasProtobufMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x6b && bytes[1] === 0x38 && bytes[2] === 0x73 && bytes[3] === 0x00;
}

/** Malformed wire data; the message says what was wrong and at which byte offset of the whole buffer. */
export class WireError extends Error {
  override name = 'WireError';
}

const TWO_32 = 4294967296;

/** Groups nest only as deep as this when skipped (Kubernetes never sends groups; this guards the stack). */
const MAX_GROUP_DEPTH = 64;

export class WireReader {
  /** Offset of the next byte to read, into `buf`. */
  pos: number;

  /** Reads `buf[start, end)`; `end` defaults to the buffer's end. */
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** A field key: its number and wire type. Field number 0 is invalid in every message. */
  tag(): { field: number; wire: number } {
    const at = this.pos;
    const key = this.uint32();
    const field = key >>> 3;
    if (field === 0) throw new WireError(`invalid field number 0 at offset ${at}`);
    return { field, wire: key & 7 };
  }

  /** A varint truncated to its low 32 bits, unsigned. */
  uint32(): number {
    // Most keys and lengths are one byte.
    if (this.pos < this.end && this.buf[this.pos] < 0x80) return this.buf[this.pos++];
    return this.varint64().lo;
  }

  /** An int32 field: the low 32 bits of the varint, as two's complement (negative int32s take 10 bytes). */
  int32(): number {
    return this.varint64().lo | 0;
  }

  /**
   * An int64 field as a JavaScript number: exact within ±2^53, rounded beyond, which is what JSON.parse
   * makes of the same number in a JSON body.
   */
  int64(): number {
    const { lo, hi } = this.varint64();
    return (hi | 0) * TWO_32 + lo;
  }

  /** An int64 field exactly, for values that must not be rounded (Duration nanoseconds). */
  int64Big(): bigint {
    const { lo, hi } = this.varint64();
    return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
  }

  bool(): boolean {
    const { lo, hi } = this.varint64();
    return lo !== 0 || hi !== 0;
  }

  /** A protobuf `double` (wire type 1, little endian). */
  double(): number {
    this.need(8, 'double');
    const value = Buffer.from(this.buf.buffer, this.buf.byteOffset + this.pos, 8).readDoubleLE(0);
    this.pos += 8;
    return value;
  }

  /** The bounds [start, end) of a length-delimited value, which the reader then steps over. */
  slice(): { start: number; end: number } {
    const at = this.pos;
    let lo: number;
    let hi = 0;
    if (at < this.end && this.buf[at] < 0x80) lo = this.buf[this.pos++];
    else ({ lo, hi } = this.varint64());
    if (hi !== 0 || lo > this.end - this.pos) {
      throw new WireError(`length ${hi ? 'over 2^32' : lo} at offset ${at} runs past the end of its message (${this.end - this.pos} bytes left)`);
    }
    const start = this.pos;
    this.pos += lo;
    return { start, end: this.pos };
  }

  /** A length-delimited value's bytes (a view, not a copy). */
  bytes(): Uint8Array {
    const { start, end } = this.slice();
    return this.buf.subarray(start, end);
  }

  string(): string {
    const { start, end } = this.slice();
    return Buffer.from(this.buf.buffer, this.buf.byteOffset + start, end - start).toString('utf8');
  }

  /** Throws unless a field's wire type is the one its schema type needs. */
  expectWire(wire: number, expected: number, what: string): void {
    if (wire !== expected) throw new WireError(`${what} has wire type ${wire}, expected ${expected} (before offset ${this.pos})`);
  }

  /** A string field, checking its wire type first. */
  stringField(wire: number, what: string): string {
    this.expectWire(wire, WIRE_BYTES, what);
    return this.string();
  }

  /** A reader over a nested message field, checking its wire type first; this reader steps over it. */
  message(wire: number, what: string): WireReader {
    this.expectWire(wire, WIRE_BYTES, what);
    const { start, end } = this.slice();
    return new WireReader(this.buf, start, end);
  }

  /** Steps over one field's value of the given wire type (the key already read). */
  skip(wire: number, field: number, depth = 0): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint64();
        return;
      case WIRE_FIXED64:
        this.need(8, 'fixed64');
        this.pos += 8;
        return;
      case WIRE_BYTES:
        this.slice();
        return;
      case WIRE_FIXED32:
        this.need(4, 'fixed32');
        this.pos += 4;
        return;
      case WIRE_START_GROUP: {
        if (depth >= MAX_GROUP_DEPTH) throw new WireError(`groups nested deeper than ${MAX_GROUP_DEPTH} at offset ${this.pos}`);
        for (;;) {
          if (this.done) throw new WireError(`group ${field} has no end before offset ${this.end}`);
          const inner = this.tag();
          if (inner.wire === WIRE_END_GROUP) {
            if (inner.field !== field) throw new WireError(`group ${field} ended by end-group ${inner.field} at offset ${this.pos}`);
            return;
          }
          this.skip(inner.wire, inner.field, depth + 1);
        }
      }
      default:
        throw new WireError(`invalid wire type ${wire} for field ${field} at offset ${this.pos}`);
    }
  }

  /** A varint of up to 10 bytes as its low and high 32-bit halves (both unsigned). */
  private varint64(): { lo: number; hi: number } {
    const buf = this.buf;
    const end = this.end;
    const at = this.pos;
    let pos = at;
    let lo = 0;
    let hi = 0;
    // Bytes 0-3 fill bits 0-27 of lo; byte 4 fills lo's top 4 bits and hi's low 3; bytes 5-9 fill hi.
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= end) throw truncated(at);
      const b = buf[pos++];
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return { lo: lo >>> 0, hi: 0 };
      }
    }
    if (pos >= end) throw truncated(at);
    let b = buf[pos++];
    lo |= (b & 0x0f) << 28;
    hi = (b & 0x7f) >> 4;
    if (b >= 0x80) {
      for (let shift = 3; ; shift += 7) {
        if (pos >= end) throw truncated(at);
        b = buf[pos++];
        if (shift === 31 ? b > 1 : shift > 31) throw new WireError(`varint at offset ${at} overflows 64 bits`);
        hi |= (b & 0x7f) << shift;
        if (b < 0x80) break;
      }
    }
    this.pos = pos;
    return { lo: lo >>> 0, hi: hi >>> 0 };
  }

  private need(n: number, what: string): void {
    if (this.end - this.pos < n) throw new WireError(`${what} at offset ${this.pos} needs ${n} bytes, ${this.end - this.pos} left`);
  }
}

function truncated(at: number): WireError {
  return new WireError(`truncated varint at offset ${at}`);
}
