/** Small /proc readers: process identity (pid + start time), children, and killing a process tree. */
import { readFileSync } from 'node:fs';

/** Start time of a process in clock ticks since boot (/proc/<pid>/stat field 22); undefined when it is gone or a zombie. */
export function startTicks(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // comm (field 2) may hold spaces and parentheses: fields are counted after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return Number(fields[19]);
}

/** The process group of a process (/proc/<pid>/stat field 5); undefined when it is gone. */
export function processGroupOf(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

/** True when pid is alive and is the same process that had this start time (pids are recycled). */
export function isSameProcess(pid: number, ticks: number): boolean {
  return pid > 0 && startTicks(pid) === ticks;
}

/** Direct children (needs CONFIG_PROC_CHILDREN, which Debian and most distribution kernels have). */
export function childrenOf(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim();
    return text === '' ? [] : text.split(' ').map(Number);
  } catch {
    return [];
  }
}

/** pid and all its descendants, parents first. */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift()!;
    out.push(next);
    queue.push(...childrenOf(next));
  }
  return out;
}

/** Sends a signal, ignoring processes already gone. */
export function signal(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

export function killTree(pid: number, sig: NodeJS.Signals): void {
  // The tree is collected before any signal, so a parent dying first does not hide its children (they move to init).
  const tree = processTree(pid);
  for (const p of tree) signal(p, sig);
}
