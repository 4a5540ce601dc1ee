// `signalbox dashboard`: the URL of the dashboard core serves, with the API token in its #token=
// fragment (read from core's own secret file, since Docker never hands a secret back).
import type { DockerAccess } from './docker-socket.js';

/**
 * Runs inside core's container: prints {token, port} as JSON. The port is the published one the stack
 * tells core (SIGNALBOX_DASHBOARD_PUBLISHED_PORT), else the port of SIGNALBOX_DASHBOARD_ADDR.
 */
export const DASHBOARD_SCRIPT = [
  "const fs=require('fs');const e=process.env;",
  "const file=e.SIGNALBOX_API_TOKEN_FILE||'/run/secrets/signalbox-api-token';",
  "let token='';try{token=fs.readFileSync(file,'utf8').trim();}catch(x){}",
  "const addr=e.SIGNALBOX_DASHBOARD_ADDR||':8090';",
  "const port=e.SIGNALBOX_DASHBOARD_PUBLISHED_PORT||(/:(\\d+)$/.exec(addr)||[])[1]||'';",
  "process.stdout.write(JSON.stringify({token,file,port,off:addr==='off'}));",
].join('');

export class DashboardUnavailable extends Error {
  override readonly name = 'DashboardUnavailable';
}

export function dashboardUrl(host: string, port: string, token: string): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `http://${h}:${port}/#token=${encodeURIComponent(token)}`;
}

/** Asks core's container for the token and port; throws DashboardUnavailable with what to fix. */
export async function findDashboard(docker: DockerAccess, containerId: string, service: string): Promise<{ port: string; token: string }> {
  const r = await docker.exec(containerId, ['node', '-e', DASHBOARD_SCRIPT]);
  if (r.exitCode !== 0)
    throw new DashboardUnavailable(`could not ask ${service} (${containerId.slice(0, 12)}) for the dashboard: ${r.stderr.trim().split('\n').slice(-2).join(' ') || `exit code ${r.exitCode}`}`);
  let o: { token?: string; file?: string; port?: string; off?: boolean };
  try {
    o = JSON.parse(r.stdout) as typeof o;
  } catch {
    throw new DashboardUnavailable(`unexpected answer from ${service}: ${r.stdout.slice(0, 200)}`);
  }
  if (o.off) throw new DashboardUnavailable(`the dashboard is off in ${service} (SIGNALBOX_DASHBOARD_ADDR=off)`);
  if (!o.token)
    throw new DashboardUnavailable(`${service} has no API token at ${o.file}: deploy with ./scripts/up.sh, which creates the Docker secret signalbox-api-token-<version> and mounts it into core`);
  if (!o.port) throw new DashboardUnavailable(`${service} does not say which port the dashboard is published on (SIGNALBOX_DASHBOARD_PUBLISHED_PORT)`);
  return { port: o.port, token: o.token };
}
