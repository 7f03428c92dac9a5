/**
 * Server-side printing: objects to meta.k8s.io Tables (kubectl prints cells verbatim, see
 * reference/kubectl-api-compat.md §4.5). Rows carry PartialObjectMetadata by default (includeObject=Metadata),
 * which kubectl uses for --show-labels, -L and namespaces.
 */
import type { KubeObject } from '../api/object.js';
import { badRequest } from '../api/status.js';
import type { ResourceDefinition } from './registry/types.js';

export type IncludeObject = 'None' | 'Metadata' | 'Object';

export function parseIncludeObject(v: string | null): IncludeObject {
  if (v === null || v === '' || v === 'Metadata') return 'Metadata';
  if (v === 'None' || v === 'Object') return v;
  throw badRequest(`includeObject: Unsupported value: "${v}": supported values: "Metadata", "None", "Object"`);
}

export interface TableOptions {
  tableVersion: 'v1' | 'v1beta1';
  includeObject: IncludeObject;
  /** Omit columnDefinitions (watch events after the first). */
  noHeaders?: boolean;
  now: Date;
}

function rowObject(obj: KubeObject, json: string | undefined, include: IncludeObject): unknown {
  if (include === 'None') return undefined;
  if (include === 'Object') return json !== undefined ? JSON.parse(json) : obj;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
}

export function tableRow(def: ResourceDefinition, obj: KubeObject, json: string | undefined, opts: TableOptions): Record<string, unknown> {
  const row: Record<string, unknown> = { cells: def.printer.row(obj, opts.now) };
  const o = rowObject(obj, json, opts.includeObject);
  if (o !== undefined) row.object = o;
  return row;
}

/** Builds the Table JSON text for a list of objects. */
export function renderTable(
  def: ResourceDefinition,
  items: { obj: KubeObject; json?: string }[],
  listMeta: { resourceVersion?: string; continue?: string; remainingItemCount?: number },
  opts: TableOptions,
): string {
  const table: Record<string, unknown> = {
    kind: 'Table',
    apiVersion: `meta.k8s.io/${opts.tableVersion}`,
    metadata: listMeta,
  };
  if (!opts.noHeaders) table.columnDefinitions = def.printer.columns;
  table.rows = items.map((it) => tableRow(def, it.obj, it.json, opts));
  return JSON.stringify(table);
}
