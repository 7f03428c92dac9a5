/**
 * The iptables backend of the service proxier (service-proxier.ts): rules from render-iptables.ts written with
 * `iptables-restore --noflush`, which touches only the chains named in its input (ours). A partial sync writes the
 * changed Services' chains and the top-level chains whole; a full one also deletes every chain of ours it does not
 * write (what a killed run left). The jumps from PREROUTING/OUTPUT/POSTROUTING (nat) and INPUT/FORWARD/OUTPUT (filter)
 * are checked and inserted at every full sync. remove() takes jumps and chains away.
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type { ServicePortInfo } from '../service-model.js';
import type { ProxyBackend } from '../service-proxier.js';
import { jumpRules, renderRestore, renderServicePort, topChains, type IptablesRenderOptions, type RenderedServicePort } from './render-iptables.js';

const run = promisify(execFile);
const TOOL_TIMEOUT_MS = 30_000;

export interface IptablesBackendOptions {
  /** Per-agent chain prefix (chainPrefixFor). */
  prefix: string;
  clusterCIDRs: string[];
  masqueradeMark?: string;
  /** The node's addresses (IptablesRenderOptions.nodeIPs). */
  nodeIPs?: string[];
}

/** Rules through `iptables-restore --noflush` of our chains only, and jumps into them from the built-in chains. */
export class IptablesBackend implements ProxyBackend<RenderedServicePort> {
  private readonly options: IptablesRenderOptions;
  /** Our nat chains as they are in the kernel after the last write (undefined: not read yet). */
  private existingNatChains: Set<string> | undefined;

  constructor(private readonly o: IptablesBackendOptions) {
    this.options = { prefix: o.prefix, clusterCIDRs: o.clusterCIDRs, masqueradeMark: o.masqueradeMark ?? '0x4000', ...(o.nodeIPs ? { nodeIPs: o.nodeIPs } : {}) };
  }

  render(sp: ServicePortInfo): RenderedServicePort {
    return renderServicePort(sp, this.options);
  }

  async apply(all: RenderedServicePort[], changed: ReadonlySet<string> | undefined): Promise<{ lines: number }> {
    const full = changed === undefined;
    const wanted = new Set<string>();
    for (const sp of all) for (const c of sp.natChains) wanted.add(c);
    // A full write deletes every chain of ours it does not write: what a killed run left included.
    if (full || !this.existingNatChains) this.existingNatChains = await listChains('nat', this.o.prefix);
    const top = new Set(Object.values(topChains(this.o.prefix)));
    const stale = [...this.existingNatChains].filter((c) => !wanted.has(c) && !top.has(c));
    const text = renderRestore({ ports: all, ...(changed ? { changed } : {}), staleNatChains: stale }, this.options);
    try {
      await iptablesRestore(text);
    } catch (err) {
      this.existingNatChains = undefined;
      throw err;
    }
    this.existingNatChains = wanted;
    // After the restore: a jump needs its chain.
    if (full) await this.ensureJumps();
    return { lines: text.split('\n').length };
  }

  remove(): Promise<void> {
    return removeIptablesRules(this.o.prefix);
  }

  private async ensureJumps(): Promise<void> {
    for (const j of jumpRules(this.o.prefix)) {
      const present = await run('iptables', ['-w', '5', '-t', j.table, '-C', j.chain, ...j.args], { timeout: TOOL_TIMEOUT_MS }).then(
        () => true,
        () => false,
      );
      if (!present) await run('iptables', ['-w', '5', '-t', j.table, '-I', j.chain, '1', ...j.args], { timeout: TOOL_TIMEOUT_MS });
    }
  }

}

/** `iptables-restore --noflush` of `text` (the network policy controller writes its chains with it too). */
export function iptablesRestore(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('iptables-restore', ['-w', '5', '--noflush'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`iptables-restore failed (exit ${code}): ${stderr.trim()}`))));
    child.stdin.end(text);
  });
}

/** Chains of a table whose names start with `<prefix>-`. */
export async function listChains(table: 'nat' | 'filter', prefix: string): Promise<Set<string>> {
  const { stdout } = await run('iptables', ['-w', '5', '-t', table, '-S'], { timeout: TOOL_TIMEOUT_MS, maxBuffer: 512 * 1024 * 1024 });
  const chains = new Set<string>();
  for (const line of stdout.split('\n')) if (line.startsWith(`-N ${prefix}-`)) chains.add(line.slice(3).trim());
  return chains;
}

/** Removes the jumps to our chains and the chains themselves (both tables). Idempotent. */
export async function removeIptablesRules(prefix: string): Promise<void> {
  for (const j of jumpRules(prefix)) {
    // A jump inserted twice (two starts racing) is removed twice.
    for (let i = 0; i < 5; i++) {
      const ok = await run('iptables', ['-w', '5', '-t', j.table, '-D', j.chain, ...j.args], { timeout: TOOL_TIMEOUT_MS }).then(
        () => true,
        () => false,
      );
      if (!ok) break;
    }
  }
  for (const table of ['filter', 'nat'] as const) {
    const chains = [...(await listChains(table, prefix))];
    if (chains.length === 0) continue;
    const text = [`*${table}`, ...chains.map((c) => `:${c} - [0:0]`), ...chains.map((c) => `-X ${c}`), 'COMMIT', ''].join('\n');
    await new Promise<void>((resolve, reject) => {
      const child = spawn('iptables-restore', ['-w', '5', '--noflush'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`removing ${table} chains ${prefix}-* failed: ${stderr.trim()}`))));
      child.stdin.end(text);
    });
  }
}
