#!/usr/bin/env node
// Entry point: PID 1 of the proxy container. Parses env once, starts the agent, and turns
// stop signals into a graceful nginx shutdown followed by our own exit.
import { constants } from 'node:os';
import { createLogger, debugRequested } from '@signalbox/protocol';
import { startAgent } from './agent.js';
import { loadOptions, OptionsError, type AgentOptions } from './options.js';
import type { ExitInfo } from './supervisor.js';

function exitCode(info: ExitInfo): number {
  if (info.signal) return 128 + (constants.signals[info.signal] ?? 0);
  return info.code ?? 0;
}

let options: AgentOptions;
try {
  options = loadOptions();
} catch (err) {
  if (!(err instanceof OptionsError)) throw err;
  process.stderr.write(`signalbox-proxy-agent: ${err.message}\n`);
  process.exit(2);
}

const logger = createLogger('proxy-agent', debugRequested() ? 'debug' : options.logLevel);
const agent = await startAgent(options, logger);
logger.info({ configPath: options.configPath, extension: options.extensionUrl ?? null, port: options.agentPort }, 'proxy agent started');

// SIGQUIT is the proxy service's stop signal (graceful: workers drain); TERM/INT are fast stops.
for (const signal of ['SIGQUIT', 'SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    logger.info({ signal }, 'stop signal received');
    void agent.stop(signal).then((info) => process.exit(exitCode(info)));
  });
}
// nginx's own reload signal, aimed at us: re-check configPath (e.g. after editing it by hand).
process.on('SIGHUP', () => void agent.installer.checkFile());
