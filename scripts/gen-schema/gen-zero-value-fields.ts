/**
 * Generates zero-value-fields.generated.ts: two facts about the schema table's fields that decide what Go's
 * encoding/json writes for a decoded protobuf message, and that the table does not carry (they depend on
 * whether the Go field is a pointer and on `omitempty`):
 * - fieldsKeepingZero: plain scalars whose zero value is written, i.e. pointers (`Replicas *int32
 *   json:"replicas,omitempty"`) and fields without `omitempty`. gogo's generated marshallers write every
 *   non-pointer scalar even when it is zero (an empty `generateName`, a `hostPort` of 0), so a zero on the
 *   wire means "unset" for an omitempty non-pointer field and "set to zero" for a pointer.
 * - fieldsNullWhenAbsent: pointers, slices and maps without `omitempty`, which encoding/json writes as
 *   `null` when nil (SelfSubjectRulesReview `status.resourceRules`, TokenRequest `spec.audiences`).
 * Reads the same upstream Go sources as the schema table, at the same commits.
 *
 * Rerun after regenerating the schema table (bare clones or checkouts of both repositories):
 *   npx tsx scripts/gen-schema/gen-zero-value-fields.ts <kubernetes/api git dir> <kubernetes/apimachinery git dir>
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseGoFile, parseStructTag, type GoType } from './parse-go-file.js';
import { schemaSources, schemaTable } from '../../src/api/schema/schema.js';
import type { SchemaType } from '../../src/api/schema/types.js';

interface GoFieldFacts {
  pointer: boolean;
  /** A pointer, slice or map: nil is possible, and encoding/json writes it as null. */
  nilable: boolean;
  omitempty: boolean;
}

const NILABLE = new Set(['pointer', 'slice', 'map']);

const SKIPPED_FILES = /(_test\.go|generated\.pb\.go|zz_generated\.[^/]*|_generated\.go)$/;

/**
 * Plain scalars, the only fields whose zero omitempty drops. The special kinds (Time, Quantity,
 * IntOrString, ...) are Go structs, which encoding/json writes even when zero and even with omitempty.
 */
const PLAIN_SCALARS = new Set(['string', 'boolean', 'int32', 'int64', 'double', 'bytes']);

function isPlainScalar(type: SchemaType): boolean {
  return type.kind === 'scalar' && PLAIN_SCALARS.has(type.scalar);
}

function main(): void {
  const [apiDir, machineryDir] = process.argv.slice(2);
  if (!apiDir || !machineryDir) {
    console.error('usage: gen-zero-value-fields <kubernetes/api git dir> <kubernetes/apimachinery git dir>');
    process.exit(2);
  }
  const repos: Record<string, { gitDir: string; commit: string }> = {};
  for (const [prefix, dir, repository] of [
    ['io.k8s.api.', apiDir, 'github.com/kubernetes/api'],
    ['io.k8s.apimachinery.', machineryDir, 'github.com/kubernetes/apimachinery'],
  ] as const) {
    const source = schemaSources.find((s) => s.repository === repository);
    if (!source) throw new Error(`schema table names no source for ${repository}`);
    repos[prefix] = { gitDir: existsSync(join(dir, '.git')) ? join(dir, '.git') : dir, commit: source.commit };
  }
  const git = (gitDir: string, ...args: string[]) => execFileSync('git', ['--git-dir', gitDir, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });

  // OpenAPI package name (io.k8s.api.core.v1) -> Go struct name -> json name -> the Go facts.
  const packages = new Map<string, Map<string, Map<string, GoFieldFacts>>>();
  const packageOf = (typeName: string) => typeName.slice(0, typeName.lastIndexOf('.'));
  for (const pkg of new Set(Object.keys(schemaTable).map(packageOf))) {
    const prefix = Object.keys(repos).find((p) => pkg.startsWith(p));
    if (!prefix) throw new Error(`no repository for package ${pkg}`);
    const { gitDir, commit } = repos[prefix];
    const dir = pkg.slice(prefix.length).replace(/\./g, '/');
    const structs = new Map<string, Map<string, GoFieldFacts>>();
    for (const name of git(gitDir, 'ls-tree', '--name-only', `${commit}:${dir}`).split('\n')) {
      if (!name.endsWith('.go') || SKIPPED_FILES.test(name)) continue;
      const file = parseGoFile(`${dir}/${name}`, git(gitDir, 'show', `${commit}:${dir}/${name}`));
      for (const decl of file.types) {
        if (decl.type.k !== 'struct') continue;
        const fields = new Map<string, GoFieldFacts>();
        for (const field of decl.type.fields) {
          const jsonTag = parseStructTag(field.tag).get('json');
          if (jsonTag === undefined || jsonTag === '-') continue;
          const [jsonName, ...options] = jsonTag.split(',');
          // An embedded struct without a JSON name is flattened into this one (its fields belong to its own type).
          if (field.names.length === 0 && !jsonName) continue;
          const facts = { nilable: NILABLE.has((field.type as GoType).k), pointer: (field.type as GoType).k === 'pointer', omitempty: options.includes('omitempty') };
          for (const goName of field.names.length ? field.names : [jsonName]) fields.set(jsonName || goName, facts);
        }
        structs.set(decl.name, fields);
      }
    }
    packages.set(pkg, structs);
  }

  const kept: string[] = [];
  const nulls: string[] = [];
  for (const def of Object.values(schemaTable)) {
    const goFields = packages.get(packageOf(def.name))?.get(def.name.slice(def.name.lastIndexOf('.') + 1));
    if (!goFields) throw new Error(`no Go struct found for ${def.name}`);
    for (const field of def.fields) {
      if (field.proto === undefined) continue;
      const facts = goFields.get(field.json);
      if (facts === undefined) throw new Error(`no Go field found for ${def.name}.${field.json}`);
      if (isPlainScalar(field.type) && (facts.pointer || !facts.omitempty)) kept.push(`${def.name}.${field.json}`);
      if (facts.nilable && !facts.omitempty) nulls.push(`${def.name}.${field.json}`);
    }
  }
  kept.sort();
  nulls.sort();

  const out = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'apiserver', 'protobuf', 'zero-value-fields.generated.ts');
  const commits = schemaSources.map((s) => `//   ${s.repository} ${s.ref} (commit ${s.commit})`).join('\n');
  writeFileSync(
    out,
    `// Code generated by scripts/gen-schema/gen-zero-value-fields.ts; DO NOT EDIT.
// Facts read from the upstream Go type definitions the schema table was generated from:
${commits}

/**
 * \`<type>.<json field>\` for every plain scalar field (string, bool, number, bytes) of the schema table whose zero value encoding/json writes:
 * pointer fields and fields without \`omitempty\`. Any other scalar field that arrives as zero is unset.
 */
export const fieldsKeepingZero: ReadonlySet<string> = new Set([
${kept.map((k) => `  ${JSON.stringify(k)},`).join('\n')}
]);

/**
 * \`<type>.<json field>\` for every pointer, slice or map field without \`omitempty\`: encoding/json writes
 * \`null\` when it is nil, i.e. when the protobuf message does not carry it.
 */
export const fieldsNullWhenAbsent: ReadonlySet<string> = new Set([
${nulls.map((k) => `  ${JSON.stringify(k)},`).join('\n')}
]);
`,
  );
  console.log(`wrote ${out}: ${kept.length} fields keeping zero, ${nulls.length} null when absent`);
}

main();
