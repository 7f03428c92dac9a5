/**
 * The CNI exec protocol (CNI spec 1.0.0, "Execution Protocol"): one plugin binary, one command. Parameters travel in
 * CNI_* environment variables, the network configuration on stdin; the plugin answers with a JSON result on stdout
 * and exit code 0, or with a JSON error `{cniVersion, code, msg, details}` on stdout and a non-zero exit code.
 */
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { runInThread } from './exec-thread.js';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION';

export interface CniPluginInvocation {
  /** The plugin's type: the binary's file name, looked up in pluginDirs in order. */
  type: string;
  command: CniCommand;
  /** CNI_CONTAINERID. */
  containerId?: string;
  /** CNI_NETNS; may be empty for DEL (the namespace is gone). */
  netns?: string;
  /** CNI_IFNAME. */
  ifName?: string;
  /** CNI_ARGS as key/value pairs, joined as `K=V;K=V` in this order. */
  args?: Array<[string, string]>;
  /** Directories searched for the binary, also passed to it as CNI_PATH (delegates such as host-local are found there). */
  pluginDirs: string[];
  /** The network configuration written to stdin. */
  config: unknown;
  /** Killed with SIGKILL and rejected after this many milliseconds. */
  timeoutMs: number;
}

/**
 * A plugin's error result, or a failure to run it at all. `code` is the plugin's (1-99 are the spec's well-known
 * codes, 100+ the plugin's own), or undefined when the plugin gave no JSON error (crash, timeout, missing binary).
 */
export class CniPluginError extends Error {
  constructor(
    message: string,
    readonly plugin: string,
    readonly command: CniCommand,
    readonly code: number | undefined,
    readonly msg: string,
    readonly details: string | undefined,
  ) {
    super(message);
    this.name = 'CniPluginError';
  }
}

/** Well-known error codes from the spec. */
export const CNI_ERROR_CODES: Record<number, string> = {
  1: 'incompatible CNI version',
  2: 'unsupported field in network configuration',
  3: 'container unknown or does not exist',
  4: 'invalid necessary environment variables',
  5: 'I/O failure',
  6: 'failed to decode content',
  7: 'invalid network config',
  11: 'try again later',
};

/** Finds the plugin binary; undefined when no directory has an executable of that name. */
export async function findCniPlugin(type: string, pluginDirs: string[]): Promise<string | undefined> {
  if (type === '' || type.includes('/') || type === '.' || type === '..') return undefined;
  for (const dir of pluginDirs) {
    const path = join(dir, type);
    try {
      await access(path, constants.X_OK);
      return path;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** Where each plugin was found, and until when (performance.now()) that is trusted: two access(2) calls less per pod. */
const found = new Map<string, { path: string; until: number }>();
const FOUND_TTL_MS = 5_000;

/** findCniPlugin, remembering a hit for a few seconds (a binary removed meanwhile makes the exec fail, ENOENT). */
async function findCniPluginCached(type: string, pluginDirs: string[]): Promise<string | undefined> {
  const key = `${type}\0${pluginDirs.join('\0')}`;
  const hit = found.get(key);
  if (hit !== undefined && performance.now() < hit.until) return hit.path;
  const path = await findCniPlugin(type, pluginDirs);
  if (path === undefined) found.delete(key);
  else found.set(key, { path, until: performance.now() + FOUND_TTL_MS });
  return path;
}

/**
 * Runs one plugin command and returns its parsed stdout (undefined when the plugin printed nothing, as DEL and CHECK
 * usually do). Rejects with CniPluginError quoting the plugin's own words.
 */
export async function execCniPlugin(invocation: CniPluginInvocation): Promise<unknown> {
  const { type, command } = invocation;
  const fail = (what: string, code?: number, msg = what, details?: string) =>
    new CniPluginError(`CNI plugin "${type}" ${command} failed: ${what}`, type, command, code, msg, details);

  const binary = await findCniPluginCached(type, invocation.pluginDirs);
  if (binary === undefined) throw fail(`no executable "${type}" in ${invocation.pluginDirs.join(':')}`);

  // As libcni: the runtime's environment without any CNI_* of its own, then this call's parameters.
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('CNI_')));
  env.PATH ??= '/usr/sbin:/usr/bin:/sbin:/bin';
  env.CNI_COMMAND = command;
  env.CNI_PATH = invocation.pluginDirs.join(':');
  if (command !== 'VERSION') {
    env.CNI_CONTAINERID = invocation.containerId ?? '';
    env.CNI_NETNS = invocation.netns ?? '';
    env.CNI_IFNAME = invocation.ifName ?? '';
    if (invocation.args !== undefined && invocation.args.length > 0) {
      env.CNI_ARGS = invocation.args.map(([k, v]) => `${k}=${v}`).join(';');
    }
  }
  // From a worker thread: a spawn blocks its thread until the plugin has exec'd (exec-thread.ts says why that matters).
  let ran: Awaited<ReturnType<typeof runInThread>>;
  try {
    ran = await runInThread(binary, env, JSON.stringify(invocation.config), invocation.timeoutMs);
  } catch (err) {
    // A remembered binary that is gone now: said as when it was never there.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    found.clear();
    throw fail(`no executable "${type}" in ${invocation.pluginDirs.join(':')}`);
  }
  const { exitCode, signal, stdout, stderr, timedOut } = ran;
  if (timedOut) throw fail(`timed out after ${invocation.timeoutMs} ms`);
  const text = stdout.trim();
  if (exitCode !== 0) {
    const error = parseJson(text);
    if (isErrorResult(error)) {
      const words = error.details ? `${error.msg}: ${error.details}` : error.msg;
      throw fail(`${words} (code ${error.code})`, error.code, error.msg, error.details);
    }
    const why = signal !== null ? `killed by ${signal}` : `exit code ${exitCode}`;
    const output = (stderr.trim() || text).slice(0, 2000);
    throw fail(output === '' ? why : `${why}: ${output}`);
  }
  if (text === '') return undefined;
  const result = parseJson(text);
  if (result === undefined) throw fail(`unreadable result (not JSON): ${text.slice(0, 500)}`);
  return result;
}

interface ErrorResult {
  code: number;
  msg: string;
  details?: string;
}

function isErrorResult(value: unknown): value is ErrorResult {
  return typeof value === 'object' && value !== null && typeof (value as ErrorResult).code === 'number' && typeof (value as ErrorResult).msg === 'string';
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
