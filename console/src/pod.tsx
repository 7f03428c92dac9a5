/** One pod: why it is Pending or restarting, its containers, usage, logs (followed), exec, YAML, events. */
import type { Event, Node, Pod } from 'kubernetes-types/core/v1.js';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { checkNodeFits, diagnosePending, diagnoseRestarts, parseQuantity, podDisplayStatus, podReadyCount, podRestarts } from '../../src/console/pod-diagnosis.js';
import { authHeaders, Events, getToken, Nodes, PodMetricsType, Pods, resourcePath } from './api.js';
import { age, Badge, formatBytes, formatCpu, Sparkline, WatchNote } from './components.js';
import { usePoll, useWatch } from './hooks.js';
import { EventTable, labelText } from './pages.js';
import { YamlPanel } from './yaml-panel.js';

interface PodMetrics {
  containers: { name: string; usage: { cpu: string; memory: string } }[];
}

export function PodPage(props: { ns: string; name: string }) {
  const { ns, name } = props;
  const pods = useWatch<Pod>(Pods, { namespace: ns, fieldSelector: `metadata.name=${name}` });
  const events = useWatch<Event>(Events, { namespace: ns, fieldSelector: `involvedObject.name=${name}` });
  const pod = pods.items[0];
  const [tab, setTab] = useState<'status' | 'logs' | 'exec' | 'yaml'>('status');
  if (!pod)
    return (
      <section>
        <h1>Pod {name}</h1>
        <WatchNote w={pods} />
        {pods.loaded && <p data-testid="pod-missing">The pod {`${ns}/${name}`} does not exist (any more).</p>}
      </section>
    );
  const [r, t] = podReadyCount(pod);
  return (
    <section>
      <h1>
        Pod {ns}/{name} <Badge text={podDisplayStatus(pod)} testid="pod-status" />
      </h1>
      <WatchNote w={pods} />
      <p class="muted">
        Node {pod.spec?.nodeName ?? '(not scheduled)'} · IP {pod.status?.podIP ?? '–'} · ready {r}/{t} · restarts {podRestarts(pod)} · age {age(pod.metadata?.creationTimestamp)}
      </p>
      <p class="labels" data-testid="pod-labels">
        Labels: {labelText(pod.metadata?.labels)}
      </p>
      <nav class="tabs">
        {(['status', 'logs', 'exec', 'yaml'] as const).map((x) => (
          <button key={x} class={tab === x ? 'active' : ''} onClick={() => setTab(x)} data-testid={`tab-${x}`}>
            {x}
          </button>
        ))}
      </nav>
      {tab === 'status' && <PodStatus pod={pod} events={events.items} />}
      {tab === 'logs' && <Logs pod={pod} />}
      {tab === 'exec' && <Exec pod={pod} />}
      {tab === 'yaml' && <YamlPanel type={Pods} ns={ns} name={name} />}
    </section>
  );
}

function PodStatus(props: { pod: Pod; events: Event[] }) {
  const { pod, events } = props;
  const pending = diagnosePending(pod, events);
  const restarts = diagnoseRestarts(pod, events);
  const metrics = usePoll<PodMetrics>(pod.spec?.nodeName ? resourcePath(PodMetricsType, pod.metadata?.namespace, pod.metadata?.name) : undefined, 15_000);
  return (
    <div>
      {pending && <WhyPending pod={pod} diagnosis={pending} />}
      {restarts.length > 0 && (
        <div class="diagnosis" data-testid="why-restarting">
          <h2>Why it restarts</h2>
          {restarts.map((d) => (
            <div key={d.container} class="card">
              <h3>
                Container {d.container}: {d.restarts} restart(s)
              </h3>
              {d.waiting && <p>Now: {d.waiting}</p>}
              {d.lastExitCode !== undefined && (
                <p data-testid={`last-exit-${d.container}`}>
                  Last exit code {d.lastExitCode}
                  {d.lastReason ? ` (${d.lastReason})` : ''}
                  {d.lastFinishedAt ? `, ${age(d.lastFinishedAt)} ago` : ''}
                  {d.lastMessage ? `: ${d.lastMessage}` : ''}
                </p>
              )}
              {d.meaning && <p class="meaning">{d.meaning}</p>}
              {d.evidence.length > 0 && (
                <ul>
                  {d.evidence.map((e, i) => (
                    <li key={i}>{e}</li>
                  ))}
                </ul>
              )}
            </div>
          ))}
        </div>
      )}
      <h2>Containers</h2>
      <table>
        <thead>
          <tr>
            <th>Name</th>
            <th>Image</th>
            <th>State</th>
            <th>Ready</th>
            <th>Restarts</th>
            <th>Usage</th>
          </tr>
        </thead>
        <tbody>
          {(pod.spec?.containers ?? []).map((c) => {
            const s = pod.status?.containerStatuses?.find((x) => x.name === c.name);
            const state = s?.state?.running ? 'Running' : s?.state?.waiting ? s.state.waiting.reason ?? 'Waiting' : s?.state?.terminated ? s.state.terminated.reason ?? 'Terminated' : 'Unknown';
            const series = metrics.history.map((h) => h.doc.containers.find((x) => x.name === c.name)?.usage).filter((u) => u);
            return (
              <tr key={c.name}>
                <td>{c.name}</td>
                <td>{c.image}</td>
                <td>
                  <Badge text={state} />
                </td>
                <td>{s?.ready ? 'yes' : 'no'}</td>
                <td>{s?.restartCount ?? 0}</td>
                <td>
                  <Sparkline values={series.map((u) => parseQuantity(u!.cpu))} label="cpu" format={formatCpu} />
                  <Sparkline values={series.map((u) => parseQuantity(u!.memory))} label="memory" format={formatBytes} />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <h2>Conditions</h2>
      <ul class="plain">
        {(pod.status?.conditions ?? []).map((c) => (
          <li key={c.type}>
            <Badge text={c.status} /> {c.type}
            {c.reason ? ` (${c.reason})` : ''}
            {c.message ? `: ${c.message}` : ''}
          </li>
        ))}
      </ul>
      <h2>Events</h2>
      <EventTable events={events} />
    </div>
  );
}

function WhyPending(props: { pod: Pod; diagnosis: NonNullable<ReturnType<typeof diagnosePending>> }) {
  const nodes = useWatch<Node>(Nodes);
  const pods = useWatch<Pod>(Pods);
  const fits = useMemo(() => checkNodeFits(props.pod, nodes.items, pods.items), [props.pod, nodes.items, pods.items]);
  const d = props.diagnosis;
  return (
    <div class="diagnosis" data-testid="why-pending">
      <h2>Why it is Pending</h2>
      <p>The scheduler says:</p>
      <blockquote data-testid="scheduler-message">{d.message}</blockquote>
      {d.reasons.length > 0 && (
        <ul>
          {d.reasons.map((r, i) => (
            <li key={i}>
              {r.count} of {d.nodes} node(s): {r.reason}
            </li>
          ))}
        </ul>
      )}
      {d.preemption && <p>Preemption: {d.preemption}</p>}
      <h3>Per node (the scheduler's usual filters, checked here)</h3>
      <table data-testid="node-fits">
        <tbody>
          {fits.map((f) => (
            <tr key={f.node}>
              <td>{f.node}</td>
              <td>{f.fits ? <Badge text="fits" /> : <Badge text="Failed" />}</td>
              <td>{f.reasons.join('; ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Follows pods/log: text appended as it streams, as text nodes (never parsed as HTML), the last 2 MB kept. */
function Logs(props: { pod: Pod }) {
  const containers = (props.pod.spec?.containers ?? []).map((c) => c.name);
  const [container, setContainer] = useState(containers[0] ?? '');
  const [previous, setPrevious] = useState(false);
  const [state, setState] = useState('');
  const pre = useRef<HTMLPreElement>(null);
  const restarts = useRef(0);
  restarts.current = props.pod.status?.containerStatuses?.find((c) => c.name === container)?.restartCount ?? 0;
  const ns = props.pod.metadata?.namespace;
  const name = props.pod.metadata?.name;
  useEffect(() => {
    const el = pre.current;
    if (!el || !container) return;
    el.textContent = '';
    const abort = new AbortController();
    const q = new URLSearchParams({ container, tailLines: '1000' });
    if (previous) q.set('previous', 'true');
    else q.set('follow', 'true');
    // Following keeps trying: a container not started yet answers 400, and one that restarts ends the stream; the next
    // instance's log is fetched when it runs (kubectl logs -f would stop instead).
    const stream = async (): Promise<'ended' | 'error'> => {
      setState('streaming');
      const res = await fetch(`${resourcePath(Pods, ns, name, 'log')}?${q}`, { headers: authHeaders(), credentials: 'same-origin', signal: abort.signal });
      if (!res.ok || !res.body) {
        const text = await res.text();
        let msg = text;
        try {
          msg = (JSON.parse(text) as { message: string }).message;
        } catch {
          // plain text
        }
        setState(`${res.status}: ${msg}${previous ? '' : ' (retrying)'}`);
        return 'error';
      }
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return 'ended';
        const stick = el.scrollTop + el.clientHeight >= el.scrollHeight - 20;
        el.append(document.createTextNode(value));
        if ((el.textContent?.length ?? 0) > 2_000_000) el.textContent = el.textContent!.slice(-1_000_000);
        if (stick) el.scrollTop = el.scrollHeight;
      }
    };
    (async () => {
      for (;;) {
        const outcome = await stream();
        if (previous) {
          if (outcome === 'ended') setState("end of the previous instance's log");
          return;
        }
        if (outcome === 'ended') {
          el.append(document.createTextNode('\n[the container stopped; its next instance\'s log follows when it starts]\n'));
          setState('the container stopped; waiting for its next instance');
          // The next instance is the one with a higher restart count (from the pod's watch); its log from the start.
          const seen = restarts.current;
          while (restarts.current <= seen && !abort.signal.aborted) await new Promise((r) => setTimeout(r, 500));
          q.delete('tailLines');
        } else await new Promise((r) => setTimeout(r, 2000));
        if (abort.signal.aborted) return;
      }
    })().catch((err: Error) => {
      if (err.name !== 'AbortError') setState(`error: ${err.message}`);
    });
    return () => abort.abort();
  }, [ns, name, container, previous]);
  return (
    <div>
      <label>
        Container{' '}
        <select value={container} onChange={(e) => setContainer((e.target as HTMLSelectElement).value)}>
          {containers.map((c) => (
            <option key={c}>{c}</option>
          ))}
        </select>
      </label>{' '}
      <label>
        <input type="checkbox" checked={previous} onChange={(e) => setPrevious((e.target as HTMLInputElement).checked)} /> previous instance
      </label>{' '}
      <span class="muted" data-testid="log-state">
        {state}
      </span>
      <pre class="log" ref={pre} data-testid="log" />
    </div>
  );
}

const encoder = new TextEncoder();

/**
 * Exec over WebSocket with the v5.channel.k8s.io protocol (the first byte of each message is the stream: 0 stdin,
 * 1 stdout, 2 stderr, 3 status, 255 close). A browser cannot set an Authorization header on a WebSocket, so the token
 * rides in the `base64url.bearer.authorization.k8s.io.<token>` subprotocol, as kube-apiserver accepts it.
 */
function Exec(props: { pod: Pod }) {
  const containers = (props.pod.spec?.containers ?? []).map((c) => c.name);
  const [container, setContainer] = useState(containers[0] ?? '');
  const [command, setCommand] = useState('sh');
  const [line, setLine] = useState('');
  const [state, setState] = useState('closed');
  const ws = useRef<WebSocket | null>(null);
  const out = useRef<HTMLPreElement>(null);
  const write = (text: string) => {
    const el = out.current;
    if (!el) return;
    el.append(document.createTextNode(text));
    el.scrollTop = el.scrollHeight;
  };
  const connect = () => {
    ws.current?.close();
    if (out.current) out.current.textContent = '';
    const q = new URLSearchParams({ container, stdin: 'true', stdout: 'true', stderr: 'true' });
    for (const part of command.trim().split(/\s+/)) q.append('command', part);
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${resourcePath(Pods, props.pod.metadata?.namespace, props.pod.metadata?.name, 'exec')}?${q}`;
    const token = getToken();
    const protocols = ['v5.channel.k8s.io', ...(token ? [`base64url.bearer.authorization.k8s.io.${base64url(token)}`] : [])];
    const socket = new WebSocket(url, protocols);
    socket.binaryType = 'arraybuffer';
    ws.current = socket;
    setState('connecting');
    const decoders = [new TextDecoder(), new TextDecoder()];
    socket.onopen = () => setState('open');
    socket.onmessage = (m) => {
      const data = new Uint8Array(m.data as ArrayBuffer);
      if (data.length === 0) return;
      const stream = data[0];
      if (stream === 1 || stream === 2) write(decoders[stream - 1]!.decode(data.subarray(1), { stream: true }));
      else if (stream === 3) {
        const status = JSON.parse(new TextDecoder().decode(data.subarray(1))) as { status?: string; message?: string };
        write(`\n[${status.status === 'Success' ? 'exited 0' : status.message ?? 'failed'}]\n`);
      }
    };
    socket.onerror = () => setState('error (see the pod\'s events; exec needs a node agent that runs the pod)');
    socket.onclose = (e) => setState(`closed${e.reason ? `: ${e.reason}` : ''}`);
  };
  useEffect(() => () => ws.current?.close(), []);
  const send = (text: string) => {
    const socket = ws.current;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    const body = encoder.encode(text);
    const frame = new Uint8Array(body.length + 1);
    frame[0] = 0;
    frame.set(body, 1);
    socket.send(frame);
  };
  return (
    <div>
      <label>
        Container{' '}
        <select value={container} onChange={(e) => setContainer((e.target as HTMLSelectElement).value)}>
          {containers.map((c) => (
            <option key={c}>{c}</option>
          ))}
        </select>
      </label>{' '}
      <input value={command} onInput={(e) => setCommand((e.target as HTMLInputElement).value)} data-testid="exec-command" />{' '}
      <button onClick={connect} data-testid="exec-connect">
        Connect
      </button>{' '}
      <span class="muted" data-testid="exec-state">
        {state}
      </span>
      <pre class="log" ref={out} data-testid="exec-output" />
      <form
        onSubmit={(e) => {
          e.preventDefault();
          send(`${line}\n`);
          setLine('');
        }}
      >
        <input class="wide" value={line} onInput={(e) => setLine((e.target as HTMLInputElement).value)} placeholder="type a command line, Enter sends it to stdin" data-testid="exec-input" />
      </form>
    </div>
  );
}

function base64url(text: string): string {
  const bytes = encoder.encode(text);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
