/** The skip decision of the end-to-end tests that need root and host binaries (CNI plugins, iptables, curl, …). */
import { existsSync } from 'node:fs';
import { kubectlSkip } from './kubectl.js';

export const isRoot = process.getuid?.() === 0;

/**
 * Why an end-to-end test cannot run here, or false: no kubectl, not root (`notRoot` is the whole message then), or a
 * missing file of `prereqs` (`missing on this machine: …; skipping <what>`). Under CI=true a reason throws instead:
 * CI must not skip silently.
 */
export function e2eSkipReason(o: { prereqs: string[]; notRoot: string; what: string }): string | false {
  const k = kubectlSkip();
  if (k) return k;
  const missing = o.prereqs.filter((p) => !existsSync(p));
  let reason: string | false = false;
  if (!isRoot) reason = o.notRoot;
  else if (missing.length > 0) reason = `missing on this machine: ${missing.join(', ')}; skipping ${o.what}`;
  if (reason && process.env.CI === 'true') throw new Error(`${reason} (CI=true forbids skipping)`);
  return reason;
}

/** `needs root (<why>)` when not root, else undefined: a term of skipIfMissing's `a ?? b ?? …` chain. */
export const needsRoot = (why: string): string | undefined => (isRoot ? undefined : `needs root (${why})`);

/** `message` when `path` does not exist, else undefined: a term of skipIfMissing's chain. */
export const needsFile = (path: string, message: string): string | undefined => (existsSync(path) ? undefined : message);

/** The CNI plugins' needsFile message. */
export const needsCni = (): string | undefined => needsFile('/usr/lib/cni/bridge', 'CNI plugins are not in /usr/lib/cni (apt-get install containernetworking-plugins)');

/**
 * The skip decision of a test whose first missing prerequisite is `missing` (undefined: none): that text, or kubectl's
 * skip reason, or false. Under CI=true a missing prerequisite throws (`CI=true but <missing>`).
 */
export function skipIfMissing(missing: string | undefined): string | false {
  if (missing) {
    if (process.env.CI === 'true') throw new Error(`CI=true but ${missing}`);
    return missing;
  }
  return kubectlSkip();
}
