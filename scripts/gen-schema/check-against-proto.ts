/**
 * Cross-checks the built table against the packages' generated.proto files (the protobuf IDL that
 * go-to-protobuf wrote from the same Go types): every message field number must be either a field of
 * the type or one of its inline embeddings, and repeated/map shapes must agree. This catches parser
 * mistakes in the generator rather than trusting it.
 */
import type { SchemaTable } from '../../src/api/schema/types.js';
import type { ProtoEmbedding } from './build-schema-table.js';

interface ProtoField {
  label: string;
  type: string;
  name: string;
  number: number;
}

/** message name -> fields, for one generated.proto file. */
export function parseProtoMessages(src: string): Map<string, ProtoField[]> {
  const messages = new Map<string, ProtoField[]>();
  let current: ProtoField[] | undefined;
  for (const raw of src.split('\n')) {
    const line = raw.replace(/\/\/.*$/, '').trim();
    const open = /^message\s+(\w+)\s*\{/.exec(line);
    if (open) {
      current = [];
      messages.set(open[1], current);
      continue;
    }
    if (line === '}') {
      current = undefined;
      continue;
    }
    const field = /^(optional|repeated|required)?\s*(map<[^>]+>|[\w.]+)\s+(\w+)\s*=\s*(\d+)/.exec(line);
    if (field && current) current.push({ label: field[1] ?? '', type: field[2], name: field[3], number: Number(field[4]) });
  }
  return messages;
}

/**
 * Returns one line per disagreement. `protoFiles` maps an OpenAPI package prefix
 * (`io.k8s.api.core.v1`) to that package's parsed generated.proto.
 */
export function checkAgainstProto(
  table: SchemaTable,
  protoEmbedded: Record<string, ProtoEmbedding[]>,
  protoFiles: Map<string, Map<string, ProtoField[]>>,
): { problems: string[]; checkedTypes: number } {
  const problems: string[] = [];
  let checkedTypes = 0;
  for (const def of Object.values(table)) {
    const dot = def.name.lastIndexOf('.');
    const messages = protoFiles.get(def.name.slice(0, dot));
    const message = messages?.get(def.name.slice(dot + 1));
    if (!message) {
      if (messages) problems.push(`${def.name}: no protobuf message`);
      continue;
    }
    checkedTypes++;
    const byNumber = new Map(message.map((f) => [f.number, f]));
    const covered = new Set<number>();
    for (const field of def.fields) {
      if (field.proto === undefined) continue;
      if (covered.has(field.proto)) problems.push(`${def.name}.${field.json}: proto ${field.proto} used twice`);
      covered.add(field.proto);
      const pf = byNumber.get(field.proto);
      if (!pf) {
        problems.push(`${def.name}.${field.json}: proto ${field.proto} not in message`);
        continue;
      }
      const isMap = pf.type.startsWith('map<');
      const isRepeated = pf.label === 'repeated';
      if (isMap !== (field.type.kind === 'map')) problems.push(`${def.name}.${field.json}: map shape differs from proto ${pf.type}`);
      if (isRepeated !== (field.type.kind === 'array')) problems.push(`${def.name}.${field.json}: repeated differs from proto (${pf.label} ${pf.type})`);
    }
    for (const e of protoEmbedded[def.name] ?? []) {
      if (covered.has(e.proto)) problems.push(`${def.name}: proto ${e.proto} used twice`);
      covered.add(e.proto);
      const pf = byNumber.get(e.proto);
      if (!pf || pf.type.split('.').pop() !== e.type.split('.').pop()) {
        problems.push(`${def.name}: embedding ${e.type} at ${e.proto} does not match proto ${pf?.type ?? '(none)'}`);
      }
    }
    for (const pf of message) {
      if (!covered.has(pf.number)) problems.push(`${def.name}: proto field ${pf.name} = ${pf.number} missing from the table`);
    }
  }
  return { problems, checkedTypes };
}
