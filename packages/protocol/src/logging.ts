// One logger factory so every component logs the same shape; children are keyed by component only.
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** Interlock's images took -D for debug logging, and config.toml's Args/ProxyArgs may still pass it. */
export function debugRequested(argv: readonly string[] = process.argv.slice(2)): boolean {
  return argv.includes('-D') || argv.includes('--debug');
}

export function createLogger(service: string, level = process.env.SIGNALBOX_LOG_LEVEL ?? (debugRequested() ? 'debug' : 'info')): Logger {
  return pino({ level, base: { service }, timestamp: pino.stdTimeFunctions.isoTime });
}
