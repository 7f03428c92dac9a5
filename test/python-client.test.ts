/**
 * The official Python client (Debian python3-kubernetes, run by /usr/bin/python3) against a real skiff server: it
 * reads the version (`GET /version/`, trailing slash), lists, watches (`?watch=True`, Python's spelling of a bool),
 * patches, and server-side applies with `force=True` through its dynamic client. Each of those broke on skiff once
 * (issue 11). Without the package the test skips, except under CI=true, where that is a failure.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const PYTHON = '/usr/bin/python3';

function pythonSkip(): string | false {
  try {
    execFileSync(PYTHON, ['-c', 'import kubernetes'], { stdio: 'ignore' });
    return false;
  } catch {
    if (process.env.CI === 'true') throw new Error('python3-kubernetes is not installed (apt-get install python3-kubernetes), and CI=true forbids skipping the Python client test');
    return 'python3-kubernetes is not installed; skipping the Python client test';
  }
}

const skip = pythonSkip();

/** Runs in Python; prints one JSON document of what it saw. argv: kubeconfig, namespace. */
const SCRIPT = String.raw`
import json, sys, threading, time
from kubernetes import client, config, dynamic, watch

config.load_kube_config(config_file=sys.argv[1])
ns = sys.argv[2]
out = {}
api = client.ApiClient()
out['version'] = client.VersionApi(api).get_code().git_version

core = client.CoreV1Api(api)
core.create_namespaced_config_map(ns, {'metadata': {'name': 'py', 'labels': {'from': 'python'}}, 'data': {'a': '1'}})
out['list'] = sorted(c.metadata.name for c in core.list_namespaced_config_map(ns, label_selector='from=python').items)

def create_later():
    time.sleep(1)
    core.create_namespaced_config_map(ns, {'metadata': {'name': 'py-watched', 'labels': {'from': 'python'}}})

threading.Thread(target=create_later).start()
events = []
w = watch.Watch()
for ev in w.stream(core.list_namespaced_config_map, ns, label_selector='from=python', timeout_seconds=15):
    events.append([ev['type'], ev['object'].metadata.name])
    if ev['object'].metadata.name == 'py-watched':
        w.stop()
out['events'] = events

out['patched'] = core.patch_namespaced_config_map('py', ns, {'data': {'b': '2'}}).data

dyn = dynamic.DynamicClient(api)
configmaps = dyn.resources.get(api_version='v1', kind='ConfigMap')
body = {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'py', 'namespace': ns}, 'data': {'a': 'applied'}}
# This client version serializes only JSON content types itself: the apply configuration goes as text (JSON is YAML).
applied = dyn.server_side_apply(configmaps, body=json.dumps(body), name='py', namespace=ns, field_manager='py-ssa', force_conflicts=True)
out['applied'] = dict(applied.data)
out['managers'] = sorted(m.manager for m in applied.metadata.managedFields)

core.delete_namespaced_config_map('py-watched', ns)
out['after_delete'] = sorted(c.metadata.name for c in core.list_namespaced_config_map(ns, label_selector='from=python').items)
print(json.dumps(out))
`;

let server: TestServer;
let tmp: string;

before(async () => {
  if (skip) return;
  server = await startTestServer({ controlPlane: false });
  // The dynamic client caches discovery in the temporary directory: give it one the test removes.
  tmp = await mkdtemp(join(server.dataDir, 'python-tmp-'));
});

after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
  await server?.stop();
});

describe('the official Python client', { skip }, () => {
  it('reads the version, lists, watches with watch=True, patches, and server-side applies with force=True', async () => {
    const ns = 'python-client';
    assert.equal((await server.request('POST', '/api/v1/namespaces', { metadata: { name: ns } })).status, 201);
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      execFile(PYTHON, ['-c', SCRIPT, server.kubeconfig, ns], { timeout: 60_000, env: { ...process.env, TMPDIR: tmp, HOME: tmp } }, (err, out, errOut) => {
        if (err) reject(new Error(`python failed: ${err.message}\n${errOut}`));
        else resolve({ stdout: out, stderr: errOut });
      });
    });
    const seen = JSON.parse(stdout.trim().split('\n').pop() ?? '{}');
    assert.match(seen.version, /^v1\.32\./, stderr);
    assert.deepEqual(seen.list, ['py']);
    // A watch, not a list: the existing object as ADDED, then the one created while watching.
    assert.deepEqual(seen.events, [
      ['ADDED', 'py'],
      ['ADDED', 'py-watched'],
    ]);
    assert.deepEqual(seen.patched, { a: '1', b: '2' });
    assert.deepEqual(seen.applied, { a: 'applied', b: '2' });
    assert.ok(seen.managers.includes('py-ssa'), JSON.stringify(seen.managers));
    assert.deepEqual(seen.after_delete, ['py']);
  });
});
