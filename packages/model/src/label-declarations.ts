// One declaration per com.docker.lb.* label: its value syntax, documentation, example, JSON Schema
// fragment, error code and parser. Everything else is driven by this table: the decoder (labels.ts)
// runs each label's parser and reports with its code, labels-schema.ts builds the JSON Schema
// (packages/model/schema/labels.schema.json), scripts/gen-label-docs.mjs writes docs/labels.md, and
// `signalbox lint` decodes through the same decoder. Rules between labels are in label-rules.ts.
//
// A new label: add an entry here (in documentation order), its field to RouteSpec (labels-types.ts)
// and buildSpec (label-rules.ts; an optional label's default to ROUTE_SPEC_DEFAULTS there), then
// regenerate the schema file and docs/labels.md.
// labels.test.ts checks that each schema fragment accepts exactly what its parser accepts.
import type { LabelCode } from './label-codes.js';
import type { Parser } from './label-parsers.js';
import {
  enumParser,
  parseBool,
  parseCluster,
  parseContextRoot,
  parseCookie,
  parseFailTimeout,
  parseHosts,
  parseMaxFails,
  parseNetwork,
  parsePort,
  parseRedirects,
  parseSecret,
  parseWebsocketEndpoints,
} from './label-parsers.js';
import { LABEL_BOOL_FALSE_VALUES, LABEL_BOOL_TRUE_VALUES, LABEL_PATTERNS } from './label-syntax.js';

export interface LabelDeclaration<T> {
  /** Accepted value syntax, one line (docs, the schema's description, hints). */
  value: string;
  /** What the label does. */
  description: string;
  /** A valid example value. */
  example: string;
  /** Other labels the example needs to decode (hosts and port are added, except for default_backend). */
  exampleWith?: Readonly<Record<string, string>>;
  /** JSON Schema of the trimmed value: a pattern or an enum; it accepts what `parse` accepts. */
  schema: { pattern: string } | { enum: readonly string[] };
  /** The code of every error `parse` reports. */
  code: LabelCode;
  /** Checks and normalises the trimmed value. */
  parse: Parser<T>;
}

/** Keeps each declaration's value type (for the typed fields of the decoder). */
function label<T>(declaration: LabelDeclaration<T>): LabelDeclaration<T> {
  return declaration;
}

const BOOL_VALUE = 'boolean: true|false (also 1|0, t|f, T|F, TRUE|FALSE, True|False)';
const BOOL = { enum: [...LABEL_BOOL_TRUE_VALUES, ...LABEL_BOOL_FALSE_VALUES] } as const;
const bool = (description: string, exampleWith?: Record<string, string>): LabelDeclaration<boolean> => ({
  value: BOOL_VALUE,
  description,
  example: 'true',
  ...(exampleWith ? { exampleWith } : {}),
  schema: BOOL,
  code: 'ERR_LABEL_BOOL_INVALID',
  parse: parseBool,
});

const CERT_EXAMPLE = 'app.example.com.cert';
const KEY_EXAMPLE = 'app.example.com.key';
const SECRET_VALUE = 'Docker secret name: [a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}';

/** Every label Signalbox understands (Interlock's set), in documentation order. */
export const LABELS = {
  hosts: label({
    value: "comma-separated host names (RFC 1123, ASCII; IDNs in punycode xn-- form); an optional leading '*.' wildcard",
    description:
      'Host names the service answers for. Case-insensitive: stored lower-cased, de-duplicated and sorted. ' + 'Required unless default_backend=true. No ports, schemes, paths or trailing dots.',
    example: 'app.example.com,www.example.com',
    schema: { pattern: LABEL_PATTERNS.hosts },
    code: 'ERR_LABEL_HOST_INVALID',
    parse: parseHosts,
  }),
  port: label({
    value: 'integer 1-65535 (no sign, no leading zero)',
    description: "Port the service's tasks listen on (the container port, not a published port). Required.",
    example: '8080',
    schema: { pattern: LABEL_PATTERNS.port },
    code: 'ERR_LABEL_PORT_INVALID',
    parse: parsePort,
  }),
  network: label({
    value: 'Docker network name: [a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}',
    description:
      'Network the proxy uses to reach the service; needed when the service is attached to more than one network. ' +
      'That the network exists and the service is attached to it is checked when the routing model is built.',
    example: 'app-net',
    schema: { pattern: LABEL_PATTERNS.network },
    code: 'ERR_LABEL_NETWORK_INVALID',
    parse: parseNetwork,
  }),
  context_root: label({
    value: "absolute path: '/' then segments of [A-Za-z0-9._~-] or %XX escapes; no '//', '.' or '..' segments; at most 1024 characters",
    description: "Serve the service only under this path prefix, e.g. /api. A trailing slash is removed; a bare '/' means no context root.",
    example: '/api',
    schema: { pattern: LABEL_PATTERNS.path },
    code: 'ERR_LABEL_PATH_INVALID',
    parse: parseContextRoot,
  }),
  context_root_rewrite: bool('Strip the context root before forwarding (the service sees /users for a request to /api/users). Requires context_root.', { context_root: '/api' }),
  sticky_session_cookie: label({
    value: 'cookie name: [A-Za-z0-9_.-]{1,128}',
    description: 'Pin each client to one task by hashing this cookie. Needs backend_mode=task; cannot be combined with ip_hash.',
    example: 'session',
    schema: { pattern: LABEL_PATTERNS.cookie },
    code: 'ERR_LABEL_COOKIE_INVALID',
    parse: parseCookie,
  }),
  ip_hash: bool('Pin each client to one task by its IP address. Needs backend_mode=task; cannot be combined with sticky_session_cookie.'),
  ssl_cert: label({
    value: SECRET_VALUE,
    description: 'Secret holding the PEM certificate (chain) for the hosts; the proxy terminates TLS. Needs ssl_key. ' + 'That the secret exists is checked when the routing model is built.',
    example: CERT_EXAMPLE,
    exampleWith: { ssl_key: KEY_EXAMPLE },
    schema: { pattern: LABEL_PATTERNS.secret },
    code: 'ERR_LABEL_SECRET_INVALID',
    parse: parseSecret,
  }),
  ssl_key: label({
    value: SECRET_VALUE,
    description: 'Secret holding the PEM private key matching ssl_cert. Needs ssl_cert.',
    example: KEY_EXAMPLE,
    exampleWith: { ssl_cert: CERT_EXAMPLE },
    schema: { pattern: LABEL_PATTERNS.secret },
    code: 'ERR_LABEL_SECRET_INVALID',
    parse: parseSecret,
  }),
  ssl_only: bool(
    'Redirect plain HTTP requests to HTTPS with a 302, as Interlock did, to the SSLRedirectPort of config.toml (default PublishedSSLPort). Requires ssl_cert and ssl_key, or ssl_passthrough=true.',
    { ssl_cert: CERT_EXAMPLE, ssl_key: KEY_EXAMPLE },
  ),
  ssl_passthrough: bool(
    'Forward TLS connections untouched, routed by SNI host name; the service terminates TLS itself. ' +
      'Cannot be combined with context_root, sticky_session_cookie, websocket_endpoints, ssl_cert, ssl_key, ssl_backend or redirects.',
    { port: '8443' },
  ),
  ssl_backend: bool('Connect to the service over TLS (the proxy re-encrypts).', { port: '8443' }),
  ssl_backend_tls_verify: label({
    value: 'none | required',
    description: "Whether the proxy verifies the service's certificate when ssl_backend=true. Default none; required needs ssl_backend=true.",
    example: 'required',
    exampleWith: { ssl_backend: 'true', port: '8443' },
    schema: { enum: ['none', 'required'] },
    code: 'ERR_LABEL_ENUM_INVALID',
    parse: enumParser(['none', 'required'] as const),
  }),
  websocket_endpoints: label({
    value: 'comma-separated paths, same rules as context_root',
    description:
      'Path prefixes that carry WebSocket upgrades, as in Interlock: /ws also upgrades /ws/room and /ws?x=1 (an endpoint equal to the context root, or /, matches exactly). Normalised, de-duplicated and sorted; must lie under context_root when one is set.',
    example: '/ws,/live/updates',
    schema: { pattern: LABEL_PATTERNS.pathList },
    code: 'ERR_LABEL_PATH_INVALID',
    parse: parseWebsocketEndpoints,
  }),
  redirects: label({
    value: "source,target pairs separated by ';' (a trailing ';' is allowed); each an absolute http:// or https:// URL without user info, quotes, spaces, '$', '#', ';', '{', '}' or backslashes",
    description: 'Redirect requests for the source URL (matched on its host) to the target URL. The source has no query and no port.',
    example: 'http://old.example.com,https://app.example.com',
    schema: { pattern: LABEL_PATTERNS.redirects },
    code: 'ERR_LABEL_REDIRECT_INVALID',
    parse: parseRedirects,
  }),
  default_backend: bool('Send requests for host names no service claims to this service. hosts becomes optional.'),
  backend_mode: label({
    value: 'task | vip',
    description: "task (default): the proxy balances over the service's task IPs. vip: the proxy sends everything to the service's virtual IP " + 'and swarm balances (no sticky sessions or ip_hash).',
    example: 'vip',
    schema: { enum: ['task', 'vip'] },
    code: 'ERR_LABEL_ENUM_INVALID',
    parse: enumParser(['task', 'vip'] as const),
  }),
  service_cluster: label({
    value: 'name: [a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}',
    description: 'Which proxy cluster serves the service: the extension whose ServiceCluster (config.toml) has this value. ' + 'Absent: the cluster whose ServiceCluster is empty.',
    example: 'blue',
    schema: { pattern: LABEL_PATTERNS.secret },
    code: 'ERR_LABEL_SERVICE_CLUSTER_INVALID',
    parse: parseCluster,
  }),
  max_fails: label({
    value: 'integer 0-1000',
    description: 'nginx max_fails: failed attempts within fail_timeout after which a task is considered down (0 disables).',
    example: '3',
    schema: { pattern: LABEL_PATTERNS.maxFails },
    code: 'ERR_LABEL_MAX_FAILS_INVALID',
    parse: parseMaxFails,
  }),
  fail_timeout: label({
    value: 'nginx time in whole seconds: 1-6 digits and an optional unit s, m, h or d (seconds when absent; nginx refuses ms here)',
    description: 'nginx fail_timeout: the window for max_fails and how long a failed task is skipped.',
    example: '10s',
    schema: { pattern: LABEL_PATTERNS.failTimeout },
    code: 'ERR_LABEL_FAIL_TIMEOUT_INVALID',
    parse: parseFailTimeout,
  }),
  // Signalbox extension (not an Interlock label): certificates from the ACME CA of config.toml.
  acme: bool(
    'Signalbox extension, not an Interlock label. Obtain a certificate for each of the hosts from the ACME CA configured in ' +
      '[Extensions.NAME.Acme] (HTTP-01) and serve them over TLS once issued (plain HTTP until then). Hosts with an explicit ' +
      'ssl_cert keep it; wildcards, passthrough hosts and hosts outside the AllowedHosts patterns are refused with a WARN_ACME_* ' +
      'reason in signalbox status. See docs/tls.md.',
  ),
};

export type KnownLabel = keyof typeof LABELS;
/** The parsed value type of each label. */
export type LabelValue<L extends KnownLabel> = (typeof LABELS)[L] extends LabelDeclaration<infer T> ? T : never;

/** Every label suffix Signalbox understands, in documentation order. */
export const KNOWN_LABELS: readonly KnownLabel[] = Object.keys(LABELS) as KnownLabel[];

export interface LabelDoc {
  /** Accepted value syntax, one line. */
  value: string;
  /** What the label does. */
  description: string;
  /** A valid example value. */
  example: string;
}

/** The documentation part of each declaration. */
export const LABEL_DOCS = Object.fromEntries(KNOWN_LABELS.map((s) => [s, { value: LABELS[s].value, description: LABELS[s].description, example: LABELS[s].example }])) as Record<KnownLabel, LabelDoc>;
