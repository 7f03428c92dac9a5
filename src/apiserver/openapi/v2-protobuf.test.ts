import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { resources } from '../registry/index.js';
import { OpenApiV3 } from './openapi.js';
import { v2Protobuf } from './v2-protobuf.js';

type Json = Record<string, any>;

// --- a tiny protobuf reader, written against gnostic-models openapiv2/OpenAPIv2.proto independently of the encoder ---

type Value = bigint | Buffer;
/** One message's fields: field number -> values in wire order (varint/fixed64 as bigint, length-delimited as bytes). */
type Fields = Map<number, Value[]>;

function decode(buf: Buffer): Fields {
  const out: Fields = new Map();
  let pos = 0;
  const readVarint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw new Error('truncated varint');
      const b = buf[pos++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(readVarint());
    const field = key >> 3;
    const wire = key & 7;
    let value: Value;
    if (wire === 0) value = readVarint();
    else if (wire === 1) {
      value = buf.readBigUInt64LE(pos);
      pos += 8;
    } else if (wire === 2) {
      const len = Number(readVarint());
      if (pos + len > buf.length) throw new Error(`field ${field}: length ${len} past the end`);
      value = buf.subarray(pos, pos + len);
      pos += len;
    } else throw new Error(`field ${field}: unexpected wire type ${wire}`);
    const list = out.get(field) ?? [];
    list.push(value);
    out.set(field, list);
  }
  return out;
}

const bytes = (f: Fields, n: number): Buffer[] => (f.get(n) ?? []).map((v) => v as Buffer);
const msg = (f: Fields, n: number): Fields | undefined => {
  const b = bytes(f, n);
  return b.length ? decode(b[b.length - 1]) : undefined;
};
const str = (f: Fields, n: number): string | undefined => {
  const b = bytes(f, n);
  return b.length ? b[b.length - 1].toString('utf8') : undefined;
};
const strs = (f: Fields, n: number): string[] => bytes(f, n).map((b) => b.toString('utf8'));
const bool = (f: Fields, n: number): boolean | undefined => (f.has(n) ? (f.get(n)![0] as bigint) !== 0n : undefined);

/** Repeated `Named* { name = 1; value = 2 }` entries. */
function named(f: Fields, n: number): [string, Fields][] {
  return bytes(f, n).map((b) => {
    const entry = decode(b);
    return [str(entry, 1)!, msg(entry, 2) ?? new Map()];
  });
}

/** Repeated `NamedAny` vendor extensions, values parsed from `Any.yaml` (field 2) as kube-openapi does. */
function extensions(f: Fields, n: number): Json {
  return Object.fromEntries(named(f, n).map(([name, any]) => [name, parseYaml(str(any, 2)!)]));
}

/** `Schema` back to JSON (the fields skiff's definitions use; field numbers from the .proto). */
function schemaJson(f: Fields): Json {
  const out: Json = {};
  if (str(f, 1) !== undefined) out.$ref = str(f, 1);
  if (str(f, 2) !== undefined) out.format = str(f, 2);
  if (str(f, 4) !== undefined) out.description = str(f, 4);
  if (f.has(19)) out.required = strs(f, 19);
  const additional = msg(f, 21);
  if (additional) out.additionalProperties = additional.has(2) ? bool(additional, 2) : schemaJson(msg(additional, 1)!);
  const type = msg(f, 22);
  if (type) out.type = strs(type, 1)[0];
  const items = msg(f, 23);
  if (items) out.items = schemaJson(decode(bytes(items, 1)[0]));
  const properties = msg(f, 25);
  if (properties) out.properties = Object.fromEntries(named(properties, 1).map(([k, v]) => [k, schemaJson(v)]));
  Object.assign(out, extensions(f, 31));
  const known = new Set([1, 2, 4, 19, 21, 22, 23, 25, 31]);
  for (const n of f.keys()) if (!known.has(n)) out[`#${n}`] = true;
  return out;
}

/** Sorts object keys recursively so documents compare regardless of key order. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Json)[k])]));
  }
  return value;
}

describe('v2Protobuf: the /openapi/v2 document as gnostic protobuf', () => {
  const api = new OpenApiV3(resources);
  const json: Json = JSON.parse(api.openApiV2.json());
  const doc = decode(api.openApiV2.protobuf());

  test('the Document carries swagger, info, security and the BearerToken definition', () => {
    assert.equal(str(doc, 1), '2.0');
    const info = msg(doc, 2)!;
    assert.equal(str(info, 1), json.info.title);
    assert.equal(str(info, 2), json.info.version);
    const security = named(msg(doc, 13)!, 1);
    assert.deepEqual(security.map(([n]) => n), ['BearerToken']);
    const apiKey = msg(security[0][1], 2)!; // SecurityDefinitionsItem.api_key_security
    assert.deepEqual([str(apiKey, 1), str(apiKey, 2), str(apiKey, 3)], ['apiKey', 'authorization', 'header']);
    const requirement = named(decode(bytes(doc, 12)[0]), 1);
    assert.deepEqual(requirement.map(([n]) => n), ['BearerToken']);
  });

  test('every definition decodes back to its JSON schema, extensions included', () => {
    const definitions = named(msg(doc, 9)!, 1);
    assert.deepEqual(definitions.map(([n]) => n), Object.keys(json.definitions));
    assert.ok(definitions.length > 300, `only ${definitions.length} definitions`);
    for (const [name, schema] of definitions) {
      assert.deepEqual(canonical(schemaJson(schema)), canonical(json.definitions[name]), name);
    }
  });

  test('a kind carries its GVK list and its fields their patch metadata, as YAML kubectl can read', () => {
    const definitions = new Map(named(msg(doc, 9)!, 1));
    const deployment = definitions.get('io.k8s.api.apps.v1.Deployment')!;
    assert.deepEqual(extensions(deployment, 31)['x-kubernetes-group-version-kind'], [{ group: 'apps', kind: 'Deployment', version: 'v1' }]);
    const podSpec = new Map(named(msg(definitions.get('io.k8s.api.core.v1.PodSpec')!, 25)!, 1));
    const containers = podSpec.get('containers')!;
    assert.equal(strs(msg(containers, 22)!, 1)[0], 'array');
    assert.equal(str(decode(bytes(msg(containers, 23)!, 1)[0]), 1), '#/definitions/io.k8s.api.core.v1.Container');
    const ext = extensions(containers, 31);
    assert.equal(ext['x-kubernetes-patch-strategy'], 'merge');
    assert.equal(ext['x-kubernetes-patch-merge-key'], 'name');
    const configMap = definitions.get('io.k8s.api.core.v1.ConfigMap')!;
    // The core group is the empty string; it must survive the YAML round trip as "" (not null).
    assert.deepEqual(extensions(configMap, 31)['x-kubernetes-group-version-kind'], [{ group: '', kind: 'ConfigMap', version: 'v1' }]);
  });

  test('every path and operation decodes to the JSON: GVK, consumes, body and query parameters, responses', () => {
    const paths = named(msg(doc, 8)!, 2);
    assert.deepEqual(paths.map(([p]) => p), Object.keys(json.paths));
    const methods: [string, number][] = [['get', 2], ['put', 3], ['post', 4], ['delete', 5], ['patch', 8]];
    let patches = 0;
    for (const [path, item] of paths) {
      const jsonItem = json.paths[path];
      for (const [method, n] of methods) {
        const op = msg(item, n);
        assert.equal(op !== undefined, jsonItem[method] !== undefined, `${method} ${path}`);
        if (!op) continue;
        const want = jsonItem[method];
        assert.equal(str(op, 5), want.operationId);
        assert.deepEqual(strs(op, 7), want.consumes ?? [], `consumes of ${method} ${path}`);
        assert.deepEqual(strs(op, 6), want.produces ?? []);
        const ext = extensions(op, 13);
        assert.deepEqual(ext['x-kubernetes-group-version-kind'], want['x-kubernetes-group-version-kind']);
        assert.equal(ext['x-kubernetes-action'], want['x-kubernetes-action']);
        // ParametersItem.parameter(1) -> Parameter.body_parameter(1) | non_body_parameter(2) -> query(3) | path(4)
        const params = bytes(op, 8).map((b) => {
          const parameter = msg(decode(b), 1)!;
          const body = msg(parameter, 1);
          if (body) return { name: str(body, 2), in: str(body, 3), required: bool(body, 4) ?? false, $ref: str(msg(body, 5)!, 1) };
          const nonBody = msg(parameter, 2)!;
          const query = msg(nonBody, 3);
          assert.ok(query, `${method} ${path}: only query parameters on operations`);
          return { name: str(query, 4), in: str(query, 2), type: str(query, 6) };
        });
        assert.deepEqual(
          params,
          (want.parameters ?? []).map((p: Json) =>
            p.in === 'body' ? { name: p.name, in: p.in, required: p.required, $ref: p.schema.$ref } : { name: p.name, in: p.in, type: p.type },
          ),
        );
        const responses = named(msg(op, 9)!, 1).map(([code, value]) => {
          const response = msg(value, 1)!; // ResponseValue.response
          const schema = msg(response, 2); // SchemaItem
          return [code, str(response, 1), schema ? str(msg(schema, 1)!, 1) : undefined];
        });
        assert.deepEqual(responses, Object.entries<Json>(want.responses).map(([code, r]) => [code, r.description, r.schema?.$ref]));
        if (method === 'patch') patches++;
      }
      const pathParams = bytes(item, 9).map((b) => {
        const p = msg(msg(msg(decode(b), 1)!, 2)!, 4)!; // ParametersItem -> Parameter -> NonBodyParameter -> path
        return { name: str(p, 4), in: str(p, 2), required: bool(p, 1), type: str(p, 5) };
      });
      assert.deepEqual(pathParams, (jsonItem.parameters ?? []).map((p: Json) => ({ name: p.name, in: p.in, required: p.required, type: p.type })));
    }
    assert.ok(patches > 40, `only ${patches} PATCH operations`);
  });

  test('additionalProperties false is written (a oneof member has presence even at its default)', () => {
    const f = decode(v2Protobuf({ swagger: '2.0', definitions: { Closed: { type: 'object', additionalProperties: false } } }));
    const closed = named(msg(f, 9)!, 1)[0][1];
    const additional = msg(closed, 21)!;
    assert.equal(bool(additional, 2), false);
  });

  test('large varints and UTF-8 text survive', () => {
    const description = `${'ü'.repeat(200)} ✓`;
    const f = decode(v2Protobuf({ swagger: '2.0', definitions: { Big: { type: 'string', maxLength: 2 ** 40, description } } }));
    const big = named(msg(f, 9)!, 1)[0][1];
    assert.equal(f.get(9)!.length, 1);
    assert.equal(big.get(11)![0], 2n ** 40n);
    assert.equal(str(big, 4), description);
  });

  test('a key with no protobuf field is an error naming where it is, not silently dropped', () => {
    assert.throws(
      () => v2Protobuf({ swagger: '2.0', definitions: { Q: { oneOf: [{ type: 'string' }] } } }),
      /\$\.definitions\.Q has "oneOf"/,
    );
  });
});
