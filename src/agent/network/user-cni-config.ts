/**
 * A user-provided CNI configuration (k3s: `--flannel-backend none` with a CNI of your own, or `--cni-conf-dir`): the
 * network config list the runtimes use, picked from the directory as libcni and containerd's CRI plugin pick it — the
 * files ending in .conflist, .conf or .json, in name order, the first that parses. A single-plugin .conf is wrapped
 * into a list of one, as libcni's ConfListFromConf does.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CniNetworkConfigList, CniPluginConf } from './cni-client.js';

export interface UserCniConfig {
  path: string;
  list: CniNetworkConfigList;
}

const EXTENSIONS = ['.conflist', '.conf', '.json'];

/** The first usable config in `confDir`, or undefined when there is none (or no directory). */
export async function loadUserCniConfig(confDir: string): Promise<UserCniConfig | undefined> {
  let names: string[];
  try {
    names = (await readdir(confDir)).filter((n) => EXTENSIONS.some((e) => n.endsWith(e))).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const problems: string[] = [];
  for (const name of names) {
    const path = join(confDir, name);
    try {
      return { path, list: parseCniConfig(await readFile(path, 'utf8'), name.endsWith('.conflist')) };
    } catch (err) {
      problems.push(`${path}: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) throw new Error(`no usable CNI config in ${confDir}: ${problems.join('; ')}`);
  return undefined;
}

/** Parses one file's text: a list (`plugins`), or with `isList` false also a single plugin config. */
export function parseCniConfig(text: string, isList: boolean): CniNetworkConfigList {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`not JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('not a JSON object');
  const o = raw as Record<string, unknown>;
  if (typeof o.name !== 'string' || o.name === '') throw new Error('no network "name"');
  const cniVersion = typeof o.cniVersion === 'string' ? o.cniVersion : '0.4.0';
  if (Array.isArray(o.plugins)) {
    if (o.plugins.length === 0) throw new Error('"plugins" is empty');
    for (const p of o.plugins) if (typeof p !== 'object' || p === null || typeof (p as { type?: unknown }).type !== 'string') throw new Error('a plugin without a "type"');
    return { cniVersion, name: o.name, ...(o.disableCheck === true ? { disableCheck: true } : {}), plugins: o.plugins as CniPluginConf[] };
  }
  if (isList) throw new Error('a .conflist without "plugins"');
  if (typeof o.type !== 'string') throw new Error('no plugin "type"');
  return { cniVersion, name: o.name, plugins: [o as CniPluginConf] };
}
