/**
 * The service proxy end to end in its kernel modes (iptables, nftables): the suite of test/helpers/service-proxy-suite.ts
 * (`skiff server` as root with its embedded agent on the process runtime, real kubectl) once per mode.
 *
 * Covered: a ClusterIP reaches all three pods; a pod that turns unready leaves the rotation within 2 s; NodePort on
 * the node's address with externalTrafficPolicy Local; sessionAffinity ClientIP sticks; hairpin (a pod reaches itself
 * through its Service); a Service without endpoints refuses at once; a clean stop leaves no rule of ours, and after
 * kill -9 a restart replaces the stale chains whole; a restart in the other mode removes the first mode's rules.
 *
 * The cluster uses its own ranges (pod 10.71.0.0/16, service 10.81.0.0/16, NodePorts 31100-31199) so that other
 * clusters on this machine are not touched; the rules only ever name these.
 */
import { e2eSkipReason } from './helpers/e2e-prereqs.js';
import { serviceProxySuite, type ProxyMode } from './helpers/service-proxy-suite.js';

const skip = e2eSkipReason({
  prereqs: ['/usr/bin/unshare', '/usr/bin/nsenter', '/usr/lib/cni/bridge', '/usr/lib/cni/host-local', '/usr/lib/cni/loopback', '/usr/sbin/iptables-restore', '/usr/bin/curl'],
  notRoot: 'the iptables service proxy needs root; skipping the service proxy end-to-end test',
  what: 'the service proxy end-to-end test',
});

// SKIFF_E2E_PROXY_MODES=nftables runs one mode only (debugging).
const modes = (process.env.SKIFF_E2E_PROXY_MODES?.split(',') ?? ['iptables', 'nftables']) as ProxyMode[];
for (const mode of modes) {
  serviceProxySuite(mode, { name: 'e2e-svc', clusterCIDR: '10.71.0.0/16', serviceCIDR: '10.81.0.0/16', serviceIPPattern: '10\\.81\\.', nodePortRange: [31100, 31199], nodePort: 31150 }, skip);
}
