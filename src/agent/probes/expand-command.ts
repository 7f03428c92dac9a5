/**
 * `$(VAR)` expansion of an exec probe's command with the container's static env only (kubelet's
 * ExpandContainerCommandOnlyStatic, third_party/forked/golang/expansion): a probe does not see valueFrom values,
 * which expand to the empty string, as in kubelet. `$$` is a literal `$`; an unknown `$(NAME)` stays as written.
 */
import type { EnvVar } from 'kubernetes-types/core/v1.js';

export function expandCommandStatic(command: readonly string[], env: readonly EnvVar[] | undefined): string[] {
  if (!env || env.length === 0 || !command.some((arg) => arg.includes('$'))) return [...command];
  const values = new Map<string, string>();
  for (const e of env) values.set(e.name, e.value ?? '');
  return command.map((arg) => expand(arg, values));
}

export function expand(input: string, values: ReadonlyMap<string, string>): string {
  let out = '';
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] !== '$' || cursor + 1 >= input.length) continue;
    out += input.slice(checkpoint, cursor);
    const next = input[cursor + 1];
    if (next === '$') {
      out += '$';
      cursor += 1;
    } else if (next === '(') {
      const close = input.indexOf(')', cursor + 2);
      if (close === -1) {
        // Incomplete reference: kept as written.
        out += '$(';
        cursor += 1;
      } else {
        const name = input.slice(cursor + 2, close);
        const value = values.get(name);
        out += value ?? `$(${name})`;
        cursor = close;
      }
    } else {
      out += '$' + next;
      cursor += 1;
    }
    checkpoint = cursor + 1;
  }
  return out + input.slice(checkpoint);
}
