// The `signalbox` command. buildCli(deps) does all the work against injected I/O so tests need no
// process, files on disk, network or Docker; main.ts wires in the real ones.
import { parseArgs } from 'node:util';
import { configExample, displayValue, explainConfig, formatDiagnostic, parseConfig } from '@signalbox/model';
import type { Diagnostic } from '@signalbox/model';
import { CoreUnreachable, execCore, fetchCore } from './core-client.js';
import { DashboardUnavailable, dashboardUrl, findDashboard } from './dashboard.js';
import type { CoreClient } from './core-client.js';
import { DockerError } from './docker-socket.js';
import type { DockerAccess } from './docker-socket.js';
import { formatFinding, lintFiles } from './lint.js';
import type { LintInput } from './lint.js';
import { collectStatus, formatStatus, isRejected, plural } from './status.js';

export interface CliDeps {
  /** Write to standard output (text carries its own newlines). */
  stdout(text: string): void;
  stderr(text: string): void;
  readFile(path: string): Promise<string>;
  fetch: typeof fetch;
  env: Readonly<Record<string, string | undefined>>;
  docker: DockerAccess;
}

export const EXIT_OK = 0;
export const EXIT_FINDINGS = 1;
export const EXIT_USAGE = 2;

export const USAGE = `Usage: signalbox <command> [options]

Commands:
  lint [--format text|json] [--strict] [--stack NAME] FILE...
        Check the com.docker.lb.* labels of compose/stack files offline.
  status [--json] [--core URL] [--fail-on-rejected]
        Routes and rejected services of the running cluster, from core.
  dashboard [--host HOST]
        Print the dashboard's URL, with the token the browser needs.
  config check [--explain] [--format text|json] FILE
        Validate a config.toml (Signalbox's or Interlock's) as core will.
  config example
        Print a config.toml with every key at its default.
  help [COMMAND]
        Show this help, or a command's.

Exit codes: 0 ok, 1 problems found (or invalid input), 2 usage error or core unreachable.
See docs/cli.md.
`;

const HELP: Record<string, string> = {
  lint: `Usage: signalbox lint [--format text|json] [--strict] [--stack NAME] FILE...

Reads compose/stack YAML files and checks each service's deploy.labels as core will decode them,
com.docker.lb.* labels misplaced under the container labels:, com.docker.lb.network against the
file's networks, and conflicts between services (same host and path with different options, two
default backends, a host both passed through and terminated). Variables (\${VAR:-default}) are
substituted from the environment, as docker stack deploy does.

  --format json print the findings as a JSON array (--json is the same)
  --strict      warnings fail too (exit 1)
  --stack NAME  the stack name the files will be deployed as; network names are then checked
                exactly (NAME_front) instead of accepting front or any *_front

Exit: 0 no errors, 1 errors (or warnings with --strict), 2 usage error.
`,
  status: `Usage: signalbox status [--json] [--core URL] [--fail-on-rejected]

Asks core for its routes (per extension) and every labelled service's status.
Core is reached at --core URL or $SIGNALBOX_CORE_URL when given, with the API token from
$SIGNALBOX_API_TOKEN or the file $SIGNALBOX_API_TOKEN_FILE names; otherwise through the Docker
socket: the running container of service \${SIGNALBOX_STACK:-signalbox}_core on this node is found
and the requests are run inside it with core's own token (core publishes no port). Run it on the
manager where core runs.

  --json              print {routes, services}
  --core URL          core's base URL, e.g. http://10.0.0.5:8080
  --fail-on-rejected  exit 1 when any service is rejected

Exit: 0 ok (even with rejected services), 1 rejected services with --fail-on-rejected,
2 usage error or core unreachable.
`,
  dashboard: `Usage: signalbox dashboard [--host HOST]

Prints the URL of the dashboard core serves (routes, rejected services, config history, proxies),
e.g. http://127.0.0.1:8090/#token=… The token is the Docker secret signalbox-api-token-<version>, read inside
core's container (found as for status: service \${SIGNALBOX_STACK:-signalbox}_core on this node); it
rides in the URL fragment, which the browser never sends to a server. Run it on the manager where
core runs. The URL gives read access to routing data: share it as you would the token.

  --host HOST   the host name in the URL (default 127.0.0.1: the port is published on core's node)

Exit: 0 ok, 2 usage error or core/dashboard unreachable.
`,
  config: `Usage: signalbox config check [--explain] [--format text|json] FILE
       signalbox config example

check    validate a config.toml as core will (exit 1 when invalid). An Interlock/UCP config.toml
         loads unchanged: what Signalbox ignores or rewrites is reported as a warning.
           --explain      also print, for every key the file sets, how Signalbox treats it
                          compared with Interlock: same, rewritten, ignored, replaced,
                          different, new or refused (see docs/migrating-from-interlock.md)
           --format json  print {file, ok, errors, warnings[, keys]} as JSON
example  print a config.toml with every key at its default and a comment
`,
};
HELP.help = USAGE;

class UsageError extends Error {
  override readonly name = 'UsageError';
}

function outputFormat(format: string | undefined, json: boolean | undefined): 'text' | 'json' {
  if (format === undefined) return json ? 'json' : 'text';
  if (format !== 'text' && format !== 'json') throw new UsageError(`--format ${JSON.stringify(format)} is not text or json`);
  return format;
}

function parse<T extends Record<string, { type: 'boolean' | 'string' }>>(args: string[], options: T) {
  try {
    return parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message.split('\n')[0]! : String(e));
  }
}

export interface Cli {
  /** Run with argv (without node and script); resolves to the exit code. Never rejects. */
  run(argv: readonly string[]): Promise<number>;
}

export function buildCli(deps: CliDeps): Cli {
  const out = (s: string): void => deps.stdout(s.endsWith('\n') ? s : `${s}\n`);
  const err = (s: string): void => deps.stderr(s.endsWith('\n') ? s : `${s}\n`);

  async function lint(args: string[]): Promise<number> {
    const { values, positionals } = parse(args, { json: { type: 'boolean' }, format: { type: 'string' }, strict: { type: 'boolean' }, stack: { type: 'string' } });
    if (values.help) return help('lint');
    const json = outputFormat(values.format, values.json) === 'json';
    if (positionals.length === 0) throw new UsageError('lint needs at least one FILE');
    const stack = values.stack;
    if (stack !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(stack)) throw new UsageError(`--stack ${JSON.stringify(stack)} is not a valid stack name`);
    const inputs: LintInput[] = await Promise.all(
      positionals.map(async (file): Promise<LintInput> => {
        try {
          return { file, text: await deps.readFile(file) };
        } catch (e) {
          return { file, readError: (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e)) };
        }
      }),
    );
    const result = lintFiles(inputs, stack === undefined ? { env: deps.env } : { env: deps.env, stack });
    if (json) {
      out(
        JSON.stringify(
          result.findings.map(({ file, service, severity, code, key, value, message, line }) => ({ file, service, severity, code, key, value, message, line })),
          null,
          2,
        ),
      );
    } else {
      for (const f of result.findings) out(formatFinding(f));
      out(`${plural(result.files, 'file')}, ${plural(result.services, 'service')} with com.docker.lb.* labels: ${plural(result.errors, 'error')}, ${plural(result.warnings, 'warning')}`);
    }
    return result.errors > 0 || (values.strict && result.warnings > 0) ? EXIT_FINDINGS : EXIT_OK;
  }

  /** --core URL needs the token: $SIGNALBOX_API_TOKEN, or the file $SIGNALBOX_API_TOKEN_FILE names. */
  async function apiToken(): Promise<string | undefined> {
    const direct = deps.env.SIGNALBOX_API_TOKEN?.trim();
    if (direct) return direct;
    const file = deps.env.SIGNALBOX_API_TOKEN_FILE?.trim();
    if (!file) return undefined;
    try {
      return (await deps.readFile(file)).trim();
    } catch (e) {
      throw new UsageError(`cannot read SIGNALBOX_API_TOKEN_FILE ${JSON.stringify(file)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }

  async function coreClient(url: string | undefined): Promise<CoreClient> {
    const base = url ?? (deps.env.SIGNALBOX_CORE_URL?.trim() || undefined);
    if (base !== undefined) {
      let parsed: URL;
      try {
        parsed = new URL(base);
      } catch {
        throw new UsageError(`core URL ${JSON.stringify(base)} is not a URL (expected e.g. http://10.0.0.5:8080)`);
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UsageError(`core URL ${JSON.stringify(base)} must be http:// or https://`);
      return fetchCore(base, deps.fetch, await apiToken());
    }
    const stack = deps.env.SIGNALBOX_STACK?.trim() || 'signalbox';
    const service = `${stack}_core`;
    let id: string | undefined;
    try {
      id = await deps.docker.findServiceContainer(service);
    } catch (e) {
      throw new CoreUnreachable(`${e instanceof Error ? e.message : String(e)}; run signalbox status on the manager node where ${service} runs (with access to the Docker socket), or pass --core URL`);
    }
    if (id === undefined) {
      throw new CoreUnreachable(
        `no running container of service ${service} on this node (asked Docker at ${deps.docker.endpoint}); run signalbox status on the manager node where core runs (docker service ps ${service}), set SIGNALBOX_STACK if the stack has another name, or pass --core URL`,
      );
    }
    return execCore(deps.docker, id, service);
  }

  async function status(args: string[]): Promise<number> {
    const { values, positionals } = parse(args, { json: { type: 'boolean' }, core: { type: 'string' }, 'fail-on-rejected': { type: 'boolean' } });
    if (values.help) return help('status');
    if (positionals.length > 0) throw new UsageError(`status takes no arguments (got ${positionals.join(' ')})`);
    try {
      const client = await coreClient(values.core);
      const report = await collectStatus(client);
      if (values.json) out(JSON.stringify(report, null, 2));
      else out(formatStatus(report));
      return values['fail-on-rejected'] && report.services.some(isRejected) ? EXIT_FINDINGS : EXIT_OK;
    } catch (e) {
      if (e instanceof CoreUnreachable || e instanceof DockerError) {
        err(`signalbox status: ${e.message}`);
        return EXIT_USAGE;
      }
      throw e;
    }
  }

  async function dashboard(args: string[]): Promise<number> {
    const { values, positionals } = parse(args, { host: { type: 'string' } });
    if (values.help) return help('dashboard');
    if (positionals.length > 0) throw new UsageError(`dashboard takes no arguments (got ${positionals.join(' ')})`);
    const host = values.host ?? '127.0.0.1';
    if (!/^[A-Za-z0-9.:[\]-]+$/.test(host)) throw new UsageError(`--host ${JSON.stringify(host)} is not a host name or address`);
    const service = `${deps.env.SIGNALBOX_STACK?.trim() || 'signalbox'}_core`;
    try {
      const id = await deps.docker.findServiceContainer(service);
      if (id === undefined)
        throw new DashboardUnavailable(`no running container of service ${service} on this node (asked Docker at ${deps.docker.endpoint}); run signalbox dashboard on the manager where core runs`);
      const { port, token } = await findDashboard(deps.docker, id, service);
      out(dashboardUrl(host, port, token));
      return EXIT_OK;
    } catch (e) {
      if (e instanceof DashboardUnavailable || e instanceof DockerError) {
        err(`signalbox dashboard: ${e.message}`);
        return EXIT_USAGE;
      }
      throw e;
    }
  }

  async function config(args: string[]): Promise<number> {
    const { values, positionals } = parse(args, { explain: { type: 'boolean' }, format: { type: 'string' } });
    const json = outputFormat(values.format, false) === 'json';
    const [sub, ...rest] = positionals;
    if (values.help || sub === undefined) {
      if (values.help) return help('config');
      throw new UsageError('config needs a subcommand: check FILE or example');
    }
    if (sub === 'example') {
      if (rest.length > 0) throw new UsageError('config example takes no arguments');
      out(configExample());
      return EXIT_OK;
    }
    if (sub !== 'check') throw new UsageError(`unknown config subcommand ${JSON.stringify(sub)} (expected check or example)`);
    if (rest.length !== 1) throw new UsageError('config check needs exactly one FILE');
    const file = rest[0]!;
    let text: string;
    try {
      text = await deps.readFile(file);
    } catch (e) {
      out(`${file}: cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e))}`);
      return EXIT_FINDINGS;
    }
    const result = parseConfig(text, file);
    const keys = values.explain ? explainConfig(text) : undefined;
    if (json) {
      const shape = (d: Diagnostic) => ({ severity: d.severity, code: d.code, key: d.key, value: d.value, message: d.message });
      const report: Record<string, unknown> = { file, ok: result.ok, errors: result.ok ? [] : result.errors.map(shape), warnings: result.warnings.map(shape) };
      if (keys) report.keys = keys;
      out(JSON.stringify(report, null, 2));
      return result.ok ? EXIT_OK : EXIT_FINDINGS;
    }
    if (keys) {
      const width = Math.max(...keys.map((k) => k.key.length), 3);
      for (const k of keys) out(`${k.key.padEnd(width)}  ${k.verdict.padEnd(9)}  ${k.note}`.trimEnd());
    }
    // The TOML syntax diagnostic's key is the file itself: don't print it twice.
    const line = (d: Diagnostic): string => (d.key !== file ? formatDiagnostic(d) : d.value === undefined ? d.message : `"${displayValue(d.value)}" ${d.message}`);
    if (!keys) for (const w of result.warnings) out(`${file}: warning: ${line(w)}`);
    if (result.ok) {
      const warned = result.warnings.length > 0 ? `, ${plural(result.warnings.length, 'warning')}` : '';
      out(`${file}: ok (${plural(Object.keys(result.config.Extensions).length, 'extension')}${warned})`);
      return EXIT_OK;
    }
    for (const d of result.errors) out(`${file}: ${line(d)}`);
    return EXIT_FINDINGS;
  }

  function help(topic?: string): number {
    const text = topic === undefined ? USAGE : HELP[topic];
    if (text === undefined) throw new UsageError(`no help for unknown command ${JSON.stringify(topic)}`);
    out(text);
    return EXIT_OK;
  }

  return {
    async run(argv) {
      const [cmd, ...rest] = argv;
      try {
        switch (cmd) {
          case undefined:
            err(USAGE);
            return EXIT_USAGE;
          case 'help':
          case '--help':
          case '-h':
            if (rest.length > 1) throw new UsageError('help takes at most one COMMAND');
            return help(rest[0]);
          case 'lint':
            return await lint(rest);
          case 'status':
            return await status(rest);
          case 'config':
            return await config(rest);
          case 'dashboard':
            return await dashboard(rest);
          default:
            throw new UsageError(`unknown command ${JSON.stringify(cmd)}`);
        }
      } catch (e) {
        if (e instanceof UsageError) {
          const known = cmd !== undefined && cmd !== 'help' ? HELP[cmd] : undefined;
          err(known ? `signalbox: ${e.message}\n${known.split('\n\n')[0]}\nRun 'signalbox help ${cmd}' for details.` : `signalbox: ${e.message}\n\n${USAGE}`);
          return EXIT_USAGE;
        }
        err(`signalbox: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        return EXIT_FINDINGS;
      }
    },
  };
}
