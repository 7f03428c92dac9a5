import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadPodSecurityConfig } from './pod-security-config.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skiff-psa-config-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const write = async (name: string, text: string) => {
  const p = join(dir, name);
  await writeFile(p, text);
  return p;
};

test('an AdmissionConfiguration with the PodSecurity configuration inline (the documented example)', async () => {
  const p = await write(
    'admission.yaml',
    `apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults:
      enforce: "baseline"
      enforce-version: "latest"
      audit: "restricted"
      audit-version: "v1.29"
      warn: "restricted"
    exemptions:
      usernames: []
      runtimeClasses: [kata]
      namespaces: [kube-system]
`,
  );
  assert.deepEqual(await loadPodSecurityConfig(p), {
    defaults: {
      enforce: { level: 'baseline', version: { latest: true } },
      audit: { level: 'restricted', version: { latest: false, minor: 29 } },
      warn: { level: 'restricted', version: { latest: true } },
    },
    exemptions: { usernames: [], runtimeClasses: ['kata'], namespaces: ['kube-system'] },
  });
});

test('a plugin entry may point to the configuration by path, relative to the file', async () => {
  await write('psa.yaml', 'apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\ndefaults: { enforce: restricted }\n');
  const p = await write('by-path.yaml', 'apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n- name: PodSecurity\n  path: psa.yaml\n');
  const opts = await loadPodSecurityConfig(p);
  assert.deepEqual(opts.defaults?.enforce, { level: 'restricted', version: { latest: true } });
  assert.deepEqual(opts.defaults?.warn, { level: 'privileged', version: { latest: true } });
});

test('bad files are errors that name the field', async () => {
  const bad = await write('bad.yaml', 'apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\ndefaults: { enforce: strict }\n');
  await assert.rejects(loadPodSecurityConfig(bad), /bad\.yaml: defaults\.enforce: Invalid value: "strict": must be one of privileged, baseline, restricted/);
  const badVersion = await write('badv.yaml', 'apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\ndefaults: { warn-version: "1.29" }\n');
  await assert.rejects(loadPodSecurityConfig(badVersion), /defaults\.warn-version: Invalid value: "1\.29": must be "latest" or "v1\.x"/);
  const wrongKind = await write('kind.yaml', 'apiVersion: v1\nkind: ConfigMap\n');
  await assert.rejects(loadPodSecurityConfig(wrongKind), /expected kind AdmissionConfiguration or PodSecurityConfiguration, got "ConfigMap"/);
  const notYaml = await write('broken.yaml', 'a: [\n');
  await assert.rejects(loadPodSecurityConfig(notYaml), /broken\.yaml: /);
});
