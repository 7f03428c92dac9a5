/** A Deployment's control loop, live: desired against actual for it and each ReplicaSet while a rollout runs. */
import type { Deployment, ReplicaSet } from 'kubernetes-types/apps/v1.js';
import type { Event } from 'kubernetes-types/core/v1.js';
import { useMemo, useState } from 'preact/hooks';
import { computeRollout } from '../../src/console/rollout.js';
import { Deployments, Events, ReplicaSets } from './api.js';
import { Badge, WatchNote } from './components.js';
import { useWatch } from './hooks.js';
import { EventTable } from './pages.js';
import { YamlPanel } from './yaml-panel.js';

function Bar(props: { desired: number; current: number; ready: number; testid: string }) {
  const max = Math.max(props.desired, props.current, 1);
  const cells = [];
  for (let i = 0; i < max; i++) {
    const cls = i < props.ready ? 'ready' : i < props.current ? 'current' : 'missing';
    cells.push(<span key={i} class={`cell ${cls}${i >= props.desired ? ' surplus' : ''}`} />);
  }
  return (
    <div class="bar" data-testid={props.testid}>
      {cells}
    </div>
  );
}

export function DeploymentPage(props: { ns: string; name: string }) {
  const { ns, name } = props;
  const ds = useWatch<Deployment>(Deployments, { namespace: ns, fieldSelector: `metadata.name=${name}` });
  const rss = useWatch<ReplicaSet>(ReplicaSets, { namespace: ns });
  const events = useWatch<Event>(Events, { namespace: ns });
  const [tab, setTab] = useState<'rollout' | 'yaml'>('rollout');
  const d = ds.items[0];
  const view = useMemo(() => (d ? computeRollout(d, rss.items) : undefined), [d, rss.items]);
  const related = useMemo(() => {
    if (!view) return [];
    const names = new Set([name, ...view.replicaSets.map((r) => r.name)]);
    return events.items.filter((e) => names.has(e.involvedObject?.name ?? '') || [...names].some((n) => (e.involvedObject?.name ?? '').startsWith(`${n}-`)));
  }, [events.items, view, name]);
  if (!d || !view)
    return (
      <section>
        <h1>Deployment {name}</h1>
        <WatchNote w={ds} />
        {ds.loaded && <p>The Deployment {`${ns}/${name}`} does not exist.</p>}
      </section>
    );
  return (
    <section>
      <h1>
        Deployment {ns}/{name} <Badge text={view.complete ? 'Completed' : view.paused ? 'Paused' : 'Progressing'} testid="rollout-state" />
      </h1>
      <WatchNote w={ds} />
      <nav class="tabs">
        <button class={tab === 'rollout' ? 'active' : ''} onClick={() => setTab('rollout')}>
          rollout
        </button>
        <button class={tab === 'yaml' ? 'active' : ''} onClick={() => setTab('yaml')} data-testid="tab-yaml">
          yaml
        </button>
      </nav>
      {tab === 'yaml' ? (
        <YamlPanel type={Deployments} ns={ns} name={name} />
      ) : (
        <div>
          <p class="summary" data-testid="rollout-summary">
            {view.summary}
          </p>
          <table class="loop">
            <thead>
              <tr>
                <th />
                <th>Desired</th>
                <th>Current</th>
                <th>Up-to-date</th>
                <th>Ready</th>
                <th>Available</th>
                <th />
              </tr>
            </thead>
            <tbody>
              <tr>
                <td>Deployment</td>
                <td data-testid="deploy-desired">{view.desired}</td>
                <td data-testid="deploy-current">{view.current}</td>
                <td data-testid="deploy-updated">{view.updated}</td>
                <td data-testid="deploy-ready">{view.ready}</td>
                <td data-testid="deploy-available">{view.available}</td>
                <td>
                  <Bar desired={view.desired} current={view.current} ready={view.ready} testid="deploy-bar" />
                </td>
              </tr>
              {view.replicaSets.map((r) => (
                <tr key={r.name} class={r.isNew ? 'new-rs' : 'old-rs'} data-testid={r.isNew ? 'new-rs' : 'old-rs'}>
                  <td>
                    ReplicaSet {r.name} <span class="muted">rev {r.revision}{r.isNew ? ' (new)' : ''} · {r.images.join(', ')}</span>
                  </td>
                  <td data-testid={`rs-desired-${r.name}`}>{r.desired}</td>
                  <td data-testid={`rs-current-${r.name}`}>{r.current}</td>
                  <td>{r.isNew ? r.current : 0}</td>
                  <td data-testid={`rs-ready-${r.name}`}>{r.ready}</td>
                  <td>{r.available}</td>
                  <td>
                    <Bar desired={r.desired} current={r.current} ready={r.ready} testid={`rs-bar-${r.name}`} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="muted">
            Strategy {view.strategy}: at most {view.desired + view.maxSurge} pods, at least {Math.max(0, view.desired - view.maxUnavailable)} available. {view.observed ? '' : 'Status is behind the spec.'}
          </p>
          <ul class="plain">
            {view.conditions.map((c) => (
              <li key={c}>{c}</li>
            ))}
          </ul>
          <h2>Events of the Deployment, its ReplicaSets and pods</h2>
          <EventTable events={related} limit={30} />
        </div>
      )}
    </section>
  );
}
