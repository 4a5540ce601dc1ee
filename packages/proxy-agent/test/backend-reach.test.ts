// The gate a new routing task passes before it takes traffic: every upstream has a server that answers.
import pino from 'pino';
import { BackendReach, upstreamServers, type Endpoint, type Probe, type ProbeResult } from '../src/backend-reach.js';

const logger = pino({ level: 'silent' });

const conf = (upstreams: Record<string, string[]>) =>
  `http {\n${Object.entries(upstreams)
    .map(([name, servers]) => `    upstream ${name} {\n        zone z 64k;\n${servers.map((s) => `        server ${s};\n`).join('')}        keepalive 32;\n    }\n`)
    .join('')}}\n`;

/** A probe whose answers the test sets per address; records what was asked. */
function fakeProbe(answers: Map<string, ProbeResult>) {
  const asked: string[] = [];
  const probe: Probe = async (e: Endpoint) => {
    const k = `${e.host}:${e.port}`;
    asked.push(k);
    return answers.get(k) ?? 'silent';
  };
  return { probe, asked };
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('upstreamServers: IP servers per upstream; down, loopback hops, unix sockets, names and the relay are not probed', () => {
  const text = [
    'upstream u_app { zone z; server 10.0.1.5:80 max_fails=1 fail_timeout=10s;  # app',
    '    server [fd00::5]:8080;  server 10.0.1.6:80 backup; }',
    'upstream u_none { server 127.0.0.1:1 down;  # no servers: answers 503\n }',
    'upstream u_hop { server 127.0.0.1:10443; }',
    'upstream u_front { server unix:/run/signalbox/tls-front/tls-front.sock; }',
    'upstream u_named { server tasks.extension:8080; }',
    'upstream u_down { server 10.0.2.1:80 down; server 10.0.2.2:80; }',
    'upstream signalbox_relay { server 10.0.9.7:10445;  # a routing task past the roll\n }',
  ].join('\n');
  const got = Object.fromEntries([...upstreamServers(text)].map(([n, s]) => [n, s.map((e) => `${e.host}|${e.port}`)]));
  expect(got).toEqual({
    u_app: ['10.0.1.5|80', 'fd00::5|8080', '10.0.1.6|80'],
    u_down: ['10.0.2.2|80'],
  });
});

test('opens once every upstream has one answering server, and stays open for later configs', async () => {
  const answers = new Map<string, ProbeResult>([['10.0.1.5:80', 'answered']]);
  const { probe } = fakeProbe(answers);
  const gate = new BackendReach({ logger, probe, intervalMs: 5, maxWaitMs: 60_000 });
  gate.watch(conf({ u_a: ['10.0.1.5:80', '10.0.1.6:80'], u_b: ['10.0.2.5:80'] }));
  await until(() => gate.state().waiting === 1);
  expect(gate.state()).toEqual({ ready: false, waiting: 1, example: 'u_b (10.0.2.5:80)' });
  await new Promise((r) => setTimeout(r, 50));
  expect(gate.state().ready).toBe(false);
  answers.set('10.0.2.5:80', 'answered');
  await until(() => gate.state().ready);
  await gate.settled();
  // Once open, a new config with a silent upstream does not close it: that is the backend's problem.
  gate.watch(conf({ u_c: ['10.0.3.5:80'] }));
  expect(gate.state()).toEqual({ ready: true, waiting: 0, example: undefined });
});

test('a config with no probeable upstream opens at once', async () => {
  const { probe, asked } = fakeProbe(new Map());
  const gate = new BackendReach({ logger, probe });
  gate.watch(conf({ u_none: ['127.0.0.1:1 down'] }));
  await gate.settled();
  expect(gate.state().ready).toBe(true);
  expect(asked).toEqual([]);
});

test('the wait is capped: silent upstreams let the task through after maxWaitMs', async () => {
  const { probe } = fakeProbe(new Map());
  const gate = new BackendReach({ logger, probe, intervalMs: 5, maxWaitMs: 60 });
  const started = Date.now();
  gate.watch(conf({ u_a: ['10.0.1.5:80'] }));
  await gate.settled();
  expect(gate.state().ready).toBe(true);
  expect(Date.now() - started).toBeGreaterThanOrEqual(60);
});

test('a newer config installed during the wait replaces what must answer', async () => {
  const answers = new Map<string, ProbeResult>([['10.0.9.9:80', 'answered']]);
  const { probe } = fakeProbe(answers);
  const gate = new BackendReach({ logger, probe, intervalMs: 5, maxWaitMs: 60_000 });
  gate.watch(conf({ u_old: ['10.0.1.5:80'] }));
  await new Promise((r) => setTimeout(r, 30));
  expect(gate.state().ready).toBe(false);
  gate.watch(conf({ u_new: ['10.0.9.9:80'] }));
  await until(() => gate.state().ready);
});

test('each round tries the next servers of a waiting upstream, so an answering fifth server is found', async () => {
  const servers = ['10.0.1.1:80', '10.0.1.2:80', '10.0.1.3:80', '10.0.1.4:80', '10.0.1.5:80', '10.0.1.6:80'];
  const { probe, asked } = fakeProbe(new Map([['10.0.1.5:80', 'answered']]));
  const gate = new BackendReach({ logger, probe, intervalMs: 5, perUpstream: 2, maxWaitMs: 60_000 });
  gate.watch(conf({ u_many: servers }));
  await until(() => gate.state().ready);
  expect(asked.slice(0, 6)).toEqual(servers.slice(0, 6));
});

test('probes at most `concurrency` servers at once', async () => {
  let inFlight = 0;
  let peak = 0;
  const probe: Probe = async () => {
    peak = Math.max(peak, ++inFlight);
    await new Promise((r) => setTimeout(r, 5));
    inFlight--;
    return 'answered';
  };
  const gate = new BackendReach({ logger, probe, concurrency: 3 });
  gate.watch(conf(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`u_${i}`, [`10.0.${i}.1:80`]]))));
  await until(() => gate.state().ready);
  expect(peak).toBe(3);
});

test('no other routing task serves (the only one restarted): opens at once; while one does, it waits', async () => {
  const alone = new BackendReach({ logger, probe: fakeProbe(new Map()).probe, intervalMs: 5, maxWaitMs: 60_000, othersServe: async () => false });
  alone.watch(conf({ u_a: ['10.0.1.5:80'] }));
  await alone.settled();
  expect(alone.state().ready).toBe(true);

  let others = true;
  const rolling = new BackendReach({ logger, probe: fakeProbe(new Map()).probe, intervalMs: 5, maxWaitMs: 60_000, othersServe: async () => others });
  rolling.watch(conf({ u_a: ['10.0.1.5:80'] }));
  await new Promise((r) => setTimeout(r, 50));
  expect(rolling.state().ready).toBe(false);
  // The task that served went away (its node left): this one takes traffic rather than none doing so.
  others = false;
  await until(() => rolling.state().ready);
});

test('a start where every upstream answers at once asks DNS nothing', async () => {
  let lookups = 0;
  const gate = new BackendReach({
    logger,
    probe: fakeProbe(new Map([['10.0.1.5:80', 'answered']])).probe,
    othersServe: async () => {
      lookups++;
      return true;
    },
  });
  gate.watch(conf({ u_a: ['10.0.1.5:80'] }));
  await gate.settled();
  expect(gate.state().ready).toBe(true);
  expect(lookups).toBe(0);
});
