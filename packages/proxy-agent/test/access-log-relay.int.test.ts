// The access log relay with real nginx: `access_log syslog:server=127.0.0.1:PORT,nohostname` sends a
// datagram per request to the agent, which writes the lines (without the syslog header) to its stdout,
// many per write.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { startAccessLogRelay, syslogMessage } from '../src/access-log-relay.js';
import { makeTempDir, silentLogger } from './helpers.js';

const HTTP_PORT = 18771;

function get(path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port: HTTP_PORT, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

async function until(ok: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ok()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

test('syslogMessage removes the header nginx writes, with or without a hostname', () => {
  expect(syslogMessage('<190>Nov 30 10:01:02 nginx: 1.2.3.4 - - "GET / HTTP/1.1" 200')).toBe('1.2.3.4 - - "GET / HTTP/1.1" 200');
  expect(syslogMessage('<190>Dec  1 09:00:00 proxy-1 nginx: line')).toBe('line');
  expect(syslogMessage('no header')).toBe('no header');
});

test('nginx access log lines sent as syslog come out of the relay as plain lines', async () => {
  const writes: string[] = [];
  const relay = await startAccessLogRelay({ port: 0, logger: silentLogger, write: (t) => (writes.push(t), 0) });
  const { dir, cleanup } = await makeTempDir('sb-relay-');
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;\npid ${dir}/nginx.pid;\nerror_log stderr error;\nevents { worker_connections 64; }\n` +
      `http {\n    log_format main '$request_uri $status';\n    access_log "syslog:server=127.0.0.1:${relay.port},nohostname" main;\n` +
      `    server {\n        listen 127.0.0.1:${HTTP_PORT};\n        location / { return 204; }\n    }\n}\n`,
  );
  const nginx = spawn('nginx', ['-g', 'daemon off;', '-p', `${dir}/`, '-c', conf, '-e', 'stderr'], { stdio: 'ignore' });
  try {
    expect(await until(async () => (await get('/ready')) === 204, 20_000)).toBe(true);
    for (const p of ['/a', '/b', '/c']) expect(await get(p)).toBe(204);
    expect(await until(() => writes.join('').includes('/c 204\n'), 10_000)).toBe(true);
    const lines = writes
      .join('')
      .split('\n')
      .filter((l) => l && l !== '/ready 204' && !l.startsWith('/ready'));
    expect(lines).toEqual(['/a 204', '/b 204', '/c 204']);
    expect(relay.relayed).toBeGreaterThanOrEqual(4);
    expect(relay.dropped).toBe(0);
  } finally {
    nginx.kill('SIGTERM');
    await until(() => nginx.exitCode !== null || nginx.signalCode !== null, 10_000);
    await relay.close();
    await cleanup();
  }
});

test('a port already in use is an error from startAccessLogRelay (the agent logs it and goes on)', async () => {
  const first = await startAccessLogRelay({ port: 0, logger: silentLogger, write: () => 0 });
  try {
    await expect(startAccessLogRelay({ port: first.port, logger: silentLogger, write: () => 0 })).rejects.toThrow(/EADDRINUSE/);
  } finally {
    await first.close();
  }
});
