/**
 * Service environment variables (enableServiceLinks), as kubelet makes them: pkg/kubelet/kubelet_pods.go
 * getServiceEnvVarMap chooses the Services, pkg/kubelet/envvars/envvars.go FromServices names the variables
 * (`FOO_SERVICE_HOST`, `FOO_SERVICE_PORT`, `FOO_SERVICE_PORT_<NAME>`, and the Docker-link ones `FOO_PORT`,
 * `FOO_PORT_80_TCP`, `..._PROTO`, `..._PORT`, `..._ADDR`). Pure: the caller hands in the Services (an informer's cache).
 */
import type { Service } from 'kubernetes-types/core/v1.js';

/** The Services whose variables every pod gets, from the default namespace, whatever enableServiceLinks says. */
const MASTER_SERVICES = new Set(['kubernetes']);

/** v1helper.IsServiceIPSet: headless (`None`) and IP-less Services (ExternalName) give no variables. */
export function isServiceIPSet(s: Service): boolean {
  const ip = s.spec?.clusterIP;
  return !!ip && ip !== 'None';
}

/**
 * getServiceEnvVarMap: the `kubernetes` Service of the default namespace always, and with enableServiceLinks (the API
 * default, undefined here) every Service of the pod's namespace, a namespace's own `kubernetes` Service winning over
 * the default namespace's. Returns the variables in FromServices order per Service, Services by name.
 */
export function serviceEnvironment(services: Iterable<Service>, namespace: string, enableServiceLinks = true): Map<string, string> {
  const chosen = new Map<string, Service>();
  for (const s of services) {
    if (!isServiceIPSet(s)) continue;
    const name = s.metadata?.name ?? '';
    const ns = s.metadata?.namespace ?? '';
    if (ns === 'default' && MASTER_SERVICES.has(name)) {
      if (!chosen.has(name)) chosen.set(name, s);
    } else if (ns === namespace && enableServiceLinks) {
      chosen.set(name, s);
    }
  }
  const out = new Map<string, string>();
  const names = [...chosen.keys()].sort();
  for (const name of names) for (const [k, v] of fromService(chosen.get(name)!)) out.set(k, v);
  return out;
}

/** makeEnvVariableName: upper case, dashes to underscores. */
export function envVariableName(name: string): string {
  return name.toUpperCase().replaceAll('-', '_');
}

/** envvars.FromServices for one Service (which has an IP). */
export function fromService(s: Service): Array<[string, string]> {
  const ip = s.spec?.clusterIP ?? '';
  const ports = s.spec?.ports ?? [];
  const prefix = envVariableName(s.metadata?.name ?? '');
  const out: Array<[string, string]> = [[`${prefix}_SERVICE_HOST`, ip]];
  // Validation requires a port on Services with an IP; kubelet would index ports[0] regardless.
  if (ports.length === 0) return out;
  const portVar = `${prefix}_SERVICE_PORT`;
  out.push([portVar, String(ports[0]!.port)]);
  for (const p of ports) if (p.name) out.push([`${portVar}_${envVariableName(p.name)}`, String(p.port)]);
  // makeLinkVariables (Docker links).
  const host = ip.includes(':') ? `[${ip}]` : ip;
  ports.forEach((p, i) => {
    const protocol = p.protocol || 'TCP';
    const lower = protocol.toLowerCase();
    const url = `${lower}://${host}:${p.port}`;
    if (i === 0) out.push([`${prefix}_PORT`, url]);
    const portPrefix = `${prefix}_PORT_${p.port}_${protocol.toUpperCase()}`;
    out.push([portPrefix, url], [`${portPrefix}_PROTO`, lower], [`${portPrefix}_PORT`, String(p.port)], [`${portPrefix}_ADDR`, ip]);
  });
  return out;
}
