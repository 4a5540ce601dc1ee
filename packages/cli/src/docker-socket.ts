// The few Docker Engine API calls `signalbox status` needs to reach core when core has no published
// port: find core's container on this node and run a command in it. Plain node:http over the Docker
// socket (or DOCKER_HOST=tcp://… without TLS), so the CLI needs no Docker client library.
import { request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** What `status` needs from Docker; tests inject a fake. */
export interface DockerAccess {
  /** Human description of the endpoint, for error messages (e.g. unix:///var/run/docker.sock). */
  readonly endpoint: string;
  /** Id of a running container of the given swarm service on this node, if any. */
  findServiceContainer(serviceName: string): Promise<string | undefined>;
  /** Run a command in a container and collect its output. */
  exec(containerId: string, cmd: readonly string[]): Promise<ExecResult>;
}

export class DockerError extends Error {
  override readonly name = 'DockerError';
}

type Target = { socketPath: string } | { host: string; port: number };

/** DOCKER_HOST (unix:// or tcp:// without TLS) or the default socket. */
export function dockerTarget(dockerHost: string | undefined): { target: Target; endpoint: string } {
  const raw = dockerHost?.trim() ?? '';
  if (raw === '') return { target: { socketPath: '/var/run/docker.sock' }, endpoint: 'unix:///var/run/docker.sock' };
  if (raw.startsWith('unix://')) return { target: { socketPath: raw.slice('unix://'.length) }, endpoint: raw };
  const m = /^tcp:\/\/([^:/]+)(?::(\d+))?\/?$/.exec(raw);
  if (m) return { target: { host: m[1]!, port: Number(m[2] ?? 2375) }, endpoint: raw };
  throw new DockerError(`DOCKER_HOST=${raw} is not supported here (only unix:// and plain tcp://)`);
}

const API = '/v1.41';
const TIMEOUT_MS = 30_000;

interface RawResponse {
  status: number;
  body: Buffer;
}

function collect(stream: NodeJS.ReadableStream, head?: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = head && head.length > 0 ? [head] : [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('close', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/**
 * Split Docker's multiplexed stream (8-byte frame header: stream type, 3 zero bytes, big-endian
 * length) into stdout and stderr.
 */
export function demux(raw: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let i = 0;
  while (i + 8 <= raw.length) {
    const type = raw[i]!;
    const size = raw.readUInt32BE(i + 4);
    const frame = raw.subarray(i + 8, i + 8 + size);
    (type === 2 ? err : out).push(frame);
    i += 8 + size;
  }
  return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

export function socketDocker(dockerHost: string | undefined): DockerAccess {
  let resolved: { target: Target; endpoint: string } | undefined;
  let resolveError: unknown;
  try {
    resolved = dockerTarget(dockerHost);
  } catch (e) {
    resolveError = e;
  }
  const endpoint = resolved?.endpoint ?? String(dockerHost);

  function call(method: string, path: string, body?: unknown, hijack = false): Promise<RawResponse> {
    if (!resolved) return Promise.reject(resolveError);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = {};
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    if (hijack) {
      headers.connection = 'Upgrade';
      headers.upgrade = 'tcp';
    }
    return new Promise((resolve, reject) => {
      const req = request({ ...resolved!.target, method, path: `${API}${path}`, headers, timeout: TIMEOUT_MS });
      req.on('timeout', () => req.destroy(new DockerError(`Docker API ${method} ${path} timed out`)));
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (e instanceof DockerError) reject(e);
        else reject(new DockerError(`cannot reach Docker at ${endpoint}: ${e.code ?? e.message}`));
      });
      req.on('response', (res: IncomingMessage) => {
        collect(res).then((b) => resolve({ status: res.statusCode ?? 0, body: b }), reject);
      });
      // Exec start with Upgrade: Docker answers 101 and then streams on the raw socket.
      req.on('upgrade', (res: IncomingMessage, socket: Duplex, head: Buffer) => {
        collect(socket, head).then((b) => resolve({ status: res.statusCode ?? 0, body: b }), reject);
      });
      req.end(payload);
    });
  }

  function failure(what: string, r: RawResponse): DockerError {
    let msg = r.body.toString('utf8').trim();
    try {
      const parsed = JSON.parse(msg) as { message?: unknown };
      if (typeof parsed.message === 'string') msg = parsed.message;
    } catch {
      // not JSON: keep the text
    }
    return new DockerError(`Docker API ${what} failed (HTTP ${r.status}): ${msg.slice(0, 300)}`);
  }

  async function json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await call(method, path, body);
    if (r.status < 200 || r.status >= 300) throw failure(`${method} ${path.split('?')[0]}`, r);
    return JSON.parse(r.body.toString('utf8')) as T;
  }

  return {
    endpoint,
    async findServiceContainer(serviceName) {
      const filters = JSON.stringify({ label: [`com.docker.swarm.service.name=${serviceName}`], status: ['running'] });
      const list = await json<{ Id: string; Created: number }[]>('GET', `/containers/json?filters=${encodeURIComponent(filters)}`);
      // Newest first: during a rolling update the new task is the one that serves.
      return [...list].sort((a, b) => b.Created - a.Created)[0]?.Id;
    },
    async exec(containerId, cmd) {
      const created = await json<{ Id: string }>('POST', `/containers/${encodeURIComponent(containerId)}/exec`, {
        AttachStdin: false,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
        Cmd: cmd,
      });
      const started = await call('POST', `/exec/${created.Id}/start`, { Detach: false, Tty: false }, true);
      if (started.status !== 101 && (started.status < 200 || started.status >= 300)) throw failure('exec start', started);
      const { stdout, stderr } = demux(started.body);
      const inspected = await json<{ ExitCode: number | null; Running: boolean }>('GET', `/exec/${created.Id}/json`);
      return { exitCode: inspected.ExitCode ?? -1, stdout, stderr };
    },
  };
}
