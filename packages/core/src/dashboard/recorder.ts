// Collects what the dashboard shows: routes and service states from core's own model, the extension's
// status (served config, exclusions, validation errors) and each proxy agent's status, asked over the
// control network. Config history is what this core saw since it started (Docker keeps no history of
// reloads); everything else is rebuilt from live answers after a restart.
import type { ClusterModel, DiagnosticCode, ExtensionConfig, ServiceStatus, SwarmSnapshot } from '@signalbox/model';
import { contentVersion } from '@signalbox/model';
import { PATHS, VersionedValue, agentStatusBodySchema, extensionStatusBodySchema, wireValidator } from '@signalbox/protocol';
import type {
  AgentStatusBody,
  ConfigVersionView,
  DashboardPayload,
  DashboardView,
  ExtensionStatusBody,
  ExtensionView,
  FailureView,
  Logger,
  ModelChangeView,
  ModelVersionView,
  ProxyView,
} from '@signalbox/protocol';
import type { ModelStore } from '../model-store.js';
import type { ConvergenceMetrics } from './metrics.js';
import { diffServices, fingerprint, indexTasks, problem, routesOf, type FailureIndex } from './view.js';

/** GET a JSON document; rejects on network errors, timeouts and non-2xx answers. */
export type FetchJson = (url: string) => Promise<unknown>;

/** fetch with a 2 s limit; sends the API token when there is one (the extension's and agents' APIs may require it). */
export function makeFetchJson(token: () => string | undefined = () => undefined): FetchJson {
  return async (url) => {
    const t = token();
    const res = await fetch(url, {
      signal: AbortSignal.timeout(2000),
      headers: { accept: 'application/json', ...(t ? { authorization: `Bearer ${t}` } : {}) },
    });
    if (!res.ok) throw new Error(`${url} answered ${res.status}`);
    return res.json();
  };
}

export const fetchJson: FetchJson = makeFetchJson();

export interface RecorderDeps {
  extensions: Record<string, ExtensionConfig>;
  store: ModelStore;
  /** Service statuses with the extensions' exclusions applied (what `signalbox status` shows). */
  statuses: () => ServiceStatus[];
  controlNetwork: string;
  extensionPort: number;
  agentPort: number;
  fetchJson?: FetchJson;
  /** For the proxy agents, which accept the proxy token only; defaults to fetchJson. */
  fetchAgentJson?: FetchJson;
  log: Logger;
  now?: () => Date;
  /** How many model versions, configs and failures are kept. */
  historyLength?: number;
  metrics?: ConvergenceMetrics;
}

// The status answers of the extension and the agents, checked against protocol's schemas: an answer of
// another shape shows that component as unreachable, with the mismatch as its error.
const readExtensionStatus = wireValidator(extensionStatusBodySchema, "the extension's /v1/status");
const readAgentStatus = wireValidator(agentStatusBodySchema, "the proxy agent's /v1/status");
const errText = (e: unknown): string => {
  const err = e as Error & { cause?: Error };
  return err.cause?.message ? `${err.message} (${err.cause.message})` : err.message;
};

export class DashboardRecorder {
  readonly current: VersionedValue<DashboardPayload<DiagnosticCode>>;
  private readonly startedAt: Date;
  private snap: SwarmSnapshot | undefined;
  private snapAt: Date | undefined;
  private readonly since = new Map<string, { print: string; since: string }>();
  /** Per extension: the statuses of the model version last recorded, for the next diff. */
  private readonly lastModel = new Map<string, { version: string; services: ServiceStatus[] }>();
  /** Statuses per model version (bounded), so a config's change can be diffed against the previous config's model. */
  private readonly modelServices = new Map<string, ServiceStatus[]>();
  private models: ModelVersionView[] = [];
  private configs: ConfigVersionView[] = [];
  private failures: FailureView[] = [];
  private extensionViews = new Map<string, ExtensionView>();
  private proxyViews = new Map<string, ProxyView[]>();
  /** Per extension: upstream failures the proxies' nginx logged (from their last answers). */
  private readonly upstreamFailures = new Map<string, FailureIndex>();
  private readonly seenFailures = new Set<string>();
  private readonly seenInstalls = new Set<string>();
  /** Configs whose convergence was observed, per extension (the newest only). */
  private readonly convergedConfig = new Map<string, string>();
  private readonly fetch: FetchJson;
  private readonly fetchAgent: FetchJson;
  private readonly now: () => Date;
  private readonly keep: number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly d: RecorderDeps) {
    this.fetch = d.fetchJson ?? fetchJson;
    this.fetchAgent = d.fetchAgentJson ?? this.fetch;
    this.now = d.now ?? (() => new Date());
    this.keep = d.historyLength ?? 50;
    this.startedAt = this.now();
    this.current = new VersionedValue<DashboardPayload<DiagnosticCode>>((p) => p.version);
    this.refresh();
  }

  /** Called with every swarm read (the synchronizer's), for task/node names and proxy addresses. */
  noteSnapshot(snap: SwarmSnapshot): SwarmSnapshot {
    this.snap = snap;
    this.snapAt = this.now();
    return snap;
  }

  /** Follows each extension's model (long-poll on the store) and asks components for status every pollMs. */
  start(pollMs = 2000): void {
    for (const name of Object.keys(this.d.extensions)) void this.follow(name);
    const tick = () => {
      if (this.stopped) return;
      void this.poll()
        .catch((e) => this.d.log.warn({ err: (e as Error).message }, 'dashboard status poll failed'))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, pollMs);
        });
    };
    tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private async follow(name: string): Promise<void> {
    let version = '';
    while (!this.stopped) {
      const p = await this.d.store.waitForChange(name, version, 30_000);
      if (!p || this.stopped) continue;
      version = p.version;
      this.noteModel(name, p.version, p.model);
      this.refresh();
    }
  }

  /** Records a model version with what changed in it since the previous one. */
  noteModel(extension: string, version: string, model: ClusterModel): void {
    const prev = this.lastModel.get(extension);
    if (prev?.version === version) return;
    const change = diffServices(prev?.services ?? [], model.services);
    this.lastModel.set(extension, { version, services: model.services });
    this.modelServices.set(version, model.services);
    while (this.modelServices.size > this.keep) this.modelServices.delete(this.modelServices.keys().next().value!);
    this.models = [{ extension, version, at: this.now().toISOString(), change }, ...this.models].slice(0, this.keep);
  }

  /** Asks every extension and proxy agent for its status, then recomputes the view. */
  async poll(): Promise<void> {
    await Promise.all(Object.entries(this.d.extensions).map(([name, ext]) => Promise.all([this.pollExtension(name, ext), this.pollProxies(name, ext)])));
    for (const name of Object.keys(this.d.extensions)) this.noteConvergence(name);
    this.refresh();
  }

  /**
   * Once every proxy task runs the config the extension serves, the time from its model version to
   * the last install is observed (once per config). Install times are the agents' clocks.
   */
  private noteConvergence(extension: string): void {
    const config = this.configs.find((c) => c.extension === extension);
    const proxies = this.proxyViews.get(extension) ?? [];
    const converged = config !== undefined && proxies.length > 0 && proxies.every((p) => p.state === 'ok' && p.sha256 === config.sha256);
    this.d.metrics?.converged.set({ extension }, converged ? 1 : 0);
    if (!converged || this.convergedConfig.get(extension) === config.config) return;
    this.convergedConfig.set(extension, config.config);
    const modelAt = this.models.find((m) => m.version === config.modelVersion)?.at;
    const installs = config.installs.filter((i) => proxies.some((p) => p.task === i.task));
    if (!modelAt || installs.length < proxies.length) return; // published before this core started
    const last = Math.max(...installs.map((i) => Date.parse(i.at)));
    this.d.metrics?.seconds.observe({ extension }, Math.max(0, (last - Date.parse(modelAt)) / 1000));
  }

  private async pollExtension(name: string, ext: ExtensionConfig): Promise<void> {
    const url = `http://${ext.ServiceName}:${this.d.extensionPort}/v1/status`;
    let s: ExtensionStatusBody;
    try {
      s = readExtensionStatus(await this.fetch(url));
    } catch (e) {
      this.extensionViews.set(name, {
        name,
        service: ext.ServiceName,
        state: 'unreachable',
        error: errText(e),
        serving: null,
        servingSha256: null,
        modelVersion: null,
        lastError: null,
      });
      return;
    }
    const excluded: { service: string; reason: string }[] = s.excluded.map((x) => ({ service: x.service, reason: x.reason }));
    const view: ExtensionView = {
      name,
      service: ext.ServiceName,
      state: 'ok',
      error: null,
      serving: s.serving,
      servingSha256: s.sha256,
      modelVersion: s.modelVersion ?? null,
      lastError: s.lastError ?? null,
    };
    this.extensionViews.set(name, view);
    const at = this.now().toISOString();
    if (view.lastError)
      this.noteFailure(`${name}\nvalidation\n${view.modelVersion}\n${view.lastError}`, {
        at,
        extension: name,
        kind: 'validation',
        source: ext.ServiceName,
        message: view.lastError,
        excluded: [],
      });
    if (excluded.length > 0) {
      const names = excluded.map((x) => x.service).sort();
      this.noteFailure(`${name}\nexcluded\n${view.modelVersion}\n${names.join(',')}`, {
        at,
        extension: name,
        kind: 'validation',
        source: ext.ServiceName,
        message: `nginx -t failed for the routes of ${names.join(', ')}; published the config without them: ${excluded.map((x) => `${x.service}: ${x.reason}`).join('; ')}`.slice(0, 2000),
        excluded: names,
      });
    }
    if (view.serving && this.configs.find((c) => c.extension === name)?.config !== view.serving) {
      const previous = this.configs.find((c) => c.extension === name);
      this.configs = [
        {
          extension: name,
          config: view.serving,
          sha256: s.sha256,
          at,
          modelVersion: view.modelVersion,
          change: this.changeBetween(previous?.modelVersion ?? null, view.modelVersion),
          excluded,
          installs: [],
        },
        ...this.configs,
      ].slice(0, this.keep);
    }
  }

  /** The model change a config carries: its model against the previous config's, or the model version's own change. */
  private changeBetween(prevVersion: string | null, version: string | null): ModelChangeView | null {
    if (!version) return null;
    const after = this.modelServices.get(version);
    const before = prevVersion ? this.modelServices.get(prevVersion) : undefined;
    if (after && before) return diffServices(before, after);
    return this.models.find((m) => m.version === version)?.change ?? null;
  }

  private noteFailure(key: string, f: FailureView): void {
    if (this.seenFailures.has(key)) return;
    this.seenFailures.add(key);
    if (this.seenFailures.size > this.keep * 4) this.seenFailures.delete(this.seenFailures.values().next().value!);
    this.failures = [f, ...this.failures].slice(0, this.keep);
  }

  private async pollProxies(name: string, ext: ExtensionConfig): Promise<void> {
    const snap = this.snap;
    const service = snap?.services.find((s) => s.name === ext.ProxyServiceName);
    if (!snap || !service) {
      this.proxyViews.set(name, []);
      this.upstreamFailures.delete(name);
      return;
    }
    const controlId = snap.networks.find((n) => n.name === this.d.controlNetwork)?.id;
    const nodes = new Map(snap.nodes.map((n) => [n.id, n.hostname || n.id]));
    const tasks = [...service.tasks].sort((a, b) => a.slot - b.slot || a.id.localeCompare(b.id));
    const failures: FailureIndex = new Map();
    const views = await Promise.all(
      tasks.map(async (t): Promise<ProxyView> => {
        const addr = t.addresses.find((a) => a.networkId === controlId)?.addr ?? null;
        const base = {
          extension: name,
          service: service.name,
          task: `${service.name}.${t.slot}.${t.id.slice(0, 12)}`,
          slot: t.slot,
          node: nodes.get(t.nodeId) ?? null,
          addr,
        };
        const empty = {
          config: null,
          sha256: null,
          installedAt: null,
          lastReloadAt: null,
          reloads: 0,
          reloadFailures: 0,
          nginxRestarts: 0,
          drainingWorkers: null,
          lastFailure: null,
        };
        if (!addr)
          return {
            ...base,
            ...empty,
            state: 'unreachable',
            error: `task has no address on the control network ${this.d.controlNetwork}`,
          };
        let s: AgentStatusBody;
        try {
          s = readAgentStatus(await this.fetchAgent(`http://${addr}:${this.d.agentPort}${PATHS.status}`));
        } catch (e) {
          return {
            ...base,
            ...empty,
            state: 'unreachable',
            error: `proxy agent at ${addr}:${this.d.agentPort} does not answer: ${errText(e)}`,
          };
        }
        for (const f of s.upstreamFailures) {
          const seen = failures.get(f.server);
          const recent = f.recent + (seen?.recent ?? 0);
          if (!seen || f.lastAt > seen.lastAt)
            failures.set(f.server, {
              recent,
              lastAt: f.lastAt,
              lastError: f.lastError,
              proxy: base.task,
            });
          else seen.recent = recent;
        }
        const config = s.installed?.configName ?? null;
        const sha256 = s.installed?.sha256 ?? null;
        const installedAt = s.installed?.installedAt ?? null;
        if (config && sha256 && installedAt) this.noteInstall(name, config, sha256, base.task, base.node, installedAt);
        const lf = s.lastFailure;
        if (lf) {
          this.noteFailure(`${base.task}\nreload\n${lf.at}`, {
            at: lf.at,
            extension: name,
            kind: 'reload',
            source: base.task,
            message: `${lf.configName}: ${lf.reason}`.slice(0, 2000),
            excluded: [],
          });
        }
        const running = s.nginxRunning && s.installed !== null;
        return {
          ...base,
          state: running ? 'ok' : 'unhealthy',
          error: running ? null : s.installed ? 'nginx is not running' : 'no valid config installed yet',
          config,
          sha256,
          installedAt,
          lastReloadAt: s.lastReloadAt,
          reloads: s.reloads,
          reloadFailures: s.reloadFailures,
          nginxRestarts: s.nginxRestarts,
          drainingWorkers: s.drainingWorkers,
          lastFailure: lf ? `${lf.at} ${lf.reason}`.trim() : null,
        };
      }),
    );
    this.proxyViews.set(name, views);
    this.upstreamFailures.set(name, failures);
  }

  private noteInstall(extension: string, config: string, sha256: string, task: string, node: string | null, at: string): void {
    const key = `${task}\n${config}\n${at}`;
    if (this.seenInstalls.has(key)) return;
    // By content: a new task's `+new-tasks` install is the published config once its bytes are.
    const entry = this.configs.find((c) => c.extension === extension && c.sha256 === sha256);
    if (!entry) return; // seen again on the next poll, once the extension reported the config
    this.seenInstalls.add(key);
    if (this.seenInstalls.size > this.keep * 20) this.seenInstalls.delete(this.seenInstalls.values().next().value!);
    entry.installs = [...entry.installs, { task, node, at }].sort((a, b) => a.task.localeCompare(b.task));
  }

  /** Recomputes the view; its version (and so long-polls) moves only when something shown changed. */
  refresh(): void {
    const tasks = indexTasks(this.snap);
    const routes = Object.keys(this.d.extensions)
      .sort()
      .flatMap((name) => {
        const p = this.d.store.get(name);
        return p ? routesOf(name, p.model, tasks, this.upstreamFailures.get(name)) : [];
      });
    const now = this.now().toISOString();
    const statuses = this.d.statuses();
    const live = new Set<string>();
    const services = statuses.map((s) => {
      live.add(s.id);
      const print = fingerprint(s);
      let since = this.since.get(s.id);
      if (!since || since.print !== print) {
        since = { print, since: now };
        this.since.set(s.id, since);
      }
      return {
        id: s.id,
        name: s.name,
        cluster: s.cluster,
        status: s.status,
        hosts: [...s.hosts],
        servers: s.servers,
        errors: s.errors.map(problem),
        warnings: s.warnings.map(problem),
        since: since.since,
      };
    });
    for (const id of this.since.keys()) if (!live.has(id)) this.since.delete(id);
    const view: DashboardView<DiagnosticCode> = {
      routes,
      services,
      extensions: Object.keys(this.d.extensions)
        .sort()
        .map(
          (name) =>
            this.extensionViews.get(name) ?? {
              name,
              service: this.d.extensions[name]!.ServiceName,
              state: 'unreachable',
              error: 'not asked yet',
              serving: null,
              servingSha256: null,
              modelVersion: null,
              lastError: null,
            },
        ),
      proxies: Object.keys(this.d.extensions)
        .sort()
        .flatMap((name) => this.proxyViews.get(name) ?? []),
      models: this.models,
      configs: this.configs,
      failures: this.failures,
    };
    this.current.set({
      version: contentVersion(view),
      meta: {
        coreStartedAt: this.startedAt.toISOString(),
        lastSwarmReadAt: this.snapAt?.toISOString() ?? null,
        generatedAt: now,
      },
      ...view,
    });
  }
}
