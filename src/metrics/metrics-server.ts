/**
 * skiff's built-in metrics-server (k3s bundles metrics-server as an addon; skiff serves the same API in-process):
 * the scraper, the metrics.k8s.io and APIService groups for the API server, and the aggregated-metrics-reader
 * ClusterRole of metrics-server's manifest (aggregated into view, edit and admin). `--disable metrics-server` leaves
 * all of it out, discovery included, for users who install the real metrics-server.
 */
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { isAlreadyExists } from '../api/status.js';
import type { DelegatedGroup } from '../apiserver/delegated-groups.js';
import type { RestClient } from '../client/rest-client.js';
import { ClusterRoles, Nodes, Pods } from '../client/resources.js';
import { createLogger } from '../log/logger.js';
import { MetricsApi } from './metrics-api.js';
import { Scraper, type ScraperOptions } from './scraper.js';

const log = createLogger('metrics');

export interface MetricsServerOptions {
  /** A client acting as the API server itself (reads of Nodes and Pods; the ClusterRole). Called once serving. */
  client(): RestClient;
  tls: ScraperOptions['tls'];
  /** Time between scrapes (metrics-server's --metric-resolution, default 15 s). */
  resolutionMs?: number;
}

/** metrics-server's manifest (deploy/kubernetes/base/rbac.yaml): readers of metrics through view, edit and admin. */
export const AGGREGATED_METRICS_READER = {
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'ClusterRole',
  metadata: {
    name: 'system:aggregated-metrics-reader',
    labels: {
      'rbac.authorization.k8s.io/aggregate-to-admin': 'true',
      'rbac.authorization.k8s.io/aggregate-to-edit': 'true',
      'rbac.authorization.k8s.io/aggregate-to-view': 'true',
    },
  },
  rules: [{ apiGroups: ['metrics.k8s.io'], resources: ['pods', 'nodes'], verbs: ['get', 'list', 'watch'] }],
};

export class MetricsServer {
  readonly scraper: Scraper;
  readonly api: MetricsApi;

  constructor(private readonly o: MetricsServerOptions) {
    this.scraper = new Scraper({
      tls: o.tls,
      ...(o.resolutionMs !== undefined ? { resolutionMs: o.resolutionMs } : {}),
      // resourceVersion=0: from the watch cache, no consistent read of the store every 15 s.
      listNodes: async () => (await o.client().list(Nodes, '', { resourceVersion: '0' })).items as unknown as Node[],
    });
    this.api = new MetricsApi({
      store: this.scraper.store,
      listNodes: async (labelSelector) => (await o.client().list(Nodes, '', { resourceVersion: '0', ...(labelSelector ? { labelSelector } : {}) })).items as unknown as Node[],
      listPods: async (namespace, labelSelector, fieldSelector) =>
        (await o.client().list(Pods, namespace, { resourceVersion: '0', ...(labelSelector ? { labelSelector } : {}), ...(fieldSelector ? { fieldSelector } : {}) })).items as unknown as Pod[],
    });
  }

  /** The group versions for startApiServer's `delegatedGroups`. */
  get groups(): DelegatedGroup[] {
    return this.api.groups;
  }

  /** Starts scraping, and ensures the aggregated-metrics-reader ClusterRole (left as it is when it exists). */
  async start(): Promise<void> {
    this.scraper.start();
    try {
      await this.o.client().create(ClusterRoles, '', AGGREGATED_METRICS_READER);
    } catch (err) {
      if (!isAlreadyExists(err)) log.error('cannot create the ClusterRole system:aggregated-metrics-reader', { err });
    }
  }

  stop(): Promise<void> {
    return this.scraper.stop();
  }
}
