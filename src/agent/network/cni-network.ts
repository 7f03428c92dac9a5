/**
 * CniNetwork: PodNetwork over the CNI plugins (bridge + host-local + portmap from 10-skiff.conflist, plus loopback),
 * for the process runtime's pods. It writes the conflist containerd reads too, so both runtimes share one network.
 *
 * setUp: `lo` up (loopback plugin), then ADD of the list for eth0 with the pod's CNI_ARGS and its hostPort mappings;
 * a failed ADD is followed by a DEL so no lease or rule is left behind. tearDown: DEL of the list as ADD ran it (cached
 * config), also when the namespace is gone (then with an empty CNI_NETNS, as the spec allows), so leases are released.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createLogger } from '../../log/logger.js';
import type { PodNetwork, PodNetworkRequest, PodNetworkResult } from './types.js';
import { CniClient, type CniNetworkConfigList, type CniRuntimeConf } from './cni-client.js';
import { execCniPlugin } from './cni-plugin-exec.js';
import { podIpsFromResult } from './cni-result.js';
import { formatConflist, renderSkiffConflist, SKIFF_CONFLIST_FILE, writeFileIfChanged } from './skiff-conflist.js';
import { isNetns } from './netns.js';
import { ensureIpForward, readBridgeNfCallIptables } from './host-sysctls.js';
import { removeStaleMasqRules } from './stale-masq-rules.js';
import { ensurePodMasquerade, removePodMasquerade } from './pod-masquerade.js';

const log = createLogger('cni-network');
const run = promisify(execFile);

export const DEFAULT_CNI_PLUGIN_DIR = '/usr/lib/cni';
/** The plugins this network runs; status() is not ready without all of them. */
export const REQUIRED_CNI_PLUGINS = ['bridge', 'host-local', 'portmap', 'loopback'] as const;
const POD_IFNAME = 'eth0';
/** How long a look at the plugins (status) or the host's sysctls (setUp) is trusted. */
const RECHECK_MS = 5_000;

export interface CniNetworkOptions {
  /** The agent's network state lives in `<stateDir>/ipam` (host-local leases) and `<stateDir>/results` (the ADD cache). */
  stateDir: string;
  /** Where 10-skiff.conflist is written (containerd's `conf_dir` points here too). */
  confDir: string;
  /** Searched in order for plugin binaries (default [/usr/lib/cni]). */
  pluginDirs?: string[];
  /** The node's spec.podCIDRs when known at construction; else call setPodCidrs when the node gets them. */
  podCidrs?: string[];
  /** Default `skiff` + 6 hex digits of a hash of stateDir: stable per agent, distinct between agents on one machine. */
  bridgeName?: string;
  /** Default `skiff`. */
  networkName?: string;
  mtu?: number;
  /** Per plugin call (default 30 s). */
  timeoutMs?: number;
  /** Default: the process's effective uid is 0. */
  isRoot?: boolean;
  /** The cluster's pod CIDRs: not masqueraded either (pods reach other nodes' pods with their own address). */
  clusterCidrs?: string[];
  /**
   * A user-provided network config list (--cni-conf-dir, --flannel-backend none): used as it is; skiff then writes no
   * conflist and makes no masquerade chain, and status() asks for the plugins the list names.
   */
  configList?: CniNetworkConfigList;
}

export class CniNetwork implements PodNetwork {
  readonly bridgeName: string;
  readonly networkName: string;
  readonly conflistPath: string;
  readonly pluginDirs: string[];
  private readonly client: CniClient;
  private readonly ipamDataDir: string;
  private readonly mtu: number | undefined;
  private readonly isRoot: boolean;
  private podCidrs: string[] | undefined;
  private list: CniNetworkConfigList | undefined;
  private bridgeNfWarned = false;
  /** performance.now() until which status() answers ready without looking at the plugins again. */
  private readyUntil = 0;
  /** performance.now() until which setUp does not read the host's sysctls again. */
  private hostCheckedUntil = 0;
  private conflistCurrent = false;
  private masqueradeCurrent = false;
  private readonly clusterCidrs: string[];
  private readonly userConfig: boolean;

  constructor(options: CniNetworkOptions) {
    this.pluginDirs = options.pluginDirs ?? [DEFAULT_CNI_PLUGIN_DIR];
    this.clusterCidrs = options.clusterCidrs ?? [];
    this.userConfig = options.configList !== undefined;
    this.networkName = options.configList?.name ?? options.networkName ?? 'skiff';
    this.bridgeName = options.bridgeName ?? `skiff${createHash('sha256').update(options.stateDir).digest('hex').slice(0, 6)}`;
    this.conflistPath = join(options.confDir, SKIFF_CONFLIST_FILE);
    this.ipamDataDir = join(options.stateDir, 'ipam');
    this.mtu = options.mtu;
    this.isRoot = options.isRoot ?? process.geteuid?.() === 0;
    this.client = new CniClient({ pluginDirs: this.pluginDirs, cacheDir: join(options.stateDir, 'results'), timeoutMs: options.timeoutMs });
    if (options.podCidrs !== undefined) this.list = this.render(options.podCidrs);
    this.podCidrs = options.podCidrs;
    if (options.configList !== undefined) {
      this.list = options.configList;
      this.conflistCurrent = this.masqueradeCurrent = true;
    }
  }

  /**
   * The node's podCIDRs are known (or changed): renders the conflist and writes it if its content changed. Pods set
   * up before keep their addresses; their DEL uses the config their ADD used.
   */
  async setPodCidrs(podCidrs: string[]): Promise<void> {
    if (this.userConfig) {
      this.podCidrs = [...podCidrs];
      return; // the user's config decides addresses
    }
    this.list = this.render(podCidrs);
    this.podCidrs = [...podCidrs];
    this.conflistCurrent = false;
    this.masqueradeCurrent = false;
    await this.writeConflist();
    await this.ensureMasquerade();
  }

  /** One masquerade chain for all pods (the conflist leaves the bridge plugin's per-pod ipMasq off). */
  private async ensureMasquerade(): Promise<void> {
    if (this.isRoot && this.podCidrs !== undefined && !this.userConfig) await ensurePodMasquerade(this.bridgeName, this.podCidrs, this.clusterCidrs);
    this.masqueradeCurrent = true;
  }

  /** Writes the conflist (only when its content changed); returns whether it wrote. */
  async writeConflist(): Promise<boolean> {
    if (this.list === undefined) throw new Error('pod network: no podCIDR known yet, so no CNI config to write');
    const wrote = await writeFileIfChanged(this.conflistPath, formatConflist(this.list));
    if (wrote) log.info('wrote CNI config', { path: this.conflistPath, podCidrs: this.podCidrs, bridge: this.bridgeName });
    this.conflistCurrent = true;
    return wrote;
  }

  async status(): Promise<{ ready: boolean; message?: string }> {
    if (!this.isRoot) return { ready: false, message: 'not root: pods use the host network' };
    // The process runtime asks before every pod sandbox: a ready answer is kept for a few seconds (four access(2)
    // calls less on each pod's start path; a plugin removed meanwhile fails that pod's ADD with the plugin's name).
    if (this.list !== undefined && performance.now() < this.readyUntil) return { ready: true };
    const missing: string[] = [];
    const required = this.userConfig ? [...new Set([...this.list!.plugins.map((p) => p.type), 'loopback'])] : REQUIRED_CNI_PLUGINS;
    for (const plugin of required) if (!(await this.hasPlugin(plugin))) missing.push(plugin);
    if (missing.length === required.length) return { ready: false, message: `no CNI plugins in ${this.pluginDirs.join(':')}` };
    if (missing.length > 0) return { ready: false, message: `CNI plugins missing in ${this.pluginDirs.join(':')}: ${missing.join(', ')}` };
    if (this.list === undefined) return { ready: false, message: 'the node has no podCIDR yet' };
    this.readyUntil = performance.now() + RECHECK_MS;
    return { ready: true };
  }

  async setUp(request: PodNetworkRequest): Promise<PodNetworkResult> {
    const list = this.list;
    if (list === undefined) throw new Error(`pod network for ${podKey(request)}: the node has no podCIDR yet`);
    if (!this.conflistCurrent) await this.writeConflist();
    if (!this.masqueradeCurrent) await this.ensureMasquerade();
    const started = performance.now();
    // Set up before (an agent retry, or a restarted agent re-adopting the sandbox)? Keep it if CHECK says it is
    // intact; otherwise undo it and start over, since a second ADD of the same interface fails.
    const [previous] = await Promise.all([this.client.readCache(this.networkName, request.sandboxId, POD_IFNAME), this.checkHostEvery()]);
    if (previous !== undefined) {
      if (previous.netns === request.netnsPath && (await isNetns(request.netnsPath))) {
        try {
          await this.client.checkNetworkList(previous.config, { ...runtimeConf(request, request.netnsPath), args: previous.args, capabilityArgs: previous.capabilityArgs });
          const kept = podIpsFromResult(previous.result, POD_IFNAME);
          if (kept.ips.length > 0) {
            log.debug('pod network already set up and intact', { key: podKey(request), sandbox: request.sandboxId, ips: kept.ips });
            return kept;
          }
        } catch (err) {
          log.info('pod network set up before but not intact: setting it up again', { key: podKey(request), sandbox: request.sandboxId, err });
        }
      }
      await this.tearDown(request);
    }
    const rt = runtimeConf(request, request.netnsPath);
    // lo and eth0 are independent, so they are set up at once (as containerd's go-cni attaches networks in parallel
    // unless told to go serially): one plugin exec less on the pod's start path.
    const [lo, eth0] = await Promise.allSettled([
      execCniPlugin({
        type: 'loopback',
        command: 'ADD',
        containerId: request.sandboxId,
        netns: request.netnsPath,
        ifName: 'lo',
        args: cniArgs(request),
        pluginDirs: this.pluginDirs,
        config: { cniVersion: '1.0.0', name: 'cni-loopback', type: 'loopback' },
        timeoutMs: this.client.timeoutMs,
      }),
      // Without hostPorts, portmap's ADD only hands prevResult on and its DEL only looks for rules it never made: the
      // list without it saves an exec and several iptables calls per pod. DEL and CHECK use the list ADD used (cached).
      this.client.addNetworkList(rt.capabilityArgs.portMappings ? list : withoutPortmap(list), rt),
    ]);
    if (lo.status === 'rejected' || eth0.status === 'rejected') {
      // As kubelet and containerd do after a failed ADD: DEL, so a half-made attachment (lease, veth, rules) is undone.
      try {
        await this.tearDown(request);
      } catch (delErr) {
        log.warn('DEL after a failed ADD failed too', { key: podKey(request), sandbox: request.sandboxId, err: delErr });
      }
      throw eth0.status === 'rejected' ? eth0.reason : (lo as PromiseRejectedResult).reason;
    }
    const result = eth0.value;
    const { ips, gateway } = podIpsFromResult(result, POD_IFNAME);
    if (ips.length === 0) throw new Error(`pod network for ${podKey(request)}: the CNI result has no address for ${POD_IFNAME}: ${JSON.stringify(result)}`);
    log.debug('pod network set up', { key: podKey(request), sandbox: request.sandboxId, ips, ms: Math.round(performance.now() - started) });
    return gateway === undefined ? { ips } : { ips, gateway };
  }

  async tearDown(request: PodNetworkRequest): Promise<void> {
    const started = performance.now();
    const cached = await this.client.readCache(this.networkName, request.sandboxId, POD_IFNAME);
    const list = cached?.config ?? this.list;
    if (list === undefined) {
      // Neither an ADD on record nor a config to DEL with: nothing of this sandbox can exist.
      return;
    }
    const alive = await isNetns(request.netnsPath);
    const rt = runtimeConf(request, alive ? request.netnsPath : '');
    if (cached !== undefined) {
      rt.args = cached.args;
      rt.capabilityArgs = cached.capabilityArgs;
    }
    // The bridge plugin removes its masquerade rule only for addresses it still finds on eth0 inside the netns: not
    // when the netns is gone, nor when eth0 was lost and set up again (then an older rule keeps its chain busy, and
    // DEL fails deleting the chain). Rules carrying this sandbox's comment are swept after DEL, and before a retry.
    const families: Array<4 | 6> = cached === undefined ? [4, 6] : [...new Set(podIpsFromResult(cached.result, POD_IFNAME).ips.map((ip) => (ip.includes(':') ? 6 : 4) as 4 | 6))];
    try {
      await this.client.delNetworkList(list, rt);
    } catch (err) {
      if ((await removeStaleMasqRules(list.name, request.sandboxId, families)) === 0) throw err;
      log.info('DEL failed on masquerade rules the bridge plugin had left; removed them, trying DEL again', { key: podKey(request), sandbox: request.sandboxId, err });
      await this.client.delNetworkList(list, rt);
    }
    const removed = await removeStaleMasqRules(list.name, request.sandboxId, families);
    if (removed > 0) log.debug('removed masquerade rules the bridge plugin left', { key: podKey(request), sandbox: request.sandboxId, netnsGone: !alive, removed });
    log.debug('pod network torn down', { key: podKey(request), sandbox: request.sandboxId, netnsGone: !alive, ms: Math.round(performance.now() - started) });
  }

  /** The addresses ADD gave this sandbox, from the cache (for a restarted agent's sandbox status); undefined if none. */
  async podIps(sandboxId: string): Promise<PodNetworkResult | undefined> {
    const cached = await this.client.readCache(this.networkName, sandboxId, POD_IFNAME);
    return cached === undefined ? undefined : podIpsFromResult(cached.result, POD_IFNAME);
  }

  /**
   * Tears down every attachment this network set up (per its ADD cache) whose sandbox is not in `liveSandboxIds`: what
   * a crashed or restarted agent left behind. Only skiff's own ADDs are in the cache, so containerd's pods sharing the
   * conflist are never touched. Returns the sandbox ids it tore down; a failure is logged and retried on the next call.
   */
  async garbageCollect(liveSandboxIds: ReadonlySet<string>): Promise<string[]> {
    const removed: string[] = [];
    for (const entry of await this.client.listCache()) {
      if (entry.networkName !== this.networkName || entry.ifName !== POD_IFNAME || liveSandboxIds.has(entry.containerId)) continue;
      const request: PodNetworkRequest = {
        sandboxId: entry.containerId,
        netnsPath: entry.netns ?? '',
        podName: argValue(entry.args, 'K8S_POD_NAME') ?? '',
        podNamespace: argValue(entry.args, 'K8S_POD_NAMESPACE') ?? '',
        podUid: argValue(entry.args, 'K8S_POD_UID') ?? '',
        portMappings: [],
      };
      try {
        await this.tearDown(request);
        removed.push(entry.containerId);
        log.info('tore down the network of a sandbox that no longer exists', { key: podKey(request), sandbox: entry.containerId });
      } catch (err) {
        log.error('tearing down the network of a sandbox that no longer exists failed', { key: podKey(request), sandbox: entry.containerId, err });
      }
    }
    return removed;
  }

  /** CNI CHECK of the pod's attachment: throws with the plugin's words when it is not as ADD left it. */
  async check(request: PodNetworkRequest): Promise<void> {
    const cached = await this.client.readCache(this.networkName, request.sandboxId, POD_IFNAME);
    if (cached === undefined) throw new Error(`pod network for ${podKey(request)}: no CNI ADD on record for sandbox ${request.sandboxId}`);
    await this.client.checkNetworkList(cached.config, { ...runtimeConf(request, request.netnsPath), args: cached.args, capabilityArgs: cached.capabilityArgs });
  }

  /** Deletes the bridge and the pods' masquerade chain (agent uninstall, tests). Pods still attached lose their network. Idempotent. */
  async removeBridge(): Promise<void> {
    await removePodMasquerade(this.bridgeName);
    try {
      await run('ip', ['link', 'delete', this.bridgeName, 'type', 'bridge'], { timeout: 10_000 });
    } catch (err) {
      const stderr = String((err as { stderr?: string }).stderr ?? '');
      if (/Cannot find device|does not exist/.test(stderr)) return;
      throw new Error(`deleting bridge ${this.bridgeName} failed: ${stderr.trim() || (err as Error).message}`);
    }
  }

  private render(podCidrs: string[]): CniNetworkConfigList {
    return renderSkiffConflist({ networkName: this.networkName, bridgeName: this.bridgeName, podCidrs, ipamDataDir: this.ipamDataDir, mtu: this.mtu });
  }

  private async hasPlugin(type: string): Promise<boolean> {
    for (const dir of this.pluginDirs) {
      try {
        await access(join(dir, type), constants.X_OK);
        return true;
      } catch {
        // next directory
      }
    }
    return false;
  }

  /** checkHost, at most once per RECHECK_MS (the sysctls change rarely; the bridge plugin sets ip_forward too). */
  private async checkHostEvery(): Promise<void> {
    if (performance.now() < this.hostCheckedUntil) return;
    await this.checkHost();
    this.hostCheckedUntil = performance.now() + RECHECK_MS;
  }

  /** ip_forward on (logged when changed); bridge-nf-call-iptables checked, warned about once. */
  private async checkHost(): Promise<void> {
    const { before, changed } = await ensureIpForward();
    if (changed) log.info('set net.ipv4.ip_forward=1 so pods reach beyond the node (the bridge plugin masquerades their traffic)', { was: before });
    if (!this.bridgeNfWarned) {
      const value = await readBridgeNfCallIptables();
      if (value !== '1') {
        this.bridgeNfWarned = true;
        log.warn(
          value === 'missing'
            ? 'net.bridge.bridge-nf-call-iptables does not exist (br_netfilter not loaded): Service traffic between pods on the same bridge will not be un-NATed; run modprobe br_netfilter'
            : 'net.bridge.bridge-nf-call-iptables is 0: Service traffic between pods on the same bridge will not be un-NATed; set it to 1',
          { bridge: this.bridgeName },
        );
      }
    }
  }
}

/** CNI_ARGS as kubelet's dockershim and containerd pass them (IgnoreUnknown first, so plugins accept the K8S_* keys). */
function cniArgs(request: PodNetworkRequest): Array<[string, string]> {
  return [
    ['IgnoreUnknown', '1'],
    ['K8S_POD_NAMESPACE', request.podNamespace],
    ['K8S_POD_NAME', request.podName],
    ['K8S_POD_INFRA_CONTAINER_ID', request.sandboxId],
    ['K8S_POD_UID', request.podUid],
  ];
}

function withoutPortmap(list: CniNetworkConfigList): CniNetworkConfigList {
  return { ...list, plugins: list.plugins.filter((p) => p.type !== 'portmap') };
}

function runtimeConf(request: PodNetworkRequest, netns: string): CniRuntimeConf {
  // portmap's runtimeConfig.portMappings, as containerd's CRI plugin builds it: only ports with a hostPort.
  const portMappings = request.portMappings
    .filter((p) => p.hostPort > 0)
    .map((p) => ({
      hostPort: p.hostPort,
      containerPort: p.containerPort,
      protocol: p.protocol.toLowerCase(),
      ...(p.hostIp !== undefined && p.hostIp !== '' ? { hostIP: p.hostIp } : {}),
    }));
  return {
    containerId: request.sandboxId,
    netns,
    ifName: POD_IFNAME,
    args: cniArgs(request),
    capabilityArgs: portMappings.length > 0 ? { portMappings } : {},
  };
}

function argValue(args: Array<[string, string]>, key: string): string | undefined {
  return args.find(([k]) => k === key)?.[1];
}

function podKey(request: PodNetworkRequest): string {
  return `${request.podNamespace}/${request.podName}`;
}
