/**
 * Container lifecycle hooks, postStart and preStop (pkg/kubelet/lifecycle/handlers.go and kuberuntime's
 * startContainer / executePreStopHook): exec through the runtime's ExecSync, httpGet with the probes' HTTP client
 * (`User-Agent: kube-lifecycle/1.32`, TLS unverified, same-host redirects; an https:// hook answered in plain HTTP
 * is retried over http:// as kubelet does), and `sleep.seconds` on the injected clock.
 *
 * A failure comes back as kubelet's message, e.g.
 *   `Exec lifecycle hook ([sh -c exit 3]) for Container "app" in Pod "web_default(uid)" failed - error: command
 *    'sh -c exit 3' exited with 3: , message: ""`
 *   `HTTP lifecycle hook (/start) for Container "app" in Pod "web_default(uid)" failed - error: Get "http://...":
 *    dial tcp ...: connect: connection refused`
 * The pod worker shows it as the waiting container's message under reason PostStartHookError and records the
 * events below, whose messages do not repeat it (kubelet keeps hook output, which may hold secrets, out of events).
 */
import type { Container, LifecycleHandler, Pod } from 'kubernetes-types/core/v1.js';
import { type Clock, realClock } from '../../client/types.js';
import { formatPod, goQuote } from '../probes/go-format.js';
import { HttpGetError, httpGet } from '../probes/http-client.js';
import { type HttpGetRequest, newRequestForHttpGetAction } from '../probes/http-get-request.js';
import { type ExecSync, errorMessage } from '../probes/probe-outcome.js';

/** The container's waiting reason after its postStart hook failed (kuberuntime ErrPostStartHook). */
export const POST_START_HOOK_ERROR = 'PostStartHookError';
/** Warning events, as kubelet words them (events.FailedPostStartHook / FailedPreStopHook). */
export const FAILED_POST_START_HOOK_EVENT = { reason: 'FailedPostStartHook', message: 'PostStartHook failed' } as const;
export const FAILED_PRE_STOP_HOOK_EVENT = { reason: 'FailedPreStopHook', message: 'PreStopHook failed' } as const;
/** Warning event when an https:// hook got a plain HTTP answer and the http:// retry worked. */
export const LIFECYCLE_HTTP_FALLBACK_REASON = 'LifecycleHTTPFallback';

export interface HookTarget {
  /** For messages: name, namespace, uid. */
  pod: Pod;
  container: Container;
  containerId: string;
  /** status.podIPs[0], the default host of httpGet; empty = no networking (the hook fails, as kubelet's does). */
  podIp: string;
}

export interface HookResult {
  /** Set when the hook failed: kubelet's message. */
  error?: string;
  /** Set when an https:// hook fell back to http:// and that worked: the LifecycleHTTPFallback event's message. */
  fallbackWarning?: string;
}

export interface PostStartOutcome {
  /**
   * Set when the hook failed: the waiting reason (PostStartHookError) and kubelet's message. The pod worker then
   * records FAILED_POST_START_HOOK_EVENT and kills the container (kill message FailedPostStartHook).
   */
  failure?: { reason: typeof POST_START_HOOK_ERROR; message: string };
  fallbackWarning?: string;
}

export interface PreStopOutcome {
  /** kubelet's message when the hook failed (then record FAILED_PRE_STOP_HOOK_EVENT). */
  error?: string;
  /** The grace period ran out first: the hook was abandoned (its exec bounded by the same time). */
  timedOut: boolean;
  /** Time the hook took, to subtract from the grace period left for the stop (kubelet does the same). */
  elapsedMs: number;
  fallbackWarning?: string;
}

export interface LifecycleHandlerRunnerOptions {
  execSync: ExecSync;
  /** For sleep hooks and preStop deadlines (default realClock). */
  clock?: Clock;
}

export class LifecycleHandlerRunner {
  private readonly execSync: ExecSync;
  private readonly clock: Clock;

  constructor(options: LifecycleHandlerRunnerOptions) {
    this.execSync = options.execSync;
    this.clock = options.clock ?? realClock;
  }

  /**
   * Runs the container's postStart hook, if any. Like kubelet's it has no time limit of its own: pass a signal to
   * give up (an HTTP or sleep hook then fails; an exec runs until the container stops).
   */
  async runPostStart(target: HookTarget, signal?: AbortSignal): Promise<PostStartOutcome> {
    const hook = target.container.lifecycle?.postStart;
    if (!hook) return {};
    const { error, fallbackWarning } = await this.run(target, hook, { signal });
    return {
      ...(error !== undefined ? { failure: { reason: POST_START_HOOK_ERROR, message: error } } : {}),
      ...(fallbackWarning ? { fallbackWarning } : {}),
    };
  }

  /**
   * Runs the container's preStop hook, if any, for at most gracePeriodMs; the caller then stops the container with
   * what is left of the grace period (kuberuntime killContainer).
   */
  async runPreStop(target: HookTarget, gracePeriodMs: number): Promise<PreStopOutcome> {
    const hook = target.container.lifecycle?.preStop;
    const started = this.clock.now().getTime();
    if (!hook) return { timedOut: false, elapsedMs: 0 };
    const controller = new AbortController();
    let timer: { cancel(): void } | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timer = this.clock.setTimeout(() => resolve('expired'), Math.max(0, gracePeriodMs));
    });
    try {
      const winner = await Promise.race([this.run(target, hook, { signal: controller.signal, execTimeoutMs: Math.max(1, gracePeriodMs) }), expired]);
      const elapsedMs = this.clock.now().getTime() - started;
      if (winner === 'expired') {
        controller.abort();
        return { timedOut: true, elapsedMs };
      }
      return { ...winner, timedOut: false, elapsedMs };
    } finally {
      timer?.cancel();
    }
  }

  /** handlers.go Run: one handler, kubelet's failure message or undefined. */
  async run(target: HookTarget, handler: LifecycleHandler, options: { signal?: AbortSignal; execTimeoutMs?: number } = {}): Promise<HookResult> {
    const where = `for Container ${goQuote(target.container.name)} in Pod ${goQuote(formatPod(target.pod))}`;
    if (handler.exec) {
      const command = handler.exec.command ?? [];
      const failure = await this.runExec(target.containerId, command, options.execTimeoutMs ?? 0);
      if (!failure) return {};
      return { error: `Exec lifecycle hook ([${command.join(' ')}]) ${where} failed - error: ${failure.error}, message: ${goQuote(failure.output)}` };
    }
    if (handler.httpGet) {
      const { error, fallbackWarning } = await this.runHttp(target, handler, options.signal);
      const result: HookResult = fallbackWarning ? { fallbackWarning } : {};
      if (error !== undefined) result.error = `HTTP lifecycle hook (${handler.httpGet.path ?? ''}) ${where} failed - error: ${error}`;
      return result;
    }
    if (handler.sleep) {
      const seconds = handler.sleep.seconds;
      const error = await this.runSleep(seconds, options.signal);
      return error === undefined ? {} : { error: `Sleep lifecycle hook (${seconds}) ${where} failed - error: ${error}` };
    }
    return { error: `Cannot run handler: invalid handler: ${JSON.stringify(handler)}` };
  }

  /** kuberuntime RunInContainer through the CRI client: a non-zero exit is CodeExitError `command '...' exited with N: <stderr>`. */
  private async runExec(containerId: string, command: string[], timeoutMs: number): Promise<{ error: string; output: string } | undefined> {
    try {
      const result = await this.execSync(containerId, command, timeoutMs);
      const output = Buffer.concat([result.stdout, result.stderr]).toString('utf8');
      if (result.timedOut) return { error: `command ${goQuote(command.join(' '))} timed out`, output };
      if (result.exitCode !== 0) return { error: `command '${command.join(' ')}' exited with ${result.exitCode}: ${result.stderr.toString('utf8')}`, output };
      return undefined;
    } catch (err) {
      return { error: errorMessage(err), output: '' };
    }
  }

  private async runHttp(target: HookTarget, handler: LifecycleHandler, signal: AbortSignal | undefined): Promise<{ error?: string; fallbackWarning?: string }> {
    const action = handler.httpGet!;
    if (!action.host && !target.podIp) return { error: 'failed to find networking container: the pod has no IP' };
    let request: HttpGetRequest;
    try {
      request = newRequestForHttpGetAction(action, target.container, target.podIp, 'lifecycle');
    } catch (err) {
      return { error: errorMessage(err) };
    }
    const get = async (): Promise<string | undefined> => {
      // handlers.go runHTTPHandler: any response is success; only failing to get one is an error.
      await httpGet(request, { signal });
      return undefined;
    };
    try {
      return { error: await get() };
    } catch (err) {
      if (!(err instanceof HttpGetError && err.plainHttpToHttps)) return { error: errorMessage(err) };
      // handlers.go: an HTTPS hook answered in plain HTTP is retried over HTTP without the Authorization header.
      const url = new URL(request.url.href);
      url.protocol = 'http:';
      const headers = new Map(request.headers);
      headers.delete('Authorization');
      request = { ...request, url, headers };
      try {
        const error = await get();
        if (error !== undefined) return { error };
        return { fallbackWarning: `request to HTTPS lifecycle hook ${hostPort(url)} got HTTP response, retry with HTTP succeeded` };
      } catch {
        return { error: errorMessage(err) };
      }
    }
  }

  private runSleep(seconds: number, signal: AbortSignal | undefined): Promise<string | undefined> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve('container terminated before sleep hook finished');
      const onAbort = () => {
        timer.cancel();
        resolve('container terminated before sleep hook finished');
      };
      const timer = this.clock.setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve(undefined);
      }, Math.max(0, seconds) * 1000);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

function hostPort(url: URL): string {
  return url.port ? url.host : `${url.host}:${url.protocol === 'https:' ? 443 : 80}`;
}
