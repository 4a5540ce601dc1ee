// One logger factory so every component logs the same shape; children are keyed by component only.
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export function createLogger(service: string, level = process.env.SIGNALBOX_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { service }, timestamp: pino.stdTimeFunctions.isoTime });
}
