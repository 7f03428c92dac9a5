/**
 * Writes a set of files into a directory so that readers see either the old set or the new one, never a mix: the
 * semantics of kubelet's pkg/volume/util/atomic_writer.go, which configMap, secret, downwardAPI and projected
 * volumes use.
 *
 * Layout of a target directory:
 *
 *   ..2025_01_31_12_00_00.123456789/   the payload of one write (files and subdirectories, with their modes)
 *   ..data -> ..2025_01_31_12_00_00.123456789
 *   key -> ..data/key                  user-visible names: one symlink per top-level entry of the payload
 *
 * A write (only when the payload differs from what `..data` shows): write the new timestamped dir, point a new
 * `..data_tmp` link at it, rename it over `..data` (rename(2) is atomic), create missing user-visible links, remove
 * the links of entries no longer in the payload, then remove the old timestamped dir. A container that opened
 * `key` before the swap keeps reading the old file; the next open sees the new one.
 *
 * The file operations are synchronous (as kubelet's are): a few small files on a local or tmpfs directory take
 * microseconds each, while each asynchronous one waits for a libuv pool thread (4, shared with every other fs call of
 * the agent) and then for the event loop again, ~25 times for a first write and ~10 for every resync's comparison.
 */
import { chmodSync as chmod, lstatSync as lstat, mkdirSync as mkdir, mkdtempSync as mkdtemp, readdirSync as readdir, readFileSync as readFile, readlinkSync as readlink, renameSync as rename, rmSync as rm, statSync as stat, symlinkSync as symlink, unlinkSync as unlink, writeFileSync as writeFile } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../../client/types.js';

export interface FileProjection {
  data: Buffer;
  /** File mode bits, e.g. 0o644. */
  mode: number;
}

/** Relative path (`a/b.txt`) → content. */
export type Payload = Map<string, FileProjection>;

const DATA_DIR = '..data';
const NEW_DATA_DIR = '..data_tmp';

/**
 * Checks one payload path as upstream's validatePath: relative, not empty, no `..` element, no element that starts
 * with `..` (those names belong to the writer). Returns the reason it is refused, or undefined.
 */
export function invalidPayloadPath(path: string): string | undefined {
  if (path === '') return 'path must not be empty';
  if (path.length > 4096) return `invalid path: must be less than or equal to 4096 characters`;
  if (path.startsWith('/')) return `invalid path: must be relative path: ${path}`;
  const parts = path.split('/');
  for (const p of parts) {
    if (p === '..') return `invalid path: must not contain '..': ${path}`;
    if (p.startsWith('..')) return `invalid path: must not start with '..': ${path}`;
  }
  return undefined;
}

function timestampDirPrefix(now: Date): string {
  // Upstream: `..` + time.Now().UTC().Format("2006_01_02_15_04_05.") then os.MkdirTemp's random suffix.
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `..${now.getUTCFullYear()}_${p(now.getUTCMonth() + 1)}_${p(now.getUTCDate())}_${p(now.getUTCHours())}_${p(now.getUTCMinutes())}_${p(now.getUTCSeconds())}.`;
}

async function exists(path: string): Promise<boolean> {
  try {
    lstat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Files (relative paths) under `dir`, recursively, with content and mode. */
async function readPayload(dir: string, prefix = ''): Promise<Payload> {
  const out: Payload = new Map();
  for (const e of readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    const full = join(dir, e.name);
    if (e.isDirectory()) {
      for (const [k, v] of await readPayload(full, rel)) out.set(k, v);
    } else if (e.isFile()) {
      const st = stat(full);
      out.set(rel, { data: readFile(full), mode: st.mode & 0o7777 });
    }
  }
  return out;
}

function samePayload(a: Payload, b: Payload): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w || w.mode !== v.mode || !w.data.equals(v.data)) return false;
  }
  return true;
}

/** Top-level names of a payload: `a/b/c` → `a`. */
function userVisibleNames(payload: Payload): Set<string> {
  return new Set([...payload.keys()].map((p) => p.split('/')[0]!));
}

export class AtomicWriter {
  constructor(
    readonly targetDir: string,
    private readonly clock: Clock,
  ) {}

  /**
   * Makes the target directory show exactly `payload`. Returns true when something was written, false when the
   * payload equals what is there (so the per-sync call costs one read). Throws on an invalid path.
   */
  async write(payload: Payload): Promise<boolean> {
    for (const path of payload.keys()) {
      const why = invalidPayloadPath(path);
      if (why) throw new Error(why);
    }
    mkdir(this.targetDir, { recursive: true, mode: 0o755 });
    const dataLink = join(this.targetDir, DATA_DIR);
    let oldTsName: string | undefined;
    try {
      oldTsName = readlink(dataLink);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const visible = userVisibleNames(payload);
    if (oldTsName !== undefined && (await exists(join(this.targetDir, oldTsName)))) {
      const current = await readPayload(join(this.targetDir, oldTsName));
      if (samePayload(current, payload) && (await this.linksPresent(visible))) return false;
    }

    // 1. the new payload in a fresh timestamped directory
    const tsDir = mkdtemp(join(this.targetDir, timestampDirPrefix(this.clock.now())));
    chmod(tsDir, 0o755);
    const tsName = tsDir.slice(this.targetDir.length + 1);
    for (const [rel, f] of payload) {
      const full = join(tsDir, rel);
      const slash = rel.lastIndexOf('/');
      if (slash >= 0) mkdir(join(tsDir, rel.slice(0, slash)), { recursive: true, mode: 0o755 });
      writeFile(full, f.data, { mode: f.mode });
      // writeFile's mode is filtered by the umask; the projected mode must be exact.
      chmod(full, f.mode);
    }

    // 2-3. ..data_tmp -> new dir, renamed over ..data
    const tmpLink = join(this.targetDir, NEW_DATA_DIR);
    rm(tmpLink, { force: true });
    symlink(tsName, tmpLink);
    rename(tmpLink, dataLink);

    // 4. user-visible links for new top-level names
    for (const name of visible) {
      const link = join(this.targetDir, name);
      const want = join(DATA_DIR, name);
      let have: string | undefined;
      try {
        have = readlink(link);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EINVAL') rm(link, { recursive: true, force: true }); // a real file or dir in the way
        else if (code !== 'ENOENT') throw err;
      }
      if (have === want) continue;
      if (have !== undefined) unlink(link);
      symlink(want, link);
    }

    // 5. links of names that left the payload
    for (const e of readdir(this.targetDir)) {
      if (e.startsWith('..') || visible.has(e)) continue;
      rm(join(this.targetDir, e), { recursive: true, force: true });
    }

    // 6. the old payload, and timestamped dirs of writes that died half-way
    for (const e of readdir(this.targetDir)) {
      if (e.startsWith('..') && e !== DATA_DIR && e !== tsName && e !== NEW_DATA_DIR) rm(join(this.targetDir, e), { recursive: true, force: true });
    }
    return true;
  }

  private async linksPresent(names: Set<string>): Promise<boolean> {
    for (const name of names) {
      try {
        if ((readlink(join(this.targetDir, name))) !== join(DATA_DIR, name)) return false;
      } catch {
        return false;
      }
    }
    // Nothing extra either (a name removed by hand, or by an interrupted write, must be cleaned up).
    for (const e of readdir(this.targetDir)) if (!e.startsWith('..') && !names.has(e)) return false;
    return true;
  }
}
