/**
 * NodeNetwork: the agent's flannel. It watches every Node (one Nodes informer from the agent's factory) and keeps this
 * network namespace's routes to the other nodes' podCIDRs in step: computeNodeRoutes (pure) → applyNodeNetwork (diff
 * against `ip -j`). With vxlan it makes the agent's vxlan device the first time a peer needs it and publishes the
 * device's MAC in this Node's `skiff.dev/vtep-mac` annotation, as flannel publishes its VTEP MAC in
 * `flannel.alpha.coreos.com/backend-data`.
 *
 * Syncs are serialized and coalesced (a Node change during a sync makes one more), and repeated every minute to put
 * back what someone removed. stop() leaves routes and entries in place, as flannel does: pods keep reaching each
 * other while the agent restarts; a node that is deleted or changes loses its routes at the next sync of any agent.
 */
import type { Node } from '../simulated/objects.js';
import { Nodes } from '../../client/resources.js';
import type { Client, Informer, InformerFactory } from '../../client/types.js';
import { createLogger } from '../../log/logger.js';
import { applyNodeNetwork, ensureVxlanDevice, readLocalAddresses } from './node-route-applier.js';
import { cidrWithin, computeNodeRoutes, isIpv4Cidr, VTEP_MAC_ANNOTATION, VTEP_PORT_ANNOTATION, VXLAN_PORT, vtepAddress, type FlannelBackend, type NodeNetInfo } from './node-routes.js';

const log = createLogger('node-network');
const RESYNC_MS = 60_000;
/** The instance type simulated nodes carry (agent/simulated/node-objects.ts). */
const SIMULATED_INSTANCE_TYPE = 'skiff-simulated';

export interface NodeNetworkOptions {
  client: Client;
  informers: InformerFactory;
  nodeName: string;
  backend: Exclude<FlannelBackend, 'none'>;
  /** The agent's pod bridge (its addresses are not links to other nodes). */
  bridgeName: string;
  /** Only skiff routes inside these are ever removed. */
  clusterCidrs: string[];
}

/** The agent's vxlan device: `skiff` + `v` + the bridge's hash (distinct per agent, stable across restarts). */
export function vxlanDeviceName(bridgeName: string): string {
  return bridgeName.startsWith('skiff') ? `skv${bridgeName.slice('skiff'.length)}` : `${bridgeName.slice(0, 12)}-vx`;
}

export function nodeNetInfo(node: Node): NodeNetInfo {
  const podCidrs = node.spec?.podCIDRs?.length ? node.spec.podCIDRs : node.spec?.podCIDR ? [node.spec.podCIDR] : [];
  const internalIp = node.status?.addresses?.find((a) => a.type === 'InternalIP' && /^\d+\.\d+\.\d+\.\d+$/.test(a.address))?.address;
  const mac = node.metadata?.annotations?.[VTEP_MAC_ANNOTATION];
  const port = Number(node.metadata?.annotations?.[VTEP_PORT_ANNOTATION]);
  return {
    name: node.metadata?.name ?? '',
    podCidrs,
    ...(internalIp ? { internalIp } : {}),
    ...(mac && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac) ? { vtepMac: mac } : {}),
    ...(Number.isInteger(port) && port > 0 && port < 65536 ? { vtepPort: port } : {}),
    ...(node.metadata?.labels?.['node.kubernetes.io/instance-type'] === SIMULATED_INSTANCE_TYPE ? { simulated: true } : {}),
  };
}

export class NodeNetwork {
  readonly vxlanDev: string;
  private readonly nodes: Informer<Node>;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private lastSkipped = '';
  private lastModes = '';
  private published: string | undefined;
  private outsideWarned = false;

  constructor(private readonly o: NodeNetworkOptions) {
    this.vxlanDev = vxlanDeviceName(o.bridgeName);
    this.nodes = o.informers.informerFor<Node>(Nodes);
  }

  start(): void {
    const kick = () => this.kick();
    this.nodes.addEventHandler({ add: kick, update: (a, b) => changed(a, b) && kick(), delete: kick });
    void this.nodes.waitForSync().then(kick);
    this.timer = setInterval(kick, RESYNC_MS);
    this.timer.unref();
  }

  stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    return this.running ?? Promise.resolve();
  }

  /** One sync now (or right after the running one): resolves when the host matches the Nodes seen. */
  kick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          try {
            await this.sync();
          } catch (err) {
            log.error('pod routes to other nodes: sync failed (retried at the next Node change or in a minute)', { err });
          }
        } while (this.again && !this.stopped);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  private async sync(): Promise<void> {
    if (!this.nodes.hasSynced()) return;
    const nodes = this.nodes.lister.list().map(nodeNetInfo);
    const self = nodes.find((n) => n.name === this.o.nodeName);
    if (self === undefined || self.podCidrs.length === 0) return; // not registered, or no podCIDR yet
    const outside = nodes.flatMap((n) => n.podCidrs.filter((c) => isIpv4Cidr(c) && !cidrWithin(c, this.o.clusterCidrs)));
    if (outside.length > 0 && !this.outsideWarned) {
      this.outsideWarned = true;
      log.warn(`node podCIDRs ${outside.slice(0, 3).join(', ')} are outside this agent's --cluster-cidr ${this.o.clusterCidrs.join(',')}: give the agent the server's --cluster-cidr, else pod traffic between nodes is masqueraded and routes of removed nodes stay`);
    }
    const addresses = await readLocalAddresses([this.o.bridgeName, this.vxlanDev]);
    const desired = computeNodeRoutes({ self: this.o.nodeName, nodes, backend: this.o.backend, addresses, vxlanDev: this.vxlanDev });
    const skipped = desired.skipped.map((s) => `${s.node}: ${s.reason}`).join('; ');
    if (skipped !== this.lastSkipped && skipped !== '') log.info(`pod routes not programmed for ${skipped}`);
    this.lastSkipped = skipped;
    const modes = desired.routes.map((r) => `${r.node} ${r.mode}`).join(', ');
    if (modes !== this.lastModes && modes !== '') log.info(`pod network to other nodes (${this.o.backend}): ${modes}`);
    this.lastModes = modes;
    if (desired.needsVxlan) {
      const vtep = vtepAddress(self.podCidrs);
      if (self.internalIp === undefined || vtep === undefined) {
        log.warn('vxlan needs this node\'s IPv4 InternalIP and podCIDR', { node: this.o.nodeName });
      } else {
        const lower = addresses.find((a) => a.address === self.internalIp)?.dev;
        const dev = await ensureVxlanDevice(this.vxlanDev, self.internalIp, vtep, lower);
        await this.publish(dev.mac, dev.port, self);
      }
    }
    const applied = await applyNodeNetwork(desired, { clusterCidrs: this.o.clusterCidrs, vxlanDev: this.vxlanDev });
    if (applied.added + applied.removed > 0) log.debug('pod routes synced', { ...applied });
  }

  /** This Node's VTEP annotations, patched when they differ from the device. */
  private async publish(mac: string, port: number, self: NodeNetInfo): Promise<void> {
    const want = `${mac} ${port}`;
    if (this.published === want || (self.vtepMac?.toLowerCase() === mac && (self.vtepPort ?? VXLAN_PORT) === port)) {
      this.published = want;
      return;
    }
    await this.o.client.patch(Nodes, '', this.o.nodeName, 'merge', { metadata: { annotations: { [VTEP_MAC_ANNOTATION]: mac, [VTEP_PORT_ANNOTATION]: port === VXLAN_PORT ? null : String(port) } } });
    this.published = want;
    log.info('published this node\'s VTEP', { node: this.o.nodeName, mac, port });
  }
}

/** Only what the routes depend on: podCIDRs, InternalIP, VTEP annotations (not every 5-minute status update). */
function changed(a: Node, b: Node): boolean {
  return JSON.stringify(nodeNetInfo(a)) !== JSON.stringify(nodeNetInfo(b));
}
