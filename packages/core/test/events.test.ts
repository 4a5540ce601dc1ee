// The events watcher against a stand-in of the Engine API's GET /events on loopback, through the real
// dockerode client: events become hints, and a dropped stream is re-opened followed by a reconcile
// (events sent while it was down are lost; only a fresh read of the swarm catches up).
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Docker from 'dockerode';
import { createLogger } from '@signalbox/protocol';
import { watchEvents, type EventHint, type EventWatch } from '../src/docker/events.js';

const log = createLogger('test', 'silent');

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const serviceEvent = (action: string, name: string) => JSON.stringify({ Type: 'service', Action: action, Actor: { ID: 'x', Attributes: { name } } }) + '\n';

test('events become hints; a dropped stream is re-opened and followed by a reconcile', async () => {
  const streams: ServerResponse[] = [];
  const server = createServer((req, res) => {
    if (!req.url?.includes('/events')) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
    streams.push(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const docker = new Docker({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, protocol: 'http' });
  const hints: EventHint[] = [];
  let reconciles = 0;
  let watch: EventWatch | undefined;
  try {
    watch = watchEvents(
      docker,
      (h) => hints.push(h),
      () => reconciles++,
      log,
    );
    await until('the first stream', () => streams.length === 1 && reconciles === 1);

    streams[0]!.write(serviceEvent('update', 'web'));
    streams[0]!.write(JSON.stringify({ Type: 'container', Action: 'start', Actor: { Attributes: {} } }) + '\n'); // not a task: ignored
    await until('the first hint', () => hints.length === 1);
    expect(hints[0]).toEqual({ type: 'service', action: 'update', tasksMoving: true, name: 'web' });

    // The engine drops the stream (restart, proxy timeout): the watcher re-opens it and asks for a reconcile.
    streams[0]!.end();
    await until('the stream re-opened', () => streams.length === 2);
    await until('a reconcile after the reconnect', () => reconciles === 2);

    streams[1]!.write(serviceEvent('remove', 'api'));
    await until('a hint on the new stream', () => hints.length === 2);
    expect(hints[1]).toMatchObject({ type: 'service', action: 'remove', name: 'api' });

    // Chunks are not lines: an empty line, two events in one chunk, an event split across two.
    const [a, b, c] = [serviceEvent('create', 'a'), serviceEvent('create', 'b'), serviceEvent('create', 'c')];
    streams[1]!.write('\n' + a + b + c.slice(0, 20));
    streams[1]!.write(c.slice(20));
    await until('three more hints', () => hints.length === 5);
    expect(hints.slice(2).map((h) => h.name)).toEqual(['a', 'b', 'c']);
  } finally {
    watch?.stop();
    for (const s of streams) s.end();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
