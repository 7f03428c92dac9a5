/** The list pages: overview, nodes, namespaces, workloads, pods, events. */
import type { DaemonSet, Deployment, ReplicaSet, StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { Job } from 'kubernetes-types/batch/v1.js';
import type { Event, Namespace, Node, Pod } from 'kubernetes-types/core/v1.js';
import { useMemo, useState } from 'preact/hooks';
import { parseQuantity, podDisplayStatus, podReadyCount, podRestarts } from '../../src/console/pod-diagnosis.js';
import { DaemonSets, Deployments, Events, Jobs, Namespaces, NodeMetricsType, Nodes, Pods, ReplicaSets, resourcePath, StatefulSets } from './api.js';
import { age, Badge, formatBytes, formatCpu, Link, Sparkline, Table, WatchNote } from './components.js';
import { usePoll, useWatch } from './hooks.js';

interface NodeMetricsList {
  items: { metadata: { name: string }; usage: { cpu: string; memory: string } }[];
}

export function nodeReady(n: Node): string {
  const c = n.status?.conditions?.find((x) => x.type === 'Ready');
  const ready = c?.status === 'True' ? 'Ready' : 'NotReady';
  return n.spec?.unschedulable ? `${ready},SchedulingDisabled` : ready;
}

function nodeRoles(n: Node): string {
  const roles = Object.keys(n.metadata?.labels ?? {})
    .filter((k) => k.startsWith('node-role.kubernetes.io/'))
    .map((k) => k.slice('node-role.kubernetes.io/'.length));
  return roles.length ? roles.join(',') : '<none>';
}

export function Overview(props: { ns: string }) {
  const nodes = useWatch<Node>(Nodes);
  const pods = useWatch<Pod>(Pods, { namespace: props.ns });
  const deployments = useWatch<Deployment>(Deployments, { namespace: props.ns });
  const events = useWatch<Event>(Events, { namespace: props.ns, fieldSelector: 'type=Warning' });
  const metrics = usePoll<NodeMetricsList>(resourcePath(NodeMetricsType), 15_000);
  const phases = useMemo(() => {
    const m = new Map<string, number>();
    for (const p of pods.items) {
      const s = podDisplayStatus(p);
      m.set(s, (m.get(s) ?? 0) + 1);
    }
    return [...m.entries()].sort((a, b) => b[1] - a[1]);
  }, [pods.items]);
  const readyNodes = nodes.items.filter((n) => nodeReady(n).startsWith('Ready')).length;
  const rolling = deployments.items.filter((d) => (d.status?.updatedReplicas ?? 0) !== (d.spec?.replicas ?? 1) || (d.status?.availableReplicas ?? 0) !== (d.spec?.replicas ?? 1));
  return (
    <section>
      <h1>Cluster overview</h1>
      <WatchNote w={pods} />
      <div class="cards">
        <div class="card">
          <h3>Nodes</h3>
          <p class="big" data-testid="overview-nodes">
            {readyNodes}/{nodes.items.length}
          </p>
          <p class="muted">Ready</p>
        </div>
        <div class="card">
          <h3>Pods</h3>
          <p class="big" data-testid="overview-pods">
            {pods.items.length}
          </p>
          <ul class="plain" data-testid="overview-pod-phases">
            {phases.map(([s, n]) => (
              <li key={s}>
                <Badge text={s} /> <span data-testid={`phase-${s}`}>{n}</span>
              </li>
            ))}
          </ul>
        </div>
        <div class="card">
          <h3>Deployments</h3>
          <p class="big">{deployments.items.length}</p>
          <p class="muted">{rolling.length} not at their desired state</p>
          <ul class="plain">
            {rolling.slice(0, 8).map((d) => (
              <li key={d.metadata?.uid}>
                <Link to={`/deployments/${d.metadata?.namespace}/${d.metadata?.name}`}>{d.metadata?.name}</Link> {d.status?.availableReplicas ?? 0}/{d.spec?.replicas ?? 1}
              </li>
            ))}
          </ul>
        </div>
      </div>
      <h2>Node usage (metrics.k8s.io)</h2>
      {metrics.error && <p class="muted">Metrics: {metrics.error}</p>}
      <div class="cards">
        {nodes.items.slice(0, 24).map((n) => {
          const name = n.metadata?.name ?? '';
          const series = metrics.history.map((h) => h.doc.items.find((i) => i.metadata.name === name)?.usage);
          const cpu = series.filter((u) => u).map((u) => parseQuantity(u!.cpu));
          const mem = series.filter((u) => u).map((u) => parseQuantity(u!.memory));
          return (
            <div class="card" key={name}>
              <h3>{name}</h3>
              <Sparkline values={cpu} label={`cpu of ${formatCpu(parseQuantity(n.status?.allocatable?.cpu ?? '0'))}`} format={formatCpu} />
              <Sparkline values={mem} label={`memory of ${formatBytes(parseQuantity(n.status?.allocatable?.memory ?? '0'))}`} format={formatBytes} />
            </div>
          );
        })}
      </div>
      <h2>Recent warnings</h2>
      <EventTable events={events.items.slice(-1000)} limit={10} />
    </section>
  );
}

export function NodesPage() {
  const nodes = useWatch<Node>(Nodes);
  const pods = useWatch<Pod>(Pods);
  const metrics = usePoll<NodeMetricsList>(resourcePath(NodeMetricsType), 15_000, 2);
  const last = metrics.history[metrics.history.length - 1]?.doc;
  const podCount = useMemo(() => {
    const m = new Map<string, number>();
    for (const p of pods.items) if (p.spec?.nodeName) m.set(p.spec.nodeName, (m.get(p.spec.nodeName) ?? 0) + 1);
    return m;
  }, [pods.items]);
  return (
    <section>
      <h1>Nodes</h1>
      <WatchNote w={nodes} />
      <Table
        testid="nodes"
        head={['Name', 'Status', 'Roles', 'Version', 'Pods', 'CPU (used/allocatable)', 'Memory (used/allocatable)', 'Taints', 'Age']}
        rows={nodes.items}
        row={(n) => {
          const name = n.metadata?.name ?? '';
          const u = last?.items.find((i) => i.metadata.name === name)?.usage;
          return (
            <tr key={name}>
              <td>{name}</td>
              <td>
                <Badge text={nodeReady(n)} />
              </td>
              <td>{nodeRoles(n)}</td>
              <td>{n.status?.nodeInfo?.kubeletVersion}</td>
              <td>
                {podCount.get(name) ?? 0}/{n.status?.allocatable?.pods}
              </td>
              <td>
                {u ? formatCpu(parseQuantity(u.cpu)) : '–'} / {n.status?.allocatable?.cpu}
              </td>
              <td>
                {u ? formatBytes(parseQuantity(u.memory)) : '–'} / {formatBytes(parseQuantity(n.status?.allocatable?.memory ?? '0'))}
              </td>
              <td>{(n.spec?.taints ?? []).map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`).join(', ')}</td>
              <td>{age(n.metadata?.creationTimestamp)}</td>
            </tr>
          );
        }}
      />
    </section>
  );
}

export function NamespacesPage(props: { onPick: (ns: string) => void }) {
  const namespaces = useWatch<Namespace>(Namespaces);
  return (
    <section>
      <h1>Namespaces</h1>
      <WatchNote w={namespaces} />
      <Table
        testid="namespaces"
        head={['Name', 'Status', 'Labels', 'Age']}
        rows={namespaces.items}
        row={(n) => (
          <tr key={n.metadata?.name}>
            <td>
              <a href="#/pods" onClick={() => props.onPick(n.metadata?.name ?? '')}>
                {n.metadata?.name}
              </a>
            </td>
            <td>
              <Badge text={n.status?.phase ?? ''} />
            </td>
            <td>{labelText(n.metadata?.labels)}</td>
            <td>{age(n.metadata?.creationTimestamp)}</td>
          </tr>
        )}
      />
    </section>
  );
}

export function labelText(labels: Record<string, string> | undefined): string {
  return Object.entries(labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

const WORKLOAD_KINDS = ['Deployments', 'ReplicaSets', 'StatefulSets', 'DaemonSets', 'Jobs'] as const;

/** One kind at a time: each watch holds one of the browser's six connections to the server. */
export function WorkloadsPage(props: { ns: string }) {
  const [kind, setKind] = useState<(typeof WORKLOAD_KINDS)[number]>('Deployments');
  const deployments = useWatch<Deployment>(Deployments, { namespace: props.ns }, kind === 'Deployments');
  const replicaSets = useWatch<ReplicaSet>(ReplicaSets, { namespace: props.ns }, kind === 'ReplicaSets');
  const statefulSets = useWatch<StatefulSet>(StatefulSets, { namespace: props.ns }, kind === 'StatefulSets');
  const daemonSets = useWatch<DaemonSet>(DaemonSets, { namespace: props.ns }, kind === 'DaemonSets');
  const jobs = useWatch<Job>(Jobs, { namespace: props.ns }, kind === 'Jobs');
  const nsCol = (o: { metadata?: { namespace?: string } }) => <td>{o.metadata?.namespace}</td>;
  return (
    <section>
      <h1>Workloads</h1>
      <nav class="tabs">
        {WORKLOAD_KINDS.map((k) => (
          <button key={k} class={kind === k ? 'active' : ''} onClick={() => setKind(k)} data-testid={`workloads-${k}`}>
            {k}
          </button>
        ))}
      </nav>
      {kind === 'Deployments' && (
      <Table
        testid="deployments"
        head={['Namespace', 'Name', 'Desired', 'Up-to-date', 'Ready', 'Available', 'Age']}
        rows={deployments.items}
        row={(d) => (
          <tr key={d.metadata?.uid}>
            {nsCol(d)}
            <td>
              <Link to={`/deployments/${d.metadata?.namespace}/${d.metadata?.name}`}>{d.metadata?.name}</Link>
            </td>
            <td>{d.spec?.replicas ?? 1}</td>
            <td>{d.status?.updatedReplicas ?? 0}</td>
            <td>{d.status?.readyReplicas ?? 0}</td>
            <td>{d.status?.availableReplicas ?? 0}</td>
            <td>{age(d.metadata?.creationTimestamp)}</td>
          </tr>
        )}
      />
      )}
      {kind === 'ReplicaSets' && (
      <Table
        head={['Namespace', 'Name', 'Desired', 'Current', 'Ready', 'Owner', 'Age']}
        rows={replicaSets.items}
        row={(r) => (
          <tr key={r.metadata?.uid}>
            {nsCol(r)}
            <td>{r.metadata?.name}</td>
            <td>{r.spec?.replicas ?? 1}</td>
            <td>{r.status?.replicas ?? 0}</td>
            <td>{r.status?.readyReplicas ?? 0}</td>
            <td>{(r.metadata?.ownerReferences ?? []).map((o) => `${o.kind}/${o.name}`).join(', ')}</td>
            <td>{age(r.metadata?.creationTimestamp)}</td>
          </tr>
        )}
      />
      )}
      {kind === 'StatefulSets' && (
      <Table
        head={['Namespace', 'Name', 'Desired', 'Ready', 'Updated', 'Age']}
        rows={statefulSets.items}
        row={(s) => (
          <tr key={s.metadata?.uid}>
            {nsCol(s)}
            <td>{s.metadata?.name}</td>
            <td>{s.spec?.replicas ?? 1}</td>
            <td>{s.status?.readyReplicas ?? 0}</td>
            <td>{s.status?.updatedReplicas ?? 0}</td>
            <td>{age(s.metadata?.creationTimestamp)}</td>
          </tr>
        )}
      />
      )}
      {kind === 'DaemonSets' && (
      <Table
        head={['Namespace', 'Name', 'Desired', 'Current', 'Ready', 'Up-to-date', 'Available', 'Age']}
        rows={daemonSets.items}
        row={(s) => (
          <tr key={s.metadata?.uid}>
            {nsCol(s)}
            <td>{s.metadata?.name}</td>
            <td>{s.status?.desiredNumberScheduled ?? 0}</td>
            <td>{s.status?.currentNumberScheduled ?? 0}</td>
            <td>{s.status?.numberReady ?? 0}</td>
            <td>{s.status?.updatedNumberScheduled ?? 0}</td>
            <td>{s.status?.numberAvailable ?? 0}</td>
            <td>{age(s.metadata?.creationTimestamp)}</td>
          </tr>
        )}
      />
      )}
      {kind === 'Jobs' && (
      <Table
        head={['Namespace', 'Name', 'Completions', 'Active', 'Failed', 'Age']}
        rows={jobs.items}
        row={(j) => (
          <tr key={j.metadata?.uid}>
            {nsCol(j)}
            <td>{j.metadata?.name}</td>
            <td>
              {j.status?.succeeded ?? 0}/{j.spec?.completions ?? 1}
            </td>
            <td>{j.status?.active ?? 0}</td>
            <td>{j.status?.failed ?? 0}</td>
            <td>{age(j.metadata?.creationTimestamp)}</td>
          </tr>
        )}
      />
      )}
    </section>
  );
}

export function PodsPage(props: { ns: string }) {
  const pods = useWatch<Pod>(Pods, { namespace: props.ns });
  const [filter, setFilter] = useState('');
  const rows = useMemo(() => {
    const f = filter.trim().toLowerCase();
    return f ? pods.items.filter((p) => `${p.metadata?.namespace}/${p.metadata?.name} ${labelText(p.metadata?.labels)}`.toLowerCase().includes(f)) : pods.items;
  }, [pods.items, filter]);
  return (
    <section>
      <h1>Pods</h1>
      <WatchNote w={pods} />
      <input placeholder="filter by name or label" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} data-testid="pod-filter" />
      <span class="muted" data-testid="pod-count">
        {' '}
        {rows.length} pods
      </span>
      <Table
        testid="pods"
        head={['Namespace', 'Name', 'Ready', 'Status', 'Restarts', 'Node', 'Labels', 'Age']}
        rows={rows}
        row={(p) => {
          const [r, t] = podReadyCount(p);
          const key = `${p.metadata?.namespace}/${p.metadata?.name}`;
          return (
            <tr key={key}>
              <td>{p.metadata?.namespace}</td>
              <td>
                <Link to={`/pods/${key}`} testid={`pod-link-${p.metadata?.name}`}>
                  {p.metadata?.name}
                </Link>
              </td>
              <td>
                {r}/{t}
              </td>
              <td>
                <Badge text={podDisplayStatus(p)} testid={`pod-status-${p.metadata?.name}`} />
              </td>
              <td>{podRestarts(p)}</td>
              <td>{p.spec?.nodeName ?? ''}</td>
              <td class="labels">{labelText(p.metadata?.labels)}</td>
              <td>{age(p.metadata?.creationTimestamp)}</td>
            </tr>
          );
        }}
      />
    </section>
  );
}

export function EventTable(props: { events: Event[]; limit?: number }) {
  const sorted = useMemo(() => {
    const t = (e: Event) => Date.parse(e.lastTimestamp ?? (e as { eventTime?: string }).eventTime ?? e.metadata?.creationTimestamp ?? '') || 0;
    const s = [...props.events].sort((a, b) => t(b) - t(a));
    return props.limit ? s.slice(0, props.limit) : s;
  }, [props.events, props.limit]);
  return (
    <Table
      testid="events"
      head={['Last seen', 'Type', 'Reason', 'Object', 'Message', 'Count']}
      rows={sorted}
      row={(e) => (
        <tr key={e.metadata?.uid} class={e.type === 'Warning' ? 'warning' : ''}>
          <td>{age(e.lastTimestamp ?? (e as { eventTime?: string }).eventTime ?? e.metadata?.creationTimestamp)}</td>
          <td>
            <Badge text={e.type ?? ''} />
          </td>
          <td>{e.reason}</td>
          <td>
            {e.involvedObject?.kind}/{e.involvedObject?.name}
          </td>
          <td class="message">{e.message}</td>
          <td>{e.count ?? 1}</td>
        </tr>
      )}
    />
  );
}

export function EventsPage(props: { ns: string }) {
  const events = useWatch<Event>(Events, { namespace: props.ns });
  return (
    <section>
      <h1>Events</h1>
      <WatchNote w={events} />
      <EventTable events={events.items} />
    </section>
  );
}
