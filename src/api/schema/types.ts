/**
 * The shape of Kubernetes API types as data: field names, types, patch metadata and protobuf tags.
 * One table (src/api/schema/kinds.generated.ts, produced by scripts/gen-schema from the upstream Go type
 * definitions' struct tags: facts of the API, not code) drives strategic merge patch, strict field
 * validation, OpenAPI documents and protobuf decoding.
 *
 * Type names are the OpenAPI definition names, e.g. `io.k8s.api.core.v1.Pod`,
 * `io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta`.
 */

export type ScalarKind =
  | 'string'
  | 'boolean'
  | 'int32'
  | 'int64'
  | 'double'
  /** base64 in JSON (`[]byte` in Go). */
  | 'bytes'
  /** meta/v1 Time: RFC 3339 string in JSON; proto {1: seconds int64, 2: nanos int32}. */
  | 'time'
  /** meta/v1 MicroTime: RFC 3339 with microseconds; proto like Time. */
  | 'microtime'
  /** meta/v1 Duration: a Go duration string in JSON; proto {1: duration int64 nanoseconds}. */
  | 'duration'
  /** resource.Quantity: a string in JSON; proto {1: string}. */
  | 'quantity'
  /** intstr.IntOrString: number or string in JSON; proto {1: type int64, 2: intVal int32, 3: strVal string}. */
  | 'intOrString'
  /** runtime.RawExtension: any JSON; proto {1: raw bytes (JSON)}. */
  | 'rawExtension'
  /** meta/v1 FieldsV1: any JSON; proto {1: Raw bytes (JSON)}. */
  | 'fieldsV1'
  /** apiextensions JSON and other free-form values. */
  | 'any';

export type SchemaType =
  | { kind: 'scalar'; scalar: ScalarKind }
  | { kind: 'ref'; name: string }
  | { kind: 'array'; items: SchemaType }
  | { kind: 'map'; values: SchemaType };

export interface FieldDef {
  /** JSON name. An embedded struct with `json:",inline"` is flattened into its parent by the generator. */
  json: string;
  type: SchemaType;
  /** Protobuf field number from the `protobuf:"..."` tag. */
  proto?: number;
  /** From `patchStrategy:"..."`: `merge`, `replace`, `retainKeys` or `merge,retainKeys`. */
  patchStrategy?: string;
  /** From `patchMergeKey:"..."`. */
  patchMergeKey?: string;
  /** From `+listType=` markers: atomic, set or map. */
  listType?: 'atomic' | 'set' | 'map';
  /** From `+listMapKey=` markers. */
  listMapKeys?: string[];
  /** From `+mapType=` / `+structType=`: atomic or granular. */
  mapType?: 'atomic' | 'granular';
  /** True when the field has no `omitempty` and is not a pointer (the API requires it), or `+required`. */
  required?: boolean;
  /** First sentence of the Go doc comment, for OpenAPI descriptions and `kubectl explain`. */
  description?: string;
}

export interface TypeDef {
  name: string;
  /** Set on top-level kinds: the group/version/kind they are served as. */
  gvk?: { group: string; version: string; kind: string };
  fields: FieldDef[];
  description?: string;
}

export type SchemaTable = Record<string, TypeDef>;
