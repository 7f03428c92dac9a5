/**
 * Events, served as core/v1 `events` and as events.k8s.io/v1 `events` (one stored kind upstream; the
 * two definitions here share printing, field selectors and validation rules through the helpers below).
 */
import type { Event as CoreEvent } from 'kubernetes-types/core/v1.js';
import type { Event as EventsV1Event } from 'kubernetes-types/events/v1.js';
import type { KubeObject } from '../../api/object.js';
import { ageOf } from '../../api/age.js';
import { fieldInvalid, fieldNotSupported, fieldRequired, type FieldError } from '../../api/status.js';
import { isQualifiedName, nameIsDNSSubdomain } from '../../api/validation.js';
import { defineResource } from './define-resource.js';
import { as, column, nameColumn, nameDescription } from './table-columns.js';
import type { TablePrinter } from './types.js';

/** What both event versions print, in core terms. */
interface EventView {
  name: string;
  type: string;
  reason: string;
  message: string;
  kind: string;
  objectName: string;
  fieldPath: string;
  component: string;
  host: string;
  firstTimestamp?: string | null;
  lastTimestamp?: string | null;
  eventTime?: string | null;
  count: number;
  seriesCount?: number;
  seriesLast?: string | null;
}

function coreView(e: CoreEvent): EventView {
  return {
    name: e.metadata?.name ?? '',
    type: e.type ?? '',
    reason: e.reason ?? '',
    message: e.message ?? '',
    kind: e.involvedObject?.kind ?? '',
    objectName: e.involvedObject?.name ?? '',
    fieldPath: e.involvedObject?.fieldPath ?? '',
    component: e.source?.component || e.reportingComponent || '',
    host: e.source?.host || e.reportingInstance || '',
    firstTimestamp: e.firstTimestamp,
    lastTimestamp: e.lastTimestamp,
    eventTime: e.eventTime,
    count: e.count ?? 0,
    seriesCount: e.series?.count,
    seriesLast: e.series?.lastObservedTime,
  };
}

/** An events.k8s.io Event prints as its core form (the two are one stored object; see eventV1ToCore). */
function v1View(e: EventsV1Event): EventView {
  return coreView(eventV1ToCore(e as unknown as KubeObject) as unknown as CoreEvent);
}

/** The cells of printEvent: LAST SEEN falls back to first seen, series override count and last seen. */
function eventRow(v: EventView, now: Date): unknown[] {
  const first = v.firstTimestamp ? ageOf(v.firstTimestamp, now) : ageOf(v.eventTime, now);
  let last = v.lastTimestamp ? ageOf(v.lastTimestamp, now) : first;
  let count = v.count;
  if (v.seriesCount !== undefined) {
    last = ageOf(v.seriesLast, now);
    count = v.seriesCount;
  } else if (count === 0) {
    // Singleton events of the new API carry no count.
    count = 1;
  }
  const target = v.objectName ? `${v.kind.toLowerCase()}/${v.objectName}` : v.kind.toLowerCase();
  const source = v.host ? `${v.component}, ${v.host}` : v.component;
  return [last, v.type, v.reason, target, v.fieldPath, source, v.message.trim(), first, count, v.name];
}

const eventColumns = [
  column('Last Seen', 'The time at which the most recent occurrence of this event was recorded.'),
  column('Type', 'Type of this event (Normal, Warning), new types could be added in the future'),
  column('Reason', 'This should be a short, machine understandable string that gives the reason for the transition into the object\'s current status.'),
  column('Object', 'The object that this event is about.'),
  column('Subobject', 'If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement.', { priority: 1 }),
  column('Source', 'The component reporting this event. Should be a short machine understandable string.', { priority: 1 }),
  column('Message', 'A human-readable description of the status of this operation.'),
  column('First Seen', 'The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)', { priority: 1 }),
  column('Count', 'The number of times this event has occurred.', { priority: 1 }),
  { ...nameColumn, description: nameDescription, priority: 1 },
];

function printer(view: (obj: KubeObject) => EventView): TablePrinter {
  return { columns: eventColumns, row: (obj, now) => eventRow(view(obj), now) };
}

/** The core field labels (AddFieldLabelConversionsForEvent), read from either version. */
function fieldSelectors(get: (obj: KubeObject) => {
  ref: { kind?: string; namespace?: string; name?: string; uid?: string; apiVersion?: string; resourceVersion?: string; fieldPath?: string } | undefined;
  reason?: string;
  reportingComponent?: string;
  source?: string;
  type?: string;
}): Record<string, (obj: KubeObject) => string> {
  return {
    'involvedObject.kind': (o) => get(o).ref?.kind ?? '',
    'involvedObject.namespace': (o) => get(o).ref?.namespace ?? '',
    'involvedObject.name': (o) => get(o).ref?.name ?? '',
    'involvedObject.uid': (o) => get(o).ref?.uid ?? '',
    'involvedObject.apiVersion': (o) => get(o).ref?.apiVersion ?? '',
    'involvedObject.resourceVersion': (o) => get(o).ref?.resourceVersion ?? '',
    'involvedObject.fieldPath': (o) => get(o).ref?.fieldPath ?? '',
    reason: (o) => get(o).reason ?? '',
    reportingComponent: (o) => get(o).reportingComponent ?? '',
    source: (o) => get(o).source ?? '',
    type: (o) => get(o).type ?? '',
  };
}

/** An event about a namespaced object lives in that object's namespace (ValidateEventCreate). */
function validateEventNamespace(namespace: string | undefined, refNamespace: string | undefined, path: string): FieldError[] {
  if (refNamespace && namespace && refNamespace !== namespace) return [fieldInvalid(path, refNamespace, 'does not match event.namespace')];
  return [];
}

export const events = defineResource({
  group: '',
  version: 'v1',
  kind: 'Event',
  plural: 'events',
  singular: 'event',
  namespaced: true,
  shortNames: ['ev'],
  hasStatus: false,
  schemaName: 'io.k8s.api.core.v1.Event',
  tracksGeneration: false,
  nameValidator: nameIsDNSSubdomain,
  validateSpec(obj) {
    const e = as<CoreEvent>(obj);
    return validateEventNamespace(e.metadata?.namespace, e.involvedObject?.namespace, 'involvedObject.namespace');
  },
  printer: printer((o) => coreView(as<CoreEvent>(o))),
  fieldSelectors: fieldSelectors((o) => {
    const e = as<CoreEvent>(o);
    return { ref: e.involvedObject, reason: e.reason, reportingComponent: e.reportingComponent, source: e.source?.component, type: e.type };
  }),
});

const v1Types = ['Normal', 'Warning'];

export const eventsV1 = defineResource({
  group: 'events.k8s.io',
  version: 'v1',
  kind: 'Event',
  plural: 'events',
  singular: 'event',
  namespaced: true,
  shortNames: ['ev'],
  hasStatus: false,
  schemaName: 'io.k8s.api.events.v1.Event',
  tracksGeneration: false,
  nameValidator: nameIsDNSSubdomain,
  validateSpec(obj) {
    const e = as<EventsV1Event>(obj);
    const errs = validateEventNamespace(e.metadata?.namespace, e.regarding?.namespace, 'regarding.namespace');
    if (!e.eventTime) errs.push(fieldRequired('eventTime'));
    if (!e.reportingController) errs.push(fieldRequired('reportingController'));
    else for (const msg of isQualifiedName(e.reportingController)) errs.push(fieldInvalid('reportingController', e.reportingController, msg));
    if (!e.reportingInstance) errs.push(fieldRequired('reportingInstance'));
    if (!e.action) errs.push(fieldRequired('action'));
    if (!e.reason) errs.push(fieldRequired('reason'));
    if (!e.type) errs.push(fieldRequired('type'));
    else if (!v1Types.includes(e.type)) errs.push(fieldNotSupported('type', e.type, v1Types));
    if ((e.note ?? '').length > 1024) errs.push({ type: 'FieldValueTooLong', field: 'note', detail: 'Too long: may not be more than 1024 bytes' });
    return errs;
  },
  printer: printer((o) => v1View(as<EventsV1Event>(o))),
  fieldSelectors: fieldSelectors((o) => {
    const e = as<EventsV1Event>(o);
    return { ref: e.regarding, reason: e.reason, reportingComponent: e.reportingController, source: e.deprecatedSource?.component, type: e.type };
  }),
});

/**
 * events.k8s.io/v1 <-> core/v1 Event field mapping (one stored object upstream, core/v1 being the storage form):
 * regarding/involvedObject, note/message, reportingController/reportingComponent, and the deprecated* fields.
 */
const V1_TO_CORE: Record<string, string> = {
  regarding: 'involvedObject',
  note: 'message',
  reportingController: 'reportingComponent',
  deprecatedSource: 'source',
  deprecatedFirstTimestamp: 'firstTimestamp',
  deprecatedLastTimestamp: 'lastTimestamp',
  deprecatedCount: 'count',
};
const CORE_TO_V1: Record<string, string> = Object.fromEntries(Object.entries(V1_TO_CORE).map(([a, b]) => [b, a]));

function renameFields(obj: KubeObject, map: Record<string, string>, apiVersion: string): KubeObject {
  const out: KubeObject = { apiVersion, kind: 'Event', metadata: obj.metadata };
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind' || k === 'metadata') continue;
    out[map[k] ?? k] = v;
  }
  return out;
}

export function eventV1ToCore(obj: KubeObject): KubeObject {
  return renameFields(obj, V1_TO_CORE, 'v1');
}

export function coreEventToV1(obj: KubeObject): KubeObject {
  return renameFields(obj, CORE_TO_V1, 'events.k8s.io/v1');
}

eventsV1.storedAs = { group: '', version: 'v1', plural: 'events', toStorage: eventV1ToCore, fromStorage: coreEventToV1 };
