// The extension's API: the bearer token, and bad input at the door (long-poll parameters, headers, bodies).
import { jest } from '@jest/globals';
import { createLogger } from '@signalbox/protocol';
import { Registry } from 'prom-client';
import { buildServer } from '../src/server.js';
import { ServedConfigState } from '../src/served-config.js';

jest.setTimeout(30_000);

const TOKEN = 'ext-token-0123456789abcdef0123456789abcdef';
const AUTH = { authorization: `Bearer ${TOKEN}` };

function setup() {
  const served = new ServedConfigState();
  served.set({ name: 'signalbox-nginx-1', sha256: 'a'.repeat(64), text: 'events {}\n' });
  const app = buildServer({ served, status: () => ({ excluded: [] }), registry: new Registry(), log: createLogger('test', 'silent'), apiToken: TOKEN });
  return { app, served };
}

test('nginx.conf, status and metrics need the token; health does not', async () => {
  const { app } = setup();
  expect((await app.inject({ url: '/v1/health' })).statusCode).toBe(200);
  for (const url of ['/v1/nginx.conf', '/v1/status', '/metrics']) {
    const r = await app.inject({ url });
    expect([r.statusCode, r.json().code]).toEqual([401, 'ERR_API_UNAUTHORIZED']);
    expect((await app.inject({ url, headers: { authorization: 'Bearer wrong-token-0123456789abcdef0123456789ab' } })).statusCode).toBe(401);
    expect((await app.inject({ url, headers: AUTH })).statusCode).toBe(200);
  }
});

test('nginx.conf names the replaced proxy tasks that must not install it, and nothing when there are none', async () => {
  const { app, served } = setup();
  expect((await app.inject({ url: '/v1/nginx.conf', headers: AUTH })).headers['x-signalbox-not-for-tasks']).toBeUndefined();
  served.set({ name: 'signalbox-nginx-2', sha256: 'b'.repeat(64), text: 'events {}\n#2\n', notForTasks: ['oldtask1', 'oldtask2'] });
  const r = await app.inject({ url: '/v1/nginx.conf', headers: AUTH });
  expect([r.statusCode, r.headers['x-signalbox-config'], r.headers['x-signalbox-not-for-tasks']]).toEqual([200, 'signalbox-nginx-2', 'oldtask1,oldtask2']);
});

test('?task= picks the config: a task past the roll gets the early one, others the main one; each long-poll wakes only for its own', async () => {
  const { app, served } = setup();
  const early = { name: 'signalbox-nginx-1+new-tasks', sha256: 'e'.repeat(64), text: 'events {}\n#early\n', forTasks: ['newtask1'] };
  served.set({ name: 'signalbox-nginx-1', sha256: 'a'.repeat(64), text: 'events {}\n', early });
  const forNew = await app.inject({ url: '/v1/nginx.conf?task=newtask1', headers: AUTH });
  expect([forNew.statusCode, forNew.body, forNew.headers.etag, forNew.headers['x-signalbox-config']]).toEqual([200, early.text, `"${early.sha256}"`, early.name]);
  for (const url of ['/v1/nginx.conf?task=oldtask1', '/v1/nginx.conf']) {
    const r = await app.inject({ url, headers: AUTH });
    expect([r.body, r.headers.etag]).toEqual(['events {}\n', `"${'a'.repeat(64)}"`]);
  }
  // The old task waits on the main config: a change of the early one alone does not answer it.
  const oldPoll = app.inject({ url: '/v1/nginx.conf?task=oldtask1&wait=2', headers: { ...AUTH, 'if-none-match': `"${'a'.repeat(64)}"` } });
  const newPoll = app.inject({ url: '/v1/nginx.conf?task=newtask1&wait=2', headers: { ...AUTH, 'if-none-match': `"${early.sha256}"` } });
  await new Promise((r) => setTimeout(r, 100));
  served.set({ name: 'signalbox-nginx-1', sha256: 'a'.repeat(64), text: 'events {}\n', early: { ...early, sha256: 'f'.repeat(64), text: 'events {}\n#early2\n' } });
  const [o, n] = await Promise.all([oldPoll, newPoll]);
  expect([n.statusCode, n.body]).toEqual([200, 'events {}\n#early2\n']);
  expect(o.statusCode).toBe(304);
  // Not a task ID: a clear 400, not a guess.
  const bad = await app.inject({ url: '/v1/nginx.conf?task=Not%20A%20Task', headers: AUTH });
  expect([bad.statusCode, bad.json().code]).toEqual([400, 'ERR_API_BAD_REQUEST']);
  expect(bad.json().message).toContain('task');
});

test("a proxy's refusal report needs the token too (a tenant must not make the extension exclude services)", async () => {
  const { app } = setup();
  const payload = { sha256: 'a'.repeat(64), reason: 'forged' };
  expect((await app.inject({ method: 'POST', url: '/v1/refusals', payload })).statusCode).toBe(401);
  expect((await app.inject({ method: 'POST', url: '/v1/refusals', payload, headers: AUTH })).statusCode).toBe(202);
});

test('the proxy token opens what a proxy agent calls and nothing else: 403 ERR_API_FORBIDDEN elsewhere', async () => {
  const served = new ServedConfigState();
  served.set({ name: 'signalbox-nginx-1', sha256: 'a'.repeat(64), text: 'events {}\n' });
  const proxyToken = 'proxy-token-0123456789abcdef0123456789abcdef';
  const app = buildServer({
    served,
    status: () => ({ excluded: [] }),
    registry: new Registry(),
    log: createLogger('test', 'silent'),
    apiToken: TOKEN,
    proxyToken,
    acmeFiles: () => ({ 'a.crt': 'x' }),
  });
  const P = { authorization: `Bearer ${proxyToken}` };
  expect((await app.inject({ url: '/v1/nginx.conf', headers: P })).statusCode).toBe(200);
  expect((await app.inject({ url: '/v1/acme/files', headers: P })).statusCode).toBe(200);
  expect((await app.inject({ method: 'POST', url: '/v1/refusals', payload: { sha256: 'a'.repeat(64), reason: 'nginx -t failed' }, headers: P })).statusCode).toBe(202);
  for (const [method, url] of [
    ['GET', '/v1/status'],
    ['GET', '/metrics'],
    ['POST', '/v1/nginx.conf'],
  ] as const) {
    const r = await app.inject({ method, url, headers: P });
    expect([r.statusCode, r.json().code]).toEqual([403, 'ERR_API_FORBIDDEN']);
    expect(r.json().message).toContain(`does not open ${method} ${url}`);
    // The API token opens everything the proxy token does not.
    expect((await app.inject({ method, url, headers: AUTH })).statusCode).not.toBe(403);
  }
  // A query string does not widen it, nor does a path that only starts like an open one.
  expect((await app.inject({ url: '/v1/nginx.conf?wait=1', headers: { ...P, 'if-none-match': '"x"' } })).statusCode).toBe(200);
  expect((await app.inject({ url: '/v1/nginx.conf/../status', headers: P })).statusCode).not.toBe(200);
});

test('bad ?wait= is a coded 400; fuzzed headers, parameters and bodies never crash it', async () => {
  const { app } = setup();
  const bad = await app.inject({ url: '/v1/nginx.conf?wait=-3', headers: AUTH });
  expect([bad.statusCode, bad.json().code]).toEqual([400, 'ERR_API_BAD_REQUEST']);
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const junk = (n: number) => Array.from({ length: n }, () => String.fromCharCode(32 + Math.floor(rnd() * 95))).join('');
  for (let i = 0; i < 120; i++) {
    const r = await app.inject({
      method: rnd() < 0.5 ? 'GET' : 'POST',
      url: `/v1/nginx.conf?wait=${encodeURIComponent(junk(Math.floor(rnd() * 8)))}`,
      headers: { ...AUTH, 'if-none-match': junk(Math.floor(rnd() * 3000)), 'content-type': 'application/json' },
      payload: junk(Math.floor(rnd() * 40_000)),
    });
    expect(r.statusCode).toBeLessThan(500);
  }
  const huge = await app.inject({ method: 'POST', url: '/v1/nginx.conf', headers: { ...AUTH, 'content-type': 'application/json' }, payload: 'x'.repeat(100_000) });
  expect(huge.statusCode).toBe(413);
  expect((await app.inject({ url: '/v1/nginx.conf', headers: AUTH })).statusCode).toBe(200);
});

test('closing the server cuts a waiting long-poll at once instead of waiting for its ?wait (a stopping extension holds up a roll)', async () => {
  const { app } = setup();
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  const poll = fetch(`http://127.0.0.1:${port}/v1/nginx.conf?wait=30`, { headers: { ...AUTH, 'if-none-match': `"${'a'.repeat(64)}"` } }).then(
    (r) => `answered ${r.status}`,
    () => 'cut',
  );
  // The long-poll is being held (no answer yet).
  await new Promise((r) => setTimeout(r, 300));
  const t0 = Date.now();
  await app.close();
  expect(Date.now() - t0).toBeLessThan(2000);
  expect(await poll).toBe('cut');
});
