// The commented example config.toml (`signalbox config example`) and docs/configuration.md, generated
// from the key declarations (config-schema.ts) and the rules across keys (config-rules.ts).
import { CONFIG_RULES } from './config-rules.js';
import {
  CONFIG_ACME_KEYS,
  CONFIG_EXTENSION_KEYS,
  CONFIG_NGINX_TUNING_KEYS,
  CONFIG_PATTERNS,
  CONFIG_TOP_LEVEL_KEYS,
  configKeyDefault,
  DEFAULT_EXTENSION_NAME,
  EXTENSION_NAME_MAX,
} from './config-schema.js';
import type { ConfigKeySpec } from './config-schema.js';

function tomlString(s: string): string {
  // Literal strings read better for log formats full of double quotes; they cannot hold ' or control chars.
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  if (s.includes('"') && !s.includes("'") && !/[\x00-\x1f\x7f]/.test(s)) return `'${s}'`;
  return JSON.stringify(s);
}

function tomlKey(k: string): string {
  return /^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k);
}

function tomlValue(v: unknown): string {
  if (typeof v === 'string') return tomlString(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.length === 0 ? '[]' : `[${v.map(tomlValue).join(', ')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v);
    return entries.length === 0 ? '{}' : `{ ${entries.map(([k, x]) => `${tomlKey(k)} = ${tomlValue(x)}`).join(', ')} }`;
  }
  throw new TypeError(`no TOML form for ${typeof v}`);
}

function exampleSection(specs: Readonly<Record<string, ConfigKeySpec>>, extensionName?: string): string[] {
  const lines: string[] = [];
  for (const [key, spec] of Object.entries(specs)) {
    lines.push(`# ${spec.description}`, `${key} = ${tomlValue(configKeyDefault(spec, extensionName))}`, '');
  }
  return lines;
}

/** A config.toml that sets every key to its default, each with a one-line comment. */
export function configExample(): string {
  const lines = [
    '# Signalbox config.toml: every key with its default value and a one-line description.',
    "# Key names are Docker Interlock's; see docs/configuration.md for types and allowed values.",
    '# Keys left out take these defaults, so a file with only an [Extensions.default] line is valid.',
    '',
    ...exampleSection(CONFIG_TOP_LEVEL_KEYS),
    '# One [Extensions.NAME] section per extension/proxy pair; at least one is required.',
    `[Extensions.${DEFAULT_EXTENSION_NAME}]`,
    ...exampleSection(CONFIG_EXTENSION_KEYS, DEFAULT_EXTENSION_NAME),
    "# nginx tuning of this extension's proxies.",
    `[Extensions.${DEFAULT_EXTENSION_NAME}.Config]`,
    ...exampleSection(CONFIG_NGINX_TUNING_KEYS),
    '# Certificates from an ACME CA for services labelled com.docker.lb.acme=true (off while DirectoryURL is empty).',
    `[Extensions.${DEFAULT_EXTENSION_NAME}.Acme]`,
    ...exampleSection(CONFIG_ACME_KEYS),
  ];
  while (lines[lines.length - 1] === '') lines.pop();
  return `${lines.join('\n')}\n`;
}

function typeName(spec: ConfigKeySpec): string {
  switch (spec.kind) {
    case 'string':
      return spec.enum ? spec.enum.map((e) => `"${e}"`).join(' \\| ') : 'string';
    case 'integer':
      return `integer ${spec.minimum}–${spec.maximum}`;
    case 'boolean':
      return 'boolean';
    case 'list':
      return 'array of strings';
    case 'map':
      return 'table of strings';
  }
}

function mdCode(s: string): string {
  return s.includes('`') ? `\`\` ${s} \`\`` : `\`${s}\``;
}

function referenceTable(specs: Readonly<Record<string, ConfigKeySpec>>, defaultNote?: (key: string) => string | undefined): string[] {
  const rows = ['| Key | Type | Default | Description |', '|---|---|---|---|'];
  for (const [key, spec] of Object.entries(specs)) {
    const def = defaultNote?.(key) ?? mdCode(tomlValue(configKeyDefault(spec)));
    const pattern = spec.kind === 'string' && spec.pattern ? ` Must be ${CONFIG_PATTERNS[spec.pattern].expect}.` : '';
    const itemPattern = spec.kind === 'list' && spec.itemPattern ? ` Each must be ${CONFIG_PATTERNS[spec.itemPattern].expect}.` : '';
    const check = spec.check ? ` ${spec.check.rule}` : '';
    const examples = spec.examples?.length ? ` E.g. ${spec.examples.map((e) => mdCode(tomlValue(e))).join(', ')}.` : '';
    const cell = `${spec.description}${pattern}${itemPattern}${check}${examples}`.replaceAll('|', '\\|').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
    rows.push(`| \`${key}\` | ${typeName(spec)} | ${def.replaceAll('|', '\\|')} | ${cell} |`);
  }
  return rows;
}

/** docs/configuration.md, generated from the same specs as the schema. */
export function configReferenceMarkdown(): string {
  const perExtensionNote = (key: string): string | undefined => {
    const spec = (CONFIG_EXTENSION_KEYS as Readonly<Record<string, ConfigKeySpec>>)[key];
    return spec?.kind === 'string' && spec.perExtensionDefault ? `${mdCode(`"${spec.default}"`)} in \`[Extensions.default]\`, else ${mdCode(`"${spec.default}-<NAME>"`)}` : undefined;
  };
  const lines = [
    '# Configuration reference',
    '',
    '<!-- Generated by configReferenceMarkdown() in packages/model/src/config-docs.ts; do not edit by hand.',
    '     Regenerate with UPDATE_GOLDEN=1 and the packages/model/test/config tests. -->',
    '',
    "Signalbox reads a `config.toml` with the keys of Docker Interlock's. Every key is optional and",
    'takes the default below when left out; the only requirement is at least one `[Extensions.NAME]`',
    'section. `signalbox config example` prints a file with every key at its default, and',
    '`signalbox config check` validates a file. The JSON Schema is `packages/model/schema/config.schema.json`.',
    '',
    'Unknown keys are errors (with a suggestion for likely typos), as are values of the wrong type or',
    'out of range; all problems are reported at once, each naming the key by its dotted path, e.g.',
    '`Extensions.default.Config.MaxConnections`.',
    '',
    'An Interlock or UCP `config.toml` loads unchanged (see docs/migrating-from-interlock.md), each of',
    'the following reported as a warning (`WARN_CONFIG_*`, docs/errors.md) rather than an error:',
    '',
    "- key names match regardless of case, as Interlock's TOML decoding did (`RlimitNoFile` is `RLimitNoFile`);",
    '  a key given twice in two spellings is an error;',
    '- Interlock keys Signalbox does not need are ignored, each with what Signalbox does instead:',
    '  `HitlessServiceUpdate`, `ConfigImage`, `ConfigServiceName`, and in `[Extensions.NAME.Config]`',
    '  `Version`, `HTTPVersion`, `IPHash`, `AdminUser`, `AdminPass`, `SSLOpts`, `SSLVerify`;',
    "- an `Image`/`ProxyImage` naming one of Interlock's images (or plain `nginx` as `ProxyImage`) is",
    "  replaced by Signalbox's default image;",
    '- log formats written as nginx source (single-quoted pieces ending in `;`, as UCP wrote them) are',
    "  joined, and Interlock's `$reqid` is written `$request_id`;",
    '- empty strings in lists (`Args = [""]`) are dropped;',
    '- constraints on UCP node labels (`node.labels.com.docker.ucp.*`) and contradictory constraints',
    '  (`a==x` with `a==y`) are pointed out: the service they place would stay pending.',
    '',
    "`Args` and `ProxyArgs` are added to the image's command, as with Interlock's images (`-D` turns on",
    'debug logging).',
    '',
    '## Top level',
    '',
    ...referenceTable(CONFIG_TOP_LEVEL_KEYS),
    '',
    '## `[Extensions.NAME]`',
    '',
    `NAME is ${CONFIG_PATTERNS.extensionName.expect}, at most ${EXTENSION_NAME_MAX} characters.`,
    '',
    ...referenceTable(CONFIG_EXTENSION_KEYS, perExtensionNote),
    '',
    '## `[Extensions.NAME.Config]`',
    '',
    "nginx tuning with Interlock's key names. Sizes and times use nginx syntax; strings are written into",
    'nginx.conf, so they may not contain `;`, `{`, `}`, line breaks or NUL.',
    '',
    "`User` defaults to `www-data` rather than Interlock's `nginx`: `www-data` is Debian's web-server user",
    '(uid 33, from base-passwd), so it exists in every Debian-based proxy image: the official',
    "`nginx:*-bookworm` image and the offline base built from Debian's own nginx package, whose",
    '`nginx.conf` runs workers as `www-data`. An `nginx` user exists only where an image creates one.',
    '',
    ...referenceTable(CONFIG_NGINX_TUNING_KEYS),
    '',
    '## `[Extensions.NAME.Acme]`',
    '',
    'Automatic HTTPS for services labelled `com.docker.lb.acme=true` (a Signalbox extension; Interlock had no',
    'such section). ACME is off while `DirectoryURL` is empty. How certificates are obtained, stored and',
    'delivered: docs/tls.md.',
    '',
    ...referenceTable(CONFIG_ACME_KEYS),
    '',
    '## Access logs',
    '',
    'nginx writes one line per request to `AccessLogPath`, in the `main` format (`MainLogFormat`). Where it goes',
    'decides what it costs the node (figures: docs/performance.md, "Client path"; req/s through the deployed',
    'proxy as a share of the same task reached directly, the direct figure taken beside each option):',
    '',
    '| Setting | Read with | Cost |',
    '|---|---|---|',
    '| `AccessLogPath = "/dev/stdout"`, `AccessLogBuffer = "64k"` (the default) | `docker service logs <proxy service>` | Lines leave nginx in 64 KiB writes, at most `AccessLogFlush` (1 s) late: hundreds of lines per write instead of one. 0.93× direct in a run at load 15, 0.59× at load 5 (where even `off` gave 0.67×: the proxy itself, not the log, limits it there). The container runtime still stores every line (json-file: one JSON record each). Only one worker should write to the pipe with buffers above 4 KiB (`WorkerProcesses = 1`, the default); with more, use `"4k"`, whose writes stay whole (0.57–0.72× in two noisy runs). |',
    '| `AccessLogBuffer = "0"` (the default before) | `docker service logs` | A write per request, each line visible at once; the most expensive: 0.32–0.43× direct in every run, well below the others. |',
    '| `AccessLogBuffer = "4k"` | `docker service logs` | Writes up to 4 KiB stay whole in the shared pipe with any number of workers; more writes than 64k. |',
    '| `AccessLogPath = "/tmp/access.log"` (any file in the proxy container) | `docker exec <proxy task> tail -f /tmp/access.log` | No container runtime in the path, only nginx\'s buffered writes (0.91× at load 15, 0.54× at load 5). The file lives in the task\'s writable layer, goes with the task, and grows until rotated (move it, then send nginx `USR1`). |',
    '| `ProxyMounts = ["signalbox-logs:/var/log/signalbox"]` and `AccessLogPath = "/var/log/signalbox/access.log"` (a file on a volume) | the file in the volume on the node (`docker volume inspect signalbox-logs`), e.g. for a log shipper | As cheap as the file in the container (0.59× at load 5, beside 0.54× and the default\'s 0.59×), and the file outlives the task. Rotation as above. |',
    "| `AccessLogPath = \"syslog:server=127.0.0.1:5140,nohostname\"` (syslog to the agent) | `docker service logs` | nginx sends each line as one UDP datagram to the proxy agent (which listens on 127.0.0.1:5140 in the proxy container), and the agent writes everything that arrived in one turn of its event loop to its stdout in one write. nginx cannot buffer syslog (`AccessLogBuffer` is ignored): a `sendto` per request, plus the agent's work. The most expensive option before the runtime: 16–21 µs of CPU per request (nginx 11–14, agent 5–7) against 7 µs for the default and 7–8 for off (`scripts/bench/accesslog.sh`, local nginx, without the runtime's share, which the default pays too); on the client path 0.38× direct beside 0.58× for off (load 10). For operators who want the lines in the agent's log stream; otherwise prefer the default or a file. |",
    '| `AccessLogPath = ""` | nothing | `access_log off`: no per-request cost. The error log (`ErrorLogPath`) stays. |',
    '',
    "A cheaper Docker log driver (e.g. `local`) for the proxy service lowers the runtime's share of the default setting while keeping `docker service logs`.",
    '',
    '## Rules across keys',
    '',
    "Checked after the schema and each key's own rule (in the tables above), on values that passed them:",
    '',
    ...CONFIG_RULES.map((r) => `- ${r.rule}`),
    '',
    '## Error codes',
    '',
    '| Code | Meaning |',
    '|---|---|',
    '| `ERR_CONFIG_TOML` | The file is not valid TOML; the message gives line and column. |',
    '| `ERR_CONFIG_UNKNOWN_KEY` | A key Signalbox does not know, usually a typo. |',
    '| `ERR_CONFIG_TYPE` | A value of the wrong type, e.g. a string where an integer is expected. |',
    '| `ERR_CONFIG_VALUE` | A value out of range, not in the allowed set, or not of the required form. |',
    '| `ERR_DIRECTIVE_FORBIDDEN` | A raw option line uses a directive no option may use (the list above); the extension refuses it in rendered configs with the same code. |',
    '| `ERR_CONFIG_SEMANTIC` | A rule beyond the schema: durations, addresses, signals, constraints, TLS files all-or-none, uniqueness across extensions. |',
    "| `ERR_CONFIG_INTERNAL` | A bug in Signalbox's config checker; please report it with the file. |",
    '| `WARN_CONFIG_*` | Accepted, with a note: see docs/errors.md. |',
    '',
  ];
  return lines.join('\n');
}
