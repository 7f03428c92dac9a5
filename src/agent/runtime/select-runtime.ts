/**
 * `--runtime auto|cri|process`: which ContainerRuntime the agent runs, and why (printed at start). `auto` takes `cri`
 * when an endpoint is given or a containerd binary is installed (skiff then starts its own, as k3s does), and the
 * zero-dependency `process` runtime otherwise.
 */
export type RuntimeChoice = 'auto' | 'cri' | 'process';
export const RUNTIME_CHOICES: readonly RuntimeChoice[] = ['auto', 'cri', 'process'];

export interface RuntimeFacts {
  /** --container-runtime-endpoint, if given. */
  endpoint?: string;
  /** Path of the containerd binary on PATH, if any. */
  containerdPath?: string;
}

export interface RuntimeSelection {
  runtime: 'cri' | 'process';
  /** A CRI endpoint to use as is; absent with `cri`: start and supervise our own containerd. */
  endpoint?: string;
  reason: string;
}

export function selectRuntime(choice: RuntimeChoice, facts: RuntimeFacts): RuntimeSelection {
  if (choice === 'process') {
    if (facts.endpoint) throw new Error(`--container-runtime-endpoint ${facts.endpoint} needs the cri runtime, not --runtime process`);
    return { runtime: 'process', reason: '--runtime process: containers run as host processes from the host filesystem (images are not pulled)' };
  }
  if (facts.endpoint) return { runtime: 'cri', endpoint: facts.endpoint, reason: `CRI endpoint ${facts.endpoint} given` };
  if (facts.containerdPath) {
    return { runtime: 'cri', reason: `${choice === 'cri' ? '--runtime cri' : 'containerd is installed'} (${facts.containerdPath}): skiff starts and supervises its own containerd` };
  }
  if (choice === 'cri') throw new Error('--runtime cri needs containerd: install it (Debian: apt-get install containerd) or give --container-runtime-endpoint');
  return { runtime: 'process', reason: 'containerd is not installed: containers run as host processes from the host filesystem (install containerd to run images)' };
}
