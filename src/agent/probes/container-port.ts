/**
 * The port a probe or lifecycle hook names, by number or by the name of one of the container's ports
 * (pkg/probe/util.go ResolveContainerPort), with upstream's error words.
 */
import type { Container } from 'kubernetes-types/core/v1.js';

/** Returns the port, or throws an Error whose message kubelet would print (`invalid port number: 0`). */
export function resolveContainerPort(port: number | string | undefined, container: Pick<Container, 'ports'>): number {
  let resolved: number;
  if (typeof port === 'number') {
    resolved = port;
  } else if (typeof port === 'string') {
    const named = container.ports?.find((p) => p.name === port);
    if (named) {
      resolved = named.containerPort;
    } else {
      // Last ditch effort, as upstream: maybe a number stored as a string.
      if (!/^[+-]?[0-9]+$/.test(port)) throw new Error(`strconv.Atoi: parsing "${port}": invalid syntax`);
      resolved = Number(port);
      if (!Number.isSafeInteger(resolved)) throw new Error(`strconv.Atoi: parsing "${port}": value out of range`);
    }
  } else {
    throw new Error('intOrString had no kind: {Type:0 IntVal:0 StrVal:}');
  }
  if (Number.isInteger(resolved) && resolved > 0 && resolved < 65536) return resolved;
  throw new Error(`invalid port number: ${resolved}`);
}
