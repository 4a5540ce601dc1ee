import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildApp, type AgentSnapshot } from '../src/api.js';
import { localAddressToward, requireToken } from '../src/control-listener.js';
import { silentLogger } from './helpers.js';

const TOKEN = 't'.repeat(40);
const snapshot = (): AgentSnapshot => ({
  installed: { sha256: 'a'.repeat(64), configName: 'c', source: 'extension', installedAt: new Date(0) },
  lastFailure: undefined,
  reloads: 1,
  reloadFailures: 0,
  lastReloadAt: new Date(0),
  nginxPid: 1,
  nginxRunning: true,
  nginxRestarts: 0,
});

describe('the control-network status listener', () => {
  const app = buildApp({ logger: silentLogger, snapshot });
  requireToken(app, TOKEN);
  afterAll(() => app.close());

  it('answers health without the token (probes), and everything else only with it', async () => {
    expect((await app.inject({ url: '/v1/health' })).statusCode).toBe(200);
    const denied = await app.inject({ url: '/v1/status' });
    expect(denied.statusCode).toBe(401);
    expect(denied.json()).toMatchObject({ code: 'ERR_API_UNAUTHORIZED' });
    expect(denied.json().message).toContain('signalbox-proxy-token');
    expect((await app.inject({ url: '/metrics', headers: { authorization: 'Bearer wrong' } })).statusCode).toBe(401);
    const ok = await app.inject({ url: '/v1/status?x=1', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ reloads: 1 });
  });

  it('finds the local address toward a peer (the address it will listen on)', async () => {
    const peer = createServer();
    await new Promise<void>((r) => peer.listen(0, '127.0.0.1', () => r()));
    try {
      const { port } = peer.address() as AddressInfo;
      await expect(localAddressToward(`http://127.0.0.1:${port}`)).resolves.toBe('127.0.0.1');
      await expect(localAddressToward(`http://localhost:${port}`)).resolves.toMatch(/^(127\.0\.0\.1|::1)$/);
    } finally {
      await new Promise((r) => peer.close(r));
    }
  });
});
