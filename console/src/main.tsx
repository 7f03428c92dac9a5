/** The console's shell: login, navigation (hash routes), the namespace picker, the connection indicator. */
import type { Namespace } from 'kubernetes-types/core/v1.js';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, getJson, getToken, Namespaces, resourcePath, setToken, setUnauthorizedHandler } from './api.js';
import { ApplyPage } from './apply-page.js';
import { ConnectionStatus } from './components.js';
import { DeploymentPage } from './deployment.js';
import { openWatches, usePoll, useTick } from './hooks.js';
import { EventsPage, NamespacesPage, NodesPage, Overview, PodsPage, WorkloadsPage } from './pages.js';
import { PodPage } from './pod.js';
import './style.css';

function useRoute(): string[] {
  const read = () => (location.hash.replace(/^#\/?/, '') || 'overview').split('/').map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

type Auth = { state: 'checking' } | { state: 'in'; user: string } | { state: 'out'; message?: string };

/** Who the credentials are (SelfSubjectReview), or why they are refused. */
async function whoAmI(): Promise<string> {
  const res = await fetch('/apis/authentication.k8s.io/v1/selfsubjectreviews', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...(getToken() ? { Authorization: `Bearer ${getToken()}` } : {}) },
    credentials: 'same-origin',
    body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }),
  });
  if (res.ok) return ((await res.json()) as { status?: { userInfo?: { username?: string } } }).status?.userInfo?.username ?? '?';
  if (res.status === 404) {
    await getJson('/api');
    return '(unknown user)';
  }
  let message = `${res.status} ${res.statusText}`;
  try {
    message = ((await res.json()) as { message?: string }).message ?? message;
  } catch {
    // not JSON
  }
  throw new ApiError(message, res.status, '');
}

function Login(props: { message?: string; onToken: (t: string) => void }) {
  const [token, setTokenText] = useState('');
  return (
    <main class="login">
      <h1>skiff console</h1>
      <p>
        Paste a bearer token, e.g. from <code>kubectl create token NAME -n NAMESPACE</code>. It is kept in this tab's
        session storage only. With the kubeconfig's client certificate imported into the browser, no token is needed.
      </p>
      {props.message && (
        <p class="error" data-testid="login-error">
          {props.message}
        </p>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          props.onToken(token.trim());
        }}
      >
        <textarea value={token} onInput={(e) => setTokenText((e.target as HTMLTextAreaElement).value)} data-testid="token" rows={6} />
        <button type="submit" data-testid="login">
          Sign in
        </button>
      </form>
    </main>
  );
}

/** Namespaces by a list every 30 s, not a watch: each watch holds one of the browser's six connections. */
function NamespacePicker(props: { ns: string; onPick: (ns: string) => void }) {
  const poll = usePoll<{ items: Namespace[] }>(resourcePath(Namespaces), 30_000, 1);
  const namespaces = { items: poll.history[0]?.doc.items ?? [] };
  return (
    <select value={props.ns} onChange={(e) => props.onPick((e.target as HTMLSelectElement).value)} data-testid="namespace">
      <option value="">all namespaces</option>
      {namespaces.items.map((n) => (
        <option key={n.metadata?.name} value={n.metadata?.name}>
          {n.metadata?.name}
        </option>
      ))}
    </select>
  );
}

const NAV: [string, string][] = [
  ['overview', 'Overview'],
  ['nodes', 'Nodes'],
  ['namespaces', 'Namespaces'],
  ['workloads', 'Workloads'],
  ['pods', 'Pods'],
  ['events', 'Events'],
  ['apply', 'Apply YAML'],
];

function App() {
  const [auth, setAuth] = useState<Auth>({ state: 'checking' });
  const [ns, setNs] = useState(sessionStorage.getItem('skiff.console.namespace') ?? '');
  const route = useRoute();
  useTick(1000);
  // A request that fails without an answer (a network change, a server restarting) is asked again a few times.
  const check = (attempt = 0): Promise<void> =>
    whoAmI().then(
      (user) => setAuth({ state: 'in', user }),
      (err: Error) => {
        if (!(err instanceof ApiError) && attempt < 5) return new Promise((r) => setTimeout(r, 1000)).then(() => check(attempt + 1));
        const code = err instanceof ApiError ? err.code : 0;
        setAuth(code === 401 || code === 403 ? { state: 'out', ...(getToken() || code === 403 ? { message: err.message } : {}) } : { state: 'out', message: `cannot reach the API server: ${err.message}` });
      },
    );
  useEffect(() => {
    setUnauthorizedHandler(() => setAuth({ state: 'out', message: 'The server no longer accepts these credentials (401): sign in again.' }));
    void check();
  }, []);
  const pickNs = (value: string) => {
    sessionStorage.setItem('skiff.console.namespace', value);
    setNs(value);
  };
  if (auth.state === 'checking') return <p class="muted">Connecting…</p>;
  if (auth.state === 'out')
    return (
      <Login
        {...(auth.message ? { message: auth.message } : {})}
        onToken={(t) => {
          setToken(t);
          setAuth({ state: 'checking' });
          void check();
        }}
      />
    );
  const [page, a, b] = route;
  return (
    <div class="shell">
      <header>
        <strong>skiff</strong>
        <nav>
          {NAV.map(([id, label]) => (
            <a key={id} href={`#/${id}`} class={page === id ? 'active' : ''} data-testid={`nav-${id}`}>
              {label}
            </a>
          ))}
        </nav>
        <NamespacePicker ns={ns} onPick={pickNs} />
        <ConnectionStatus />
        <span class="muted" data-testid="user">
          {auth.user}
        </span>
        <button
          onClick={() => {
            setToken(undefined);
            setAuth({ state: 'out' });
          }}
        >
          Sign out
        </button>
      </header>
      <main>
        {page === 'overview' && <Overview ns={ns} />}
        {page === 'nodes' && <NodesPage />}
        {page === 'namespaces' && <NamespacesPage onPick={pickNs} />}
        {page === 'workloads' && <WorkloadsPage ns={ns} />}
        {page === 'pods' && !a && <PodsPage ns={ns} />}
        {page === 'pods' && a && b && <PodPage ns={a} name={b} />}
        {page === 'deployments' && a && b && <DeploymentPage ns={a} name={b} />}
        {page === 'events' && <EventsPage ns={ns} />}
        {page === 'apply' && <ApplyPage ns={ns} />}
      </main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);

/** For tests and the curious (devtools): the open watches, their state and size. */
(window as unknown as { skiffConsole: unknown }).skiffConsole = {
  watches: () => openWatches().map((w) => ({ resource: w.type.plural, namespace: w.opts.namespace ?? '', selector: w.opts.fieldSelector ?? w.opts.labelSelector ?? '', state: w.state, error: w.error, relists: w.relists, items: w.items.size })),
};
