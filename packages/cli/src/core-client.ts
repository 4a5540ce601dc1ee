// Two ways to ask core's API a few GETs: plain fetch to a URL (--core / SIGNALBOX_CORE_URL), or,
// since core publishes no port, a `node -e` run inside core's own container via the Docker API.
import type { DockerAccess } from './docker-socket.js';

export interface CoreResponse {
  path: string;
  status: number;
  body: string;
}

export interface CoreClient {
  /** Where the answers come from, for messages. */
  readonly description: string;
  /** GET every path (in parallel where possible); answers in the same order. */
  getAll(paths: readonly string[]): Promise<CoreResponse[]>;
}

/** Core could not be reached or answered nonsense; `status` exits 2 with this message. */
export class CoreUnreachable extends Error {
  override readonly name = 'CoreUnreachable';
}

/** `token`: the API token (core refuses other requests with 401). */
export function fetchCore(baseUrl: string, fetchImpl: typeof fetch, token?: string): CoreClient {
  const base = baseUrl.replace(/\/+$/, '');
  return {
    description: base,
    async getAll(paths) {
      return Promise.all(
        paths.map(async (path) => {
          let res: Response;
          try {
            const auth: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
            res = await fetchImpl(`${base}${path}`, { headers: { accept: 'application/json', ...auth }, signal: AbortSignal.timeout(15_000) });
          } catch (e) {
            const cause = e instanceof Error && e.cause instanceof Error ? ` (${e.cause.message})` : '';
            throw new CoreUnreachable(`cannot reach core at ${base}: ${e instanceof Error ? e.message : String(e)}${cause}`);
          }
          return { path, status: res.status, body: await res.text() };
        }),
      );
    },
  };
}

/**
 * Runs inside core's container (core's image has node ≥ 20, so fetch exists). Reads ListenAddr from
 * core's own config.toml to find the port (default :8080) and the API token from core's own secret
 * (SIGNALBOX_API_TOKEN_FILE), GETs each path given as an argument and prints one JSON array of
 * {path, status, body}. The token never leaves core's container.
 */
export const IN_CONTAINER_SCRIPT = [
  "const fs=require('fs');",
  "let host='127.0.0.1',port='8080';",
  "try{const m=/^\\s*ListenAddr\\s*=\\s*[\"']([^\"']*)[\"']/m.exec(fs.readFileSync(process.env.SIGNALBOX_CONFIG||'/config.toml','utf8'));",
  "if(m){const a=/^(.*):(\\d+)$/.exec(m[1]);if(a){port=a[2];const h=a[1].replace(/^\\[|\\]$/g,'');",
  "if(h&&h!=='0.0.0.0'&&h!=='::'&&h!=='localhost')host=h.includes(':')?'['+h+']':h;}}}catch(e){}",
  "let headers={};try{headers={authorization:'Bearer '+fs.readFileSync(process.env.SIGNALBOX_API_TOKEN_FILE||'/run/secrets/signalbox-api-token','utf8').trim()};}catch(e){}",
  'Promise.all(process.argv.slice(1).map(async(p)=>{const r=await fetch(`http://${host}:${port}${p}`,{headers,signal:AbortSignal.timeout(15000)});',
  'return{path:p,status:r.status,body:await r.text()};}))',
  '.then((x)=>process.stdout.write(JSON.stringify(x)),(e)=>{process.stderr.write(`http://${host}:${port}: ${e&&e.cause?e.cause.message:e}`);process.exit(3);});',
].join('');

export function execCore(docker: DockerAccess, containerId: string, serviceName: string): CoreClient {
  return {
    description: `container ${containerId.slice(0, 12)} of service ${serviceName} (via ${docker.endpoint})`,
    async getAll(paths) {
      const r = await docker.exec(containerId, ['node', '-e', IN_CONTAINER_SCRIPT, ...paths]);
      if (r.exitCode !== 0) {
        const why = r.stderr.trim().split('\n').slice(-3).join(' ') || `exit code ${r.exitCode}`;
        throw new CoreUnreachable(`could not query core inside ${serviceName} (${containerId.slice(0, 12)}): ${why}`);
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(r.stdout);
      } catch {
        throw new CoreUnreachable(`unexpected output from the query inside ${serviceName}: ${r.stdout.slice(0, 200)}`);
      }
      if (!Array.isArray(parsed) || parsed.length !== paths.length) {
        throw new CoreUnreachable(`unexpected output from the query inside ${serviceName}: ${r.stdout.slice(0, 200)}`);
      }
      return parsed as CoreResponse[];
    },
  };
}
