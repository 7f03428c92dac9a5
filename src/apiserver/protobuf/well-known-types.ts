/**
 * The Kubernetes types whose protobuf and JSON forms come from hand-written Go marshallers rather than
 * from their struct fields (k8s.io/apimachinery: meta/v1 time_proto.go, micro_time_proto.go, duration.go;
 * api/resource quantity_proto.go; util/intstr; runtime types_proto.go; meta/v1 FieldsV1). Each takes its
 * protobuf message and returns the value encoding/json would write for it.
 */
import type { ScalarKind } from '../../api/schema/types.js';
import { DecodeError } from './decode-error.js';
import { MAX_NESTING_DEPTH, jsonNestingDepth } from '../limits/nesting.js';
import { hasProtobufMagic, WIRE_BYTES, WIRE_VARINT, WireReader } from './wire-reader.js';

export type WellKnownKind = Exclude<ScalarKind, 'string' | 'boolean' | 'int32' | 'int64' | 'double' | 'bytes'>;

/**
 * The JSON value of the well-known type `kind` encoded in buf[start, end). `decodeObject` decodes a
 * whole `k8s\0` protobuf object, for a RawExtension that carries one instead of JSON.
 */
export function decodeWellKnown(kind: WellKnownKind, buf: Uint8Array, start: number, end: number, decodeObject: (raw: Uint8Array) => unknown): unknown {
  const r = new WireReader(buf, start, end);
  switch (kind) {
    case 'time':
    case 'microtime': {
      // An empty message is Go's zero time, which encoding/json writes as null.
      if (r.done) return null;
      let seconds = 0;
      let nanos = 0;
      while (!r.done) {
        const t = r.tag();
        if (t.field === 1) {
          r.expectWire(t.wire, WIRE_VARINT, 'seconds');
          seconds = r.int64();
        } else if (t.field === 2) {
          r.expectWire(t.wire, WIRE_VARINT, 'nanos');
          nanos = r.int32();
        } else r.skip(t.wire, t.field);
      }
      // metav1.Time's Unmarshal keeps whole seconds only (its JSON has no fraction); MicroTime keeps nanos.
      return kind === 'time' ? formatTime(seconds, 0, false) : formatTime(seconds, nanos, true);
    }
    case 'duration': {
      let nanos = 0n;
      while (!r.done) {
        const t = r.tag();
        if (t.field === 1) {
          r.expectWire(t.wire, WIRE_VARINT, 'duration');
          nanos = r.int64Big();
        } else r.skip(t.wire, t.field);
      }
      return goDurationString(nanos);
    }
    case 'quantity': {
      let text = '';
      while (!r.done) {
        const t = r.tag();
        if (t.field === 1) text = r.stringField(t.wire, 'quantity');
        else r.skip(t.wire, t.field);
      }
      // A zero Quantity marshals as "0" (Quantity.String()), so an empty message can only mean zero.
      return text === '' ? '0' : text;
    }
    case 'intOrString': {
      let type = 0;
      let intVal = 0;
      let strVal = '';
      while (!r.done) {
        const t = r.tag();
        if (t.field === 1) {
          r.expectWire(t.wire, WIRE_VARINT, 'type');
          type = r.int64();
        } else if (t.field === 2) {
          r.expectWire(t.wire, WIRE_VARINT, 'intVal');
          intVal = r.int32();
        } else if (t.field === 3) strVal = r.stringField(t.wire, 'strVal');
        else r.skip(t.wire, t.field);
      }
      if (type === 0) return intVal;
      if (type === 1) return strVal;
      throw new DecodeError(`IntOrString type ${type} is neither 0 (int) nor 1 (string)`);
    }
    case 'rawExtension':
    case 'fieldsV1':
    case 'any': {
      let raw: Uint8Array | undefined;
      while (!r.done) {
        const t = r.tag();
        if (t.field === 1) {
          r.expectWire(t.wire, WIRE_BYTES, 'raw');
          raw = r.bytes();
        } else r.skip(t.wire, t.field);
      }
      // Nil raw bytes marshal as JSON null (RawExtension.MarshalJSON, FieldsV1.MarshalJSON).
      if (!raw || raw.length === 0) return null;
      // A RawExtension written by a protobuf client may hold a whole protobuf object instead of JSON.
      if (kind === 'rawExtension' && hasProtobufMagic(raw)) {
        return decodeObject(raw);
      }
      return parseJson(raw, kind);
    }
  }
}

/** The JSON in raw bytes, or a DecodeError naming `what` held it. */
export function parseJson(raw: Uint8Array, what: string): unknown {
  const text = Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('utf8');
  // Embedded JSON (RawExtension, runtime.Unknown) is held to the nesting limit of JSON bodies.
  if (jsonNestingDepth(text) > MAX_NESTING_DEPTH) throw new DecodeError(`${what} is not valid JSON: exceeded max depth`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new DecodeError(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Go's zero time.Time (0001-01-01T00:00:00Z) in Unix seconds: metav1.Time writes it as null. */
const GO_ZERO_TIME_SECONDS = -62135596800;
/** RFC 3339 needs a four-digit year: Go's Time.MarshalJSON refuses years outside [0, 9999]. */
const MIN_RFC3339_SECONDS = -62167219200;
const MAX_RFC3339_SECONDS = 253402300799;

/**
 * metav1.Time (`2006-01-02T15:04:05Z`) or MicroTime (`2006-01-02T15:04:05.000000Z`, fraction truncated
 * to microseconds), always UTC as their MarshalJSON writes them; Go's zero time is null.
 */
export function formatTime(seconds: number, nanos: number, micro: boolean): string | null {
  if (seconds === GO_ZERO_TIME_SECONDS && nanos === 0) return null;
  if (nanos < 0 || nanos > 999_999_999) throw new DecodeError(`nanos ${nanos} is outside [0, 999999999]`);
  if (!Number.isSafeInteger(seconds) || seconds < MIN_RFC3339_SECONDS || seconds > MAX_RFC3339_SECONDS) {
    throw new DecodeError(`time ${seconds}s is outside the years 0000-9999 that RFC 3339 can write`);
  }
  const base = new Date(seconds * 1000).toISOString().slice(0, 19); // YYYY-MM-DDTHH:MM:SS
  return micro ? `${base}.${String(Math.floor(nanos / 1000)).padStart(6, '0')}Z` : `${base}Z`;
}

/** Go's time.Duration.String(), which metav1.Duration writes: `1h2m3.5s`, `500ms`, `1.5µs`, `0s`. */
export function goDurationString(nanos: bigint): string {
  if (nanos === 0n) return '0s';
  const neg = nanos < 0n;
  let u = neg ? -nanos : nanos;
  let out: string;
  if (u < 1_000_000_000n) {
    // Below a second Go uses the largest unit that keeps a non-zero integer part.
    const [prec, unit] = u < 1_000n ? [0, 'ns'] : u < 1_000_000n ? [3, 'µs'] : [6, 'ms'];
    const [whole, frac] = splitFraction(u, prec);
    out = `${whole}${frac}${unit}`;
  } else {
    const [seconds, frac] = splitFraction(u, 9);
    out = `${seconds % 60n}${frac}s`;
    u = seconds / 60n;
    if (u > 0n) {
      out = `${u % 60n}m${out}`;
      u /= 60n;
      // Go stops at hours, as days differ in length.
      if (u > 0n) out = `${u}h${out}`;
    }
  }
  return neg ? `-${out}` : out;
}

/** v / 10^prec, and the remainder as `.ddd` without trailing zeros ('' when it is zero). */
function splitFraction(v: bigint, prec: number): [bigint, string] {
  if (prec === 0) return [v, ''];
  const scale = 10n ** BigInt(prec);
  const digits = (v % scale).toString().padStart(prec, '0').replace(/0+$/, '');
  return [v / scale, digits ? `.${digits}` : ''];
}
