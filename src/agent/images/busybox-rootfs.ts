/**
 * busyboxRootfs: a minimal root filesystem (as tar entries) around a statically linked busybox found on the host:
 * /bin/busybox, one symlink per applet, /etc/passwd and /etc/group, and the empty directories runc mounts over.
 * It is the layer of the locally built sandbox (pause) image, and of the test images (buildBusyboxImage).
 */
import { execFile } from 'node:child_process';
import { openSync, readSync, closeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { buildOciArchive, type BuiltImage, type ImageRunConfig, type TarEntry } from './oci-archive.js';

const execFileAsync = promisify(execFile);

/** The candidates Debian's busybox-static and other distributions install. */
export const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox', '/sbin/busybox', '/usr/sbin/busybox'];

/**
 * True when the ELF file has no PT_INTERP program header, i.e. needs no dynamic loader (so it runs inside an image
 * that has nothing but itself). Only 64-bit little-endian ELF is recognised; anything else is "not static".
 */
export function isStaticElf(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    const head = Buffer.alloc(64);
    if (readSync(fd, head, 0, 64, 0) < 64) return false;
    if (head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1) return false;
    const phoff = Number(head.readBigUInt64LE(32));
    const phentsize = head.readUInt16LE(54);
    const phnum = head.readUInt16LE(56);
    const table = Buffer.alloc(phentsize * phnum);
    readSync(fd, table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) if (table.readUInt32LE(i * phentsize) === 3 /* PT_INTERP */) return false;
    return true;
  } finally {
    closeSync(fd);
  }
}

export function findStaticBusybox(candidates = BUSYBOX_CANDIDATES): string | undefined {
  return candidates.find((path) => isStaticElf(path));
}

export async function busyboxRootfs(busyboxPath: string): Promise<TarEntry[]> {
  const { stdout } = await execFileAsync(busyboxPath, ['--list']);
  const applets = stdout
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== 'busybox' && /^[\w.[\]-]+$/.test(s))
    .sort();
  const dir = (path: string, mode = 0o755): TarEntry => ({ path, type: 'dir', mode });
  const text = (path: string, body: string): TarEntry => ({ path, type: 'file', mode: 0o644, data: Buffer.from(body) });
  return [
    dir('bin'),
    { path: 'bin/busybox', type: 'file', mode: 0o755, data: await readFile(busyboxPath) },
    ...applets.map((name): TarEntry => ({ path: `bin/${name}`, type: 'symlink', mode: 0o777, linkname: 'busybox' })),
    dir('dev'),
    dir('etc'),
    text('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n'),
    text('etc/group', 'root:x:0:\nnogroup:x:65534:\n'),
    dir('proc'),
    dir('root', 0o700),
    dir('sys'),
    dir('tmp', 0o1777),
    dir('usr'),
    dir('usr/bin'),
    { path: 'usr/bin/env', type: 'symlink', mode: 0o777, linkname: '/bin/busybox' },
    dir('var'),
  ];
}

let cachedRootfs: { path: string; entries: Promise<TarEntry[]> } | undefined;

/**
 * A busybox image named `reference` (default command /bin/sh, PATH=/bin:/usr/bin), with an optional extra layer:
 * the pause image and the test images are both this.
 */
export async function buildBusyboxImage(reference: string, config: ImageRunConfig = {}, extra: TarEntry[] = [], busybox = findStaticBusybox()): Promise<BuiltImage> {
  if (!busybox) throw new Error(`cannot build ${reference}: no statically linked busybox on this machine (Debian: apt-get install busybox-static)`);
  if (cachedRootfs?.path !== busybox) cachedRootfs = { path: busybox, entries: busyboxRootfs(busybox) };
  const layers = [await cachedRootfs.entries];
  if (extra.length > 0) layers.push(extra);
  return buildOciArchive({ reference, layers, config: { Cmd: ['/bin/sh'], Env: ['PATH=/bin:/usr/bin'], ...config } });
}
