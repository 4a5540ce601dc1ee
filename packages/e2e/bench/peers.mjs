// Processes a benchmark starts beside the swarm (nginx, HAProxy, Caddy on this host), and the address a
// swarm container has on docker_gwbridge, shared by the data-path benchmarks.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { sleep } from './lib.mjs';

const children = [];

/** Starts a process whose stderr tail is kept (`child.errText()`); stopAll() ends it. */
export function start(cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], ...opts });
  let err = '';
  child.stderr?.on('data', (d) => (err = (err + d).slice(-4000)));
  child.errText = () => err;
  children.push(child);
  return child;
}

/** SIGTERM to every started process, SIGKILL half a second later to those still running. */
export async function stopAll() {
  for (const c of children) c.kill('SIGTERM');
  await sleep(500);
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
}

/** HAProxy 2.6, one thread, HTTP keep-alive both sides, listening on `bind` (addr:port), to `backend`. */
export function startHaproxy(dir, bind, backend) {
  const file = path.join(dir, 'haproxy.cfg');
  writeFileSync(
    file,
    [
      'global',
      '    nbthread 1',
      '    maxconn 4096',
      'defaults',
      '    mode http',
      '    timeout connect 5s',
      '    timeout client 75s',
      '    timeout server 600s',
      '    timeout http-keep-alive 75s',
      '    option http-keep-alive',
      '    http-reuse always',
      'frontend fe',
      `    bind ${bind}`,
      '    option forwardfor',
      '    default_backend be',
      'backend be',
      `    server s1 ${backend}`,
      '',
    ].join('\n'),
  );
  return start('haproxy', ['-f', file, '-db']);
}

/** Caddy 2.6, one Go thread, for `http://host:port` on address `bindAddr`, to `backend` with a keep-alive pool. */
export function startCaddy(dir, host, port, bindAddr, backend) {
  const file = path.join(dir, 'Caddyfile');
  writeFileSync(
    file,
    [
      '{',
      '    admin off',
      '    auto_https off',
      '}',
      `http://${host}:${port} {`,
      `    bind ${bindAddr}`,
      `    reverse_proxy ${backend} {`,
      '        transport http {',
      '            keepalive 60s',
      '            keepalive_idle_conns_per_host 32',
      '        }',
      '    }',
      '}',
      '',
    ].join('\n'),
  );
  return start('caddy', ['run', '--config', file, '--adapter', 'caddyfile'], { env: { ...process.env, GOMAXPROCS: '1', HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir } });
}

/** Address of a container on docker_gwbridge (every swarm task has one): reachable from this host. */
export async function gwbridgeAddr(docker, containerId) {
  const net = await docker.getNetwork('docker_gwbridge').inspect();
  const hit = Object.entries(net.Containers ?? {}).find(([id]) => id === containerId);
  return hit ? hit[1].IPv4Address.split('/')[0] : undefined;
}
