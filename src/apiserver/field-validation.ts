/**
 * Decoding checks against the schema table, the part of kube-apiserver's JSON decoding that TypeScript does not do
 * for us: every value must have its field's type (a string where a string belongs, an integer for int32, ...),
 * or the request is a 400 BadRequest like Go's `json: cannot unmarshal ...`. `null` decodes to "absent", as Go's
 * zero values do, so the rest of the server never meets a null where it expects an object. Fields the type does
 * not declare are dropped, and reported for `fieldValidation=Strict` (and Warn) in the path form kube-apiserver's
 * strict decoder prints (`spec.template.spec.containers[0].imagePullPolicyy`).
 */
import { isValidQuantity } from '../api/quantity.js';
import { fieldOf, typeOf } from '../api/schema/schema.js';
import type { ScalarKind, SchemaType } from '../api/schema/types.js';

export interface DecodeReport {
  /** Paths of fields the schema does not know. */
  unknown: string[];
  /** Messages for values of the wrong type, e.g. `cannot unmarshal string into Go struct field metadata.labels of type map[string]string`. */
  typeErrors: string[];
}

/** Checks obj against its schema type; removes unknown fields and null-valued fields of typed objects (mutates obj). */
export function checkDecoded(typeName: string, obj: unknown): DecodeReport {
  const report: DecodeReport = { unknown: [], typeErrors: [] };
  if (typeOf(typeName) || !obj || typeof obj !== 'object' || Array.isArray(obj)) {
    walk({ kind: 'ref', name: typeName }, obj, [], report);
  } else {
    // A kind the schema table does not have yet: its metadata is still ObjectMeta, which the server reads everywhere.
    const metadata = (obj as Record<string, unknown>).metadata;
    if (metadata !== undefined) walk({ kind: 'ref', name: OBJECT_META }, metadata, ['metadata'], report);
  }
  return report;
}

const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';

/** Unknown fields only (no mutation). */
export function unknownFields(typeName: string, obj: unknown): string[] {
  return checkDecoded(typeName, structuredClone(obj)).unknown;
}

/** The JSON value's kind as Go's decoder names it in UnmarshalTypeError (`bool`, not JavaScript's `boolean`). */
function jsonType(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  if (typeof v === 'boolean') return 'bool';
  return typeof v === 'object' ? 'object' : typeof v;
}

function goType(t: SchemaType): string {
  switch (t.kind) {
    case 'scalar':
      return SCALAR_GO_TYPES[t.scalar];
    case 'ref':
      return `${t.name.slice(t.name.lastIndexOf('.') + 1)}`;
    case 'array':
      return `[]${goType(t.items)}`;
    case 'map':
      return `map[string]${goType(t.values)}`;
  }
}

const SCALAR_GO_TYPES: Record<ScalarKind, string> = {
  string: 'string',
  boolean: 'bool',
  int32: 'int32',
  int64: 'int64',
  double: 'float64',
  bytes: '[]uint8',
  time: 'Time',
  microtime: 'MicroTime',
  duration: 'Duration',
  quantity: 'Quantity',
  intOrString: 'IntOrString',
  rawExtension: 'RawExtension',
  fieldsV1: 'FieldsV1',
  any: 'JSON',
};

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function scalarError(kind: ScalarKind, v: unknown): string | undefined {
  switch (kind) {
    case 'string':
      return typeof v === 'string' ? undefined : jsonType(v);
    case 'boolean':
      return typeof v === 'boolean' ? undefined : jsonType(v);
    case 'int32':
    case 'int64':
      if (typeof v !== 'number') return jsonType(v);
      if (!Number.isInteger(v)) return `number ${v}`;
      if (kind === 'int32' && (v > 2147483647 || v < -2147483648)) return `number ${v}`;
      return undefined;
    case 'double':
      return typeof v === 'number' ? undefined : jsonType(v);
    case 'bytes':
      if (typeof v !== 'string') return jsonType(v);
      return BASE64.test(v) ? undefined : 'illegal base64 data';
    case 'time':
    case 'microtime':
      if (typeof v !== 'string') return jsonType(v);
      return v === '' || !Number.isNaN(Date.parse(v)) ? undefined : `string ${JSON.stringify(v)} (not an RFC 3339 time)`;
    case 'duration':
      return typeof v === 'string' ? undefined : jsonType(v);
    case 'quantity':
      if (typeof v === 'number') return undefined;
      if (typeof v !== 'string') return jsonType(v);
      return isValidQuantity(v) ? undefined : `string ${JSON.stringify(v)} (quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$')`;
    case 'intOrString':
      if (typeof v === 'string') return undefined;
      return typeof v === 'number' && Number.isInteger(v) ? undefined : jsonType(v);
    case 'rawExtension':
    case 'fieldsV1':
    case 'any':
      return undefined;
  }
}

/**
 * The path being walked, as a stack of segments: a field name, an array index (a number >= 0), or a map key (the
 * MAP_KEY marker, then the key). Its text (`spec.containers[0].env`, `metadata.labels[app]`) is made only when
 * something is reported: every write is walked, and building a path string (or a marked key) per field cost more than
 * the checks.
 */
type PathStack = (string | number)[];

const MAP_KEY = -1;

function pathText(segs: PathStack): string {
  let s = '';
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i]!;
    if (seg === MAP_KEY) s += `[${segs[++i]}]`;
    else if (typeof seg === 'number') s += `[${seg}]`;
    else s = s ? `${s}.${seg}` : seg;
  }
  return s;
}

function mismatch(report: DecodeReport, type: SchemaType, segs: PathStack, got: string): void {
  report.typeErrors.push(`cannot unmarshal ${got} into Go struct field ${pathText(segs) || '<root>'} of type ${goType(type)}`);
}

function walk(type: SchemaType, value: unknown, segs: PathStack, report: DecodeReport): void {
  if (value === null || value === undefined) return;
  switch (type.kind) {
    case 'scalar': {
      const err = scalarError(type.scalar, value);
      if (err) mismatch(report, type, segs, err);
      return;
    }
    case 'array':
      if (!Array.isArray(value)) return mismatch(report, type, segs, jsonType(value));
      for (let i = 0; i < value.length; i++) {
        if (value[i] === null) {
          mismatch(report, type, segs, 'null');
          continue;
        }
        segs.push(i);
        walk(type.items, value[i], segs, report);
        segs.pop();
      }
      return;
    case 'map': {
      if (typeof value !== 'object' || Array.isArray(value)) return mismatch(report, type, segs, jsonType(value));
      const record = value as Record<string, unknown>;
      for (const k in record) {
        const v = record[k];
        if (v === null) {
          delete record[k];
          continue;
        }
        segs.push(MAP_KEY, k);
        walk(type.values, v, segs, report);
        segs.length -= 2;
      }
      return;
    }
    case 'ref': {
      const def = typeOf(type.name);
      if (!def) return;
      if (typeof value !== 'object' || Array.isArray(value)) return mismatch(report, type, segs, jsonType(value));
      const record = value as Record<string, unknown>;
      for (const k in record) {
        const v = record[k];
        const field = fieldOf(type.name, k);
        if (!field) {
          // Unknown fields are reported (Strict refuses them) and dropped, as the Go decoder drops them.
          segs.push(k);
          report.unknown.push(pathText(segs));
          segs.pop();
          delete record[k];
          continue;
        }
        if (v === null) {
          delete record[k];
          continue;
        }
        segs.push(k);
        walk(field.type, v, segs, report);
        segs.pop();
      }
    }
  }
}
