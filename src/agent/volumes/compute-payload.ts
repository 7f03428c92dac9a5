/**
 * Pure builders of the files a configMap, secret, downwardAPI or projected volume shows, from the objects they read.
 * Semantics and error words are upstream's: pkg/volume/configmap (MakePayload), pkg/volume/secret (MakePayload),
 * pkg/volume/downwardapi (CollectData), pkg/volume/projected (collectData), pkg/fieldpath and
 * pkg/api/v1/resource (ExtractResourceValueByContainerNameAndNodeAllocatable).
 */
import type { ConfigMap, DownwardAPIVolumeFile, KeyToPath, Pod, ResourceFieldSelector, Secret } from 'kubernetes-types/core/v1.js';
import { parseQuantity, toMilli, toUnits, tryParseQuantity } from '../../api/quantity.js';
import type { Payload } from './atomic-writer.js';

/** kubelet's default for configMap, secret, downwardAPI and projected files (the API's defaultMode 420). */
export const DEFAULT_FILE_MODE = 0o644;

/** Thrown for a payload that cannot be built; the manager wraps it into a VolumeError. */
export class PayloadError extends Error {
  constructor(
    message: string,
    /** false when the source object may still change so that the payload builds (a missing key). */
    readonly permanent = false,
  ) {
    super(message);
    this.name = 'PayloadError';
  }
}

const modeOf = (mode: number | undefined, defaultMode: number | undefined) => (mode ?? defaultMode ?? DEFAULT_FILE_MODE) & 0o777;

/** configmap.MakePayload: every key (data and binaryData) without items, else just the items' keys. */
export function configMapPayload(cm: ConfigMap, items: readonly KeyToPath[] | undefined, defaultMode: number | undefined, optional: boolean): Payload {
  const out: Payload = new Map();
  const data = cm.data ?? {};
  const binary = cm.binaryData ?? {};
  if (!items || items.length === 0) {
    for (const [k, v] of Object.entries(data)) out.set(k, { data: Buffer.from(v, 'utf8'), mode: modeOf(undefined, defaultMode) });
    for (const [k, v] of Object.entries(binary)) out.set(k, { data: Buffer.from(v, 'base64'), mode: modeOf(undefined, defaultMode) });
    return out;
  }
  for (const item of items) {
    let buf: Buffer;
    if (Object.hasOwn(data, item.key)) buf = Buffer.from(data[item.key]!, 'utf8');
    else if (Object.hasOwn(binary, item.key)) buf = Buffer.from(binary[item.key]!, 'base64');
    else if (optional) continue;
    else throw new PayloadError(`configmap references non-existent config key: ${item.key}`);
    out.set(item.path, { data: buf, mode: modeOf(item.mode, defaultMode) });
  }
  return out;
}

/** secret.MakePayload: data values are base64 on the wire. */
export function secretPayload(secret: Secret, items: readonly KeyToPath[] | undefined, defaultMode: number | undefined, optional: boolean): Payload {
  const out: Payload = new Map();
  const data = secret.data ?? {};
  if (!items || items.length === 0) {
    for (const [k, v] of Object.entries(data)) out.set(k, { data: Buffer.from(v, 'base64'), mode: modeOf(undefined, defaultMode) });
    return out;
  }
  for (const item of items) {
    if (!Object.hasOwn(data, item.key)) {
      if (optional) continue;
      throw new PayloadError(`references non-existent secret key: ${item.key}`);
    }
    out.set(item.path, { data: Buffer.from(data[item.key]!, 'base64'), mode: modeOf(item.mode, defaultMode) });
  }
  return out;
}

/** fieldpath.FormatMap: `key="value"` lines, keys sorted, Go %q quoting (JSON's for the common characters). */
export function formatMap(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${JSON.stringify(m![k])}`)
    .join('\n');
}

/** fieldpath.ExtractFieldPathAsString for the fields a downwardAPI volume may project. */
export function extractFieldPath(pod: Pod, fieldPath: string): string {
  const sub = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(fieldPath);
  if (sub) {
    const map = sub[1] === 'labels' ? pod.metadata?.labels : pod.metadata?.annotations;
    return map?.[sub[2]!] ?? '';
  }
  switch (fieldPath) {
    case 'metadata.annotations':
      return formatMap(pod.metadata?.annotations);
    case 'metadata.labels':
      return formatMap(pod.metadata?.labels);
    case 'metadata.name':
      return pod.metadata?.name ?? '';
    case 'metadata.namespace':
      return pod.metadata?.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata?.uid ?? '';
  }
  throw new PayloadError(`unsupported fieldPath: ${fieldPath}`, true);
}

/** Node allocatable by resource name (`cpu`, `memory`, `ephemeral-storage`), as quantity strings. */
export type NodeAllocatable = Record<string, string>;

/**
 * ExtractResourceValueByContainerNameAndNodeAllocatable: the container's request or limit divided by the divisor
 * and rounded up; an unset limit is the node's allocatable (what the container may use at most).
 */
export function extractResourceValue(pod: Pod, ref: ResourceFieldSelector, allocatable: NodeAllocatable | undefined): string {
  const name = ref.containerName ?? '';
  const container = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find((c) => c.name === name);
  if (!container) throw new PayloadError(`container ${name} not found`, true);
  const dot = ref.resource.indexOf('.');
  const kind = ref.resource.slice(0, dot);
  const resource = ref.resource.slice(dot + 1);
  if ((kind !== 'limits' && kind !== 'requests') || !['cpu', 'memory', 'ephemeral-storage'].includes(resource)) {
    throw new PayloadError(`unsupported container resource : ${ref.resource}`, true);
  }
  let value = (kind === 'limits' ? container.resources?.limits : container.resources?.requests)?.[resource];
  if (value === undefined && kind === 'limits') value = allocatable?.[resource];
  const q = tryParseQuantity(String(value ?? '0')) ?? parseQuantity('0');
  const divisor = ref.divisor === undefined || String(ref.divisor) === '0' ? parseQuantity('1') : parseQuantity(String(ref.divisor));
  if (resource === 'cpu') return String(ceilDiv(toMilli(q), toMilli(divisor)));
  return String(ceilDiv(toUnits(q), toUnits(divisor)));
}

function ceilDiv(a: bigint, b: bigint): bigint {
  if (b === 0n) return 0n;
  const q = a / b;
  return a % b !== 0n && a > 0n ? q + 1n : q;
}

/** downwardapi.CollectData: every item, errors collected and reported together. */
export function downwardAPIPayload(pod: Pod, items: readonly DownwardAPIVolumeFile[] | undefined, defaultMode: number | undefined, allocatable: NodeAllocatable | undefined): Payload {
  const out: Payload = new Map();
  const errors: PayloadError[] = [];
  for (const item of items ?? []) {
    const path = cleanPath(item.path);
    try {
      let data = '';
      if (item.fieldRef) data = extractFieldPath(pod, item.fieldRef.fieldPath);
      else if (item.resourceFieldRef) data = extractResourceValue(pod, item.resourceFieldRef, allocatable);
      out.set(path, { data: Buffer.from(data, 'utf8'), mode: modeOf(item.mode, defaultMode) });
    } catch (err) {
      if (!(err instanceof PayloadError)) throw err;
      errors.push(err);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new PayloadError(`[${errors.map((e) => e.message).join(', ')}]`, errors.every((e) => e.permanent));
  return out;
}

/** filepath.Clean for the relative paths of downwardAPI items (`./a//b` → `a/b`). */
function cleanPath(p: string): string {
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    parts.push(seg);
  }
  return parts.join('/');
}
