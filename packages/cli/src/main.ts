#!/usr/bin/env node
// Entry point of the `signalbox` command: real stdout/stderr, files, fetch and Docker socket.
import { readFile } from 'node:fs/promises';
import { buildCli } from './cli.js';
import { socketDocker } from './docker-socket.js';

const cli = buildCli({
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  readFile: (path) => readFile(path, 'utf8'),
  fetch: globalThis.fetch,
  env: process.env,
  docker: socketDocker(process.env.DOCKER_HOST),
});

process.exitCode = await cli.run(process.argv.slice(2));
