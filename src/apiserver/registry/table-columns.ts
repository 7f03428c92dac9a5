/**
 * Building blocks of the server-side printers (pkg/printers/internalversion/printers.go): column
 * definitions with the names, types and priorities kubectl shows, and the cell formats they share.
 * The API server always prints "wide" (every column); kubectl hides priority>0 columns unless `-o wide`.
 */
import type { Container } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { ageOf } from '../../api/age.js';
import type { TablePrinter } from './types.js';
import { rfc3339 } from '../../api/time.js';

/** meta.k8s.io/v1 TableColumnDefinition (kubernetes-types does not declare the Table types). */
export interface TableColumnDefinition {
  name: string;
  /** `string`, `integer`, `number`, `boolean` or `date`. */
  type: string;
  /** `name` for the column holding the object name, else ''. */
  format: string;
  description: string;
  /** 0: always shown; >0: only with `-o wide`. */
  priority: number;
}

export const nameDescription =
  'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated.';
export const ageDescription =
  'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.';

export function column(name: string, description: string, opts: { type?: string; priority?: number; format?: string } = {}): TableColumnDefinition {
  return { name, type: opts.type ?? 'string', format: opts.format ?? '', description, priority: opts.priority ?? 0 };
}

export const nameColumn: TableColumnDefinition = column('Name', nameDescription, { format: 'name' });
export const ageColumn: TableColumnDefinition = column('Age', ageDescription);
export const containersColumn: TableColumnDefinition = column('Containers', 'Names of each container in the template.', { priority: 1 });
export const imagesColumn: TableColumnDefinition = column('Images', 'Images referenced by each container in the template.', { priority: 1 });

export function selectorColumn(description: string): TableColumnDefinition {
  return column('Selector', description, { priority: 1 });
}

/** The Age cell (translateTimestampSince). */
export function age(obj: KubeObject, now: Date): string {
  return ageOf(obj.metadata.creationTimestamp, now);
}

/** `names, images` comma-joined (layoutContainerCells). */
export function containerCells(containers: Container[] | undefined): [string, string] {
  const list = containers ?? [];
  return [list.map((c) => c.name).join(','), list.map((c) => c.image ?? '').join(',')];
}

/** `<none>` for an empty string, as most printers show missing values. */
export function orNone(s: string | undefined | null): string {
  return s ? s : '<none>';
}

/** Typed view of an object's fields; the registry trusts validated wire JSON. */
export function as<T>(obj: KubeObject): T {
  return obj as unknown as T;
}

/**
 * What upstream's DefaultTableConvertor prints for kinds without a printer (Roles, LimitRanges, ...):
 * Name and `Created At` as an RFC 3339 date.
 */
export const createdAtPrinter: TablePrinter = {
  columns: [nameColumn, column('Created At', ageDescription, { type: 'date' })],
  row(obj) {
    const ts = obj.metadata.creationTimestamp;
    return [obj.metadata.name ?? '', ts ? rfc3339(new Date(ts)) : ''];
  },
};

/** Name and Age: the fallback for kinds without a printer of their own (custom resources). */
export const fallbackPrinter: TablePrinter = {
  columns: [nameColumn, ageColumn],
  row(obj, now) {
    return [obj.metadata.name ?? '', age(obj, now)];
  },
};

/** `a, b, c + 2 more...` lists capped at `max` entries (listWithMoreString); `<unset>` when empty. */
export function listWithMore(list: string[], total: number, max: number, empty = '<unset>'): string {
  const shown = list.slice(0, max).join(',');
  if (total > max) return `${shown} + ${total - max} more...`;
  return shown === '' ? empty : shown;
}
