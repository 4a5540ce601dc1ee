// A real ACME CA for tests: Debian's pebble on loopback, with pebble-challtestsrv as its DNS server
// (every name resolves to 127.0.0.1), so HTTP-01 validation connects to 127.0.0.1:<httpPort>.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSelfSigned } from '@signalbox/test-support';
import { freePort } from './free-port.js';

export interface Pebble {
  directoryUrl: string;
  /** CA of pebble's own HTTPS listener (what [Extensions.NAME.Acme] CABundle holds). */
  listenerCaPem: string;
  /** The root that signs issued certificates (from pebble's management API). */
  issuerRootPem(): Promise<string>;
  stop(): Promise<void>;
}

function get(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: new Agent({ ca }), timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

function stopChild(p: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once('exit', () => resolve());
    p.kill('SIGTERM');
  });
}

export interface PebbleOptions {
  /** Port HTTP-01 validation connects to on 127.0.0.1 (where the test serves challenges). */
  httpPort: number;
  /** Lifetime of issued certificates, seconds (pebble's default is 5 years). */
  validitySeconds?: number;
  /** Names pebble refuses (rejectedIdentifier), to make one order fail. */
  blocklist?: string[];
}

export async function startPebble(o: PebbleOptions): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'sbx-pebble-'));
  const listener = writeSelfSigned(
    { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') },
    { commonName: 'pebble test listener', ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'], days: 2 },
  );
  const [listen, management, dns, dnsManagement] = [await freePort(), await freePort(), await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${listen}`,
        managementListenAddress: `127.0.0.1:${management}`,
        certificate: listener.certFile,
        privateKey: listener.keyFile,
        httpPort: o.httpPort,
        tlsPort: 5001,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
        domainBlocklist: o.blocklist ?? [],
        ...(o.validitySeconds ? { certificateValidityPeriod: o.validitySeconds } : {}),
      },
    }),
  );
  const log = (name: string) => (c: Buffer) => {
    if (process.env.SBX_PEBBLE_LOG === '1') process.stderr.write(`[${name}] ${c.toString()}`);
  };
  const challtest = spawn('pebble-challtestsrv', [
    '-defaultIPv4',
    '127.0.0.1',
    '-defaultIPv6',
    '',
    '-dns01',
    `127.0.0.1:${dns}`,
    '-http01',
    '',
    '-https01',
    '',
    '-tlsalpn01',
    '',
    '-management',
    `127.0.0.1:${dnsManagement}`,
  ]);
  challtest.stdout?.on('data', log('challtestsrv'));
  challtest.stderr?.on('data', log('challtestsrv'));
  const pebble = spawn('pebble', ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dns}`], {
    // No artificial validation delay; no deliberately rejected nonces (they only test client retries).
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
  });
  pebble.stdout?.on('data', log('pebble'));
  pebble.stderr?.on('data', log('pebble'));
  const listenerCaPem = readFileSync(listener.certFile, 'utf8');
  const directoryUrl = `https://127.0.0.1:${listen}/dir`;
  const stop = async () => {
    await Promise.all([stopChild(pebble), stopChild(challtest)]);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (pebble.exitCode !== null) {
      await stop();
      throw new Error(`pebble exited with ${pebble.exitCode}`);
    }
    try {
      if ((await get(directoryUrl, listenerCaPem)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error('pebble did not answer within 60 s');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    directoryUrl,
    listenerCaPem,
    issuerRootPem: async () => (await get(`https://127.0.0.1:${management}/roots/0`, listenerCaPem)).body,
    stop,
  };
}
