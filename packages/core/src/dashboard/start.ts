// Wires the dashboard into core's process: the recorder follows the model and asks the extension and
// proxy agents for status; the listener serves the page and its API on SIGNALBOX_DASHBOARD_ADDR.
import { fileURLToPath } from 'node:url';
import type { Registry } from 'prom-client';
import type { ExtensionConfig, ServiceStatus } from '@signalbox/model';
import type { Logger } from '@signalbox/protocol';
import { AGENT_PORT, DASHBOARD_PORT, EXTENSION_PORT, proxyTokenFile } from '@signalbox/protocol';
import type { ModelStore } from '../model-store.js';
import { createConvergenceMetrics } from './metrics.js';
import { DashboardRecorder, makeFetchJson } from './recorder.js';
import { DEFAULT_TOKEN_FILE, buildDashboardServer, tokenReader } from './server.js';

export interface DashboardStartDeps {
  extensions: Record<string, ExtensionConfig>;
  store: ModelStore;
  statuses: () => ServiceStatus[];
  controlNetwork: string;
  env: NodeJS.ProcessEnv;
  log: Logger;
  registry: Registry;
}

/** Default page location: packages/dashboard/dist next to packages/core/dist (as in the image). */
const defaultAssets = fileURLToPath(new URL('../../../dashboard/dist', import.meta.url));

export function createDashboard(d: DashboardStartDeps) {
  const log = d.log.child({ component: 'dashboard' });
  const tokenFile = d.env.SIGNALBOX_API_TOKEN_FILE || DEFAULT_TOKEN_FILE;
  const apiToken = tokenReader(tokenFile);
  // The agents accept only the proxy token; without one (an older stack.yml) they carry the API token.
  const proxyToken = tokenReader(proxyTokenFile(d.env));
  const recorder = new DashboardRecorder({
    fetchJson: makeFetchJson(apiToken),
    fetchAgentJson: makeFetchJson(() => proxyToken() ?? apiToken()),
    extensions: d.extensions,
    store: d.store,
    statuses: d.statuses,
    controlNetwork: d.controlNetwork,
    extensionPort: EXTENSION_PORT,
    agentPort: AGENT_PORT,
    log,
    metrics: createConvergenceMetrics(d.registry),
  });
  const addr = d.env.SIGNALBOX_DASHBOARD_ADDR ?? `:${DASHBOARD_PORT}`;
  return {
    recorder,
    /** Starts following and, unless SIGNALBOX_DASHBOARD_ADDR=off, listens; resolves to a close function. */
    async start(): Promise<() => Promise<void>> {
      recorder.start();
      if (addr === 'off' || addr === '') return async () => recorder.stop();
      const m = /^(.*):(\d+)$/.exec(addr);
      const app = await buildDashboardServer({
        recorder,
        tokenFile,
        assetsDir: d.env.SIGNALBOX_DASHBOARD_ASSETS || defaultAssets,
        log,
      });
      try {
        await app.listen({ host: m?.[1] || '0.0.0.0', port: Number(m?.[2] ?? DASHBOARD_PORT) });
      } catch (e) {
        // Routing matters more than the dashboard: core keeps running without it.
        log.error({ listen: addr, err: (e as Error).message }, 'dashboard cannot listen; core runs without it');
        return async () => recorder.stop();
      }
      log.info({ listen: addr }, 'dashboard listening');
      return async () => {
        recorder.stop();
        await app.close();
      };
    },
  };
}
