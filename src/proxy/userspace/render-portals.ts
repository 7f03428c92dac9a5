/**
 * The userspace mode's iptables rules (as root), rendered by a pure function: kube-proxy's userspace "portals"
 * (pkg/proxy/userspace/proxier.go, Kubernetes 1.22), under the agent's chain prefix like the iptables mode's.
 *
 *   nat PREROUTING -> <p>-PORTALS-CONTAINER:  -d clusterIP --dport P -j REDIRECT --to-ports <proxy port>   (pods)
 *   nat OUTPUT     -> <p>-PORTALS-HOST:       the same for the node's own connections (REDIRECT to 127.0.0.1)
 *                     externalIPs and load-balancer IPs the same way, to the external listener (the NodePort's)
 *   filter FORWARD, OUTPUT (ctstate NEW) -> <p>-PORTALS-REJECT: Services without endpoints (nothing listens for
 *                     them) refused at once: TCP with a reset, UDP with ICMP port-unreachable
 *
 * NodePorts need no rule: the proxy listens on them on every address.
 */
import { servicePortName, type ServicePortInfo } from '../service-model.js';

export interface PortalChains {
  container: string;
  host: string;
  reject: string;
}

export function portalChains(prefix: string): PortalChains {
  return { container: `${prefix}-PORTALS-CONTAINER`, host: `${prefix}-PORTALS-HOST`, reject: `${prefix}-PORTALS-REJECT` };
}

/** Where one ServicePort's traffic goes: its listeners' ports (undefined: no listener, i.e. no endpoints for it). */
export interface PortalTargets {
  sp: ServicePortInfo;
  internalPort: number | undefined;
  externalPort: number | undefined;
}

const quote = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** Pure: the iptables-restore text (for --noflush) that replaces our three chains whole. */
export function renderPortals(prefix: string, targets: PortalTargets[]): string {
  const c = portalChains(prefix);
  const nat: string[] = [];
  const filter: string[] = [];
  for (const t of targets) {
    const { sp } = t;
    const name = servicePortName(sp);
    const proto = sp.protocol.toLowerCase();
    const match = (ip: string) => `-d ${ip}/32 -p ${proto} -m ${proto} --dport ${sp.port}`;
    const reject = sp.protocol === 'TCP' ? 'REJECT --reject-with tcp-reset' : 'REJECT';
    const portal = (ips: string[], port: number | undefined, what: string) => {
      for (const ip of ips) {
        if (port === undefined) {
          filter.push(`-A ${c.reject} ${match(ip)} -m comment --comment ${quote(`${name} has no endpoints`)} -j ${reject}`);
          continue;
        }
        for (const chain of [c.container, c.host]) nat.push(`-A ${chain} ${match(ip)} -m comment --comment ${quote(`${name} ${what}`)} -j REDIRECT --to-ports ${port}`);
      }
    };
    portal(sp.clusterIPs, t.internalPort, 'cluster IP');
    portal(sp.externalIPs, t.externalPort, 'external IP');
    portal(sp.loadBalancerIPs, t.externalPort, 'loadbalancer IP');
  }
  return ['*nat', `:${c.container} - [0:0]`, `:${c.host} - [0:0]`, ...nat, 'COMMIT', '*filter', `:${c.reject} - [0:0]`, ...filter, 'COMMIT', ''].join('\n');
}

/** The jumps into our chains from the built-in ones. */
export function portalJumps(prefix: string): Array<{ table: 'nat' | 'filter'; chain: string; args: string[] }> {
  const c = portalChains(prefix);
  const comment = (text: string) => ['-m', 'comment', '--comment', text];
  const isNew = ['-m', 'conntrack', '--ctstate', 'NEW'];
  return [
    { table: 'nat', chain: 'PREROUTING', args: [...comment('skiff userspace service portals'), '-j', c.container] },
    { table: 'nat', chain: 'OUTPUT', args: [...comment('skiff userspace service portals'), '-j', c.host] },
    { table: 'filter', chain: 'FORWARD', args: [...isNew, ...comment('skiff userspace services without endpoints'), '-j', c.reject] },
    { table: 'filter', chain: 'OUTPUT', args: [...isNew, ...comment('skiff userspace services without endpoints'), '-j', c.reject] },
  ];
}
