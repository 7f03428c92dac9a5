/**
 * Image archives into containerd: `skiff images import FILE`, and every archive in `<data-dir>/agent/images/` at
 * agent start (k3s's air-gap convention). Docker-save and OCI archives both work, plain or gzip'd; the import is
 * `ctr --address <sock> -n k8s.io images import -` (ctr ships with containerd), fed the tar on stdin, because the
 * CRI plugin only sees images in the k8s.io namespace. Images are unpacked into the snapshotter at import, so the
 * first container starts without that cost.
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { createLogger } from '../../log/logger.js';

const log = createLogger('images');

export interface ImportOptions {
  /** containerd's gRPC socket (a path or unix:// URL). */
  address: string;
  /** The ctr binary; default `ctr` on PATH. */
  ctr?: string;
  /** containerd namespace; CRI uses k8s.io. */
  namespace?: string;
  snapshotter?: string;
}

/** Archive names the air-gap directory accepts; others (zstd, bz2, lz4: no decompressor here) are skipped with a warning. */
export const ARCHIVE_PATTERN = /\.(tar|tar\.gz|tgz)$/;

function socketPath(address: string): string {
  return address.replace(/^unix:\/\//, '').replace(/^unix:/, '');
}

/** Imports one archive (a file path, or the archive's bytes); returns the image names containerd recorded. */
export async function importImageArchive(source: string | Buffer, options: ImportOptions): Promise<string[]> {
  const args = ['--address', socketPath(options.address), '--namespace', options.namespace ?? 'k8s.io', 'images', 'import'];
  if (options.snapshotter) args.push('--snapshotter', options.snapshotter);
  args.push('-');
  const child = spawn(options.ctr ?? 'ctr', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const exited = new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code ?? 1));
  });
  const what = typeof source === 'string' ? source : 'image archive';
  try {
    const input = typeof source === 'string' ? createReadStream(source) : Readable.from([source]);
    const gzipped = typeof source === 'string' ? /\.(gz|tgz)$/.test(source) : source[0] === 0x1f && source[1] === 0x8b;
    if (gzipped) await pipeline(input, createGunzip(), child.stdin);
    else await pipeline(input, child.stdin);
  } catch (e) {
    child.kill();
    await exited.catch(() => 1);
    const reason = Buffer.concat(err).toString().trim() || (e as Error).message;
    throw new Error(`importing ${what}: ${reason}`);
  }
  const code = await exited;
  if (code !== 0) throw new Error(`importing ${what}: ctr exited with ${code}: ${Buffer.concat(err).toString().trim()}`);
  // ctr prints "unpacking <name> (sha256:...)...done" per image.
  return [...Buffer.concat(out).toString().matchAll(/^unpacking (\S+) \(/gm)].map((m) => m[1]);
}

export interface ImportResult {
  file: string;
  images: string[];
  error?: string;
  ms: number;
}

/**
 * Imports every archive in `dir` (k3s: `<data-dir>/agent/images/`), in name order. A bad archive is logged and
 * reported, not thrown: the agent starts anyway, and pods using its images fail with the pull error.
 */
export async function importImageDirectory(dir: string, options: ImportOptions): Promise<ImportResult[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const results: ImportResult[] = [];
  for (const name of names) {
    const file = join(dir, name);
    if (!(await stat(file)).isFile()) continue;
    if (!ARCHIVE_PATTERN.test(name)) {
      log.warn('skipping a file in the image directory: only .tar, .tar.gz and .tgz archives are imported', { file });
      continue;
    }
    const started = performance.now();
    try {
      const images = await importImageArchive(file, options);
      const ms = Math.round(performance.now() - started);
      log.info('imported image archive', { file, images, ms });
      results.push({ file, images, ms });
    } catch (e) {
      const ms = Math.round(performance.now() - started);
      log.error('cannot import image archive', { file, err: e });
      results.push({ file, images: [], error: (e as Error).message, ms });
    }
  }
  return results;
}

/** `<data-dir>/agent/images`: the air-gap image directory. */
export function airGapImageDir(dataDir: string): string {
  return join(dataDir, 'agent', 'images');
}
