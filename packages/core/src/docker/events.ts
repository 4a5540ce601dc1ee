// Docker events as hints: any relevant event triggers a reconcile; the reconcile reads the truth.
// The stream is re-opened with capped backoff when it drops (engine restart, proxy timeout).
import type Docker from 'dockerode';
import type { Logger } from '@signalbox/protocol';
import { backoffDelay } from '@signalbox/protocol';

export interface EventHint {
  type: string;
  action: string;
  /**
   * True when task states are about to change without further events (a service spec changed, or a task
   * container started or died here): worth a short burst of fast polls.
   */
  tasksMoving: boolean;
  /** The service's name, for service events. */
  name?: string;
}

export interface EventWatch {
  stop(): void;
  /** Drops the stream as if the engine had (it reconnects and resyncs as then); for operators and fault tests. */
  drop(): void;
}

type EventType = 'service' | 'container' | 'network' | 'secret' | 'node';
const RELEVANT: Record<EventType, string[]> = {
  service: ['create', 'update', 'remove'],
  // Swarm emits no task events; container events on this node are the fastest signal that a task started or died.
  container: ['start', 'die', 'destroy'],
  network: ['create', 'destroy', 'remove'],
  secret: ['create', 'remove'],
  node: ['update', 'remove'],
};

export function watchEvents(docker: Docker, onHint: (h: EventHint) => void, onReconnect: () => void, log: Logger): EventWatch {
  let stopped = false;
  let attempt = 0;
  let current: NodeJS.ReadableStream | undefined;
  let timer: NodeJS.Timeout | undefined;

  const open = async (): Promise<void> => {
    if (stopped) return;
    try {
      const stream = await docker.getEvents({ filters: { type: Object.keys(RELEVANT) as EventType[] } });
      current = stream;
      if (attempt > 0) log.info({ attempt }, 'docker events stream reconnected');
      attempt = 0;
      // Events may have been missed while disconnected: reconcile now.
      onReconnect();
      let buf = '';
      stream.on('data', (chunk: Buffer) => {
        buf += chunk.toString('utf8');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line) handle(line);
        }
      });
      const retry = (why: string) => {
        if (stopped || current !== stream) return;
        current = undefined;
        log.warn({ why }, 'docker events stream ended; reconnecting');
        schedule();
      };
      stream.on('end', () => retry('end'));
      stream.on('error', (e: Error) => retry(e.message));
      stream.on('close', () => retry('close'));
    } catch (e) {
      log.warn({ err: (e as Error).message, attempt }, 'cannot open docker events stream');
      schedule();
    }
  };

  const schedule = (): void => {
    if (stopped) return;
    const delay = backoffDelay(attempt, { initialMs: 100, maxMs: 5000 });
    attempt++;
    timer = setTimeout(() => void open(), delay);
  };

  const handle = (line: string): void => {
    try {
      const ev = JSON.parse(line) as { Type?: string; Action?: string; Actor?: { Attributes?: Record<string, string> } };
      const type = ev.Type ?? '';
      const action = (ev.Action ?? '').split(':')[0] ?? '';
      if (!RELEVANT[type as EventType]?.includes(action)) return;
      // Only swarm task containers matter, not stray containers on this node.
      if (type === 'container' && !ev.Actor?.Attributes?.['com.docker.swarm.service.id']) return;
      const name = type === 'service' ? ev.Actor?.Attributes?.name : undefined;
      onHint({ type, action, tasksMoving: type === 'service' || type === 'container', ...(name ? { name } : {}) });
    } catch {
      log.debug('unparseable docker event line');
    }
  };

  void open();
  return {
    drop() {
      (current as (NodeJS.ReadableStream & { destroy?: () => void }) | undefined)?.destroy?.();
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      const s = current as (NodeJS.ReadableStream & { destroy?: () => void }) | undefined;
      current = undefined;
      s?.destroy?.();
    },
  };
}
