/**
 * The bridge plugin's ipMasq rules outlive a pod whose network namespace vanished before DEL: the plugin learns the
 * pod's addresses from the interface inside the namespace, so without it DEL releases the lease but leaves the
 * `-s <pod ip> -j CNI-<hash>` jump in nat POSTROUTING and the CNI-<hash> chain. Every such rule carries the comment
 * `name: "<network>" id: "<container id>"`; this finds them by that comment and removes them and their chains.
 */
import { execFileInThread } from './exec-thread.js';

/** iptables from the exec thread: every pod's DEL lists POSTROUTING, and a spawn from the agent's process blocks its thread. */
const run = (tool: string, args: string[], options: { timeout: number }) => execFileInThread(tool, args, { timeoutMs: options.timeout });

/** Returns how many POSTROUTING rules it removed (0 when there were none, the usual case). */
export async function removeStaleMasqRules(networkName: string, containerId: string, families: Array<4 | 6> = [4, 6]): Promise<number> {
  const comment = `name: "${networkName}" id: "${containerId}"`;
  const quoted = JSON.stringify(comment); // iptables -S prints the comment in double quotes with inner quotes escaped
  let removed = 0;
  for (const family of families) {
    const tool = family === 4 ? 'iptables' : 'ip6tables';
    let listing: string;
    try {
      listing = (await run(tool, ['-w', '5', '-t', 'nat', '-S', 'POSTROUTING'], { timeout: 15_000 })).stdout;
    } catch (err) {
      // No ip6tables, or no IPv6 nat table in this kernel: nothing of ours can be there.
      if (family === 6) continue;
      throw err;
    }
    for (const line of listing.split('\n')) {
      if (!line.startsWith('-A POSTROUTING ') || !line.includes(`--comment ${quoted}`)) continue;
      const source = /(?:^| )-s (\S+)/.exec(line)?.[1];
      const chain = /(?:^| )-j (CNI-[0-9a-f]+)$/.exec(line)?.[1];
      if (source === undefined || chain === undefined) continue;
      await run(tool, ['-w', '5', '-t', 'nat', '-D', 'POSTROUTING', '-s', source, '-m', 'comment', '--comment', comment, '-j', chain], { timeout: 15_000 });
      removed++;
      // The chain may be shared by several addresses of the same pod (dual stack): flush and delete once it is unused.
      if (!listing.split('\n').some((other) => other !== line && other.startsWith('-A POSTROUTING ') && other.endsWith(`-j ${chain}`))) {
        await run(tool, ['-w', '5', '-t', 'nat', '-F', chain], { timeout: 15_000 });
        await run(tool, ['-w', '5', '-t', 'nat', '-X', chain], { timeout: 15_000 });
      }
    }
  }
  return removed;
}
