/**
 * A tiny tmpfs to fill, for tests of what happens on a full disk. Mounting needs root (CAP_SYS_ADMIN); callers skip
 * with a message when mountTinyTmpfs returns undefined.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Mounts a tmpfs of `size` on a new temporary folder; undefined when this process may not mount. */
export function mountTinyTmpfs(size: string): { dir: string; unmount(): void } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  return {
    dir,
    unmount() {
      execFileSync('umount', [dir], { stdio: 'pipe' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Fills the file system of `dir` with a file `name`; returns its path. */
export function fillDisk(dir: string, name = 'filler'): string {
  const path = join(dir, name);
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeFileSync(path, chunk, { flag: 'a' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  }
  // Top up the last partial chunk byte-wise, so not even a page is left.
  try {
    for (;;) writeFileSync(path, Buffer.alloc(512, 1), { flag: 'a' });
  } catch {
    // ENOSPC: full.
  }
  assert.equal(statfsSync(dir).bavail, 0, `${dir} still has free blocks after filling`);
  return path;
}

