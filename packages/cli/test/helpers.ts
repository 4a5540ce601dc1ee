// In-memory I/O for buildCli: captured stdout/stderr, files from a map (or the fixtures folder),
// a fake fetch and a fake Docker.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { buildCli } from '../src/index.js';
import type { CliDeps, DockerAccess } from '../src/index.js';

export const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export const noDocker: DockerAccess = {
  endpoint: 'unix:///test/docker.sock',
  findServiceContainer: async () => undefined,
  exec: async () => {
    throw new Error('exec not expected');
  },
};

export interface HarnessOptions {
  files?: Record<string, string>;
  env?: Record<string, string | undefined>;
  fetch?: typeof fetch;
  docker?: DockerAccess;
}

export async function run(argv: string[], o: HarnessOptions = {}): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const deps: CliDeps = {
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
    readFile: async (path) => {
      const mem = o.files?.[path];
      if (mem !== undefined) return mem;
      return readFile(path, 'utf8');
    },
    fetch:
      o.fetch ??
      (async () => {
        throw new Error('fetch not expected');
      }),
    env: o.env ?? {},
    docker: o.docker ?? noDocker,
  };
  const code = await buildCli(deps).run(argv);
  return { code, stdout, stderr };
}
