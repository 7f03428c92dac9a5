/**
 * The nftables backend of the service proxier (service-proxier.ts): rules from render-nftables.ts in a table of this
 * agent's own (`ip skiff-<id>`), written with `nft -f` (one transaction). A full sync deletes and remakes the table in
 * that transaction (what a killed run left goes with it); a partial one rewrites the maps, the base chains and the
 * changed Services' chains, deletes the chains and sets no longer wanted, and keeps the affinity sets' entries.
 * remove() deletes the table. No jumps into other tables are needed: the table's base chains have their own hooks.
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type { ServicePortInfo } from '../service-model.js';
import type { ProxyBackend } from '../service-proxier.js';
import { renderNftables, renderNftPort, type NftablesRenderOptions, type RenderedNftPort } from './render-nftables.js';

const run = promisify(execFile);

export interface NftablesBackendOptions {
  /** The table's name, unique per agent. */
  table: string;
  clusterCIDRs: string[];
  masqueradeMark?: string;
  /** The node's addresses (NftablesRenderOptions.nodeIPs). */
  nodeIPs?: string[];
}

export class NftablesBackend implements ProxyBackend<RenderedNftPort> {
  private readonly options: NftablesRenderOptions;
  /** Per-port chains and sets as the kernel holds them after the last write. */
  private chains = new Set<string>();
  private sets = new Set<string>();

  constructor(o: NftablesBackendOptions) {
    this.options = { table: o.table, clusterCIDRs: o.clusterCIDRs, masqueradeMark: o.masqueradeMark ?? '0x4000', ...(o.nodeIPs ? { nodeIPs: o.nodeIPs } : {}) };
  }

  render(sp: ServicePortInfo): RenderedNftPort {
    return renderNftPort(sp, this.options);
  }

  async apply(all: RenderedNftPort[], changed: ReadonlySet<string> | undefined): Promise<{ lines: number }> {
    const chains = new Set<string>();
    const sets = new Set<string>();
    for (const p of all) {
      for (const c of p.chains.keys()) chains.add(c);
      for (const s of p.sets.keys()) sets.add(s);
    }
    const text = renderNftables(
      { ports: all, ...(changed ? { changed, staleChains: [...this.chains].filter((c) => !chains.has(c)), staleSets: [...this.sets].filter((s) => !sets.has(s)) } : {}) },
      this.options,
    );
    await nftScript(text);
    this.chains = chains;
    this.sets = sets;
    return { lines: text.split('\n').length };
  }

  async remove(): Promise<void> {
    await removeNftTable(this.options.table);
  }
}

function nftScript(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('nft', ['-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`nft -f failed (exit ${code}): ${stderr.trim().slice(0, 2000)}`))));
    child.stdin.end(text);
  });
}

/** Deletes the table if it exists. */
export async function removeNftTable(table: string): Promise<void> {
  const { stdout } = await run('nft', ['list', 'tables'], { timeout: 30_000 });
  if (stdout.split('\n').some((l) => l.trim() === `table ip ${table}`)) await run('nft', ['delete', 'table', 'ip', table], { timeout: 30_000 });
}
