/** Deleting a namespace of a real node and checking that its pods left nothing on the machine (cri runtime e2e). */
import assert from 'node:assert/strict';
import { eventually } from './eventually.js';
import type { Kubectl } from './kubectl.js';
import { podLeftovers, type CriTask } from './node-leftovers.js';

/**
 * `kubectl delete namespace <ns> --wait` (asserted to succeed within 60 s), then up to 20 s for podLeftovers of the
 * pods `uids` (with the tasks `before` seen while they ran) to be empty. Returns how long the delete took and what is
 * left ([] when nothing); the caller asserts on it.
 */
export async function deleteNamespaceAndLeftovers(k: Kubectl, ns: string, dataDir: string, uids: string[], before: CriTask[]): Promise<{ deleteMs: number; left: string[] }> {
  const started = performance.now();
  const r = await k(['delete', 'namespace', ns, '--wait=true', '--timeout=60s'], { timeoutMs: 70_000 });
  assert.equal(r.code, 0, r.stderr);
  const deleteMs = Math.round(performance.now() - started);
  const left = await eventually('nothing left of the namespace pods', async () => {
    const l = podLeftovers(dataDir, uids, before);
    return l.length === 0 ? l : undefined;
  }, 20_000).catch(() => podLeftovers(dataDir, uids, before));
  return { deleteMs, left };
}
