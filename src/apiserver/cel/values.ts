/**
 * JSON values as CEL sees them. CEL has distinct int and double types; JSON has one number type, so the schema
 * decides when there is one (`type: integer` is int, `type: number` is double, as Kubernetes' UnstructuredToVal
 * does), and without a schema a whole number is an int and any other a double (a Kubernetes object's whole-number
 * fields are integers in its OpenAPI schema). Objects stay plain objects (CEL maps), arrays stay arrays.
 */

/** The parts of an OpenAPI v3 schema that decide a value's CEL type. */
export interface CelSchema {
  type?: string;
  properties?: Record<string, CelSchema>;
  additionalProperties?: CelSchema | boolean;
  items?: CelSchema;
  'x-kubernetes-int-or-string'?: boolean;
}

/** A CEL value for the JSON value v (a copy; v is not changed). */
export function toCel(v: unknown, schema?: CelSchema): unknown {
  if (typeof v === 'number') {
    if (schema?.type === 'number') return v;
    return Number.isInteger(v) ? BigInt(v) : v;
  }
  if (Array.isArray(v)) {
    const items = schema?.items;
    return v.map((x) => toCel(x, items));
  }
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    const props = schema?.properties;
    const extra = typeof schema?.additionalProperties === 'object' ? schema.additionalProperties : undefined;
    for (const k of Object.keys(v)) out[k] = toCel((v as Record<string, unknown>)[k], props?.[k] ?? extra);
    return out;
  }
  return v;
}

/** A JSON value for a CEL result (ints as numbers when safe, else as strings). */
export function fromCel(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (Array.isArray(v)) return v.map(fromCel);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), fromCel(x)]));
  if (v !== null && typeof v === 'object') {
    if (typeof (v as { toString?: unknown }).toString === 'function' && (v as object).constructor !== Object) return String(v);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromCel(x)]));
  }
  return v;
}
