// The Signalbox dashboard: one long-poll on core's /v1/dashboard keeps everything live.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './style.css';
import type { Connection, DashboardErrorBody, DashboardPayload, ProxyView, RouteView, ServiceView } from './state.js';
import { ago, connectionAfterError, routeMatches, serviceMatches, takeToken, warnings } from './state.js';

type Tab = 'routes' | 'services' | 'history' | 'proxies';

function useDashboard(token: string | undefined): { data: DashboardPayload | undefined; conn: Connection } {
  const [data, setData] = useState<DashboardPayload>();
  const [conn, setConn] = useState<Connection>(token ? { kind: 'connecting' } : { kind: 'no-token' });
  useEffect(() => {
    if (!token) return;
    const abort = new AbortController();
    let etag: string | undefined;
    let last = { kind: 'connecting' } as Connection;
    const set = (c: Connection) => {
      last = c;
      setConn(c);
    };
    void (async () => {
      let failures = 0;
      while (!abort.signal.aborted) {
        let status: number | undefined;
        let body: Partial<DashboardErrorBody> | undefined;
        try {
          const res = await fetch(`./v1/dashboard?wait=${etag ? 25 : 0}`, {
            headers: { authorization: `Bearer ${token}`, ...(etag ? { 'if-none-match': etag } : {}) },
            cache: 'no-store',
            signal: AbortSignal.any([abort.signal, AbortSignal.timeout(35_000)]),
          });
          status = res.status;
          if (res.status === 304) {
            if (last.kind !== 'live') set({ kind: 'live', since: Date.now() });
            failures = 0;
            continue;
          }
          if (!res.ok) {
            body = (await res.json().catch(() => undefined)) as typeof body;
            throw new Error(body?.message ?? `core answered HTTP ${res.status}`);
          }
          const next = (await res.json()) as DashboardPayload;
          etag = res.headers.get('etag') ?? undefined;
          setData(next);
          if (last.kind !== 'live') set({ kind: 'live', since: Date.now() });
          failures = 0;
        } catch (e) {
          if (abort.signal.aborted) return;
          const c = connectionAfterError(last, status, body, (e as Error).message, Date.now());
          set(c);
          if (c.kind === 'denied') return;
          failures++;
          await new Promise((r) => setTimeout(r, Math.min(5000, 500 * 2 ** Math.min(failures, 4))));
        }
      }
    })();
    return () => abort.abort();
  }, [token]);
  return { data, conn };
}

function useNow(ms = 5000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

function StatePage(props: { title: string; state: string; children: preact.ComponentChildren }) {
  return (
    <section class="page-state" data-testid="state-page" data-state={props.state} role="status">
      <h2>{props.title}</h2>
      {props.children}
    </section>
  );
}

function ConnectionPill({ conn, data }: { conn: Connection; data: DashboardPayload | undefined }) {
  const now = useNow();
  if (conn.kind === 'live')
    return (
      <span class="pill ok" data-testid="connection">
        live
      </span>
    );
  if (conn.kind === 'down')
    return (
      <span class="pill bad" data-testid="connection">
        control plane unreachable{data ? `, showing data from ${ago(data.meta.generatedAt, now)}` : ''}
      </span>
    );
  if (conn.kind === 'connecting')
    return (
      <span class="pill" data-testid="connection">
        connecting…
      </span>
    );
  return (
    <span class="pill bad" data-testid="connection">
      no access
    </span>
  );
}

function tlsLabel(r: RouteView): string {
  const mode = r.kind === 'terminate' ? 'TLS at proxy' : r.kind === 'passthrough' ? 'TLS passthrough' : r.kind === 'default' ? 'default backend' : 'HTTP';
  return [mode, r.sslOnly ? 'HTTPS only' : '', r.backendTls ? 'TLS to backend' : ''].filter(Boolean).join(' · ');
}

function Routes({ routes, q }: { routes: RouteView[]; q: string }) {
  const shown = routes.filter((r) => routeMatches(q, r));
  if (routes.length === 0)
    return (
      <StatePage title="No routes yet" state="no-routes">
        <p>
          No service is routed. Label a service, e.g. <code>docker service update --label-add com.docker.lb.hosts=app.example.test --label-add com.docker.lb.port=80 SERVICE</code>. Rejected services
          are under Services.
        </p>
      </StatePage>
    );
  if (shown.length === 0)
    return (
      <p class="empty" data-testid="no-match">
        No route matches “{q}”.
      </p>
    );
  return (
    <ul class="cards">
      {shown.map((r) => (
        <li class="card" data-testid="route" data-host={r.host} key={`${r.extension}|${r.host}|${r.path}|${r.kind}`}>
          <div class="card-head">
            <strong class="host">{r.host}</strong>
            <span class="path">{r.path}</span>
            <span class="tag">{tlsLabel(r)}</span>
          </div>
          <div class="row">
            <span>
              <span data-testid="server-count">{r.servers.length}</span> {r.servers.length === 1 ? 'server' : 'servers'}
            </span>
            <span class="muted">
              {r.split.length > 1 ? 'canary: ' : 'service: '}
              {r.split.map((s) => (r.split.length > 1 ? `${s.service} ${s.percent}% (${s.servers})` : s.service)).join(' / ')}
            </span>
          </div>
          {r.servers.length === 0 ? <p class="warn">No running task: requests get 503.</p> : null}
          {r.servers.some((s) => s.failures > 0) ? (
            <p class="warn" data-testid="failing">
              nginx failed to reach {r.servers.filter((s) => s.failures > 0).length} of {r.servers.length} servers in the last minute
            </p>
          ) : null}
          <details>
            <summary>servers</summary>
            <ul class="servers">
              {r.servers.map((s) => (
                <li key={`${s.addr}:${s.port}`} data-testid="server" data-failures={s.failures}>
                  <span class={s.failures > 0 ? 'bad-dot' : 'ok-dot'} title={s.failures > 0 ? 'failing' : 'no failures seen'} />
                  <code>
                    {s.addr}:{s.port}
                  </code>{' '}
                  {s.service} <span class="muted">{s.task ? `${s.task} on ${s.node ?? '?'}` : 'service VIP'}</span>
                  {s.failures > 0 ? (
                    <div class="warn">
                      {s.failures} failed in the last minute: {s.lastFailure}
                    </div>
                  ) : null}
                </li>
              ))}
            </ul>
          </details>
        </li>
      ))}
    </ul>
  );
}

function Services({ services, q }: { services: ServiceView[]; q: string }) {
  const now = useNow();
  const shown = services.filter((s) => serviceMatches(q, s)).sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
  if (services.length === 0)
    return (
      <StatePage title="No labelled services" state="no-services">
        <p>No service has com.docker.lb.* labels.</p>
      </StatePage>
    );
  if (shown.length === 0)
    return (
      <p class="empty" data-testid="no-match">
        No service matches “{q}”.
      </p>
    );
  return (
    <ul class="cards">
      {shown.map((s) => (
        <li class={`card ${s.status === 'disabled' ? 'rejected' : s.warnings.length ? 'warned' : ''}`} data-testid="service" data-name={s.name} data-status={s.status} key={s.id}>
          <div class="card-head">
            <strong>{s.name}</strong>
            <span class={`tag ${s.status === 'disabled' ? 'bad' : 'ok'}`}>{s.status === 'disabled' ? 'rejected' : 'routed'}</span>
            <span class="muted" title={s.since}>
              since {ago(s.since, now)}
            </span>
          </div>
          <div class="row muted">
            {s.hosts.join(', ') || 'no host'} · {s.servers} {s.servers === 1 ? 'server' : 'servers'}
          </div>
          {[...s.errors, ...s.warnings].map((p) => (
            <div class={`problem ${p.severity}`} data-testid="problem" key={`${p.code}|${p.key}`}>
              <code class="code">{p.code}</code>
              <div>
                <code>{p.key}</code>
                {p.value !== null ? (
                  <>
                    {' = '}
                    <code class="value">{p.value}</code>
                  </>
                ) : null}
              </div>
              <div class="message">{p.message}</div>
            </div>
          ))}
        </li>
      ))}
    </ul>
  );
}

const rank = (s: ServiceView) => (s.status === 'disabled' ? 0 : s.warnings.length > 0 ? 1 : 2);

function Change({ c }: { c: { added: string[]; removed: string[]; changed: { name: string; what: string }[] } | null }) {
  if (!c) return <span class="muted">model change not recorded (before this core started)</span>;
  if (c.added.length + c.removed.length + c.changed.length === 0) return <span class="muted">task addresses or route options only</span>;
  return (
    <ul class="change">
      {c.added.map((n) => (
        <li key={`+${n}`}>+ {n}</li>
      ))}
      {c.removed.map((n) => (
        <li key={`-${n}`}>− {n}</li>
      ))}
      {c.changed.map((x) => (
        <li key={`~${x.name}`}>
          ~ {x.name}: {x.what}
        </li>
      ))}
    </ul>
  );
}

function History({ d }: { d: DashboardPayload }) {
  const now = useNow();
  return (
    <div class="history">
      <h3>Published configs</h3>
      {d.configs.length === 0 ? <p class="empty">No config published since core started ({ago(d.meta.coreStartedAt, now)}).</p> : null}
      <ul class="cards">
        {d.configs.map((c) => (
          <li class="card" data-testid="config" key={`${c.extension}|${c.config}|${c.at}`}>
            <div class="card-head">
              <code>{c.config}</code>
              <span class="muted" title={c.at}>
                {ago(c.at, now)}
              </span>
            </div>
            <Change c={c.change} />
            {c.excluded.length > 0 ? <p class="warn">Left out (nginx -t failed): {c.excluded.map((x) => x.service).join(', ')}</p> : null}
            <div class="muted">reloads: {c.installs.length === 0 ? 'none yet' : c.installs.map((i) => `${i.task} (${ago(i.at, now)})`).join(', ')}</div>
          </li>
        ))}
      </ul>
      <h3>Failed validations and reloads</h3>
      {d.failures.length === 0 ? <p class="empty">None since core started.</p> : null}
      <ul class="cards">
        {d.failures.map((f) => (
          <li class="card rejected" data-testid="failure" key={`${f.at}|${f.source}|${f.message}`}>
            <div class="card-head">
              <span class="tag bad">{f.kind}</span>
              <span>{f.source}</span>
              <span class="muted" title={f.at}>
                {ago(f.at, now)}
              </span>
            </div>
            <div class="message">{f.message}</div>
          </li>
        ))}
      </ul>
      <h3>Model versions</h3>
      <ul class="cards">
        {d.models.map((m) => (
          <li class="card" key={`${m.extension}|${m.version}`}>
            <div class="card-head">
              <code>{m.version.slice(0, 12)}</code>
              <span class="muted">{m.extension}</span>
              <span class="muted" title={m.at}>
                {ago(m.at, now)}
              </span>
            </div>
            <Change c={m.change} />
          </li>
        ))}
      </ul>
    </div>
  );
}

function Proxies({ d }: { d: DashboardPayload }) {
  const now = useNow();
  return (
    <div>
      <ul class="cards">
        {d.extensions.map((e) => (
          <li class={`card ${e.state === 'ok' ? '' : 'rejected'}`} data-testid="extension" key={e.name}>
            <div class="card-head">
              <strong>extension {e.service}</strong>
              <span class={`tag ${e.state === 'ok' ? 'ok' : 'bad'}`}>{e.state}</span>
            </div>
            <div class="muted">serving {e.serving ?? 'nothing yet'}</div>
            {e.error ? <p class="warn">{e.error}</p> : null}
            {e.lastError ? <p class="warn">last validation error: {e.lastError}</p> : null}
          </li>
        ))}
      </ul>
      {d.proxies.length === 0 ? (
        <StatePage title="No proxy task running" state="no-proxies">
          <p>
            Core sees no running task of the proxy service, so nothing is routed. Check <code>docker service ps signalbox-proxy</code>.
          </p>
        </StatePage>
      ) : null}
      <ul class="cards">
        {d.proxies.map((p: ProxyView) => (
          <li class={`card ${p.state === 'ok' ? '' : 'rejected'}`} data-testid="proxy" data-state={p.state} key={p.task}>
            <div class="card-head">
              <strong>{p.task}</strong>
              <span class={`tag ${p.state === 'ok' ? 'ok' : 'bad'}`}>{p.state}</span>
              <span class="muted">{p.node ?? 'unknown node'}</span>
            </div>
            {p.error ? <p class="warn">{p.error}</p> : null}
            <dl class="facts">
              <dt>config</dt>
              <dd>{p.config ?? '—'}</dd>
              <dt>last reload</dt>
              <dd title={p.lastReloadAt ?? ''}>{ago(p.lastReloadAt, now)}</dd>
              <dt>reloads</dt>
              <dd>
                {p.reloads} ({p.reloadFailures} refused)
              </dd>
              <dt>draining workers</dt>
              <dd>{p.drainingWorkers ?? 'not reported'}</dd>
              <dt>nginx restarts</dt>
              <dd>{p.nginxRestarts}</dd>
            </dl>
            {p.lastFailure ? <p class="warn">last refused config: {p.lastFailure}</p> : null}
          </li>
        ))}
      </ul>
    </div>
  );
}

function App() {
  const [token] = useState(() => takeToken(window.location, window.sessionStorage));
  useEffect(() => {
    // Keep the token out of the address bar (and out of screenshots and history) once stored.
    if (window.location.hash.includes('token=')) history.replaceState(null, '', window.location.pathname + window.location.search);
  }, []);
  const { data, conn } = useDashboard(token);
  const [tab, setTab] = useState<Tab>('routes');
  const [q, setQ] = useState('');
  const rejected = data?.services.filter((s) => s.status === 'disabled').length ?? 0;
  const unhealthy = data?.proxies.filter((p) => p.state !== 'ok').length ?? 0;

  let body: preact.ComponentChildren;
  if (conn.kind === 'no-token')
    body = (
      <StatePage title="No access token" state="no-token">
        <p>
          This page needs the API token. On a manager, run <code>signalbox dashboard</code> (or <code>./scripts/signalbox dashboard</code>) and open the URL it prints: it carries the token.
        </p>
      </StatePage>
    );
  else if (conn.kind === 'denied')
    body = (
      <StatePage title="Access denied" state="denied">
        <p>
          <code>{conn.code}</code>: {conn.message}
        </p>
      </StatePage>
    );
  else if (!data && conn.kind === 'down')
    body = (
      <StatePage title="Control plane unreachable" state="control-plane-down">
        <p>
          Core does not answer at <code>{window.location.host}</code> since {new Date(conn.since).toLocaleTimeString()}: {conn.error}.
        </p>
        <p>
          Routing goes on: proxies keep serving their last config. Check <code>docker service ps signalbox_core</code>. This page retries by itself.
        </p>
      </StatePage>
    );
  else if (!data)
    body = (
      <StatePage title="Connecting to core…" state="connecting">
        <p>Asking core for routes, services and proxies.</p>
      </StatePage>
    );
  else
    body = (
      <>
        {conn.kind === 'down' ? (
          <div class="banner bad" data-testid="banner" role="alert">
            Control plane unreachable since {new Date(conn.since).toLocaleTimeString()} ({conn.error}). Showing the last data received; retrying.
          </div>
        ) : null}
        {warnings(data).map((w) => (
          <div class="banner warn" data-testid="banner" role="alert" key={w}>
            {w}
          </div>
        ))}
        {tab === 'routes' ? <Routes routes={data.routes} q={q} /> : null}
        {tab === 'services' ? <Services services={data.services} q={q} /> : null}
        {tab === 'history' ? <History d={data} /> : null}
        {tab === 'proxies' ? <Proxies d={data} /> : null}
      </>
    );

  const tabs: [Tab, string][] = [
    ['routes', `Routes${data ? ` (${data.routes.length})` : ''}`],
    ['services', `Services${rejected ? ` (${rejected} rejected)` : data ? ` (${data.services.length})` : ''}`],
    ['history', 'History'],
    ['proxies', `Proxies${unhealthy ? ` (${unhealthy} down)` : data ? ` (${data.proxies.length})` : ''}`],
  ];
  return (
    <>
      <header>
        <h1>Signalbox</h1>
        <ConnectionPill conn={conn} data={data} />
        <input
          type="search"
          placeholder="Search service, host or error code"
          aria-label="Search service, host or error code"
          value={q}
          onInput={(e) => setQ((e.target as HTMLInputElement).value)}
          data-testid="search"
        />
      </header>
      <nav role="tablist">
        {tabs.map(([id, label]) => (
          <button role="tab" aria-selected={tab === id} class={tab === id ? 'active' : ''} onClick={() => setTab(id)} data-testid={`tab-${id}`} key={id}>
            {label}
          </button>
        ))}
      </nav>
      <main>{body}</main>
    </>
  );
}

const root = document.getElementById('app')!;
root.textContent = ''; // the static "Loading…" line, shown until this script runs
render(<App />, root);
