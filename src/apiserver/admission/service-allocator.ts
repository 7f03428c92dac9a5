/**
 * Allocates Service ClusterIPs from the service CIDR (10.43.0.0/16 by default, like k3s) and NodePorts from
 * 30000-32767, as kube-apiserver's service REST storage does on create. Addresses in use are read from the
 * existing Services; an explicitly requested address that is taken or out of range is refused (422).
 */
import type { KubeObject } from '../../api/object.js';
import { fieldInvalid, invalid, type FieldError } from '../../api/status.js';
import type { AdmissionAttributes, AdmissionContext, MutatingAdmission } from './types.js';

export interface ServiceAllocatorOptions {
  /** IPv4 CIDR, e.g. 10.43.0.0/16. */
  serviceCIDR: string;
  nodePortRange: [number, number];
}

interface ServicePort {
  port?: number;
  nodePort?: number;
}
interface ServiceSpec {
  type?: string;
  clusterIP?: string;
  clusterIPs?: string[];
  ports?: ServicePort[];
  ipFamilies?: string[];
  ipFamilyPolicy?: string;
}

function ipToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export class ServiceAllocator implements MutatingAdmission {
  readonly name = 'ServiceIPAllocator';
  private readonly base: number;
  private readonly size: number;

  constructor(private readonly opts: ServiceAllocatorOptions) {
    const [ip, bits] = opts.serviceCIDR.split('/');
    const base = ipToInt(ip);
    const prefix = Number(bits);
    if (base === undefined || !Number.isInteger(prefix) || prefix < 8 || prefix > 30) throw new Error(`invalid service CIDR ${JSON.stringify(opts.serviceCIDR)}`);
    this.size = 2 ** (32 - prefix);
    this.base = base - (base % this.size);
  }

  readonly operations = ['CREATE'] as const;

  admit(attrs: AdmissionAttributes, ctx: AdmissionContext): void {
    if (attrs.resource.group === '' && attrs.resource.plural === 'services' && attrs.subresource === '') this.allocate(attrs.object!, ctx.list('', 'services'));
  }

  /** Fills spec.clusterIP(s) and nodePorts of a new Service (mutates obj). `existing` are the stored Services. */
  allocate(obj: KubeObject, existing: Iterable<KubeObject>): void {
    const spec = (obj.spec ?? {}) as ServiceSpec;
    const type = spec.type ?? 'ClusterIP';
    if (type === 'ExternalName') return;
    const usedIPs = new Set<number>();
    const usedPorts = new Set<number>();
    for (const svc of existing) {
      // A Service of the same name is not a competitor: the create fails with AlreadyExists instead, as upstream.
      if (svc.metadata.namespace === obj.metadata.namespace && svc.metadata.name === obj.metadata.name) continue;
      const s = (svc.spec ?? {}) as ServiceSpec;
      const n = s.clusterIP ? ipToInt(s.clusterIP) : undefined;
      if (n !== undefined) usedIPs.add(n);
      for (const p of s.ports ?? []) if (p.nodePort) usedPorts.add(p.nodePort);
    }
    const errors: FieldError[] = [];
    if (spec.clusterIP !== 'None') {
      if (spec.clusterIP) {
        const n = ipToInt(spec.clusterIP);
        if (n === undefined || n <= this.base || n >= this.base + this.size - 1) {
          errors.push(fieldInvalid('spec.clusterIPs', [spec.clusterIP], `failed to allocate IP ${spec.clusterIP}: the provided IP (${spec.clusterIP}) is not in the valid range. The range of valid IPs is ${this.opts.serviceCIDR}`));
        } else if (usedIPs.has(n)) {
          errors.push(fieldInvalid('spec.clusterIPs', [spec.clusterIP], `failed to allocate IP ${spec.clusterIP}: provided IP is already allocated`));
        }
      } else {
        const ip = this.pickIP(usedIPs);
        if (!ip) errors.push(fieldInvalid('spec.clusterIPs', null, 'failed to allocate a serviceIP: range is full'));
        else spec.clusterIP = ip;
      }
      if (spec.clusterIP) spec.clusterIPs = [spec.clusterIP];
      spec.ipFamilies ??= ['IPv4'];
      spec.ipFamilyPolicy ??= 'SingleStack';
    } else {
      spec.clusterIPs = ['None'];
    }
    if (type === 'NodePort' || type === 'LoadBalancer') {
      const [lo, hi] = this.opts.nodePortRange;
      (spec.ports ?? []).forEach((p, i) => {
        if (p.nodePort) {
          if (p.nodePort < lo || p.nodePort > hi) errors.push(fieldInvalid(`spec.ports[${i}].nodePort`, p.nodePort, `provided port is not in the valid range. The range of valid ports is ${lo}-${hi}`));
          else if (usedPorts.has(p.nodePort)) errors.push(fieldInvalid(`spec.ports[${i}].nodePort`, p.nodePort, 'provided port is already allocated'));
          usedPorts.add(p.nodePort);
          return;
        }
        const port = this.pickPort(usedPorts);
        if (port === undefined) errors.push(fieldInvalid(`spec.ports[${i}].nodePort`, null, 'range is full'));
        else {
          p.nodePort = port;
          usedPorts.add(port);
        }
      });
    }
    obj.spec = spec;
    if (errors.length > 0) throw invalid('Service', undefined, obj.metadata.name ?? '', errors);
  }

  private pickIP(used: Set<number>): string | undefined {
    // Random start then linear probe, like the upstream bitmap allocator; skip network and broadcast addresses.
    const span = this.size - 2;
    const start = Math.floor(Math.random() * span);
    for (let i = 0; i < span; i++) {
      const n = this.base + 1 + ((start + i) % span);
      if (!used.has(n)) return intToIp(n);
    }
    return undefined;
  }

  private pickPort(used: Set<number>): number | undefined {
    const [lo, hi] = this.opts.nodePortRange;
    const span = hi - lo + 1;
    const start = Math.floor(Math.random() * span);
    for (let i = 0; i < span; i++) {
      const p = lo + ((start + i) % span);
      if (!used.has(p)) return p;
    }
    return undefined;
  }
}
