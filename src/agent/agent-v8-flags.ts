/**
 * V8 flags a `skiff agent` process sets for itself at start (issue 7's memory target; src/agent/README.md "Memory").
 *
 * --no-opt (no TurboFan): the agent's work per pod is I/O, JSON and a few hundred calls; Ignition and Sparkplug run it
 * as fast (agent CPU per pod start within noise, bench/pod-start), while the first optimization alone maps ~3 MB of
 * the node binary's compiler code (resident for the process's life) and compiles in malloc'd zones.
 * V8 reads it at each tiering decision, so setting it from the running process works (v8.setFlagsFromString); flags
 * that size the heap (--max-semi-space-size) are read once at start and have no effect set this way (checked again).
 * Only the agent command: the server's hot paths (watch fan-out, JSON, admission) need the optimizing compiler.
 */
import { setFlagsFromString } from 'node:v8';

export const AGENT_V8_FLAGS: readonly string[] = ['--no-opt'];

/** Sets AGENT_V8_FLAGS; call before the agent's modules load, so that nothing is optimized before. */
export function applyAgentV8Flags(): void {
  for (const flag of AGENT_V8_FLAGS) setFlagsFromString(flag);
}
