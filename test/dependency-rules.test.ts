/**
 * The dependency rules of ARCHITECTURE.md, checked on the source: components reach state through the API only.
 *   api imports nothing of ours; storage -> api; apiserver -> api, storage (+ client's transport interface);
 *   client -> api; controllers, scheduler, agent, proxy, dns -> api, client.
 * log is a leaf: it imports nothing of ours, and every component may import it; observability (Prometheus metrics) is a
 * leaf beside it that the instrumented components import.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// The checkout root, whether this runs compiled (dist/test/) or from source with tsx (test/).
let root = dirname(fileURLToPath(import.meta.url));
while (!existsSync(join(root, 'package.json')) && dirname(root) !== root) root = dirname(root);
const src = join(root, 'src');

const allowed: Record<string, string[]> = {
  log: ['log'],
  observability: ['observability'],
  api: ['api', 'log'],
  storage: ['storage', 'api', 'log', 'observability'],
  apiserver: ['apiserver', 'api', 'storage', 'client', 'log', 'observability'],
  client: ['client', 'api', 'log', 'observability'],
  // controllers/all.ts registers the server halves of ingress and servicelb, which build on controllers/controller.ts.
  controllers: ['controllers', 'api', 'client', 'log', 'ingress', 'servicelb'],
  scheduler: ['scheduler', 'api', 'client', 'log', 'observability'],
  // Each node agent runs the service proxy and the node halves of ingress and servicelb beside its kubelet.
  agent: ['agent', 'api', 'client', 'log', 'proxy', 'ingress', 'servicelb', 'observability'],
  ingress: ['ingress', 'api', 'client', 'controllers', 'log'],
  servicelb: ['servicelb', 'api', 'client', 'controllers', 'log'],
  proxy: ['proxy', 'api', 'client', 'log'],
  dns: ['dns', 'api', 'client', 'log'],
};

function files(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) files(p, out);
    else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

test('source folders import only what the architecture allows', () => {
  const violations: string[] = [];
  for (const file of files(src)) {
    const component = relative(src, file).split('/')[0];
    const ok = allowed[component];
    if (!ok) continue;
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'/gm)) {
      const target = relative(src, resolve(dirname(file), m[1])).split('/')[0];
      // The apiserver implements the client's transport interface (the in-process transport), and nothing else of it.
      if (component === 'apiserver' && target === 'client' && !/client\/(transport|types)\.js$/.test(m[1])) {
        violations.push(`${relative(root, file)} imports ${m[1]}`);
        continue;
      }
      if (!ok.includes(target)) violations.push(`${relative(root, file)} imports ${m[1]} (${component} may import ${ok.join(', ')})`);
    }
  }
  assert.deepEqual(violations, []);
});
