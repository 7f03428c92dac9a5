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
 * (`creationTimestamp: null`, an unset Service `targetPort: 0`); and a nil pointer, slice or map without
 * `omitempty` is written as null (`status.resourceRules: null` in `auth can-i --list`).
 *
 * Envelope and message layouts: https://kubernetes.io/docs/reference/using-api/api-concepts/#protobuf-encoding
 * and the `generated.proto` files of k8s.io/api and k8s.io/apimachinery.
 */
import type { KubeObject } from '../../api/object.js';
import { parseApiVersion } from '../../api/object.js';
import { protoEmbeddingsOf, typeForKind, typeOf } from '../../api/schema/schema.js';
import type { ScalarKind, SchemaType } from '../../api/schema/types.js';
import { badRequest } from '../../api/status.js';
import { DecodeError, withPath } from './decode-error.js';
import { decodeWellKnown, parseJson, type WellKnownKind } from './well-known-types.js';
import { hasProtobufMagic, WIRE_BYTES, WIRE_FIXED64, WIRE_VARINT, WireError, WireReader } from './wire-reader.js';
import { fieldsKeepingZero, fieldsNullWhenAbsent } from './zero-value-fields.generated.js';

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

function decodeEnvelope(body: Uint8Array, depth: number): KubeObject {
  if (!hasProtobufMagic(body)) {
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
      const meta = r.message(wire, 'typeMeta');
      while (!meta.done) {
        const t = meta.tag();
        if (t.field === 1) apiVersion = meta.stringField(t.wire, 'typeMeta.apiVersion');
        else if (t.field === 2) kind = meta.stringField(t.wire, 'typeMeta.kind');
        else meta.skip(t.wire, t.field);
      }
    } else if (field === 2) {
      r.expectWire(wire, WIRE_BYTES, 'raw');
      raw = r.bytes();
    } else if (field === 3) contentEncoding = r.stringField(wire, 'contentEncoding');
    else if (field === 4) contentType = r.stringField(wire, 'contentType');
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
  // The envelope's type wins, as on Kubernetes (protobuf messages carry no TypeMeta of their own).
  const { apiVersion: _a, kind: _k, metadata, ...rest } = obj;
  return { apiVersion, kind, metadata: (metadata as KubeObject['metadata'] | undefined) ?? {}, ...rest };
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
  /** By protobuf field number. */
  fields: Map<number, FieldPlan>;
  /** JSON names of pointer, slice and map fields without omitempty: encoding/json writes null when absent. */
  nullWhenAbsent: string[];
}

const plans = new Map<string, MessagePlan>();

function planOf(typeName: string): MessagePlan {
  let plan = plans.get(typeName);
  if (plan) return plan;
  const def = typeOf(typeName);
  // The table is closed over its references; a miss is a bug in the generated table, not bad input.
  if (!def) throw new Error(`schema table has no type ${typeName}`);
  plan = { fields: new Map(), nullWhenAbsent: [] };
  plans.set(typeName, plan); // before recursing: types may refer to themselves
  for (const f of def.fields) {
    if (f.proto === undefined) continue;
    plan.fields.set(f.proto, { json: f.json, type: f.type, keepZero: fieldsKeepingZero.has(`${typeName}.${f.json}`) });
    if (fieldsNullWhenAbsent.has(`${typeName}.${f.json}`)) plan.nullWhenAbsent.push(f.json);
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
        r.expectWire(wire, WIRE_BYTES, `field ${field}`);
        const s = r.slice();
        decodeMessage(buf, s.start, s.end, f.embedded, target, depth + 1);
      } else {
        decodeField(r, wire, f, target, depth);
      }
    } catch (err) {
      throw withPath(err, f.embedded ? '' : `.${f.json}`);
    }
  }
  for (const json of plan.nullWhenAbsent) if (!(json in target)) target[json] = null;
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
      r.expectWire(wire, WIRE_BYTES, 'message');
      const s = r.slice();
      const existing = target[f.json];
      const obj = existing !== null && typeof existing === 'object' ? (existing as Record<string, unknown>) : {};
      decodeMessage(r.buf, s.start, s.end, planOf(type.name), obj, depth + 1);
      target[f.json] = obj;
      return;
    }
    case 'array': {
      const items = (target[f.json] as unknown[] | undefined) ?? [];
      try {
        readRepeated(r, wire, type.items, items, depth);
      } catch (err) {
        // The element that failed was not appended, so its index is the current length.
        throw withPath(err, `[${items.length}]`);
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
  r.expectWire(wire, WIRE_BYTES, 'map entry');
  const s = r.slice();
  const entry = new WireReader(r.buf, s.start, s.end);
  let key = '';
  let value: unknown;
  let hasValue = false;
  while (!entry.done) {
    const t = entry.tag();
    if (t.field === 1) key = entry.stringField(t.wire, 'map key');
    else if (t.field === 2) {
      try {
        if (values.kind === 'array') {
          // Protobuf has no map of lists: the value is a wrapper message {1: repeated items} (ExtraValue).
          const w = entry.message(t.wire, 'list value');
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
  const v = hasValue ? value : zeroValue(values, depth);
  // "__proto__" is a valid ConfigMap key: define it as an own property (as JSON.parse does) rather than
  // letting the assignment replace the map's prototype.
  if (key === '__proto__') Object.defineProperty(map, key, { value: v, enumerable: true, writable: true, configurable: true });
  else map[key] = v;
}

/** A value inside an array or map: decoded as is, zeros included. */
function readValue(r: WireReader, wire: number, type: SchemaType, depth: number): unknown {
  switch (type.kind) {
    case 'scalar':
      return readScalar(r, wire, type.scalar, depth);
    case 'ref': {
      r.expectWire(wire, WIRE_BYTES, 'message');
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
      return r.stringField(wire, 'string');
    case 'boolean':
      r.expectWire(wire, WIRE_VARINT, 'bool');
      return r.bool();
    case 'int32':
      r.expectWire(wire, WIRE_VARINT, 'int32');
      return r.int32();
    case 'int64':
      r.expectWire(wire, WIRE_VARINT, 'int64');
      return r.int64();
    case 'double':
      r.expectWire(wire, WIRE_FIXED64, 'double');
      return r.double();
    case 'bytes': {
      r.expectWire(wire, WIRE_BYTES, 'bytes');
      const b = r.bytes();
      return Buffer.from(b.buffer, b.byteOffset, b.length).toString('base64');
    }
    default: {
      r.expectWire(wire, WIRE_BYTES, scalar);
      const s = r.slice();
      return decodeSpecial(scalar, r.buf, s.start, s.end, depth);
    }
  }
}

function decodeSpecial(kind: ScalarKind, buf: Uint8Array, start: number, end: number, depth: number): unknown {
  return decodeWellKnown(kind as WellKnownKind, buf, start, end, (raw) => decodeEnvelope(raw, depth + 1));
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
