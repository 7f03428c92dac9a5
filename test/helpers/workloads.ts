/**
 * The workloads the node e2e tests and benchmarks run, as YAML manifest documents (join them with `docs`): a
 * Deployment of `node -e <script>` pods, and a pod that only sleeps, the client that probes from inside the pod
 * network.
 */

/**
 * One YAML document: a top-level key a line, each value in JSON flow style (valid YAML). Not a bare JSON document:
 * kubectl takes a file that starts with `{` for one JSON object and would refuse the `---` after it.
 */
function yamlDoc(obj: Record<string, unknown>): string {
  return Object.entries(obj).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join('\n');
}

/** A container `node -e <script>`; the rest (ports, readinessProbe, …) as the Pod API spells it. */
export interface NodeContainer {
  name: string;
  script: string;
  [field: string]: unknown;
}

/** A Deployment `name` whose pods (label app=<name>, 1 s grace) run `containers`. */
export function nodeDeployment(namespace: string, name: string, replicas: number, containers: NodeContainer[]): string {
  return yamlDoc({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { terminationGracePeriodSeconds: 1, containers: containers.map(({ name: c, script, ...rest }) => ({ name: c, image: 'node', command: ['node', '-e', script], ...rest })) },
      },
    },
  });
}

/** A pod `name` with one container `name` that sleeps an hour (1 s grace), from `image` (busybox unless said). */
export function sleeperPod(namespace: string, name = 'client', image = 'busybox'): string {
  return yamlDoc({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace },
    spec: { terminationGracePeriodSeconds: 1, containers: [{ name, image, command: ['sleep', '3600'] }] },
  });
}

/** Manifest documents (YAML or JSON text) as one multi-document stream. */
export function docs(...parts: string[]): string {
  return parts.map((p) => p.trim()).join('\n---\n') + '\n';
}
