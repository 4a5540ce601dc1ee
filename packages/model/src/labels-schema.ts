// The declarative description of every com.docker.lb.* label: documentation (LABEL_DOCS) and the
// JSON Schema (labelSchema) that checks each value's shape. labels.ts runs the schema with ajv and
// adds the semantic checks a schema cannot express (cross-label rules, URL parsing, reasons).
//
// The schema describes values after surrounding ASCII spaces are trimmed (the decoder trims them).
// Patterns are whitelists: nothing outside them can reach a RouteSpec.
import { LABEL_PREFIX } from './labels-types.js';

/** Every label suffix Signalbox understands (Interlock's set), in documentation order. */
export const KNOWN_LABELS = [
  'hosts',
  'port',
  'network',
  'context_root',
  'context_root_rewrite',
  'sticky_session_cookie',
  'ip_hash',
  'ssl_cert',
  'ssl_key',
  'ssl_only',
  'ssl_passthrough',
  'ssl_backend',
  'ssl_backend_tls_verify',
  'websocket_endpoints',
  'redirects',
  'default_backend',
  'backend_mode',
  'service_cluster',
  'max_fails',
  'fail_timeout',
] as const satisfies readonly string[];

export type KnownLabel = (typeof KNOWN_LABELS)[number];

/** Longest value accepted for any label, checked before anything else. */
export const MAX_LABEL_VALUE_LENGTH = 4096;
/** Longest context root or websocket endpoint. */
export const MAX_LABEL_PATH_LENGTH = 1024;

/** Go's strconv.ParseBool spellings, as Interlock accepted them. */
export const LABEL_BOOL_TRUE_VALUES = ['1', 't', 'T', 'TRUE', 'true', 'True'] as const;
export const LABEL_BOOL_FALSE_VALUES = ['0', 'f', 'F', 'FALSE', 'false', 'False'] as const;

export interface LabelDoc {
  /** Accepted value syntax, one line. */
  value: string;
  /** What the label does. */
  description: string;
  /** A valid example value. */
  example: string;
}

const BOOL_VALUE = 'boolean: true|false (also 1|0, t|f, T|F, TRUE|FALSE, True|False)';

export const LABEL_DOCS: Record<KnownLabel, LabelDoc> = {
  hosts: {
    value: "comma-separated host names (RFC 1123, ASCII; IDNs in punycode xn-- form); an optional leading '*.' wildcard",
    description:
      'Host names the service answers for. Case-insensitive: stored lower-cased, de-duplicated and sorted. ' +
      'Required unless default_backend=true. No ports, schemes, paths or trailing dots.',
    example: 'app.example.com,www.example.com',
  },
  port: {
    value: 'integer 1-65535 (no sign, no leading zero)',
    description: "Port the service's tasks listen on (the container port, not a published port). Required.",
    example: '8080',
  },
  network: {
    value: 'Docker network name: [a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}',
    description:
      'Network the proxy uses to reach the service; needed when the service is attached to more than one network. ' +
      'That the network exists and the service is attached to it is checked when the routing model is built.',
    example: 'app-net',
  },
  context_root: {
    value: "absolute path: '/' then segments of [A-Za-z0-9._~-] or %XX escapes; no '//', '.' or '..' segments; at most 1024 characters",
    description:
      "Serve the service only under this path prefix, e.g. /api. A trailing slash is removed; a bare '/' means no context root.",
    example: '/api',
  },
  context_root_rewrite: {
    value: BOOL_VALUE,
    description:
      'Strip the context root before forwarding (the service sees /users for a request to /api/users). Requires context_root.',
    example: 'true',
  },
  sticky_session_cookie: {
    value: 'cookie name: [A-Za-z0-9_.-]{1,128}',
    description:
      'Pin each client to one task by hashing this cookie. Needs backend_mode=task; cannot be combined with ip_hash.',
    example: 'session',
  },
  ip_hash: {
    value: BOOL_VALUE,
    description:
      "Pin each client to one task by its IP address. Needs backend_mode=task; cannot be combined with sticky_session_cookie.",
    example: 'true',
  },
  ssl_cert: {
    value: 'Docker secret name: [a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}',
    description:
      'Secret holding the PEM certificate (chain) for the hosts; the proxy terminates TLS. Needs ssl_key. ' +
      'That the secret exists is checked when the routing model is built.',
    example: 'app.example.com.cert',
  },
  ssl_key: {
    value: 'Docker secret name: [a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}',
    description: 'Secret holding the PEM private key matching ssl_cert. Needs ssl_cert.',
    example: 'app.example.com.key',
  },
  ssl_only: {
    value: BOOL_VALUE,
    description: 'Redirect plain HTTP requests to HTTPS with a 302, as Interlock did, to the SSLRedirectPort of config.toml (default PublishedSSLPort). Requires ssl_cert and ssl_key, or ssl_passthrough=true.',
    example: 'true',
  },
  ssl_passthrough: {
    value: BOOL_VALUE,
    description:
      'Forward TLS connections untouched, routed by SNI host name; the service terminates TLS itself. ' +
      'Cannot be combined with context_root, sticky_session_cookie, websocket_endpoints, ssl_cert, ssl_key, ssl_backend or redirects.',
    example: 'true',
  },
  ssl_backend: {
    value: BOOL_VALUE,
    description: 'Connect to the service over TLS (the proxy re-encrypts).',
    example: 'true',
  },
  ssl_backend_tls_verify: {
    value: 'none | required',
    description:
      "Whether the proxy verifies the service's certificate when ssl_backend=true. Default none; required needs ssl_backend=true.",
    example: 'required',
  },
  websocket_endpoints: {
    value: 'comma-separated paths, same rules as context_root',
    description:
      'Path prefixes that carry WebSocket upgrades, as in Interlock: /ws also upgrades /ws/room and /ws?x=1 (an endpoint equal to the context root, or /, matches exactly). Normalised, de-duplicated and sorted; must lie under context_root when one is set.',
    example: '/ws,/live/updates',
  },
  redirects: {
    value: "source,target pairs separated by ';' (a trailing ';' is allowed); each an absolute http:// or https:// URL without user info, quotes, spaces, '$', '#', ';', '{', '}' or backslashes",
    description:
      'Redirect requests for the source URL (matched on its host) to the target URL. The source has no query and no port.',
    example: 'http://old.example.com,https://app.example.com',
  },
  default_backend: {
    value: BOOL_VALUE,
    description: 'Send requests for host names no service claims to this service. hosts becomes optional.',
    example: 'true',
  },
  backend_mode: {
    value: 'task | vip',
    description:
      "task (default): the proxy balances over the service's task IPs. vip: the proxy sends everything to the service's virtual IP " +
      'and swarm balances (no sticky sessions or ip_hash).',
    example: 'vip',
  },
  service_cluster: {
    value: 'name: [a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}',
    description:
      'Which proxy cluster serves the service: the extension whose ServiceCluster (config.toml) has this value. ' +
      'Absent: the cluster whose ServiceCluster is empty.',
    example: 'blue',
  },
  max_fails: {
    value: 'integer 0-1000',
    description: 'nginx max_fails: failed attempts within fail_timeout after which a task is considered down (0 disables).',
    example: '3',
  },
  fail_timeout: {
    value: 'nginx time in whole seconds: 1-6 digits and an optional unit s, m, h or d (seconds when absent; nginx refuses ms here)',
    description: 'nginx fail_timeout: the window for max_fails and how long a failed task is skipped.',
    example: '10s',
  },
};

// ---- value patterns (JSON Schema / ECMAScript regex with the u flag) ----

const DNS_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
/** One host item inside a comma list: at most 253 characters, optional '*.' then dot-separated labels. */
const HOST_ITEM = `(?=[^ ,]{1,253}(?: |,|$))(?:\\*\\.)?${DNS_LABEL}(?:\\.${DNS_LABEL})*`;
/** %XX, except encodings of control characters, '.', '/', '\' and DEL (they could smuggle separators or dot segments). */
const PCT = '%(?:2[0-9A-Da-d]|[34689A-Fa-f][0-9A-Fa-f]|5[0-9ABD-Fabd-f]|7[0-9A-Ea-e])';
const SEGMENT = `(?!\\.\\.?(?:/|,| |$))(?:[A-Za-z0-9._~-]|${PCT})+`;
/** An absolute path, '/' alone or segments with an optional trailing slash (removed by the decoder). */
const PATH_ITEM = `(?=[^ ,]{1,${MAX_LABEL_PATH_LENGTH}}(?: |,|$))/(?:${SEGMENT}(?:/${SEGMENT})*/?)?`;
const URL_CHARS = "[A-Za-z0-9\\-._~:/?@!&()*+=%]";
const URL_ITEM = `[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:[/?]${URL_CHARS}*)?`;
const REDIRECT_PAIR = `${URL_ITEM} *, *${URL_ITEM}`;

const PATTERNS = {
  hosts: `^${HOST_ITEM}(?: *, *${HOST_ITEM})*$`,
  port: '^(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$',
  network: '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$',
  path: `^${PATH_ITEM}$`,
  pathList: `^${PATH_ITEM}(?: *, *${PATH_ITEM})*$`,
  cookie: '^[A-Za-z0-9_.-]{1,128}$',
  secret: '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$',
  // One trailing ';' is allowed: Interlock's label table ends each pair with it.
  redirects: `^${REDIRECT_PAIR}(?: *; *${REDIRECT_PAIR})* *;? *$`,
  maxFails: '^(?:0|[1-9][0-9]{0,2}|1000)$',
  failTimeout: '^[0-9]{1,6}(?:s|m|h|d)?$',
} as const;

export interface LabelValueSchema {
  type: 'string';
  description: string;
  maxLength: number;
  examples: string[];
  pattern?: string;
  enum?: string[];
}

function describe(suffix: KnownLabel): string {
  const doc = LABEL_DOCS[suffix];
  return `${doc.description} Value: ${doc.value}.`;
}

function valueSchema(suffix: KnownLabel, shape: { pattern: string } | { enum: readonly string[] }): LabelValueSchema {
  const base: LabelValueSchema = {
    type: 'string',
    description: describe(suffix),
    maxLength: MAX_LABEL_VALUE_LENGTH,
    examples: [LABEL_DOCS[suffix].example],
  };
  return 'pattern' in shape ? { ...base, pattern: shape.pattern } : { ...base, enum: [...shape.enum] };
}

const BOOL = { enum: [...LABEL_BOOL_TRUE_VALUES, ...LABEL_BOOL_FALSE_VALUES] } as const;

const SHAPES: Record<KnownLabel, { pattern: string } | { enum: readonly string[] }> = {
  hosts: { pattern: PATTERNS.hosts },
  port: { pattern: PATTERNS.port },
  network: { pattern: PATTERNS.network },
  context_root: { pattern: PATTERNS.path },
  context_root_rewrite: BOOL,
  sticky_session_cookie: { pattern: PATTERNS.cookie },
  ip_hash: BOOL,
  ssl_cert: { pattern: PATTERNS.secret },
  ssl_key: { pattern: PATTERNS.secret },
  ssl_only: BOOL,
  ssl_passthrough: BOOL,
  ssl_backend: BOOL,
  ssl_backend_tls_verify: { enum: ['none', 'required'] },
  websocket_endpoints: { pattern: PATTERNS.pathList },
  redirects: { pattern: PATTERNS.redirects },
  default_backend: BOOL,
  backend_mode: { enum: ['task', 'vip'] },
  service_cluster: { pattern: PATTERNS.secret },
  max_fails: { pattern: PATTERNS.maxFails },
  fail_timeout: { pattern: PATTERNS.failTimeout },
};

export interface LabelSchema {
  $schema: string;
  $id: string;
  title: string;
  description: string;
  type: 'object';
  properties: Record<string, LabelValueSchema>;
  patternProperties: Record<string, { type: 'string' }>;
  additionalProperties: false;
  required: string[];
  if: { properties: Record<string, { enum: string[] }>; required: string[] };
  else: { required: string[] };
}

const escapedPrefix = LABEL_PREFIX.replace(/\./g, '\\.');

/**
 * JSON Schema (draft-07) for a service's label map. Labels outside com.docker.lb.* are allowed and
 * ignored; unknown com.docker.lb.* labels are not. Values are checked after trimming surrounding spaces.
 * Exported as packages/model/schema/labels.schema.json for editors and CI.
 */
export const labelSchema: LabelSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'urn:signalbox:schema:labels',
  title: 'Signalbox service labels',
  description:
    'com.docker.lb.* labels of a Docker Swarm service routed by Signalbox (compatible with Docker Interlock). ' +
    'Values are checked after trimming surrounding spaces. See docs/labels.md.',
  type: 'object',
  properties: Object.fromEntries(KNOWN_LABELS.map((s) => [`${LABEL_PREFIX}${s}`, valueSchema(s, SHAPES[s])])),
  patternProperties: { [`^(?!${escapedPrefix})`]: { type: 'string' } },
  additionalProperties: false,
  required: [`${LABEL_PREFIX}port`],
  if: {
    properties: { [`${LABEL_PREFIX}default_backend`]: { enum: [...LABEL_BOOL_TRUE_VALUES] } },
    required: [`${LABEL_PREFIX}default_backend`],
  },
  else: { required: [`${LABEL_PREFIX}hosts`] },
};
