/**
 * Unknown-field detection for `fieldValidation=Strict` (and Warn): walks an object against the schema table and
 * reports every field the type does not declare, as paths in the form kube-apiserver's strict decoder prints
 * (`spec.template.spec.containers[0].imagePullPolicyy`).
 */
import { fieldOf, typeOf } from '../api/schema/schema.js';
import type { SchemaType } from '../api/schema/types.js';

export function unknownFields(typeName: string, obj: unknown): string[] {
  const out: string[] = [];
  walk({ kind: 'ref', name: typeName }, obj, '', out);
  return out;
}

function walk(type: SchemaType, value: unknown, path: string, out: string[]): void {
  if (value === null || value === undefined) return;
  switch (type.kind) {
    case 'scalar':
      return;
    case 'array':
      if (Array.isArray(value)) value.forEach((v, i) => walk(type.items, v, `${path}[${i}]`, out));
      return;
    case 'map':
      if (typeof value === 'object' && !Array.isArray(value)) {
        for (const [k, v] of Object.entries(value)) walk(type.values, v, `${path}[${k}]`, out);
      }
      return;
    case 'ref': {
      if (typeof value !== 'object' || Array.isArray(value)) return;
      const def = typeOf(type.name);
      if (!def) return;
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const field = fieldOf(type.name, k);
        const p = path ? `${path}.${k}` : k;
        if (!field) out.push(p);
        else walk(field.type, v, p, out);
      }
    }
  }
}
