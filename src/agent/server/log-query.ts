/**
 * kubelet's containerLogs query (pkg/kubelet/server/server.go getContainerLogs, v1.PodLogOptions): follow, previous
 * and timestamps are booleans; tailLines >= 0, sinceSeconds >= 1 and limitBytes >= 1 are integers; sinceTime is
 * RFC 3339; sinceSeconds and sinceTime exclude each other.
 */
import type { ContainerLogOptions } from './types.js';

function parseBool(v: string | null): boolean | undefined {
  if (v === null) return false;
  // Go's strconv.ParseBool, which the query decoding uses.
  if (['1', 't', 'T', 'true', 'TRUE', 'True', ''].includes(v)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(v)) return false;
  return undefined;
}

function parseInt64(v: string | null): number | undefined | 'bad' {
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) return 'bad';
  return Number(v);
}

export function parseContainerLogQuery(q: URLSearchParams): { options: ContainerLogOptions } | { error: string } {
  const options: ContainerLogOptions = { follow: false, previous: false, timestamps: false };
  for (const key of ['follow', 'previous', 'timestamps'] as const) {
    const b = parseBool(q.get(key));
    if (b === undefined) return { error: `invalid value for ${key}: ${JSON.stringify(q.get(key))}` };
    options[key] = b;
  }
  for (const [key, min] of [
    ['tailLines', 0],
    ['sinceSeconds', 1],
    ['limitBytes', 1],
  ] as const) {
    const n = parseInt64(q.get(key));
    if (n === 'bad') return { error: `invalid value for ${key}: ${JSON.stringify(q.get(key))}` };
    if (n === undefined) continue;
    if (n < min) return { error: `${key}: Invalid value: ${n}: must be ${min === 0 ? 'greater than or equal to 0' : 'greater than 0'}` };
    options[key] = n;
  }
  const sinceTime = q.get('sinceTime');
  if (sinceTime) {
    const t = new Date(sinceTime);
    if (Number.isNaN(t.getTime())) return { error: `invalid value for sinceTime: ${JSON.stringify(sinceTime)}` };
    options.sinceTime = t;
  }
  if (options.sinceTime && options.sinceSeconds !== undefined) return { error: 'at most one of `sinceTime` or `sinceSeconds` may be specified' };
  return { options };
}
