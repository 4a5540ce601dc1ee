// The main context of nginx.conf (user, worker processes, pid, error log, modules) and events.
import type { NginxTuning } from '@signalbox/model';
import { RenderError, nginxTime, positiveInt, quote } from './quote.js';
import { emptyOrNull, verbatim } from './config-values.js';
import type { MainView } from './view-types.js';

/** 'user [group]', each quoted. */
export function userDirective(value: string): string | null {
  const parts = value
    .trim()
    .split(/\s+/)
    .filter((p) => p !== '');
  if (parts.length === 0) return null;
  if (parts.length > 2) throw new RenderError(`invalid User: ${JSON.stringify(value)}`);
  return parts.map((p) => quote(p)).join(' ');
}

export function mainView(t: NginxTuning, loadModules: string[]): MainView {
  if (!Number.isInteger(t.WorkerProcesses) || t.WorkerProcesses < 0) {
    throw new RenderError(`invalid WorkerProcesses: ${t.WorkerProcesses}`);
  }
  if (!Number.isInteger(t.RLimitNoFile) || t.RLimitNoFile < 0) {
    throw new RenderError(`invalid RLimitNoFile: ${t.RLimitNoFile}`);
  }
  const shutdown = emptyOrNull(t.WorkerShutdownTimeout);
  return {
    loadModules,
    user: userDirective(t.User),
    workerProcesses: t.WorkerProcesses === 0 ? 'auto' : String(t.WorkerProcesses),
    workerRlimitNofile: t.RLimitNoFile === 0 ? null : t.RLimitNoFile,
    pid: emptyOrNull(t.PidPath) === null ? null : quote(t.PidPath.trim()),
    // nginx writes `stderr` to fd 2 directly; opening /dev/stderr fails when fd 2 is a socket (Node's pipes).
    errorLog: emptyOrNull(t.ErrorLogPath) === null ? null : t.ErrorLogPath.trim() === '/dev/stderr' ? 'stderr' : quote(t.ErrorLogPath.trim()),
    workerShutdownTimeout: shutdown === null ? null : nginxTime(shutdown, 'WorkerShutdownTimeout'),
    options: verbatim(t.GlobalOptions),
  };
}

export function eventsView(t: NginxTuning): { workerConnections: number } {
  return { workerConnections: positiveInt(t.MaxConnections, 'MaxConnections') };
}
