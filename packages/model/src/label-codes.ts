// Every diagnostic code the label decoder can emit, with its severity and meaning (docs/labels.md
// and docs/errors.md are checked against this table).
import type { Severity } from './diagnostics.js';
import { MAX_LABEL_VALUE_LENGTH } from './label-syntax.js';

export const LABEL_CODE_DOCS = {
  ERR_LABEL_UNKNOWN: {
    severity: 'error',
    description: 'A com.docker.lb.* label Signalbox does not know (label names are case-sensitive). The message suggests the closest known label.',
  },
  ERR_LABEL_REQUIRED: {
    severity: 'error',
    description: 'A required label is missing: port always; hosts unless default_backend=true; ssl_key with ssl_cert and ssl_cert with ssl_key.',
  },
  ERR_LABEL_NOT_STRING: {
    severity: 'error',
    description: 'A label value is not a string (only possible when labels come from hand-written JSON, never from Docker).',
  },
  ERR_LABEL_CONTROL_CHAR: {
    severity: 'error',
    description: 'The value contains a control character (NUL, newline, tab, …) or an invisible one (zero-width space, bidi override, …).',
  },
  ERR_LABEL_TOO_LONG: {
    severity: 'error',
    description: `The value is longer than ${MAX_LABEL_VALUE_LENGTH} characters.`,
  },
  ERR_LABEL_HOST_INVALID: {
    severity: 'error',
    description: 'An entry of hosts is not a valid host name (the message says why: empty label, trailing dot, port, non-ASCII, misplaced wildcard, …).',
  },
  ERR_LABEL_PORT_INVALID: { severity: 'error', description: 'port is not a decimal integer between 1 and 65535.' },
  ERR_LABEL_NETWORK_INVALID: { severity: 'error', description: 'network is not a valid Docker network name.' },
  ERR_LABEL_PATH_INVALID: {
    severity: 'error',
    description: 'context_root or an entry of websocket_endpoints is not a valid absolute path.',
  },
  ERR_LABEL_BOOL_INVALID: {
    severity: 'error',
    description: 'A boolean label has a value other than 1, t, T, TRUE, true, True, 0, f, F, FALSE, false or False.',
  },
  ERR_LABEL_COOKIE_INVALID: { severity: 'error', description: 'sticky_session_cookie is not an accepted cookie name ([A-Za-z0-9_.-], 1-128 characters).' },
  ERR_LABEL_SECRET_INVALID: { severity: 'error', description: 'ssl_cert or ssl_key is not a valid Docker secret name.' },
  ERR_LABEL_ENUM_INVALID: {
    severity: 'error',
    description: 'ssl_backend_tls_verify (none|required) or backend_mode (task|vip) has another value.',
  },
  ERR_LABEL_REDIRECT_INVALID: {
    severity: 'error',
    description:
      'redirects is malformed: an empty or incomplete pair, a URL that is not absolute http(s), has user info, unsafe characters, an invalid host, a source with a query or port, a loop, or two targets for one source.',
  },
  ERR_LABEL_SERVICE_CLUSTER_INVALID: { severity: 'error', description: 'service_cluster is not a valid cluster name.' },
  ERR_LABEL_MAX_FAILS_INVALID: { severity: 'error', description: 'max_fails is not an integer between 0 and 1000.' },
  ERR_LABEL_FAIL_TIMEOUT_INVALID: {
    severity: 'error',
    description: 'fail_timeout is not an nginx time in whole seconds (1-6 digits and an optional unit s, m, h or d; nginx refuses ms in fail_timeout).',
  },
  ERR_LABEL_CONFLICT: {
    severity: 'error',
    description:
      'Two labels that cannot be combined: ip_hash with sticky_session_cookie; ssl_passthrough with context_root, sticky_session_cookie, websocket_endpoints, ssl_cert, ssl_key, ssl_backend or redirects; backend_mode=vip with sticky_session_cookie or ip_hash.',
  },
  ERR_LABEL_DEPENDENCY: {
    severity: 'error',
    description:
      'A label needs another one: context_root_rewrite needs context_root; ssl_only needs ssl_cert/ssl_key or ssl_passthrough; ssl_backend_tls_verify=required needs ssl_backend=true; ssl_passthrough needs hosts.',
  },
  ERR_LABEL_WEBSOCKET_OUTSIDE_CONTEXT_ROOT: {
    severity: 'error',
    description: 'A websocket endpoint is not under the context root, so no request to it would reach the service.',
  },
  ERR_LABEL_INTERNAL: {
    severity: 'error',
    description: 'The decoder hit an unexpected internal error; the service is rejected rather than routed. Please report it.',
  },
  WARN_LABEL_DUPLICATE: {
    severity: 'warning',
    description: 'A host, websocket endpoint or redirect is listed more than once (after normalisation); the duplicate is ignored.',
  },
  WARN_LABEL_CONTEXT_ROOT_IGNORED: {
    severity: 'warning',
    description: "context_root is '/', which means no context root; the label has no effect.",
  },
} as const satisfies Record<string, { severity: Severity; description: string }>;

export type LabelCode = keyof typeof LABEL_CODE_DOCS;

const ALL_CODES = Object.keys(LABEL_CODE_DOCS) as LabelCode[];
/** Every error code decodeLabels can emit. */
export const LABEL_ERROR_CODES: readonly LabelCode[] = ALL_CODES.filter((c) => LABEL_CODE_DOCS[c].severity === 'error');
/** Every warning code decodeLabels can emit. */
export const LABEL_WARNING_CODES: readonly LabelCode[] = ALL_CODES.filter((c) => LABEL_CODE_DOCS[c].severity === 'warning');
