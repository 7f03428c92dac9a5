/**
 * Turns parsed Go API packages into skiff's schema table: the closure of types reachable from a set of
 * root kinds, with JSON names, types, patch metadata, list/map markers, protobuf numbers, required flags
 * and one-line descriptions. The rules follow what Kubernetes' own generators read from the same source:
 * - JSON names and `inline` flattening as encoding/json does them;
 * - required as kube-openapi's openapi-gen decides it: `+required` wins, then `+optional`, then a field
 *   without `omitempty` is required (pointers included: DeploymentSpec.selector is `*LabelSelector`
 *   without omitempty, and OpenAPI lists it as required);
 * - patch metadata from the struct tags (what strategic merge patch reads by reflection), markers as
 *   fallback;
 * - descriptions without `+marker` lines and without anything after a `---` line, as openapi-gen does.
 */
import type { FieldDef, SchemaTable, SchemaType, TypeDef } from '../../src/api/schema/types.js';
import { parseStructTag, type GoField, type GoFile, type GoType, type GoTypeDecl } from './parse-go-file.js';

export interface GoPackage {
  /** Go import path, e.g. `k8s.io/api/core/v1`. */
  importPath: string;
  files: GoFile[];
  /** register.go's text, where GroupName, the version and the registered kinds are read from. */
  registerSource?: string;
}

export interface BuildOptions {
  packages: GoPackage[];
  /** Kinds to start the closure from, by package; each kind's `<Kind>List` is added when registered. */
  roots: { importPath: string; kinds: string[] }[];
  /**
   * meta/v1 kinds that every group version accepts (Status, DeleteOptions, WatchEvent). They get
   * gvk {group: '', version: 'v1'} as in the OpenAPI document's first x-kubernetes-group-version-kind.
   */
  metaKinds: string[];
  /** Loads a package that a type refers to but `packages` lacks (e.g. an alpha group); undefined if unknown. */
  loadPackage?: (importPath: string) => GoPackage | undefined;
}

/** An inline-embedded struct that protobuf keeps as a nested message (e.g. Volume.volumeSource = 2). */
export interface ProtoEmbedding {
  proto: number;
  type: string;
}

export interface BuildResult {
  table: SchemaTable;
  protoEmbedded: Record<string, ProtoEmbedding[]>;
  warnings: string[];
}

const META_V1 = 'k8s.io/apimachinery/pkg/apis/meta/v1';

/** Go types whose JSON and protobuf forms are special (custom marshallers), by `importPath.Name`. */
const SPECIAL_SCALARS: Record<string, SchemaType> = {
  [`${META_V1}.Time`]: { kind: 'scalar', scalar: 'time' },
  [`${META_V1}.MicroTime`]: { kind: 'scalar', scalar: 'microtime' },
  [`${META_V1}.Duration`]: { kind: 'scalar', scalar: 'duration' },
  [`${META_V1}.FieldsV1`]: { kind: 'scalar', scalar: 'fieldsV1' },
  'k8s.io/apimachinery/pkg/api/resource.Quantity': { kind: 'scalar', scalar: 'quantity' },
  'k8s.io/apimachinery/pkg/util/intstr.IntOrString': { kind: 'scalar', scalar: 'intOrString' },
  'k8s.io/apimachinery/pkg/runtime.RawExtension': { kind: 'scalar', scalar: 'rawExtension' },
};

const BUILTINS: Record<string, SchemaType> = {
  string: { kind: 'scalar', scalar: 'string' },
  bool: { kind: 'scalar', scalar: 'boolean' },
  int32: { kind: 'scalar', scalar: 'int32' },
  int64: { kind: 'scalar', scalar: 'int64' },
  float64: { kind: 'scalar', scalar: 'double' },
};

/** `k8s.io/api/core/v1` -> `io.k8s.api.core.v1` (the OpenAPI definition name prefix). */
export function openAPIPackageName(importPath: string): string {
  const [domain, ...rest] = importPath.split('/');
  return [...domain.split('.').reverse(), ...rest].join('.').replace(/-/g, '_');
}

/** `+key=value` marker lines of a comment block, key -> values in order. */
export function parseMarkers(doc: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const raw of doc) {
    const line = raw.trim();
    if (!line.startsWith('+')) continue;
    const eq = line.indexOf('=');
    const key = (eq < 0 ? line.slice(1) : line.slice(1, eq)).trim();
    const value = eq < 0 ? '' : line.slice(eq + 1).trim();
    out.set(key, [...(out.get(key) ?? []), value]);
  }
  return out;
}

const ABBREVIATIONS = /(?:^|\s)(?:e\.g|i\.e|etc|vs|approx|Ex|ex)\.$/;
const MAX_DESCRIPTION = 200;

/** The first sentence of a Go doc comment, without markers and anything after `---`, capped in length. */
export function firstSentence(doc: string[]): string | undefined {
  const prose: string[] = [];
  for (const raw of doc) {
    const line = raw.trim();
    if (line.startsWith('---')) break;
    if (line.startsWith('+') || line === '') continue;
    prose.push(line);
  }
  const text = prose.join(' ').replace(/\s+/g, ' ').trim();
  if (!text) return undefined;
  let end = text.length;
  for (const m of text.matchAll(/[.!?](?=\s|$)/g)) {
    const head = text.slice(0, m.index! + 1);
    if (ABBREVIATIONS.test(head)) continue;
    end = m.index! + 1;
    break;
  }
  let sentence = text.slice(0, end);
  if (sentence.length > MAX_DESCRIPTION) {
    const cut = sentence.lastIndexOf(' ', MAX_DESCRIPTION - 1);
    sentence = `${sentence.slice(0, cut > 100 ? cut : MAX_DESCRIPTION - 1)}…`;
  }
  return sentence;
}

interface DeclRef {
  pkg: GoPackage;
  file: GoFile;
  decl: GoTypeDecl;
}

interface Registration {
  group: string;
  version: string;
  kinds: Set<string>;
}

function readRegistration(pkg: GoPackage): Registration | undefined {
  const src = pkg.registerSource;
  if (!src) return undefined;
  const group = /const\s+GroupName\s*=\s*"([^"]*)"/.exec(src)?.[1];
  const version = /SchemeGroupVersion\s*=\s*schema\.GroupVersion\{[^}]*Version:\s*"([^"]+)"/.exec(src)?.[1];
  if (group === undefined || version === undefined) {
    throw new Error(`${pkg.importPath}/register.go: GroupName or SchemeGroupVersion not found`);
  }
  const kinds = new Set<string>();
  for (const block of src.matchAll(/AddKnownTypes\(\s*SchemeGroupVersion\s*,([^)]*)\)/g)) {
    for (const m of block[1].matchAll(/&([A-Za-z_]\w*)\{\}/g)) kinds.add(m[1]);
  }
  return { group, version, kinds };
}

class SchemaBuilder {
  private readonly packages = new Map<string, GoPackage>();
  private readonly decls = new Map<string, DeclRef>();
  private readonly registrations = new Map<string, Registration>();
  private readonly table: SchemaTable = {};
  private readonly protoEmbedded: Record<string, ProtoEmbedding[]> = {};
  private readonly queue: DeclRef[] = [];
  private readonly queued = new Set<string>();
  private readonly structFieldsCache = new Map<string, { fields: FieldDef[]; embeddings: ProtoEmbedding[] }>();
  readonly warnings: string[] = [];

  constructor(private readonly options: BuildOptions) {
    for (const pkg of options.packages) this.addPackage(pkg);
  }

  private addPackage(pkg: GoPackage): void {
    this.packages.set(pkg.importPath, pkg);
    for (const file of pkg.files) {
      for (const decl of file.types) {
        const key = `${pkg.importPath}.${decl.name}`;
        const seen = this.decls.get(key);
        if (seen) throw new Error(`${decl.name} declared twice: ${seen.file.path}:${seen.decl.line} and ${file.path}:${decl.line}`);
        this.decls.set(key, { pkg, file, decl });
      }
    }
    const reg = readRegistration(pkg);
    if (reg) this.registrations.set(pkg.importPath, reg);
  }

  build(): BuildResult {
    for (const root of this.options.roots) {
      const reg = this.registrations.get(root.importPath);
      if (!reg) throw new Error(`no register.go read for root package ${root.importPath}`);
      for (const kind of root.kinds) {
        if (!reg.kinds.has(kind)) throw new Error(`${root.importPath}: ${kind} is not registered in register.go`);
        this.enqueue(this.lookup(root.importPath, kind, `root ${kind}`));
        if (reg.kinds.has(`${kind}List`)) this.enqueue(this.lookup(root.importPath, `${kind}List`, `root ${kind}List`));
      }
    }
    for (const kind of this.options.metaKinds) this.enqueue(this.lookup(META_V1, kind, `meta kind ${kind}`));

    for (let ref = this.queue.shift(); ref; ref = this.queue.shift()) {
      const name = this.nameOf(ref);
      const { fields, embeddings } = this.structFields(ref);
      const def: TypeDef = { name, fields };
      const gvk = this.gvkOf(ref);
      if (gvk) def.gvk = gvk;
      const description = firstSentence(ref.decl.doc);
      if (description) def.description = description;
      this.table[name] = def;
      if (embeddings.length) this.protoEmbedded[name] = embeddings;
    }
    return { table: this.table, protoEmbedded: this.protoEmbedded, warnings: this.warnings };
  }

  private nameOf(ref: DeclRef): string {
    return `${openAPIPackageName(ref.pkg.importPath)}.${ref.decl.name}`;
  }

  private gvkOf(ref: DeclRef): TypeDef['gvk'] {
    if (ref.pkg.importPath === META_V1) {
      return this.options.metaKinds.includes(ref.decl.name) ? { group: '', version: 'v1', kind: ref.decl.name } : undefined;
    }
    const reg = this.registrations.get(ref.pkg.importPath);
    if (!reg?.kinds.has(ref.decl.name)) return undefined;
    return { group: reg.group, version: reg.version, kind: ref.decl.name };
  }

  private lookup(importPath: string, name: string, where: string): DeclRef {
    if (!this.packages.has(importPath)) {
      const pkg = this.options.loadPackage?.(importPath);
      if (pkg) this.addPackage(pkg);
    }
    const ref = this.decls.get(`${importPath}.${name}`);
    if (!ref) {
      const why = this.packages.has(importPath) ? 'not declared there' : 'package not loaded';
      throw new Error(`${where}: type ${importPath}.${name} not found (${why})`);
    }
    return ref;
  }

  private enqueue(ref: DeclRef): void {
    if (ref.decl.type.k !== 'struct') throw new Error(`${ref.file.path}:${ref.decl.line}: ${ref.decl.name} is not a struct`);
    const name = this.nameOf(ref);
    if (this.queued.has(name)) return;
    this.queued.add(name);
    this.queue.push(ref);
  }

  /** Finds the declaration a named Go type refers to, or its builtin/special scalar. */
  private named(t: { pkg?: string; name: string }, ctx: DeclRef, where: string): { scalar: SchemaType } | { ref: DeclRef } {
    if (!t.pkg && BUILTINS[t.name]) return { scalar: BUILTINS[t.name] };
    let importPath = ctx.pkg.importPath;
    if (t.pkg) {
      const imported = ctx.file.imports.get(t.pkg);
      if (!imported) throw new Error(`${where}: unknown package qualifier ${t.pkg}`);
      importPath = imported;
    }
    const special = SPECIAL_SCALARS[`${importPath}.${t.name}`];
    if (special) return { scalar: special };
    if (!t.pkg && !this.decls.has(`${importPath}.${t.name}`)) throw new Error(`${where}: unsupported Go type ${t.name}`);
    return { ref: this.lookup(importPath, t.name, where) };
  }

  /** The schema type of a Go type expression; structs become refs (and join the closure). */
  private resolve(t: GoType, ctx: DeclRef, where: string): SchemaType {
    switch (t.k) {
      case 'pointer':
        return this.resolve(t.elem, ctx, where);
      case 'slice':
        if (t.elem.k === 'named' && !t.elem.pkg && (t.elem.name === 'byte' || t.elem.name === 'uint8')) {
          return { kind: 'scalar', scalar: 'bytes' };
        }
        return { kind: 'array', items: this.resolve(t.elem, ctx, where) };
      case 'map': {
        const key = this.resolve(t.key, ctx, `${where} (map key)`);
        if (key.kind !== 'scalar' || key.scalar !== 'string') throw new Error(`${where}: map keys must be strings`);
        return { kind: 'map', values: this.resolve(t.elem, ctx, where) };
      }
      case 'named': {
        const found = this.named(t, ctx, where);
        if ('scalar' in found) return found.scalar;
        const { decl } = found.ref;
        if (decl.type.k === 'struct') {
          this.enqueue(found.ref);
          return { kind: 'ref', name: this.nameOf(found.ref) };
        }
        return this.resolve(decl.type, found.ref, `${where} -> ${decl.name}`);
      }
      case 'struct':
        throw new Error(`${where}: anonymous struct types are not supported`);
      case 'unsupported':
        throw new Error(`${where}: unsupported Go type (${t.reason})`);
    }
  }

  /** Type-level markers of the named type a field refers to (e.g. `+structType=atomic` on LabelSelector). */
  private typeMarkers(t: GoType, ctx: DeclRef, where: string): Map<string, string[]> {
    while (t.k === 'pointer') t = t.elem;
    if (t.k !== 'named') return new Map();
    const found = this.named(t, ctx, where);
    if ('scalar' in found) return new Map();
    return parseMarkers([...found.ref.decl.doc2, ...found.ref.decl.doc]);
  }

  private structFields(ref: DeclRef): { fields: FieldDef[]; embeddings: ProtoEmbedding[] } {
    const key = this.nameOf(ref);
    const cached = this.structFieldsCache.get(key);
    if (cached) return cached;
    if (ref.decl.type.k !== 'struct') throw new Error(`${key} is not a struct`);
    const fields: FieldDef[] = [];
    const embeddings: ProtoEmbedding[] = [];
    for (const goField of ref.decl.type.fields) this.addField(ref, goField, fields, embeddings);
    const seen = new Set<string>();
    for (const f of fields) {
      if (seen.has(f.json)) throw new Error(`${key}: JSON field ${f.json} appears twice`);
      seen.add(f.json);
    }
    const result = { fields, embeddings };
    this.structFieldsCache.set(key, result);
    return result;
  }

  private addField(ref: DeclRef, goField: GoField, out: FieldDef[], embeddings: ProtoEmbedding[]): void {
    const where = `${ref.file.path}:${goField.line}`;
    const tags = parseStructTag(goField.tag);
    const jsonTag = tags.get('json');
    if (jsonTag === '-') return;
    const [jsonName = '', ...jsonOptions] = (jsonTag ?? '').split(',');
    const protoTag = tags.get('protobuf');
    const protoNumber = protoTag && protoTag !== '-' ? Number(protoTag.split(',')[1]) : undefined;
    if (protoNumber !== undefined && !Number.isInteger(protoNumber)) throw new Error(`${where}: bad protobuf tag ${protoTag}`);

    if (goField.names.length === 0) {
      // An embedded struct without a JSON name is flattened (encoding/json); with one, it is a normal field.
      if (jsonName === '') {
        let t = goField.type;
        while (t.k === 'pointer') t = t.elem;
        if (t.k !== 'named') throw new Error(`${where}: cannot embed this type`);
        const found = this.named(t, ref, where);
        if ('scalar' in found || found.ref.decl.type.k !== 'struct') throw new Error(`${where}: inline field is not a struct`);
        // Protobuf keeps an inline struct as one nested message; the flattened JSON fields carry no
        // numbers of their own in the parent (theirs belong to the nested message).
        for (const f of this.structFields(found.ref).fields) {
          const { proto: _proto, ...flat } = f;
          out.push(flat);
        }
        if (protoNumber !== undefined) {
          this.enqueue(found.ref);
          embeddings.push({ proto: protoNumber, type: this.nameOf(found.ref) });
        }
        return;
      }
      const t = goField.type.k === 'pointer' ? goField.type.elem : goField.type;
      goField = { ...goField, names: [t.k === 'named' ? t.name : 'embedded'] };
    }
    if (jsonTag === undefined) throw new Error(`${where}: field ${goField.names.join(', ')} has no json tag`);

    const markers = parseMarkers(goField.doc);
    const typeMarkers = this.typeMarkers(goField.type, ref, where);
    for (const goName of goField.names) {
      const field: FieldDef = { json: jsonName || goName, type: this.resolve(goField.type, ref, where) };
      if (protoNumber !== undefined) field.proto = protoNumber;

      const strategy = tags.get('patchStrategy') ?? markers.get('patchStrategy')?.[0];
      const mergeKey = tags.get('patchMergeKey') ?? markers.get('patchMergeKey')?.[0];
      const markerStrategy = markers.get('patchStrategy')?.[0];
      if (tags.has('patchStrategy') && markerStrategy !== undefined && markerStrategy !== tags.get('patchStrategy')) {
        this.warnings.push(`${where}: patchStrategy tag ${tags.get('patchStrategy')} differs from marker ${markerStrategy}; using the tag`);
      }
      if (strategy) field.patchStrategy = strategy;
      if (mergeKey) field.patchMergeKey = mergeKey;

      const listType = markers.get('listType')?.[0] ?? typeMarkers.get('listType')?.[0];
      if (listType) {
        if (listType !== 'atomic' && listType !== 'set' && listType !== 'map') throw new Error(`${where}: bad +listType=${listType}`);
        field.listType = listType;
      }
      const listMapKeys = markers.get('listMapKey') ?? typeMarkers.get('listMapKey');
      if (listMapKeys?.length) field.listMapKeys = listMapKeys;
      const mapType =
        markers.get('mapType')?.[0] ??
        markers.get('structType')?.[0] ??
        typeMarkers.get('mapType')?.[0] ??
        typeMarkers.get('structType')?.[0];
      if (mapType) {
        if (mapType !== 'atomic' && mapType !== 'granular') throw new Error(`${where}: bad map/struct type ${mapType}`);
        field.mapType = mapType;
      }

      const required = markers.has('required') || (!markers.has('optional') && !jsonOptions.includes('omitempty'));
      if (markers.has('required') && markers.has('optional')) throw new Error(`${where}: both +required and +optional`);
      if (required) field.required = true;

      const description = firstSentence(goField.doc);
      if (description) field.description = description;
      out.push(field);
    }
  }
}

export function buildSchemaTable(options: BuildOptions): BuildResult {
  return new SchemaBuilder(options).build();
}
