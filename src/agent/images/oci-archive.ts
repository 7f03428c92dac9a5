/**
 * buildOciArchive: a single-platform OCI image as an OCI archive (a tar of an image layout: oci-layout, index.json,
 * blobs/sha256/*), written by hand from the OCI image spec (github.com/opencontainers/image-spec: image-layout.md,
 * manifest.md, config.md). Layers are ustar tars, gzip'd, addressed by sha256. Output is deterministic: same input,
 * same digests. `ctr images import`, skopeo and containerd's CRI all read it.
 *
 * The index entry carries the full reference in `org.opencontainers.image.ref.name` (and containerd's
 * `io.containerd.image.name`): with a bare tag there, ctr would import it as `import-<date>:<tag>`.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

export interface TarEntry {
  /** Relative path inside the archive, no leading slash; directories without a trailing slash. */
  path: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  data?: Buffer;
  linkname?: string;
  uid?: number;
  gid?: number;
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function splitName(path: string): { name: string; prefix: string } {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: '' };
  // ustar: prefix (<= 155 bytes) + '/' + name (<= 100 bytes), split at a slash.
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return { name, prefix };
  }
  throw new Error(`tar: path too long for ustar: ${JSON.stringify(path)}`);
}

function header(entry: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  const { name, prefix } = splitName(entry.type === 'dir' ? `${entry.path}/` : entry.path);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(entry.mode & 0o7777, 8), 100, 8, 'ascii');
  h.write(octal(entry.uid ?? 0, 8), 108, 8, 'ascii');
  h.write(octal(entry.gid ?? 0, 8), 116, 8, 'ascii');
  h.write(octal(size, 12), 124, 12, 'ascii');
  h.write(octal(0, 12), 136, 12, 'ascii'); // mtime 0: reproducible digests
  h.write('        ', 148, 8, 'ascii'); // checksum is computed with this field as spaces
  h.write(entry.type === 'file' ? '0' : entry.type === 'symlink' ? '2' : '5', 156, 1, 'ascii');
  if (entry.linkname) h.write(entry.linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  h.write('root', 265, 32, 'ascii');
  h.write('root', 297, 32, 'ascii');
  if (prefix) h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

/** A ustar archive of `entries`, in the order given, ended by two zero blocks. */
export function writeTar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const data = entry.type === 'file' ? (entry.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
    parts.push(header(entry, data.length));
    if (data.length > 0) {
      parts.push(data);
      const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
      if (pad > 0) parts.push(Buffer.alloc(pad));
    }
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

export const sha256 = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** The image config's `config` object (the parts a runtime uses). */
export interface ImageRunConfig {
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  ExposedPorts?: Record<string, object>;
  Labels?: Record<string, string>;
}

export interface OciImageSpec {
  /** Full reference the image imports as, e.g. docker.io/library/busybox:local. */
  reference: string;
  /** Layers, bottom first; each a list of tar entries. */
  layers: TarEntry[][];
  config: ImageRunConfig;
  /** OCI platform; default: this machine's. */
  architecture?: string;
  os?: string;
}

export function goArch(arch: string = process.arch): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[arch] ?? arch;
}

export interface BuiltImage {
  /** The OCI archive (a tar). */
  archive: Buffer;
  /** Digest of the manifest (what a registry and containerd call the image's digest). */
  manifestDigest: string;
  /** Digest of the config (CRI's image id). */
  configDigest: string;
}

export function buildOciArchive(spec: OciImageSpec): BuiltImage {
  const architecture = spec.architecture ?? goArch();
  const os = spec.os ?? 'linux';
  const blobs = new Map<string, Buffer>();
  const addBlob = (data: Buffer) => {
    const digest = sha256(data);
    blobs.set(digest, data);
    return { digest, size: data.length };
  };

  const diffIds: string[] = [];
  const layerDescriptors = spec.layers.map((entries) => {
    const tar = writeTar(entries);
    diffIds.push(sha256(tar));
    // Node's gzip header has mtime 0 and a fixed OS byte, so the compressed digest is stable too.
    return { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...addBlob(gzipSync(tar, { level: 6 })) };
  });
  const config = {
    created: '1970-01-01T00:00:00Z',
    architecture,
    os,
    config: spec.config,
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: diffIds.map(() => ({ created: '1970-01-01T00:00:00Z', created_by: 'skiff' })),
  };
  const configDescriptor = { mediaType: 'application/vnd.oci.image.config.v1+json', ...addBlob(Buffer.from(JSON.stringify(config))) };
  const manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: configDescriptor, layers: layerDescriptors };
  const manifestDescriptor = addBlob(Buffer.from(JSON.stringify(manifest)));
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        ...manifestDescriptor,
        platform: { architecture, os },
        annotations: { 'org.opencontainers.image.ref.name': spec.reference, 'io.containerd.image.name': spec.reference },
      },
    ],
  };

  const entries: TarEntry[] = [
    { path: 'oci-layout', type: 'file', mode: 0o644, data: Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })) },
    { path: 'index.json', type: 'file', mode: 0o644, data: Buffer.from(JSON.stringify(index)) },
    { path: 'blobs', type: 'dir', mode: 0o755 },
    { path: 'blobs/sha256', type: 'dir', mode: 0o755 },
    ...[...blobs].map(([digest, data]): TarEntry => ({ path: `blobs/sha256/${digest.slice('sha256:'.length)}`, type: 'file', mode: 0o644, data })),
  ];
  return { archive: writeTar(entries), manifestDigest: manifestDescriptor.digest, configDigest: configDescriptor.digest };
}
