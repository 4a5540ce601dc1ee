#!/usr/bin/env node
// signalbox-demo-app: env PORT (default 80), NAME, HOST, TLS_CERT_FILE + TLS_KEY_FILE (HTTPS on PORT),
// STATUS (answer every request but /health with it, e.g. 503), MAX_REQUESTS_PER_SOCKET (end a keep-alive
// connection after that many requests, as nginx's keepalive_requests does; 0: never).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { startDemoServer, type DemoServerOptions } from './index.js';

function fail(msg: string): never {
  process.stderr.write(`demo-app: ${msg}\n`);
  process.exit(1);
}

const port = Number(process.env.PORT ?? '80');
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`invalid PORT ${process.env.PORT}`);

const options: DemoServerOptions = { port, name: process.env.NAME ?? '' };
if (process.env.HOST) options.host = process.env.HOST;
if (process.env.STATUS) {
  const status = Number(process.env.STATUS);
  if (!Number.isInteger(status) || status < 200 || status > 599) fail(`invalid STATUS ${process.env.STATUS} (200-599)`);
  options.status = status;
}
if (process.env.MAX_REQUESTS_PER_SOCKET) {
  const max = Number(process.env.MAX_REQUESTS_PER_SOCKET);
  if (!Number.isInteger(max) || max < 0) fail(`invalid MAX_REQUESTS_PER_SOCKET ${process.env.MAX_REQUESTS_PER_SOCKET} (a whole number, 0 = never)`);
  options.maxRequestsPerSocket = max;
}
const certFile = process.env.TLS_CERT_FILE;
const keyFile = process.env.TLS_KEY_FILE;
if (certFile || keyFile) {
  if (!certFile || !keyFile) fail('set both TLS_CERT_FILE and TLS_KEY_FILE');
  try {
    options.tls = { cert: readFileSync(certFile), key: readFileSync(keyFile) };
  } catch (err) {
    fail(`cannot read TLS files: ${(err as Error).message}`);
  }
}

const demo = await startDemoServer(options).catch((err: Error) => fail(`cannot listen on ${port}: ${err.message}`));
process.stdout.write(`${JSON.stringify({ msg: 'demo-app listening', port: demo.port, tls: options.tls !== undefined, name: options.name, task: os.hostname() })}\n`);

let stopping = false;
const stop = (signal: NodeJS.Signals): void => {
  if (stopping) process.exit(0);
  stopping = true;
  process.stdout.write(`${JSON.stringify({ msg: 'demo-app stopping', signal })}\n`);
  setTimeout(() => process.exit(0), 2000).unref();
  void demo.close().then(() => process.exit(0));
};
for (const sig of ['SIGTERM', 'SIGQUIT', 'SIGINT'] as const) process.on(sig, stop);
