/**
 * Encodes a Swagger 2.0 document (JSON form, as v2-document.ts builds it) as gnostic's protobuf
 * `openapi.v2.Document` (github.com/google/gnostic-models openapiv2/OpenAPIv2.proto; the field numbers below
 * are that file's). client-go's `OpenAPISchema()` asks /openapi/v2 for exactly this
 * (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`) and unmarshals it without looking at
 * the Content-Type; JSON there would fail to parse.
 *
 * Only the parts of the message set skiff's documents use are mapped. A key with no mapping throws rather
 * than being dropped, so a document change that needs a new field cannot silently lose information.
 * Proto3 rules: empty strings, false and 0 are not written; present messages are, even when empty
 * (kube-openapi's parser distinguishes a schema with empty `properties` from one without).
 * Vendor extensions (`x-...` keys) become `NamedAny { name, value: Any { yaml } }`, the value as YAML
 * text, which is how kube-openapi reads them back (yaml.Unmarshal of `Any.yaml`).
 */
import { stringify as toYaml } from 'yaml';

type Json = Record<string, unknown>;
/** Encodes one message's JSON value to the message's bytes (without tag or length). */
type Encoder = (value: unknown, at: string) => Buffer;

/** Wire types (protobuf encoding spec). */
const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;

/** Encodes a Swagger 2.0 document as the bytes of a gnostic `openapi.v2.Document`. */
export function v2Protobuf(doc: Json): Buffer {
  return DOCUMENT(doc, '$');
}

// --- wire format ---

function varint(n: bigint): Buffer {
  const bytes: number[] = [];
  let v = BigInt.asUintN(64, n);
  while (v >= 0x80n) {
    bytes.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  bytes.push(Number(v));
  return Buffer.from(bytes);
}

function key(field: number, wire: number): Buffer {
  return varint(BigInt((field << 3) | wire));
}

function lengthDelimited(field: number, bytes: Buffer): Buffer {
  return Buffer.concat([key(field, LENGTH_DELIMITED), varint(BigInt(bytes.length)), bytes]);
}

// --- field kinds: each turns a JSON value into zero or more encoded fields ---

interface Field {
  number: number;
  encode(value: unknown, at: string): Buffer[];
}

function str(number: number): Field {
  return {
    number,
    encode: (v, at) => {
      if (typeof v !== 'string') throw new Error(`openapi v2 protobuf: ${at} is not a string`);
      return v === '' ? [] : [lengthDelimited(number, Buffer.from(v, 'utf8'))];
    },
  };
}

function strs(number: number): Field {
  return {
    number,
    encode: (v, at) => {
      if (!Array.isArray(v)) throw new Error(`openapi v2 protobuf: ${at} is not a list`);
      return v.map((s, i) => {
        if (typeof s !== 'string') throw new Error(`openapi v2 protobuf: ${at}[${i}] is not a string`);
        return lengthDelimited(number, Buffer.from(s, 'utf8'));
      });
    },
  };
}

function bool(number: number): Field {
  return {
    number,
    encode: (v, at) => {
      if (typeof v !== 'boolean') throw new Error(`openapi v2 protobuf: ${at} is not a boolean`);
      return v ? [key(number, VARINT), varint(1n)] : [];
    },
  };
}

function int64(number: number): Field {
  return {
    number,
    encode: (v, at) => {
      if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`openapi v2 protobuf: ${at} is not an integer`);
      return v === 0 ? [] : [key(number, VARINT), varint(BigInt(v))];
    },
  };
}

function double(number: number): Field {
  return {
    number,
    encode: (v, at) => {
      if (typeof v !== 'number') throw new Error(`openapi v2 protobuf: ${at} is not a number`);
      if (v === 0) return [];
      const b = Buffer.alloc(8);
      b.writeDoubleLE(v);
      return [key(number, FIXED64), b];
    },
  };
}

function msg(number: number, encoder: Encoder): Field {
  return { number, encode: (v, at) => [lengthDelimited(number, encoder(v, at))] };
}

function msgs(number: number, encoder: Encoder): Field {
  return {
    number,
    encode: (v, at) => {
      if (!Array.isArray(v)) throw new Error(`openapi v2 protobuf: ${at} is not a list`);
      return v.map((item, i) => lengthDelimited(number, encoder(item, `${at}[${i}]`)));
    },
  };
}

/** `Any { yaml = 2 }`: gnostic keeps free-form values (defaults, enums, examples, extensions) as YAML text. */
// lineWidth 0: no folding of long strings (still valid YAML, but needlessly unlike the JSON value).
const ANY: Encoder = (v) => lengthDelimited(2, Buffer.from(toYaml(v, { lineWidth: 0 }), 'utf8'));

function anys(number: number): Field {
  return msgs(number, ANY);
}

// --- messages ---

function asObject(value: unknown, at: string): Json {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`openapi v2 protobuf: ${at} is not an object`);
  return value as Json;
}

/** `NamedAny { name = 1; Any value = 2 }`. */
function namedAny(name: string, value: unknown): Buffer {
  return Buffer.concat([lengthDelimited(1, Buffer.from(name, 'utf8')), lengthDelimited(2, ANY(value, name))]);
}

/**
 * A message from a JSON object: each key maps to a field; `x-` keys go to the repeated `NamedAny` field
 * `extensions` when the message has one. Fields are written in field-number order, as protobuf encoders do.
 */
function message(fields: Record<string, Field>, extensions?: number): Encoder {
  return (value, at) => {
    const parts: { number: number; bytes: Buffer[] }[] = [];
    for (const [name, v] of Object.entries(asObject(value, at))) {
      if (v === undefined) continue;
      const field = Object.hasOwn(fields, name) ? fields[name] : undefined;
      if (field) parts.push({ number: field.number, bytes: field.encode(v, `${at}.${name}`) });
      else if (extensions !== undefined && name.startsWith('x-')) parts.push({ number: extensions, bytes: [lengthDelimited(extensions, namedAny(name, v))] });
      else throw new Error(`openapi v2 protobuf: ${at} has "${name}", which is not mapped to a field of the gnostic message`);
    }
    parts.sort((a, b) => a.number - b.number);
    return Buffer.concat(parts.flatMap((p) => p.bytes));
  };
}

/** A JSON object of named values as a message with one repeated `Named<T> { name = 1; T value = 2 }` field. */
function namedMap(field: number, valueEncoder: Encoder): Encoder {
  return (value, at) =>
    Buffer.concat(
      Object.entries(asObject(value, at)).map(([name, v]) =>
        lengthDelimited(field, Buffer.concat([lengthDelimited(1, Buffer.from(name, 'utf8')), lengthDelimited(2, valueEncoder(v, `${at}.${name}`))])),
      ),
    );
}

/** Picks one arm of a protobuf `oneof` wrapper message. */
function oneOf(choose: (value: Json, at: string) => [number, Encoder]): Encoder {
  return (value, at) => {
    const [number, encoder] = choose(asObject(value, at), at);
    return lengthDelimited(number, encoder(value, at));
  };
}

const JSON_REFERENCE = message({ $ref: str(1), description: str(2) });

// Schema is recursive: the function declaration is hoisted, SCHEMA_FIELDS is read at call time.
function schema(value: unknown, at: string): Buffer {
  return SCHEMA_MESSAGE(value, at);
}

/** `TypeItem { repeated string value = 1 }`: JSON `type` is one name or a list. */
const TYPE_ITEM: Encoder = (v, at) => Buffer.concat(strs(1).encode(typeof v === 'string' ? [v] : v, at));
/** `ItemsItem { repeated Schema schema = 1 }`: JSON `items` is one schema or a list. */
const ITEMS_ITEM: Encoder = (v, at) => Buffer.concat(msgs(1, schema).encode(Array.isArray(v) ? v : [v], at));
/** `AdditionalPropertiesItem { oneof { Schema schema = 1; bool boolean = 2 } }`; a oneof member is written even when false. */
const ADDITIONAL_PROPERTIES_ITEM: Encoder = (v, at) =>
  typeof v === 'boolean' ? Buffer.concat([key(2, VARINT), varint(v ? 1n : 0n)]) : lengthDelimited(1, schema(v, at));

const EXTERNAL_DOCS = message({ description: str(1), url: str(2) }, 3);

const SCHEMA_MESSAGE = message(
  {
    $ref: str(1),
    format: str(2),
    title: str(3),
    description: str(4),
    default: msg(5, ANY),
    multipleOf: double(6),
    maximum: double(7),
    exclusiveMaximum: bool(8),
    minimum: double(9),
    exclusiveMinimum: bool(10),
    maxLength: int64(11),
    minLength: int64(12),
    pattern: str(13),
    maxItems: int64(14),
    minItems: int64(15),
    uniqueItems: bool(16),
    maxProperties: int64(17),
    minProperties: int64(18),
    required: strs(19),
    enum: anys(20),
    additionalProperties: msg(21, ADDITIONAL_PROPERTIES_ITEM),
    type: msg(22, TYPE_ITEM),
    items: msg(23, ITEMS_ITEM),
    allOf: msgs(24, schema),
    properties: msg(25, namedMap(1, schema)),
    discriminator: str(26),
    readOnly: bool(27),
    externalDocs: msg(29, EXTERNAL_DOCS),
    example: msg(30, ANY),
  },
  31,
);

/** Fields shared by the non-body parameter messages; their numbers differ, so each lists its own. */
const QUERY_PARAMETER = message(
  {
    required: bool(1),
    in: str(2),
    description: str(3),
    name: str(4),
    allowEmptyValue: bool(5),
    type: str(6),
    format: str(7),
    collectionFormat: str(9),
    default: msg(10, ANY),
    uniqueItems: bool(20),
    enum: anys(21),
  },
  23,
);
const PATH_OR_HEADER_PARAMETER = message(
  {
    required: bool(1),
    in: str(2),
    description: str(3),
    name: str(4),
    type: str(5),
    format: str(6),
    collectionFormat: str(8),
    default: msg(9, ANY),
    uniqueItems: bool(19),
    enum: anys(20),
  },
  22,
);
const BODY_PARAMETER = message({ description: str(1), name: str(2), in: str(3), required: bool(4), schema: msg(5, schema) }, 6);

/** `NonBodyParameter { oneof { header = 1; form_data = 2; query = 3; path = 4 } }`. */
const NON_BODY_PARAMETER = oneOf((p, at) => {
  switch (p.in) {
    case 'query':
      return [3, QUERY_PARAMETER];
    case 'path':
      return [4, PATH_OR_HEADER_PARAMETER];
    case 'header':
      return [1, PATH_OR_HEADER_PARAMETER];
    default:
      throw new Error(`openapi v2 protobuf: ${at} is a parameter in ${JSON.stringify(p.in)}, which is not mapped`);
  }
});
/** `Parameter { oneof { BodyParameter body_parameter = 1; NonBodyParameter non_body_parameter = 2 } }`. */
const PARAMETER = oneOf((p) => (p.in === 'body' ? [1, BODY_PARAMETER] : [2, NON_BODY_PARAMETER]));
/** `ParametersItem { oneof { Parameter parameter = 1; JsonReference json_reference = 2 } }`. */
const PARAMETERS_ITEM = oneOf((p) => (p.$ref !== undefined ? [2, JSON_REFERENCE] : [1, PARAMETER]));

/** `SchemaItem { oneof { Schema schema = 1; FileSchema file_schema = 2 } }`; skiff never answers with files. */
const SCHEMA_ITEM = oneOf((s, at) => {
  if (s.type === 'file') throw new Error(`openapi v2 protobuf: ${at} is a file schema, which is not mapped`);
  return [1, schema];
});
const RESPONSE = message({ description: str(1), schema: msg(2, SCHEMA_ITEM) }, 5);
/** `ResponseValue { oneof { Response response = 1; JsonReference json_reference = 2 } }`. */
const RESPONSE_VALUE = oneOf((r) => (r.$ref !== undefined ? [2, JSON_REFERENCE] : [1, RESPONSE]));

/** `Responses { repeated NamedResponseValue response_code = 1; repeated NamedAny vendor_extension = 2 }`. */
const RESPONSES: Encoder = (value, at) => {
  const obj = asObject(value, at);
  const codes = Object.fromEntries(Object.entries(obj).filter(([k]) => !k.startsWith('x-')));
  const extensions = Object.entries(obj).filter(([k]) => k.startsWith('x-'));
  return Buffer.concat([namedMap(1, RESPONSE_VALUE)(codes, at), ...extensions.map(([k, v]) => lengthDelimited(2, namedAny(k, v)))]);
};

/** `StringArray { repeated string value = 1 }`. */
const STRING_ARRAY: Encoder = (v, at) => Buffer.concat(strs(1).encode(v, at));
/** `SecurityRequirement { repeated NamedStringArray additional_properties = 1 }`. */
const SECURITY_REQUIREMENT = namedMap(1, STRING_ARRAY);

const OPERATION = message(
  {
    tags: strs(1),
    summary: str(2),
    description: str(3),
    externalDocs: msg(4, EXTERNAL_DOCS),
    operationId: str(5),
    produces: strs(6),
    consumes: strs(7),
    parameters: msgs(8, PARAMETERS_ITEM),
    responses: msg(9, RESPONSES),
    schemes: strs(10),
    deprecated: bool(11),
    security: msgs(12, SECURITY_REQUIREMENT),
  },
  13,
);

const PATH_ITEM = message(
  {
    $ref: str(1),
    get: msg(2, OPERATION),
    put: msg(3, OPERATION),
    post: msg(4, OPERATION),
    delete: msg(5, OPERATION),
    options: msg(6, OPERATION),
    head: msg(7, OPERATION),
    patch: msg(8, OPERATION),
    parameters: msgs(9, PARAMETERS_ITEM),
  },
  10,
);

/** `Paths { repeated NamedAny vendor_extension = 1; repeated NamedPathItem path = 2 }`. */
const PATHS: Encoder = (value, at) => {
  const obj = asObject(value, at);
  const extensions = Object.entries(obj).filter(([k]) => k.startsWith('x-'));
  const paths = Object.fromEntries(Object.entries(obj).filter(([k]) => !k.startsWith('x-')));
  return Buffer.concat([...extensions.map(([k, v]) => lengthDelimited(1, namedAny(k, v))), namedMap(2, PATH_ITEM)(paths, at)]);
};

const API_KEY_SECURITY = message({ type: str(1), name: str(2), in: str(3), description: str(4) }, 5);
const BASIC_AUTHENTICATION_SECURITY = message({ type: str(1), description: str(2) }, 3);
/** `SecurityDefinitionsItem { oneof { basic = 1; api_key = 2; oauth2 flows = 3..6 } }`. */
const SECURITY_DEFINITIONS_ITEM = oneOf((s, at) => {
  if (s.type === 'apiKey') return [2, API_KEY_SECURITY];
  if (s.type === 'basic') return [1, BASIC_AUTHENTICATION_SECURITY];
  throw new Error(`openapi v2 protobuf: ${at} is a ${JSON.stringify(s.type)} security definition, which is not mapped`);
});

const INFO = message({ title: str(1), version: str(2), description: str(3), termsOfService: str(4) }, 7);

const DOCUMENT = message(
  {
    swagger: str(1),
    info: msg(2, INFO),
    host: str(3),
    basePath: str(4),
    schemes: strs(5),
    consumes: strs(6),
    produces: strs(7),
    paths: msg(8, PATHS),
    definitions: msg(9, namedMap(1, schema)),
    security: msgs(12, SECURITY_REQUIREMENT),
    securityDefinitions: msg(13, namedMap(1, SECURITY_DEFINITIONS_ITEM)),
  },
  16,
);
