/**
 * PodSecurity's configuration file, as kube-apiserver reads it through --admission-control-config-file (and RKE2 through
 * --pod-security-admission-config-file): an AdmissionConfiguration (apiserver.config.k8s.io/v1) whose PodSecurity
 * plugin entry holds a PodSecurityConfiguration inline (`configuration`) or in another file (`path`, relative to the
 * first), or the PodSecurityConfiguration itself (pod-security.admission.config.k8s.io/v1):
 *
 *   defaults:   { enforce, enforce-version, audit, audit-version, warn, warn-version }   (default privileged/latest)
 *   exemptions: { usernames: [], runtimeClasses: [], namespaces: [] }
 *
 * A file that does not parse, or holds an invalid level or version, is an error naming the field.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { PodSecurityOptions } from './pod-security-admission.js';
import { MODES, parseLevel, parseVersion, type LevelVersion, type Mode } from './policy.js';

const CONFIG_KIND = 'PodSecurityConfiguration';
const CONFIG_GROUP = 'pod-security.admission.config.k8s.io/';

export class PodSecurityConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PodSecurityConfigError';
  }
}

/** Reads the file at `path` (an AdmissionConfiguration or a PodSecurityConfiguration). */
export async function loadPodSecurityConfig(path: string): Promise<PodSecurityOptions> {
  const doc = parseDoc(await readFile(path, 'utf8'), path);
  if (doc.kind === CONFIG_KIND) return podSecurityOptions(doc, path);
  if (doc.kind !== 'AdmissionConfiguration') throw new PodSecurityConfigError(`${path}: expected kind AdmissionConfiguration or ${CONFIG_KIND}, got ${JSON.stringify(doc.kind)}`);
  const plugins = Array.isArray(doc.plugins) ? (doc.plugins as Record<string, unknown>[]) : [];
  const entry = plugins.find((p) => p?.name === 'PodSecurity');
  if (!entry) return {};
  if (entry.configuration && typeof entry.configuration === 'object') return podSecurityOptions(entry.configuration as Record<string, unknown>, path);
  if (typeof entry.path === 'string') {
    const file = isAbsolute(entry.path) ? entry.path : join(dirname(path), entry.path);
    const inner = parseDoc(await readFile(file, 'utf8'), file);
    return podSecurityOptions(inner, file);
  }
  return {};
}

function parseDoc(text: string, where: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new PodSecurityConfigError(`${where}: ${(err as Error).message}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new PodSecurityConfigError(`${where}: not a YAML or JSON object`);
  return doc as Record<string, unknown>;
}

/** A PodSecurityConfiguration object as plugin options. */
export function podSecurityOptions(doc: Record<string, unknown>, where = 'PodSecurityConfiguration'): PodSecurityOptions {
  if (doc.kind !== CONFIG_KIND || typeof doc.apiVersion !== 'string' || !doc.apiVersion.startsWith(CONFIG_GROUP)) {
    throw new PodSecurityConfigError(`${where}: expected apiVersion ${CONFIG_GROUP}v1 and kind ${CONFIG_KIND}, got ${JSON.stringify(doc.apiVersion)} ${JSON.stringify(doc.kind)}`);
  }
  const defaultsIn = (doc.defaults ?? {}) as Record<string, unknown>;
  const defaults: Partial<Record<Mode, LevelVersion>> = {};
  for (const mode of MODES) {
    const levelText = defaultsIn[mode] ?? 'privileged';
    const versionText = defaultsIn[`${mode}-version`] ?? 'latest';
    const level = parseLevel(String(levelText));
    if (!level) throw new PodSecurityConfigError(`${where}: defaults.${mode}: Invalid value: ${JSON.stringify(levelText)}: must be one of privileged, baseline, restricted`);
    const version = parseVersion(String(versionText));
    if (!version) throw new PodSecurityConfigError(`${where}: defaults.${mode}-version: Invalid value: ${JSON.stringify(versionText)}: must be "latest" or "v1.x"`);
    defaults[mode] = { level, version };
  }
  const ex = (doc.exemptions ?? {}) as Record<string, unknown>;
  const list = (field: string): string[] => {
    const v = ex[field] ?? [];
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s === '')) throw new PodSecurityConfigError(`${where}: exemptions.${field}: must be a list of non-empty strings`);
    return v as string[];
  };
  return { defaults, exemptions: { usernames: list('usernames'), runtimeClasses: list('runtimeClasses'), namespaces: list('namespaces') } };
}
