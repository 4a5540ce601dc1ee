// Wires the parts together; main.ts only adds env parsing and process signals, so tests can
// run a whole agent in-process.
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { startAccessLogRelay, type AccessLogRelay } from './access-log-relay.js';
import { buildApp, type AgentSnapshot, type HealthState } from './api.js';
import { existsSync } from 'node:fs';
import { localAddressToward, requireToken } from './control-listener.js';
import { PATHS, TLS_REQUESTS_SOCKET, bearerHeader, readApiToken, sleep, type BackoffPolicy, type Refusal } from '@signalbox/protocol';
import { AcmeFiles, DEFAULT_ACME_DIR } from './acme-files.js';
import { BackendReach, healthyTasksListed, type BackendReachOptions } from './backend-reach.js';
import { BUILTIN_CONFIG_NAME, builtinConfig } from './builtin.js';
import { clientConnections, drainConnections, drainPorts } from './drain.js';
import { holdSessions } from './session-hold.js';
import { EDGE_CONFIG_NAME, edgeConfig } from './edge.js';
import { EdgePeers } from './edge-peers.js';
import { lameDuck } from './lame-duck.js';
import { ConfigPersistence } from './persist.js';
import { Fetcher } from './fetcher.js';
import { Installer, readBootstrap, sha256Hex, type Candidate, type InstalledConfig, type NginxRunner } from './installer.js';
import { CertificateCheck, describeProblems } from './certificate-check.js';
import { nginxTest } from './nginx.js';
import type { AgentOptions } from './options.js';
import { Supervisor, type ExitInfo, type SupervisorOptions } from './supervisor.js';
import { ConfigWatcher } from './watcher.js';
import { TlsFront } from './tls-front.js';
import { UpstreamFailures } from './upstream-failures.js';
import { countDrainingWorkers } from './workers.js';

/** Knobs that are not env options: timings for tests, and whether to listen at all. */
export interface AgentTuning {
  restart?: SupervisorOptions['restart'];
  confirmTimeoutMs?: number;
  nginxStderr?: (chunk: Buffer) => void;
  fetcherBackoff?: BackoffPolicy;
  watcherStabilityMs?: number;
  /** false: build the API but do not bind a port (use app.inject). */
  listen?: boolean;
  defaultMetrics?: boolean;
  /** How long a starting task waits for the extension's config before it boots from the saved one. */
  bootFetchMs?: number;
  /** Probe timings (the cap is options.backendWaitMs). */
  backendReach?: Partial<Omit<BackendReachOptions, 'logger' | 'maxWaitMs'>>;
}

/** The wait for the extension's config at start; past it (extension down or slow) the saved one boots. */
export const BOOT_FETCH_MS = 1500;

export interface Agent {
  readonly options: AgentOptions;
  readonly installer: Installer;
  readonly supervisor: Supervisor;
  readonly fetcher: Fetcher | undefined;
  readonly watcher: ConfigWatcher;
  /** The TLS front, in a routing proxy (not the edge): runs once an installed config asks for it. */
  readonly tlsFront: TlsFront | undefined;
  readonly app: FastifyInstance;
  snapshot(): AgentSnapshot;
  /** Forward a stop signal to nginx, wait for it to exit, then shut the rest down. */
  stop(signal: NodeJS.Signals): Promise<ExitInfo>;
}

async function reportRefusal(extensionUrl: string, refusal: Refusal, logger: Logger, auth: Record<string, string>): Promise<void> {
  try {
    await fetch(new URL(PATHS.refusals, `${extensionUrl}/`), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify(refusal),
      signal: AbortSignal.timeout(5000),
    });
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'cannot report a refused config to the extension');
  }
}

export async function startAgent(options: AgentOptions, logger: Logger, tuning: AgentTuning = {}): Promise<Agent> {
  const log = (component: string): Logger => logger.child({ component });
  await mkdir(dirname(options.configPath), { recursive: true });
  // nginx -t binds a config's unix sockets (the TLS front's, behind the edge): their directory must exist.
  if (options.edgeUpstream === undefined) await mkdir(options.tlsFrontDir, { recursive: true });

  // The supervisor asks the installer to restore the file before each start, and the installer
  // reloads through the supervisor; the late binding breaks the cycle.
  let installer!: Installer;
  const upstreamFailures = new UpstreamFailures();
  const nginxStderr = tuning.nginxStderr ?? ((c: Buffer) => void process.stderr.write(c));
  const supervisor = new Supervisor({
    nginxBin: options.nginxBin,
    configPath: options.configPath,
    logger: log('supervisor'),
    maxDrainingGenerations: options.maxDrainingGenerations,
    prepare: async () => {
      await installer.ensureOnDisk();
      // A socket file left by an nginx that did not exit cleanly would fail the bind (TLS front layout).
      await rm(join(options.tlsFrontDir, TLS_REQUESTS_SOCKET), { force: true });
    },
    ...(tuning.restart ? { restart: tuning.restart } : {}),
    ...(tuning.confirmTimeoutMs ? { confirmTimeoutMs: tuning.confirmTimeoutMs } : {}),
    // nginx's error log (stderr by default) also tells which upstream servers fail.
    stderr: (c) => {
      nginxStderr(c);
      upstreamFailures.feed(c);
    },
  });
  const runner: NginxRunner = {
    test: (path) => nginxTest(options.nginxBin, path, options.testTimeoutMs),
    reload: () => supervisor.reload(),
  };
  const edge = options.edgeUpstream !== undefined;
  const persistence = options.stateDir && !edge ? new ConfigPersistence(options.stateDir, log('persist')) : undefined;
  // Behind the edge the routing config names its certificates for the TLS front (tls-front-config.ts).
  const tlsFront = edge
    ? undefined
    : new TlsFront({
        dir: options.tlsFrontDir,
        controlPort: options.tlsFrontPort,
        nginxBin: options.nginxBin,
        ndkModulePath: options.ndkModulePath,
        luaModulePath: options.luaModulePath,
        testTimeoutMs: options.testTimeoutMs,
        logger: log('tls-front'),
        stderr: nginxStderr,
        ...(tuning.restart ? { restart: tuning.restart } : {}),
      });
  // Whether another routing task is listed in DNS (healthy): for the backend wait and the session hold.
  const othersServe = !edge && options.serviceName ? healthyTasksListed(options.serviceName, options.edgeResolver) : undefined;
  // A routing task takes traffic once its backends answer (backend-reach.ts); the edge has none.
  const backendReach = edge
    ? undefined
    : new BackendReach({
        logger: log('backend-reach'),
        maxWaitMs: options.backendWaitMs,
        ...(othersServe ? { othersServe } : {}),
        ...tuning.backendReach,
      });
  // Only a routing task mounts the routes' secrets (the edge never installs a config from the extension).
  const certificateCheck = edge ? undefined : new CertificateCheck({ secretsDir: process.env.SIGNALBOX_SECRETS_DIR ?? '/run/secrets' });
  installer = new Installer({
    configPath: options.configPath,
    runner,
    logger: log('installer'),
    onInstalled: async (bytes: Buffer, installed: InstalledConfig) => {
      await persistence?.save(bytes, installed);
      const text = bytes.toString('utf8');
      backendReach?.watch(text);
      const applied = tlsFront?.apply(text).catch((e: Error) => log('tls-front').error({ err: e.message }, 'the TLS front could not take the installed config'));
      // At start-up nginx starts beside the front rather than after it (the task is healthy only once
      // both serve); once nginx runs, an install ends when the front holds the config's certificates.
      if (supervisor.isRunning()) await applied;
    },
    // Only this task can read the secrets it mounts: a config naming a pair it cannot serve is refused
    // with the pairs named (the extension leaves out those hosts' services).
    ...(certificateCheck
      ? {
          checkCandidate: async (c: Candidate) => {
            const certificates = await certificateCheck.problems(c.bytes.toString('utf8'));
            return certificates.length > 0 ? { reason: describeProblems(certificates), certificates } : undefined;
          },
        }
      : {}),
  });

  let headers: Record<string, string> = {};
  let token: string | undefined;
  if (options.extensionUrl) {
    try {
      token = readApiToken(options.tokenFile, 'proxy');
      headers = bearerHeader(token);
    } catch (e) {
      // Without it the extension answers 401; the bootstrap config and the file still work.
      log('fetcher').error({ err: (e as Error).message }, 'no proxy token: the extension will refuse our requests');
    }
  }
  // The edge runs only its generated config: it never takes candidates (nor ACME files) from an extension.
  const acmeFiles =
    options.extensionUrl && !edge ? new AcmeFiles({ dir: process.env.SIGNALBOX_ACME_DIR ?? DEFAULT_ACME_DIR, extensionUrl: options.extensionUrl, headers, log: log('acme') }) : undefined;
  const fetcher =
    options.extensionUrl && !edge
      ? new Fetcher({
          headers,
          baseUrl: options.extensionUrl,
          waitSeconds: options.pollWaitSeconds,
          taskId: options.taskId,
          initialEtag: () => installer.installed?.sha256,
          // A config the extension accepted but this nginx refuses is reported, so the extension can
          // exclude the services it names and the others keep updating.
          submit: async (c) => {
            // This task is being replaced, and core published what it may no longer serve (a route on a
            // network it is not on): it drains on the config it has (docs/architecture.md).
            if (options.taskId !== '' && c.notForTasks?.includes(options.taskId)) {
              log('fetcher').info({ sha256: c.sha256, taskId: options.taskId }, 'this task is being replaced: not installing configs published after that; draining on the installed one');
              return { status: 'ignored' as const, reason: 'this task is being replaced' };
            }
            // A brief extension hiccup is retried (1 s, 2 s); after that the running config (and the
            // certificates it uses) stays until the next version.
            for (let attempt = 0; acmeFiles; attempt++) {
              try {
                await acmeFiles.ensure(c.bytes.toString('utf8'));
                break;
              } catch (e) {
                if (attempt >= 2) {
                  log('fetcher').warn({ err: (e as Error).message }, 'cannot fetch the ACME certificates this config names; keeping the running config');
                  return { status: 'failed' as const };
                }
                await sleep(1000 * 2 ** attempt);
              }
            }
            const outcome = await installer.submit(c);
            if (outcome.status === 'installed') await acmeFiles?.prune(c.bytes.toString('utf8'));
            if (outcome.status === 'failed' && !outcome.repeated && outcome.sha256 && outcome.reason && options.extensionUrl) {
              const refusal: Refusal = { sha256: outcome.sha256, reason: outcome.reason, ...(outcome.certificates ? { certificates: outcome.certificates } : {}) };
              await reportRefusal(options.extensionUrl, refusal, log('fetcher'), headers);
            }
            return outcome;
          },
          logger: log('fetcher'),
          ...(tuning.fetcherBackoff ? { backoff: tuning.fetcherBackoff } : {}),
        })
      : undefined;

  const health = (): HealthState => ({
    installed: installer.installed,
    nginxRunning: supervisor.isRunning(),
    ...(tlsFront?.state() ? { tlsFront: tlsFront.state()! } : {}),
    ...(backendReach ? { backendReach: backendReach.state() } : {}),
  });
  const snapshot = (): AgentSnapshot => ({
    ...health(),
    lastFailure: installer.lastFailure,
    reloads: installer.reloads,
    reloadFailures: installer.failures,
    lastReloadAt: installer.lastReloadAt,
    nginxPid: supervisor.pid,
    nginxRestarts: supervisor.restarts,
    drainingWorkers: countDrainingWorkers(supervisor.pid),
    upstreamFailures: upstreamFailures.list(),
    ...(fetcher && options.extensionUrl
      ? {
          extension: {
            url: options.extensionUrl,
            etag: fetcher.state.etag,
            lastError: fetcher.state.lastError,
            lastContactAt: fetcher.state.lastContactAt,
          },
        }
      : {}),
  });

  const app = buildApp({ logger: log('api'), snapshot, health, defaultMetrics: tuning.defaultMetrics ?? true });
  // Listen first: the health check should say 503 while we start, not refuse connections.
  if (tuning.listen ?? true) await app.listen({ host: options.agentHost, port: options.agentPort });
  // The same API on this task's control-network address (token required), for core's dashboard.
  let controlApp: FastifyInstance | undefined;
  let stopControl = false;
  const controlUrl = options.extensionUrl;
  const controlToken = token;
  if ((tuning.listen ?? true) && controlUrl && controlToken && options.agentHost === '127.0.0.1') {
    void (async () => {
      for (let attempt = 1; !stopControl; attempt++) {
        try {
          const host = await localAddressToward(controlUrl);
          const second = buildApp({ logger: log('api'), snapshot, health, defaultMetrics: false });
          requireToken(second, controlToken);
          await second.listen({ host, port: options.agentPort });
          controlApp = second;
          log('api').info({ host, port: options.agentPort }, 'status API on the control network (token required)');
          return;
        } catch (e) {
          if (attempt === 1 || attempt % 30 === 0) log('api').warn({ err: (e as Error).message, attempt }, 'cannot listen on the control network yet; retrying');
          await sleep(2000);
        }
      }
    })();
  }

  // Before nginx starts, so that no syslog line from it is lost. A port in use is logged, not fatal.
  let relay: AccessLogRelay | undefined;
  if ((tuning.listen ?? true) && options.accessLogRelayPort > 0) {
    relay = await startAccessLogRelay({ port: options.accessLogRelayPort, logger: log('access-log') }).catch((e: Error) => {
      log('access-log').error({ err: e.message, port: options.accessLogRelayPort }, 'access log relay not started');
      return undefined;
    });
  }

  const watcher = new ConfigWatcher({
    configPath: options.configPath,
    bootstrapPath: options.bootstrapPath,
    onConfigChange: () => installer.checkFile(),
    onBootstrapChange: () => installer.checkBootstrap(options.bootstrapPath, options.bootstrapConfigName),
    logger: log('watcher'),
    ...(tuning.watcherStabilityMs !== undefined ? { stabilityMs: tuning.watcherStabilityMs } : {}),
  });

  // The edge's keep-alive pool, where this nginx has the Lua module (the image from signalbox-base does).
  const pool =
    edge && options.edgePool && existsSync(options.ndkModulePath) && existsSync(options.luaModulePath)
      ? { ndkModulePath: options.ndkModulePath, luaModulePath: options.luaModulePath, peersPort: options.edgePeersPort }
      : undefined;
  if (edge) log('edge').info({ pool: pool !== undefined }, pool ? 'keep-alive pool to the routing proxies (GET, HEAD, OPTIONS)' : 'no keep-alive pool: a connection per request');
  const builtin = edge
    ? {
        bytes: Buffer.from(
          edgeConfig({
            upstream: options.edgeUpstream!,
            httpPort: options.httpPort,
            httpsPort: options.httpsPort,
            pidPath: options.pidPath,
            resolver: options.edgeResolver,
            hideInfoHeaders: options.edgeHideInfoHeaders,
            streamModulePath: existsSync(options.streamModulePath) ? options.streamModulePath : undefined,
            pool,
          }),
        ),
        configName: EDGE_CONFIG_NAME,
      }
    : {
        bytes: Buffer.from(builtinConfig({ httpPort: options.httpPort, httpsPort: options.httpsPort, pidPath: options.pidPath })),
        configName: BUILTIN_CONFIG_NAME,
      };
  // Asked while the node's saved config is read: booting into the extension's config spares the task
  // an nginx -t of the older one and a reload (0.4-0.9 s on a loaded node), the route waits for neither.
  const freshAsked = fetcher?.fetchOnce(tuning.bootFetchMs ?? BOOT_FETCH_MS);
  const saved = await persistence?.load(sha256Hex);
  const boot = persistence || acmeFiles ? await readBootstrap(options.bootstrapPath).catch(() => undefined) : undefined;
  const bootSha = boot && sha256Hex(boot);
  // The node already ran the bootstrap's bytes: what it installed last is at least as new.
  const preferred = saved !== undefined && persistence!.persistedFirst(bootSha);
  if (saved) log('persist').info({ sha256: saved.sha256, configName: saved.configName, preferred, bootstrapSha256: bootSha ?? null }, 'found the config this node last installed');
  if (bootSha) persistence?.noteSeen(bootSha);
  let fresh = await freshAsked;
  if (fresh && options.taskId !== '' && fresh.notForTasks?.includes(options.taskId)) fresh = undefined;
  // A fresh container's configs may name ACME certificates (tmpfs, gone with the old container): fetch
  // them first, best effort (without them that config fails nginx -t and the next one in line serves
  // until the extension answers).
  if (acmeFiles) {
    for (const bytes of [fresh?.bytes, saved?.bytes, boot]) {
      if (bytes) await acmeFiles.ensure(bytes.toString('utf8')).catch((e: Error) => log('acme').warn({ err: e.message }, 'cannot fetch the ACME certificates of a config the task may start with'));
    }
  }
  await installer.initialize({
    bootstrapPath: options.bootstrapPath,
    bootstrapConfigName: options.bootstrapConfigName,
    builtin,
    ...(edge ? { builtinOnly: true } : {}),
    ...(saved ? { persisted: { bytes: saved.bytes, configName: saved.configName, source: saved.source, preferred } } : {}),
    ...(fresh ? { fresh } : {}),
  });
  // Without a valid config nginx stays down; the first successful install starts it.
  if (installer.installed) supervisor.start();
  await watcher.start();
  fetcher?.start();
  const peers = pool ? new EdgePeers({ name: options.edgeUpstream!, port: options.httpPort, resolver: options.edgeResolver, peersPort: pool.peersPort, log: log('edge') }) : undefined;
  peers?.start();

  let stopping: Promise<ExitInfo> | undefined;
  const secondSignal = new AbortController();
  return {
    options,
    installer,
    supervisor,
    fetcher,
    watcher,
    tlsFront,
    app,
    snapshot,
    stop(signal) {
      if (stopping) {
        // A second signal (e.g. SIGTERM after SIGQUIT) is passed on: nginx escalates.
        secondSignal.abort();
        void supervisor.stop(signal);
        return stopping;
      }
      const stopAt = Date.now();
      stopping = (async () => {
        // An edge a load balancer checks first fails that check while still serving (lame-duck.ts).
        if (signal === 'SIGQUIT' && pool && options.lameDuckMs > 0 && supervisor.isRunning()) {
          await lameDuck({ port: pool.peersPort, maxMs: options.lameDuckMs, log: log('lame-duck'), signal: secondSignal.signal }).catch((e: Error) =>
            log('lame-duck').warn({ err: e.message }, 'lame duck failed: stopping at once'),
          );
        }
        // A graceful stop behind the edge lets client connections end cleanly first (see drain.ts).
        if (signal === 'SIGQUIT' && options.drainMs > 0 && supervisor.isRunning()) {
          await drainConnections(drainPorts(options.httpsPort), options.drainMs, log('drain'));
        }
        // Signal nginx first so its shutdown starts at once; no new candidates meanwhile.
        peers?.stop();
        backendReach?.stop();
        const exited = supervisor.stop(signal);
        // A replaced routing task keeps passthrough sessions and WebSockets only while another one serves.
        if (signal === 'SIGQUIT' && options.sessionHoldAfterMs !== undefined && othersServe) {
          void holdSessions({
            afterMs: Math.max(0, options.sessionHoldAfterMs - (Date.now() - stopAt)),
            othersServe,
            exited,
            end: () => void supervisor.stop('SIGTERM'),
            connectionsLeft: () => clientConnections(new Set([options.httpPort, ...(options.httpsPort === undefined ? [] : [options.httpsPort])])),
            log: log('session-hold'),
          }).catch((e: Error) => log('session-hold').warn({ err: e.message }, 'session hold failed; nginx keeps the sessions until swarm kills the task'));
        }
        await Promise.all([fetcher?.stop(), watcher.stop()]);
        const info = await exited;
        // The front's connections all came through the routing nginx's stream block, now gone.
        await tlsFront?.stop(signal);
        // Let a running install finish its file work, but do not hang on a slow nginx -t.
        await Promise.race([installer.idle(), sleep(2000)]);
        stopControl = true;
        await controlApp?.close();
        await app.close();
        // After nginx has exited: its last lines are relayed.
        await relay?.close();
        return info;
      })();
      return stopping;
    },
  };
}
