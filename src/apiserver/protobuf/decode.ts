/**
 * Decodes Kubernetes protobuf request bodies (`Content-Type: application/vnd.kubernetes.protobuf`, which
 * kubectl 1.32+ sends for its typed-client commands: `create configmap|deployment|...`, `auth can-i`) into
 * the JSON form of the object, driven by the schema table's protobuf field numbers.
 *
 * The result is what Go's encoding/json writes for the same object, i.e. what the same client would have
 * sent as a JSON body (kubectl 1.31 did). This matters because gogo's generated marshallers write every
 * non-pointer scalar even when zero: kubectl's ConfigMap carries `generateName: ""`, `uid: ""`,
 * `generation: 0` and an empty `creationTimestamp`. As in Go, a zero scalar is dropped unless the field is a
 * pointer or lacks `omitempty` (zero-value-fields.generated.ts), so `replicas: 0` survives and an empty
 * `restartPolicy` does not; the special struct types are written even when zero, as encoding/json does
 * (`creationTimestamp: null`, an unset Service `targetPort: 0`).
 *
 * Envelope and message layouts: https://kubernetes.io/docs/reference/using-api/api-concepts/#protobuf-encoding
 * and the `generated.proto` files of k8s.io/api and k8s.io/apimachinery.
 */
import type { KubeObject } from '../../api/object.js';
import { parseApiVersion } from '../../api/object.js';
import { protoEmbeddingsOf, typeForKind, typeOf } from '../../api/schema/schema.js';
import type { ScalarKind, SchemaType } from '../../api/schema/types.js';
import { badRequest } from '../../api/status.js';
import { WIRE_BYTES, WIRE_FIXED64, WIRE_VARINT, WireError, WireReader } from './wire-reader.js';
import { fieldsKeepingZero } from './zero-value-fields.generated.js';

/** "k8s\0": every Kubernetes protobuf body starts with it, before the runtime.Unknown envelope. */
export const PROTOBUF_MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** Nested messages deeper than this are refused (no served type nests near it; guards the stack). */
const MAX_DEPTH = 100;

/**
 * The object in a `k8s\0` + runtime.Unknown body, as JSON with `apiVersion` and `kind` from the envelope.
 * Malformed input of any kind (bad prefix, truncation, lengths past the end, wire-type mismatches, an
 * unknown kind, undecodable embedded JSON) throws a 400 BadRequest StatusError; unknown fields are skipped.
 */
export function decodeProtobufObject(body: Buffer): KubeObject {
  try {
    return decodeEnvelope(body, 0);
  } catch (err) {
    if (err instanceof WireError || err instanceof DecodeError) {
      const where = err instanceof DecodeError && err.path.length ? `${err.path.join('')}: ` : '';
      throw badRequest(`unable to decode protobuf body: ${where}${err.message}`);
    }
    throw err;
  }
}

/** Invalid content in well-formed wire data; `path` locates it (`.spec`, `.ports[0]`), filled while unwinding. */
class DecodeError extends Error {
  override name = 'DecodeError';
  readonly path: string[] = [];
}

function withPath(err: unknown, segment: string): unknown {
  if (err instanceof WireError) {
    const wrapped = new DecodeError(err.message);
    wrapped.path.push(segment);
    return wrapped;
  }
  if (err instanceof DecodeError) err.path.unshift(segment);
  return err;
}

function decodeEnvelope(body: Uint8Array, depth: number): KubeObject {
  if (body.length < 4 || body[0] !== 0x6b || body[1] !== 0x38 || body[2] !== 0x73 || body[3] !== 0x00) {
    const head = Buffer.from(body.subarray(0, 4)).toString('hex').replace(/(..)(?=.)/g, '$1 ');
    throw new DecodeError(`the body does not start with the protobuf prefix 6b 38 73 00 ("k8s\\0"); got ${head ? `"${head}"` : 'an empty body'}`);
  }
  // runtime.Unknown: 1 typeMeta {1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding, 4 contentType.
  const r = new WireReader(body, 4);
  let apiVersion = '';
  let kind = '';
  let raw: Uint8Array = new Uint8Array(0);
  let contentEncoding = '';
  let contentType = '';
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 1) {
      const meta = nested(r, wire, 'typeMeta');
      while (!meta.done) {
        const t = meta.tag();
        if (t.field === 1) apiVersion = stringField(meta, t.wire, 'typeMeta.apiVersion');
        else if (t.field === 2) kind = stringField(meta, t.wire, 'typeMeta.kind');
        else meta.skip(t.wire, t.field);
      }
    } else if (field === 2) {
      expectWire(wire, WIRE_BYTES, 'raw');
      raw = r.bytes();
    } else if (field === 3) contentEncoding = stringField(r, wire, 'contentEncoding');
    else if (field === 4) contentType = stringField(r, wire, 'contentType');
    else r.skip(wire, field);
  }
  if (!kind) throw new DecodeError('the envelope names no kind (typeMeta.kind is empty)');
  if (!apiVersion) throw new DecodeError(`the envelope names no apiVersion for kind "${kind}"`);
  if (contentEncoding) throw new DecodeError(`contentEncoding "${contentEncoding}" is not supported`);

  let obj: Record<string, unknown>;
  if (contentType === '' || contentType === 'application/vnd.kubernetes.protobuf') {
    const { group, version } = parseApiVersion(apiVersion);
    const def = typeForKind(group, version, kind);
    if (!def) throw new DecodeError(`no kind "${kind}" is registered for version "${apiVersion}"`);
    obj = {};
    try {
      decodeMessage(raw, 0, raw.length, planOf(def.name), obj, depth);
    } catch (err) {
      throw withPath(err, kind);
    }
  } else if (contentType === 'application/json') {
    const parsed = parseJson(raw, 'raw');
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new DecodeError('raw JSON is not an object');
    obj = parsed as Record<string, unknown>;
  } else {
    throw new DecodeError(`contentType "${contentType}" is not supported`);
  }
  const { apiVersion: _a, kind: _k, ...fields } = obj;
  const result: KubeObject = { apiVersion, kind, ...fields, metadata: (fields.metadata as KubeObject['metadata'] | undefined) ?? {} };
  return result;
}

// ---------------------------------------------------------------------------------------------
// Decoding plans: one per message type, built from the schema table on first use.

interface FieldPlan {
  json: string;
  type: SchemaType;
  /** For a plain scalar outside arrays and maps: whether a zero value is kept (see the module comment). */
  keepZero: boolean;
  /** Set for an inline-embedded struct: its fields are decoded into the parent object. */
  embedded?: MessagePlan;
}

interface MessagePlan {
  /** The short type name for error messages (`ObjectMeta`). */
  name: string;
  fields: Map<number, FieldPlan>;
}

const plans = new Map<string, MessagePlan>();

function planOf(typeName: string): MessagePlan {
  let plan = plans.get(typeName);
  if (plan) return plan;
  const def = typeOf(typeName);
  // The table is closed over its references; a miss is a bug in the generated table, not bad input.
  if (!def) throw new Error(`schema table has no type ${typeName}`);
  plan = { name: typeName.slice(typeName.lastIndexOf('.') + 1), fields: new Map() };
  plans.set(typeName, plan); // before recursing: types may refer to themselves
  for (const f of def.fields) {
    if (f.proto === undefined) continue;
    plan.fields.set(f.proto, { json: f.json, type: f.type, keepZero: fieldsKeepingZero.has(`${typeName}.${f.json}`) });
  }
  for (const e of protoEmbeddingsOf(typeName)) {
    plan.fields.set(e.proto, { json: '', type: { kind: 'ref', name: e.type }, keepZero: false, embedded: planOf(e.type) });
  }
  return plan;
}

// ---------------------------------------------------------------------------------------------
// Messages, fields and values.

/** Decodes the message in buf[start, end) into `target`, merging as protobuf does for repeated occurrences. */
function decodeMessage(buf: Uint8Array, start: number, end: number, plan: MessagePlan, target: Record<string, unknown>, depth: number): void {
  if (depth > MAX_DEPTH) throw new DecodeError(`messages nested deeper than ${MAX_DEPTH}`);
  const r = new WireReader(buf, start, end);
  while (!r.done) {
    const { field, wire } = r.tag();
    const f = plan.fields.get(field);
    if (!f) {
      r.skip(wire, field);
      continue;
    }
    try {
      if (f.embedded) {
        expectWire(wire, WIRE_BYTES, `field ${field}`);
        const s = r.slice();
        decodeMessage(buf, s.start, s.end, f.embedded, target, depth + 1);
      } else {
        decodeField(r, wire, f, target, depth);
      }
    } catch (err) {
      throw withPath(err, f.embedded ? '' : `.${f.json}`);
    }
  }
}

function decodeField(r: WireReader, wire: number, f: FieldPlan, target: Record<string, unknown>, depth: number): void {
  const type = f.type;
  switch (type.kind) {
    case 'scalar': {
      const value = readScalar(r, wire, type.scalar, depth);
      if (!f.keepZero && isZeroPlainScalar(type.scalar, value)) delete target[f.json];
      else target[f.json] = value;
      return;
    }
    case 'ref': {
      expectWire(wire, WIRE_BYTES, 'message');
      const s = r.slice();
      const existing = target[f.json];
      const obj = existing !== null && typeof existing === 'object' ? (existing as Record<string, unknown>) : {};
      decodeMessage(r.buf, s.start, s.end, planOf(type.name), obj, depth + 1);
      target[f.json] = obj;
      return;
    }
    case 'array': {
      const items = (target[f.json] as unknown[] | undefined) ?? [];
      const before = items.length;
      try {
        readRepeated(r, wire, type.items, items, depth);
      } catch (err) {
        throw withPath(err, `[${items.length - before}]`);
      }
      target[f.json] = items;
      return;
    }
    case 'map': {
      const map = (target[f.json] as Record<string, unknown> | undefined) ?? {};
      readMapEntry(r, wire, type.values, map, depth);
      target[f.json] = map;
      return;
    }
  }
}

/** One occurrence of a repeated field: one element, or several when numbers arrive packed. */
function readRepeated(r: WireReader, wire: number, item: SchemaType, out: unknown[], depth: number): void {
  if (wire === WIRE_BYTES && item.kind === 'scalar' && packable(item.scalar)) {
    const s = r.slice();
    const packed = new WireReader(r.buf, s.start, s.end);
    const itemWire = item.scalar === 'double' ? WIRE_FIXED64 : WIRE_VARINT;
    while (!packed.done) out.push(readScalar(packed, itemWire, item.scalar, depth));
    return;
  }
  out.push(readValue(r, wire, item, depth));
}

/** A map entry message {1: key, 2: value}; a missing key or value is the zero value, as in Go. */
function readMapEntry(r: WireReader, wire: number, values: SchemaType, map: Record<string, unknown>, depth: number): void {
  expectWire(wire, WIRE_BYTES, 'map entry');
  const s = r.slice();
  const entry = new WireReader(r.buf, s.start, s.end);
  let key = '';
  let value: unknown;
  let hasValue = false;
  while (!entry.done) {
    const t = entry.tag();
    if (t.field === 1) key = stringField(entry, t.wire, 'map key');
    else if (t.field === 2) {
      try {
        if (values.kind === 'array') {
          // Protobuf has no map of lists: the value is a wrapper message {1: repeated items} (ExtraValue).
          const w = nested(entry, t.wire, 'list value');
          const items: unknown[] = [];
          while (!w.done) {
            const it = w.tag();
            if (it.field === 1) readRepeated(w, it.wire, values.items, items, depth + 1);
            else w.skip(it.wire, it.field);
          }
          value = items;
        } else {
          value = readValue(entry, t.wire, values, depth);
        }
      } catch (err) {
        throw withPath(err, `[${JSON.stringify(key)}]`);
      }
      hasValue = true;
    } else entry.skip(t.wire, t.field);
  }
  map[key] = hasValue ? value : zeroValue(values, depth);
}

/** A value inside an array or map: decoded as is, zeros included. */
function readValue(r: WireReader, wire: number, type: SchemaType, depth: number): unknown {
  switch (type.kind) {
    case 'scalar':
      return readScalar(r, wire, type.scalar, depth);
    case 'ref': {
      expectWire(wire, WIRE_BYTES, 'message');
      const s = r.slice();
      const obj: Record<string, unknown> = {};
      decodeMessage(r.buf, s.start, s.end, planOf(type.name), obj, depth + 1);
      return obj;
    }
    default:
      // The table has no list of lists or map inside a list (protobuf could not express them either).
      throw new Error(`unsupported nested ${type.kind} in the schema table`);
  }
}

function zeroValue(type: SchemaType, depth: number): unknown {
  switch (type.kind) {
    case 'array':
      return [];
    case 'map':
    case 'ref':
      return {};
    case 'scalar':
      switch (type.scalar) {
        case 'string':
        case 'bytes':
          return '';
        case 'boolean':
          return false;
        case 'int32':
        case 'int64':
        case 'double':
          return 0;
        default:
          return decodeSpecial(type.scalar, new Uint8Array(0), 0, 0, depth);
      }
  }
}

function readScalar(r: WireReader, wire: number, scalar: ScalarKind, depth: number): unknown {
  switch (scalar) {
    case 'string':
      return stringField(r, wire, 'string');
    case 'boolean':
      expectWire(wire, WIRE_VARINT, 'bool');
      return r.bool();
    case 'int32':
      expectWire(wire, WIRE_VARINT, 'int32');
      return r.int32();
    case 'int64':
      expectWire(wire, WIRE_VARINT, 'int64');
      return r.int64();
    case 'double':
      expectWire(wire, WIRE_FIXED64, 'double');
      return r.double();
    case 'bytes': {
      expectWire(wire, WIRE_BYTES, 'bytes');
      const b = r.bytes();
      return Buffer.from(b.buffer, b.byteOffset, b.length).toString('base64');
    }
    default: {
      expectWire(wire, WIRE_BYTES, scalar);
      const s = r.slice();
      return decodeSpecial(scalar, r.buf, s.start, s.end, depth);
    }
  }
}

function packable(scalar: ScalarKind): boolean {
  return scalar === 'boolean' || scalar === 'int32' || scalar === 'int64' || scalar === 'double';
}

function isZeroPlainScalar(scalar: ScalarKind, value: unknown): boolean {
  switch (scalar) {
    case 'string':
    case 'bytes':
      return value === '';
    case 'boolean':
      return value === false;
    case 'int32':
    case 'int64':
    case 'double':
      return value === 0;
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Well-known types with custom Go marshallers (k8s.io/apimachinery meta/v1 time_proto.go,
// micro_time_proto.go, duration.go, resource/quantity_proto.go, util/intstr, runtime/types_proto.go).

function decodeSpecial(scalar: ScalarKind, buf: Uint8Array, start: number, end: number, depth: number): unknown {
  const r = new WireReader(buf, start, end);
  switch (scalar) {
    case 'time':
    case 'microtime': {
      // An empty message is Go's zero time, which encoding/json writes as null.
      if (r.done) return null;
      let seconds = 0;
      let nanos = 0;
      while (!r.done) {
        const t = r.tag();
        if (t.field === 1) {
          expectWire(t.wire, WIRE_VARINT, 'seconds');
          seconds = r.int64();
        } else if (t.field === 2) {
          expectWire(t.wire, WIRE_VARINT, 'nanos');
          nanos = r.int32();
        } else r.skip(t.wire, t.field);
      }
      // metav1.Time's Unmarshal keeps whole seconds only (its JSON has no fraction); MicroTime keeps nanos.
      return scalar === 'time' ? formatTime(seconds, 0, false) : formatTime(seconds, nanos, true);
    }
    case 'duration': {
      let nanos = 0n;
      while (!r.done) {
        const t = r.tag();
        if (t.field === 1) {
          expectWire(t.wire, WIRE_VARINT, 'duration');
          nanos = r.int64Big();
        } else r.skip(t.wire, t.field);
      }
      return goDurationString(nanos);
    }
    case 'quantity': {
      let text = '';
      while (!r.done) {
        const t = r.tag();
        if (t.field === 1) text = stringField(r, t.wire, 'quantity');
        else r.skip(t.wire, t.field);
      }
      // A zero Quantity marshals as "0" (Quantity.String()); an empty message can only mean zero.
      return text === '' ? '0' : text;
    }
    case 'intOrString': {
      let type = 0;
      let intVal = 0;
      let strVal = '';
      while (!r.done) {
        const t = r.tag();
        if (t.field === 1) {
          expectWire(t.wire, WIRE_VARINT, 'type');
          type = r.int64();
        } else if (t.field === 2) {
          expectWire(t.wire, WIRE_VARINT, 'intVal');
          intVal = r.int32();
        } else if (t.field === 3) strVal = stringField(r, t.wire, 'strVal');
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
          expectWire(t.wire, WIRE_BYTES, 'raw');
          raw = r.bytes();
        } else r.skip(t.wire, t.field);
      }
      // Nil raw bytes marshal as JSON null (RawExtension.MarshalJSON, FieldsV1.MarshalJSON).
      if (!raw || raw.length === 0) return null;
      // A RawExtension from a protobuf client may hold a whole protobuf object rather than JSON.
      if (scalar === 'rawExtension' && raw[0] === 0x6b && raw.length >= 4 && raw[1] === 0x38 && raw[2] === 0x73 && raw[3] === 0) {
        return decodeEnvelope(raw, depth + 1);
      }
      return parseJson(raw, scalar);
    }
    default:
      throw new Error(`decodeSpecial called for plain scalar ${scalar}`);
  }
}

/** Go's zero time.Time (0001-01-01T00:00:00Z) in Unix seconds: encoding/json writes it as null. */
const GO_ZERO_TIME_SECONDS = -62135596800;
/** RFC 3339 needs a four-digit year: Go's Time.MarshalJSON refuses years outside [0, 9999]. */
const MIN_RFC3339_SECONDS = -62167219200;
const MAX_RFC3339_SECONDS = 253402300799;

/** metav1.Time (`2006-01-02T15:04:05Z`) or MicroTime (`2006-01-02T15:04:05.000000Z`), always UTC. */
export function formatTime(seconds: number, nanos: number, micro: boolean): string | null {
  if (seconds === GO_ZERO_TIME_SECONDS && nanos === 0) return null;
  if (nanos < 0 || nanos > 999_999_999) throw new DecodeError(`nanos ${nanos} is outside [0, 999999999]`);
  if (!Number.isSafeInteger(seconds) || seconds < MIN_RFC3339_SECONDS || seconds > MAX_RFC3339_SECONDS) {
    throw new DecodeError(`time ${seconds}s is outside the years 0000-9999 that RFC 3339 can write`);
  }
  const iso = new Date(seconds * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
  const base = iso.slice(0, 19);
  return micro ? `${base}.${String(Math.floor(nanos / 1000)).padStart(6, '0')}Z` : `${base}Z`;
}

/** Go's time.Duration.String(): `1h2m3.5s`, `500ms`, `1.5µs`, `0s`. */
export function goDurationString(nanos: bigint): string {
  if (nanos === 0n) return '0s';
  const neg = nanos < 0n;
  let u = neg ? -nanos : nanos;
  let out: string;
  if (u < 1_000_000_000n) {
    // Below a second Go switches to the largest unit that keeps a non-zero integer part.
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

/** v / 10^prec and its fraction as `.ddd` without trailing zeros ('' when it is zero). */
function splitFraction(v: bigint, prec: number): [bigint, string] {
  if (prec === 0) return [v, ''];
  const scale = 10n ** BigInt(prec);
  const digits = (v % scale).toString().padStart(prec, '0').replace(/0+$/, '');
  return [v / scale, digits ? `.${digits}` : ''];
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

function expectWire(wire: number, expected: number, what: string): void {
  if (wire !== expected) throw new DecodeError(`${what} has wire type ${wire}, expected ${expected}`);
}

function stringField(r: WireReader, wire: number, what: string): string {
  expectWire(wire, WIRE_BYTES, what);
  return r.string();
}

/** A reader over a length-delimited nested message. */
function nested(r: WireReader, wire: number, what: string): WireReader {
  expectWire(wire, WIRE_BYTES, what);
  const s = r.slice();
  return new WireReader(r.buf, s.start, s.end);
}

function parseJson(raw: Uint8Array, what: string): unknown {
  const text = Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new DecodeError(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}
