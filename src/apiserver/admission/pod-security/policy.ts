/**
 * A namespace's Pod Security policy from its labels (pod-security.kubernetes.io/<mode>[-version]), as
 * k8s.io/pod-security-admission/api parses them: a level (privileged, baseline, restricted) and a version (latest or
 * v1.x) for each of enforce, audit and warn; a mode without a label takes the configured default.
 */
import type { FieldError } from '../../../api/status.js';
import { fieldInvalid } from '../../../api/status.js';
import type { Level, Version } from './checks.js';

export type Mode = 'enforce' | 'audit' | 'warn';
export const MODES: readonly Mode[] = ['enforce', 'audit', 'warn'];

export interface LevelVersion {
  level: Level;
  version: Version;
}

export type Policy = Record<Mode, LevelVersion>;

export const LABEL_PREFIX = 'pod-security.kubernetes.io/';
const LEVELS: readonly Level[] = ['privileged', 'baseline', 'restricted'];
/** The newest policy version this server knows; a newer v1.x label is evaluated as this one (upstream). */
export const LATEST_MINOR = 32;

export function parseLevel(s: string): Level | undefined {
  return (LEVELS as readonly string[]).includes(s) ? (s as Level) : undefined;
}

export function parseVersion(s: string): Version | undefined {
  if (s === 'latest') return { latest: true };
  const m = /^v1\.(0|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const minor = Number(m[1]);
  return minor >= LATEST_MINOR ? { latest: true } : { latest: false, minor };
}

/** `restricted:latest`, `baseline:v1.29`: the form upstream's messages quote. */
export function formatLevelVersion(lv: LevelVersion, versionLabel?: string): string {
  return `${lv.level}:${versionLabel ?? (lv.version.latest ? 'latest' : `v1.${lv.version.minor}`)}`;
}

export interface ParsedPolicy {
  policy: Policy;
  /** The version as written on the namespace, for messages (`v1.40` stays `v1.40` though evaluated as latest). */
  versionLabels: Record<Mode, string>;
  errors: FieldError[];
}

/**
 * The policy of a namespace with these labels. Invalid values are reported as field errors; for evaluation an
 * invalid enforce level or version falls back to restricted/latest, as upstream fails closed (an invalid audit or
 * warn label does the same for its mode).
 */
export function policyFromLabels(labels: Record<string, string> | undefined, defaults: Policy): ParsedPolicy {
  const errors: FieldError[] = [];
  const policy = {} as Policy;
  const versionLabels = {} as Record<Mode, string>;
  for (const mode of MODES) {
    const def = defaults[mode];
    let level = def.level;
    let version = def.version;
    let versionLabel = def.version.latest ? 'latest' : `v1.${def.version.minor}`;
    const levelLabel = labels?.[LABEL_PREFIX + mode];
    if (levelLabel !== undefined) {
      const parsed = parseLevel(levelLabel);
      if (parsed) level = parsed;
      else {
        errors.push(fieldInvalid(`metadata.labels[${LABEL_PREFIX}${mode}]`, levelLabel, `must be one of ${LEVELS.join(', ')}`));
        level = 'restricted';
        version = { latest: true };
      }
    }
    const vLabel = labels?.[`${LABEL_PREFIX}${mode}-version`];
    if (vLabel !== undefined) {
      const parsed = parseVersion(vLabel);
      if (parsed) {
        version = parsed;
        versionLabel = vLabel;
      } else {
        errors.push(fieldInvalid(`metadata.labels[${LABEL_PREFIX}${mode}-version]`, vLabel, 'must be "latest" or "v1.x"'));
        level = 'restricted';
        version = { latest: true };
        versionLabel = 'latest';
      }
    }
    policy[mode] = { level, version };
    versionLabels[mode] = versionLabel;
  }
  return { policy, versionLabels, errors };
}

export function sameLevelVersion(a: LevelVersion, b: LevelVersion): boolean {
  if (a.level !== b.level) return false;
  if (a.level === 'privileged') return true;
  return a.version.latest === b.version.latest && (a.version.latest || a.version.minor === (b.version as { minor: number }).minor);
}
