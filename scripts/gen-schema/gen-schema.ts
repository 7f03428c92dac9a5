/**
 * Generates src/api/schema/kinds.generated.ts from git copies of kubernetes/api and
 * kubernetes/apimachinery. See README.md for usage.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildSchemaTable, openAPIPackageName, type GoPackage } from './build-schema-table.js';
import { checkAgainstProto, parseProtoMessages } from './check-against-proto.js';
import { emitSchemaModule, type UpstreamSource } from './emit-schema-module.js';
import { defaultBuildIncludes, parseGoFile } from './parse-go-file.js';

/** Packages read from kubernetes/api (import path k8s.io/api/<dir>). */
const API_PACKAGES = [
  'core/v1', 'apps/v1', 'batch/v1', 'autoscaling/v1', 'autoscaling/v2', 'coordination/v1', 'discovery/v1',
  'events/v1', 'rbac/v1', 'storage/v1', 'networking/v1', 'policy/v1', 'scheduling/v1', 'authentication/v1',
  'authorization/v1', 'certificates/v1', 'admissionregistration/v1', 'node/v1', 'flowcontrol/v1',
];
/** Packages read from kubernetes/apimachinery (import path k8s.io/apimachinery/<dir>). */
const APIMACHINERY_PACKAGES = ['pkg/apis/meta/v1', 'pkg/types'];

/** The kinds skiff serves; the closure of everything they reference is generated. */
const ROOT_KINDS: Record<string, string[]> = {
  'core/v1': [
    'Namespace', 'Pod', 'Service', 'Endpoints', 'Node', 'ConfigMap', 'Secret', 'Event', 'ServiceAccount',
    'PersistentVolume', 'PersistentVolumeClaim', 'ResourceQuota', 'LimitRange', 'Binding',
    'ReplicationController', 'PodTemplate',
  ],
  'apps/v1': ['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'ControllerRevision'],
  'batch/v1': ['Job', 'CronJob'],
  'autoscaling/v1': ['HorizontalPodAutoscaler', 'Scale'],
  'autoscaling/v2': ['HorizontalPodAutoscaler'],
  'coordination/v1': ['Lease'],
  'discovery/v1': ['EndpointSlice'],
  'events/v1': ['Event'],
  'rbac/v1': ['Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding'],
  'storage/v1': ['StorageClass', 'CSIDriver', 'CSINode', 'CSIStorageCapacity', 'VolumeAttachment'],
  'networking/v1': ['Ingress', 'IngressClass', 'NetworkPolicy'],
  'policy/v1': ['PodDisruptionBudget', 'Eviction'],
  'scheduling/v1': ['PriorityClass'],
  'node/v1': ['RuntimeClass'],
  'flowcontrol/v1': ['FlowSchema', 'PriorityLevelConfiguration'],
  'authorization/v1': ['LocalSubjectAccessReview', 'SelfSubjectAccessReview', 'SelfSubjectRulesReview', 'SubjectAccessReview'],
  // TokenRequest: the serviceaccounts/token subresource (`kubectl create token`, projected tokens).
  'authentication/v1': ['SelfSubjectReview', 'TokenReview', 'TokenRequest'],
  'certificates/v1': ['CertificateSigningRequest'],
  // Webhook configurations (admission/webhook/) and ValidatingAdmissionPolicy with its binding (admission/policy/).
  'admissionregistration/v1': ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'],
};
const META_KINDS = ['Status', 'DeleteOptions', 'WatchEvent'];

const SKIPPED_FILES = /(_test\.go|generated\.pb\.go|zz_generated\.[^/]*|_generated\.go)$/;

class GitSource {
  readonly gitDir: string;
  constructor(
    location: string,
    readonly ref: string,
  ) {
    this.gitDir = existsSync(join(location, '.git')) ? join(location, '.git') : location;
  }
  private git(...args: string[]): string {
    return execFileSync('git', ['--git-dir', this.gitDir, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  }
  commit(): string {
    return this.git('rev-parse', `${this.ref}^{commit}`).trim();
  }
  list(dir: string): string[] {
    return this.git('ls-tree', '--name-only', `${this.ref}:${dir}`).split('\n').filter(Boolean).map((n) => `${dir}/${n}`);
  }
  read(path: string): string {
    return this.git('show', `${this.ref}:${path}`);
  }
}

function loadPackage(source: GitSource, dir: string, importPath: string): { pkg: GoPackage; proto?: string } {
  const paths = source.list(dir);
  const files = paths
    .filter((p) => p.endsWith('.go') && !SKIPPED_FILES.test(p))
    .map((p) => parseGoFile(`${importPath.split('/').slice(0, 2).join('/')}:${p}`, source.read(p)))
    .filter((f) => f.buildConstraint === undefined || defaultBuildIncludes(f.buildConstraint));
  const registerPath = `${dir}/register.go`;
  const protoPath = `${dir}/generated.proto`;
  return {
    pkg: {
      importPath,
      files,
      registerSource: paths.includes(registerPath) ? source.read(registerPath) : undefined,
    },
    proto: paths.includes(protoPath) ? source.read(protoPath) : undefined,
  };
}

function main(): void {
  const { values } = parseArgs({
    options: {
      api: { type: 'string' },
      apimachinery: { type: 'string' },
      ref: { type: 'string' },
      'api-ref': { type: 'string' },
      'apimachinery-ref': { type: 'string' },
      out: { type: 'string', default: 'src/api/schema/kinds.generated.ts' },
    },
  });
  if (!values.api || !values.apimachinery) {
    console.error('usage: gen-schema --api <kubernetes/api git dir> --apimachinery <kubernetes/apimachinery git dir> --ref <tag> [--out file]');
    process.exit(2);
  }
  const api = new GitSource(values.api, values['api-ref'] ?? values.ref ?? 'HEAD');
  const machinery = new GitSource(values.apimachinery, values['apimachinery-ref'] ?? values.ref ?? 'HEAD');

  const packages: GoPackage[] = [];
  const protoFiles = new Map<string, ReturnType<typeof parseProtoMessages>>();
  const load = (source: GitSource, dir: string, importPath: string) => {
    const { pkg, proto } = loadPackage(source, dir, importPath);
    packages.push(pkg);
    if (proto) protoFiles.set(openAPIPackageName(importPath), parseProtoMessages(proto));
  };
  for (const dir of API_PACKAGES) load(api, dir, `k8s.io/api/${dir}`);
  for (const dir of APIMACHINERY_PACKAGES) load(machinery, dir, `k8s.io/apimachinery/${dir}`);

  const { table, protoEmbedded, warnings } = buildSchemaTable({
    packages,
    // Types may refer into packages not listed above (newer releases reference alpha groups).
    loadPackage: (importPath) => {
      const [repo, source] = importPath.startsWith('k8s.io/api/')
        ? ['k8s.io/api/', api]
        : importPath.startsWith('k8s.io/apimachinery/')
          ? ['k8s.io/apimachinery/', machinery]
          : [];
      if (!repo || !source) return undefined;
      const before = packages.length;
      load(source, importPath.slice(repo.length), importPath);
      console.warn(`note: also read ${importPath}, referenced by a served type`);
      return packages[before];
    },
    roots: Object.entries(ROOT_KINDS).map(([dir, kinds]) => ({ importPath: `k8s.io/api/${dir}`, kinds })),
    metaKinds: META_KINDS,
  });
  for (const w of warnings) console.warn(`warning: ${w}`);

  const { problems, checkedTypes } = checkAgainstProto(table, protoEmbedded, protoFiles);
  if (problems.length) {
    for (const p of problems) console.error(`proto mismatch: ${p}`);
    throw new Error(`${problems.length} disagreements with generated.proto; not writing ${values.out}`);
  }

  const sources: UpstreamSource[] = [
    { repository: 'github.com/kubernetes/api', ref: api.ref, commit: api.commit() },
    { repository: 'github.com/kubernetes/apimachinery', ref: machinery.ref, commit: machinery.commit() },
  ];
  const refArgs = api.ref === machinery.ref ? `--ref ${api.ref}` : `--api-ref ${api.ref} --apimachinery-ref ${machinery.ref}`;
  const command = `npx tsx scripts/gen-schema/gen-schema.ts --api <kubernetes/api> --apimachinery <kubernetes/apimachinery> ${refArgs}`;
  const text = emitSchemaModule(table, protoEmbedded, sources, command);
  const out = resolve(values.out!);
  writeFileSync(out, text);
  const fields = Object.values(table).reduce((n, t) => n + t.fields.length, 0);
  console.log(
    `wrote ${out}: ${Object.keys(table).length} types, ${fields} fields, ${text.length} bytes; ` +
      `${checkedTypes} types cross-checked against generated.proto`,
  );
}

main();
