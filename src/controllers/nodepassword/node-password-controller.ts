/**
 * The node-password controller (k3s pkg/node/controller.go, onRemove -> nodepassword.Delete): when a Node is deleted,
 * its password Secret kube-system/<node>.node-password.skiff goes too, so a machine that later joins under that name
 * (a reinstalled node) is not refused for a password nobody has any more. As in k3s it acts on Node deletions only,
 * not by sweeping Secrets: an agent records its password at join, before it registers its Node, and a sweep would
 * delete the Secret of a node that is still joining.
 *
 * The queue carries node names. The sync re-checks the cache, so a Node re-created under the same name before the
 * worker runs keeps its Secret; the delete carries no precondition because the Secret's name is the node's.
 */
import type { Node } from 'kubernetes-types/core/v1.js';
import { NODE_PASSWORD_NAMESPACE, nodePasswordSecretName } from '../../api/node-password.js';
import type { KubeObject } from '../../api/object.js';
import { isNotFound } from '../../api/status.js';
import { Nodes, Secrets } from '../../client/resources.js';
import type { Client, Lister, WorkQueue } from '../../client/types.js';
import { createWorkQueue } from '../../client/workqueue.js';
import { createLogger } from '../../log/logger.js';
import { runWorkers, type Controller, type ControllerContext } from '../controller.js';

type NodeObj = Node & KubeObject;

const log = createLogger('node-password-controller');

export class NodePasswordController implements Controller {
  readonly name = 'node-password';
  private readonly client: Client;
  private readonly queue: WorkQueue;
  private readonly nodes: Lister<NodeObj>;

  constructor(private readonly ctx: ControllerContext) {
    this.client = ctx.client;
    this.queue = createWorkQueue({ clock: ctx.clock });
    this.nodes = ctx.informers.informerFor<NodeObj>(Nodes).lister;
  }

  start(): void {
    this.ctx.informers.informerFor<NodeObj>(Nodes).addEventHandler({
      delete: (node) => this.queue.add(node.metadata.name ?? ''),
    });
  }

  run(workers: number): Promise<void> {
    return runWorkers(this.name, this.queue, workers, (name) => this.syncNode(name));
  }

  stop(): void {
    this.queue.shutDown();
  }

  /** Deletes the node's password Secret unless the node exists (again). */
  async syncNode(nodeName: string): Promise<void> {
    if (!nodeName || this.nodes.get('', nodeName)) return;
    const secret = nodePasswordSecretName(nodeName);
    try {
      await this.client.delete(Secrets, NODE_PASSWORD_NAMESPACE, secret);
      log.info('deleted the password Secret of a deleted node', { node: nodeName, secret: `${NODE_PASSWORD_NAMESPACE}/${secret}` });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
