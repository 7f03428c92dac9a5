/**
 * CniClient: runs a network configuration list the way libcni (and so containerd and CRI-O) runs one.
 *
 * - ADD: plugins in list order; each gets the plugin's own config plus the list's `name` and `cniVersion`, the
 *   previous plugin's result as `prevResult`, and `runtimeConfig` holding the capability arguments it declares in
 *   `capabilities` (e.g. portmap's `portMappings`). The last result is the list's result, and it is cached.
 * - DEL: plugins in reverse order, each with the cached result as `prevResult` (lists of cniVersion >= 0.4.0); then the
 *   cache entry is removed. DEL is the one command that must succeed when things are already gone.
 * - CHECK: plugins in order with the cached result as `prevResult` (cniVersion >= 0.4.0, unless `disableCheck`).
 *
 * The cache (one JSON file per network + container + interface) also keeps the list and the arguments used at ADD, so
 * a DEL after a config change still tears down what ADD made.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execCniPlugin, CniPluginError, type CniCommand } from './cni-plugin-exec.js';
import { compareCniVersions, isCniResult, type CniResult } from './cni-result.js';

/** One plugin's configuration inside a list: `type` names the binary; everything else is the plugin's. */
export interface CniPluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [field: string]: unknown;
}

/** A `.conflist` file (CNI spec 1.0.0 "Network configuration list"). */
export interface CniNetworkConfigList {
  cniVersion: string;
  name: string;
  disableCheck?: boolean;
  plugins: CniPluginConf[];
}

/** What the runtime knows about one attachment: the container, its netns and interface, and the per-call arguments. */
export interface CniRuntimeConf {
  containerId: string;
  /** Empty for a DEL whose namespace is gone. */
  netns: string;
  ifName: string;
  /** CNI_ARGS, in order. */
  args: Array<[string, string]>;
  /** Capability arguments, by capability name (`portMappings`, `bandwidth`, ...), offered to plugins that declare them. */
  capabilityArgs: Record<string, unknown>;
}

export interface CniCacheEntry {
  kind: 'skiff.cni.cache/v1';
  networkName: string;
  containerId: string;
  ifName: string;
  /** The netns ADD was given (DEL after a restart uses it when it still exists). */
  netns: string;
  config: CniNetworkConfigList;
  args: Array<[string, string]>;
  capabilityArgs: Record<string, unknown>;
  result: CniResult;
}

export interface CniClientOptions {
  /** Directories holding plugin binaries (CNI_PATH). */
  pluginDirs: string[];
  /** Where results are cached; DEL and CHECK read them. */
  cacheDir: string;
  /** Per plugin call (default 30 s). */
  timeoutMs?: number;
}

export class CniClient {
  readonly pluginDirs: string[];
  readonly cacheDir: string;
  readonly timeoutMs: number;
  private cacheDirMade = false;

  constructor(options: CniClientOptions) {
    if (options.pluginDirs.length === 0) throw new Error('CNI client: pluginDirs: must name at least one directory');
    this.pluginDirs = options.pluginDirs;
    this.cacheDir = options.cacheDir;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  async addNetworkList(list: CniNetworkConfigList, rt: CniRuntimeConf): Promise<CniResult> {
    let prevResult: CniResult | undefined;
    for (const plugin of list.plugins) {
      const out = await this.invoke('ADD', list, plugin, rt, prevResult);
      if (!isCniResult(out)) {
        throw new CniPluginError(`CNI plugin "${plugin.type}" ADD failed: no result on stdout`, plugin.type, 'ADD', undefined, 'no result', undefined);
      }
      prevResult = out;
    }
    const result = prevResult ?? { cniVersion: list.cniVersion };
    await this.writeCache({
      kind: 'skiff.cni.cache/v1',
      networkName: list.name,
      containerId: rt.containerId,
      ifName: rt.ifName,
      netns: rt.netns,
      config: list,
      args: rt.args,
      capabilityArgs: rt.capabilityArgs,
      result,
    });
    return result;
  }

  /** Every plugin runs even when an earlier one failed, so one broken plugin does not leak the others' state; the first error is thrown. */
  async delNetworkList(list: CniNetworkConfigList, rt: CniRuntimeConf): Promise<void> {
    const cached = compareCniVersions(list.cniVersion, '0.4.0') >= 0 ? (await this.readCache(list.name, rt.containerId, rt.ifName))?.result : undefined;
    let firstError: unknown;
    for (const plugin of [...list.plugins].reverse()) {
      try {
        await this.invoke('DEL', list, plugin, rt, cached);
      } catch (err) {
        firstError ??= err;
      }
    }
    if (firstError !== undefined) throw firstError;
    await rm(this.cachePath(list.name, rt.containerId, rt.ifName), { force: true });
  }

  async checkNetworkList(list: CniNetworkConfigList, rt: CniRuntimeConf): Promise<void> {
    if (compareCniVersions(list.cniVersion, '0.4.0') < 0 || list.disableCheck === true) return;
    const cached = await this.readCache(list.name, rt.containerId, rt.ifName);
    if (cached === undefined) {
      throw new Error(`CNI CHECK of network "${list.name}" for container ${rt.containerId}: no cached result (was ADD run?)`);
    }
    for (const plugin of list.plugins) await this.invoke('CHECK', list, plugin, rt, cached.result);
  }

  /** The plugin's VERSION answer: `{cniVersion, supportedVersions}`. */
  async version(type: string): Promise<{ cniVersion: string; supportedVersions: string[] }> {
    const out = await execCniPlugin({ type, command: 'VERSION', pluginDirs: this.pluginDirs, config: { cniVersion: '1.0.0' }, timeoutMs: this.timeoutMs });
    const answer = out as { cniVersion?: unknown; supportedVersions?: unknown } | undefined;
    if (typeof answer?.cniVersion !== 'string' || !Array.isArray(answer.supportedVersions)) {
      throw new Error(`CNI plugin "${type}" VERSION: unexpected answer ${JSON.stringify(out)}`);
    }
    return { cniVersion: answer.cniVersion, supportedVersions: answer.supportedVersions.map(String) };
  }

  /** What ADD recorded for this attachment, or undefined. */
  async readCache(networkName: string, containerId: string, ifName: string): Promise<CniCacheEntry | undefined> {
    let text: string;
    try {
      text = await readFile(this.cachePath(networkName, containerId, ifName), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const entry = JSON.parse(text) as CniCacheEntry;
    return entry.kind === 'skiff.cni.cache/v1' ? entry : undefined;
  }

  /** Every cached attachment (ADD without DEL yet), for garbage collection after a crash or restart. */
  async listCache(): Promise<CniCacheEntry[]> {
    let names: string[];
    try {
      names = await readdir(this.cacheDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const entries: CniCacheEntry[] = [];
    for (const name of names) {
      if (name.includes('.tmp-')) continue;
      try {
        const entry = JSON.parse(await readFile(join(this.cacheDir, name), 'utf8')) as CniCacheEntry;
        if (entry.kind === 'skiff.cni.cache/v1') entries.push(entry);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // removed by a DEL meanwhile
      }
    }
    return entries;
  }

  /** libcni's buildOneConfig: the plugin's config with the list's name and version, prevResult and runtimeConfig. */
  static pluginStdin(list: CniNetworkConfigList, plugin: CniPluginConf, rt: CniRuntimeConf, prevResult: CniResult | undefined): Record<string, unknown> {
    const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
    if (prevResult !== undefined) conf.prevResult = prevResult;
    const runtimeConfig: Record<string, unknown> = {};
    for (const [capability, enabled] of Object.entries(plugin.capabilities ?? {})) {
      if (enabled && rt.capabilityArgs[capability] !== undefined) runtimeConfig[capability] = rt.capabilityArgs[capability];
    }
    if (Object.keys(runtimeConfig).length > 0) conf.runtimeConfig = runtimeConfig;
    return conf;
  }

  private invoke(command: CniCommand, list: CniNetworkConfigList, plugin: CniPluginConf, rt: CniRuntimeConf, prevResult: CniResult | undefined): Promise<unknown> {
    return execCniPlugin({
      type: plugin.type,
      command,
      containerId: rt.containerId,
      netns: rt.netns,
      ifName: rt.ifName,
      args: rt.args,
      pluginDirs: this.pluginDirs,
      config: CniClient.pluginStdin(list, plugin, rt, prevResult),
      timeoutMs: this.timeoutMs,
    });
  }

  private cachePath(networkName: string, containerId: string, ifName: string): string {
    const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_');
    return join(this.cacheDir, `${safe(networkName)}-${safe(containerId)}-${safe(ifName)}`);
  }

  private async writeCache(entry: CniCacheEntry): Promise<void> {
    // Made once (a pod start spares the mkdir), and again if someone removed it.
    if (!this.cacheDirMade) {
      await mkdir(this.cacheDir, { recursive: true, mode: 0o700 });
      this.cacheDirMade = true;
    }
    const path = this.cachePath(entry.networkName, entry.containerId, entry.ifName);
    const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    try {
      await writeFile(tmp, JSON.stringify(entry), { mode: 0o600 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(this.cacheDir, { recursive: true, mode: 0o700 });
      await writeFile(tmp, JSON.stringify(entry), { mode: 0o600 });
    }
    await rename(tmp, path);
  }
}
