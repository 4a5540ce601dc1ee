// Access log relay: nginx sends each access log line as a syslog datagram to 127.0.0.1 (AccessLogPath =
// "syslog:server=127.0.0.1:5140,nohostname"); the agent writes the lines to its stdout, many per write,
// so they still reach `docker service logs` without nginx writing to the container runtime's pipe.
// Loopback only: nothing outside the proxy container can send lines.
import { createSocket, type Socket } from 'node:dgram';
import type { Logger } from 'pino';

/** nginx's syslog header: "<PRI>Mmm dd hh:mm:ss [hostname ]tag: ". */
const SYSLOG_HEADER = /^<\d{1,3}>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d (?:[^ :]+ )?[^ :]+: /;
/** Lines waiting for stdout beyond this are dropped (and counted) instead of piling up in memory. */
const MAX_PENDING_BYTES = 16 * 1024 * 1024;

export interface AccessLogRelayOptions {
  port: number;
  logger: Logger;
  /** Where the lines go; returns how many bytes still wait to be written (process.stdout by default). */
  write?: (text: string) => number;
}

export interface AccessLogRelay {
  readonly port: number;
  readonly relayed: number;
  readonly dropped: number;
  close(): Promise<void>;
}

/** The message of one syslog datagram from nginx (the header removed, no trailing newline). */
export function syslogMessage(datagram: string): string {
  return datagram.replace(SYSLOG_HEADER, '').replace(/\n+$/, '');
}

export async function startAccessLogRelay(o: AccessLogRelayOptions): Promise<AccessLogRelay> {
  const write =
    o.write ??
    ((text: string) => {
      process.stdout.write(text);
      return process.stdout.writableLength;
    });
  const socket: Socket = createSocket('udp4');
  let pending: string[] = [];
  let scheduled = false;
  let waiting = 0;
  const state = { port: 0, relayed: 0, dropped: 0 };
  // Everything that arrived in one turn of the event loop goes out in one write.
  const flush = () => {
    scheduled = false;
    const lines = pending;
    pending = [];
    waiting = write(`${lines.join('\n')}\n`);
    state.relayed += lines.length;
  };
  socket.on('message', (msg) => {
    if (waiting > MAX_PENDING_BYTES) {
      state.dropped++;
      return;
    }
    pending.push(syslogMessage(msg.toString('utf8')));
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  });
  socket.on('error', (err) => o.logger.error({ err: err.message }, 'access log relay socket error'));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(o.port, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  state.port = socket.address().port;
  o.logger.info({ port: state.port }, 'access log relay: syslog lines from nginx on 127.0.0.1 go to stdout');
  return {
    get port() {
      return state.port;
    },
    get relayed() {
      return state.relayed;
    },
    get dropped() {
      return state.dropped;
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (pending.length) flush();
        socket.close(() => resolve());
      }),
  };
}
