/**
 * Encodes API objects as Kubernetes protobuf (`application/vnd.kubernetes.protobuf`), for clients that ask for it
 * in Accept (client-go based operators do, and metadata informers ask for PartialObjectMetadata in protobuf first).
 * The inverse of decode.ts, driven by the same schema table's field numbers.
 *
 * What is written: every field present in the JSON form (zeros included; a Go decoder reads an absent and a zero
 * non-pointer field alike, and a present zero is what a pointer field needs), no field for null or for JSON keys the
 * type does not have. Map entries are sorted by key and repeated scalars are unpacked, as gogo's marshallers write
 * them. Envelope: "k8s\0" + runtime.Unknown {1 typeMeta {1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding,
 * 4 contentType} (https://kubernetes.io/docs/reference/using-api/api-concepts/#protobuf-encoding).
 */
import { protoEmbeddingsOf, typeOf } from '../../api/schema/schema.js';
import type { ScalarKind, SchemaType } from '../../api/schema/types.js';
import { PROTOBUF_MAGIC, WIRE_BYTES, WIRE_FIXED64, WIRE_VARINT } from './wire-reader.js';

export const PROTOBUF_CONTENT_TYPE = 'application/vnd.kubernetes.protobuf';

const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';
const LIST_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta';
const STATUS = 'io.k8s.apimachinery.pkg.apis.meta.v1.Status';
const MAGIC = Buffer.from(PROTOBUF_MAGIC);

/** A growable byte buffer with protobuf's field writers. */
class Writer {
  private buf = Buffer.allocUnsafe(256);
  private len = 0;

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  varint(value: number | bigint): void {
    this.room(10);
    if (typeof value === 'number' && value >= 0 && value <= 0x7fffffff) {
      let v = value;
      while (v > 0x7f) {
        this.buf[this.len++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      this.buf[this.len++] = v;
      return;
    }
    // Negative numbers take ten bytes as 64-bit two's complement (int32 and int64 fields alike).
    let v = BigInt.asUintN(64, BigInt(value));
    while (v > 0x7fn) {
      this.buf[this.len++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.len++] = Number(v);
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  bytes(field: number, data: Uint8Array): void {
    this.tag(field, WIRE_BYTES);
    this.varint(data.length);
    this.room(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
  }

  string(field: number, s: string): void {
    this.tag(field, WIRE_BYTES);
    const n = Buffer.byteLength(s);
    this.varint(n);
    this.room(n);
    this.len += this.buf.write(s, this.len, 'utf8');
  }

  double(field: number, v: number): void {
    this.tag(field, WIRE_FIXED64);
    this.room(8);
    this.buf.writeDoubleLE(v, this.len);
    this.len += 8;
  }

  /** A nested message: written into a child writer, then copied behind its length. */
  message(field: number, write: (w: Writer) => void): void {
    const child = new Writer();
    write(child);
    this.bytes(field, child.finish());
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

/** The protobuf message (no envelope) of `value`, a JSON object of schema type `typeName`. */
export function encodeMessage(typeName: string, value: Record<string, unknown>): Buffer {
  const w = new Writer();
  writeMessage(w, typeName, value);
  return w.finish();
}

/** True when objects of this schema type can be written as protobuf (built-in kinds; not custom resources). */
export function canEncode(typeName: string | undefined): boolean {
  return typeName !== undefined && typeOf(typeName) !== undefined;
}

/** The "k8s\0" + runtime.Unknown envelope around an already encoded message. */
export function envelope(apiVersion: string, kind: string, raw: Uint8Array): Buffer {
  const w = new Writer();
  w.message(1, (m) => {
    m.string(1, apiVersion);
    m.string(2, kind);
  });
  w.bytes(2, raw);
  // contentEncoding and contentType are written empty, as gogo writes non-pointer strings.
  w.string(3, '');
  w.string(4, '');
  return Buffer.concat([MAGIC, w.finish()]);
}

/** A whole object of schema type `typeName` in its envelope. */
export function encodeObject(typeName: string, obj: Record<string, unknown>): Buffer {
  return envelope(String(obj.apiVersion ?? ''), String(obj.kind ?? ''), encodeMessage(typeName, obj));
}

/** A list {1 ListMeta, 2 repeated items}, the layout of every Kubernetes list type, from encoded items. */
export function encodeList(apiVersion: string, kind: string, listMeta: Record<string, unknown>, items: readonly Uint8Array[]): Buffer {
  const w = new Writer();
  w.message(1, (m) => writeMessage(m, LIST_META, listMeta));
  for (const item of items) w.bytes(2, item);
  return envelope(apiVersion, kind, w.finish());
}

/** PartialObjectMetadata {1 ObjectMeta}: the message of one item (for lists) or, with `envelope`, a whole object. */
export function encodePartialMetadata(metadata: Record<string, unknown>): Buffer {
  const w = new Writer();
  w.message(1, (m) => writeMessage(m, OBJECT_META, metadata));
  return w.finish();
}

/** A meta/v1 Status as a whole object (for watch ERROR events). */
export function encodeStatus(status: Record<string, unknown>): Buffer {
  return envelope('v1', 'Status', encodeMessage(STATUS, status));
}

/**
 * One frame of a protobuf watch: a WatchEvent {1 type, 2 object RawExtension {1 raw}} without envelope, behind a
 * 4-byte big-endian length (the length-delimited framer client-go reads).
 */
export function encodeWatchFrame(type: string, object: Uint8Array): Buffer {
  const w = new Writer();
  w.string(1, type);
  w.message(2, (m) => m.bytes(1, object));
  const body = w.finish();
  const frame = Buffer.allocUnsafe(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);
  return frame;
}

// ---------------------------------------------------------------------------------------------

interface FieldPlan {
  json: string;
  proto: number;
  type: SchemaType;
}

interface MessagePlan {
  fields: FieldPlan[];
  embedded: { proto: number; type: string }[];
}

const plans = new Map<string, MessagePlan>();

function planOf(typeName: string): MessagePlan {
  let plan = plans.get(typeName);
  if (plan) return plan;
  const def = typeOf(typeName);
  if (!def) throw new Error(`schema table has no type ${typeName}`);
  plan = { fields: [], embedded: [...protoEmbeddingsOf(typeName)] };
  for (const f of def.fields) if (f.proto !== undefined) plan.fields.push({ json: f.json, proto: f.proto, type: f.type });
  plan.fields.sort((a, b) => a.proto - b.proto);
  plans.set(typeName, plan);
  return plan;
}

function writeMessage(w: Writer, typeName: string, value: Record<string, unknown>): void {
  const plan = planOf(typeName);
  for (const e of plan.embedded) w.message(e.proto, (m) => writeMessage(m, e.type, value));
  for (const f of plan.fields) {
    const v = value[f.json];
    if (v === undefined || v === null) continue;
    writeField(w, f.proto, f.type, v);
  }
}

function writeField(w: Writer, field: number, type: SchemaType, v: unknown): void {
  switch (type.kind) {
    case 'scalar':
      writeScalar(w, field, type.scalar, v);
      return;
    case 'ref':
      if (isObject(v)) w.message(field, (m) => writeMessage(m, type.name, v));
      return;
    case 'array':
      if (!Array.isArray(v)) return;
      for (const item of v) if (item !== null && item !== undefined) writeField(w, field, type.items, item);
      return;
    case 'map': {
      if (!isObject(v)) return;
      const values = type.values;
      for (const key of Object.keys(v).sort()) {
        const item = v[key];
        w.message(field, (entry) => {
          entry.string(1, key);
          if (item === null || item === undefined) return;
          // Protobuf has no map of lists: the value is a wrapper message {1: repeated items}.
          if (values.kind === 'array') entry.message(2, (list) => writeField(list, 1, values, item));
          else writeField(entry, 2, values, item);
        });
      }
      return;
    }
  }
}

function writeScalar(w: Writer, field: number, scalar: ScalarKind, v: unknown): void {
  switch (scalar) {
    case 'string':
      w.string(field, typeof v === 'string' ? v : String(v));
      return;
    case 'boolean':
      w.tag(field, WIRE_VARINT);
      w.varint(v === true ? 1 : 0);
      return;
    case 'int32':
    case 'int64': {
      const n = typeof v === 'number' ? v : Number(v);
      if (!Number.isFinite(n)) return;
      w.tag(field, WIRE_VARINT);
      w.varint(Math.trunc(n));
      return;
    }
    case 'double':
      w.double(field, Number(v));
      return;
    case 'bytes':
      w.bytes(field, Buffer.from(String(v), 'base64'));
      return;
    case 'time':
    case 'microtime': {
      const t = parseTime(String(v));
      if (!t) return;
      w.message(field, (m) => {
        m.tag(1, WIRE_VARINT);
        m.varint(t.seconds);
        if (t.nanos !== 0) {
          m.tag(2, WIRE_VARINT);
          m.varint(t.nanos);
        }
      });
      return;
    }
    case 'duration':
      w.message(field, (m) => {
        m.tag(1, WIRE_VARINT);
        m.varint(parseGoDuration(String(v)));
      });
      return;
    case 'quantity':
      w.message(field, (m) => m.string(1, String(v)));
      return;
    case 'intOrString':
      w.message(field, (m) => {
        if (typeof v === 'number') {
          m.tag(1, WIRE_VARINT);
          m.varint(0);
          m.tag(2, WIRE_VARINT);
          m.varint(Math.trunc(v));
        } else {
          m.tag(1, WIRE_VARINT);
          m.varint(1);
          m.string(3, String(v));
        }
      });
      return;
    case 'rawExtension':
    case 'fieldsV1':
    case 'any':
      w.message(field, (m) => m.bytes(1, Buffer.from(JSON.stringify(v), 'utf8')));
      return;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 3339 to seconds and nanoseconds (the fraction is kept to nanoseconds, as MicroTime needs). */
export function parseTime(text: string): { seconds: number; nanos: number } | undefined {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) return undefined;
  const seconds = Math.floor(ms / 1000);
  const frac = /\.(\d+)/.exec(text.slice(17, 30));
  const nanos = frac ? Number(frac[1].slice(0, 9).padEnd(9, '0')) : 0;
  return { seconds, nanos };
}

const DURATION_UNITS: Record<string, bigint> = { ns: 1n, us: 1_000n, 'µs': 1_000n, 'μs': 1_000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n };

/** Go's time.ParseDuration, to nanoseconds (`1h2m3.5s`, `-500ms`); an unparsable text is 0. */
export function parseGoDuration(text: string): bigint {
  let s = text.trim();
  let sign = 1n;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1n;
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  const re = /(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0n;
  let pos = 0;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m || (m[1] === '' && (m[2] ?? '') === '')) return 0n;
    const unit = DURATION_UNITS[m[3]];
    total += BigInt(m[1] || '0') * unit;
    if (m[2]) total += (BigInt(m[2]) * unit) / 10n ** BigInt(m[2].length);
    pos = re.lastIndex;
  }
  return sign * total;
}
