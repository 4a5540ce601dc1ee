// What the decoder does with the parsed labels: the rules between labels (required labels,
// conflicts, dependencies) and the RouteSpec built from them. Each label's own value rules are in
// its declaration (label-declarations.ts).
import type { KnownLabel, LabelValue } from './label-declarations.js';
import type { Collector } from './label-diagnostics.js';
import { LABEL_PREFIX } from './labels-types.js';
import type { RouteSpec } from './labels-types.js';

/** absent: label not set; invalid: set but rejected (already reported); ok: parsed. */
export type Field<T> = { state: 'absent' } | { state: 'invalid' } | { state: 'ok'; value: T; raw: string };
export type Fields = { [L in KnownLabel]: Field<LabelValue<L>> };

const K = (suffix: KnownLabel): string => `${LABEL_PREFIX}${suffix}`;

const isTrue = (field: Field<boolean>): boolean => field.state === 'ok' && field.value;
const has = (field: Field<unknown>): boolean => field.state !== 'absent';
const rawOf = (field: Field<unknown>): string | undefined => (field.state === 'ok' ? field.raw : undefined);

/** The rules between labels: required labels, conflicts and dependencies, reported on the labels at fault. */
export function crossChecks(c: Collector, f: Fields): void {
  if (!has(f.port)) c.error('ERR_LABEL_REQUIRED', K('port'), 'is required: the port the service listens on, e.g. com.docker.lb.port=8080');
  if (!has(f.hosts) && !isTrue(f.default_backend)) {
    c.error('ERR_LABEL_REQUIRED', K('hosts'), 'is required: the host names to route, e.g. com.docker.lb.hosts=app.example.com (or set com.docker.lb.default_backend=true)');
  }
  if (has(f.ssl_cert) && !has(f.ssl_key)) {
    c.error('ERR_LABEL_REQUIRED', K('ssl_key'), 'is required when com.docker.lb.ssl_cert is set: a certificate needs its key');
  }
  if (has(f.ssl_key) && !has(f.ssl_cert)) {
    c.error('ERR_LABEL_REQUIRED', K('ssl_cert'), 'is required when com.docker.lb.ssl_key is set: a key needs its certificate');
  }
  if (isTrue(f.context_root_rewrite) && !has(f.context_root)) {
    c.error(
      'ERR_LABEL_DEPENDENCY',
      K('context_root_rewrite'),
      'requires com.docker.lb.context_root: there is no prefix to strip; set a context root or remove this label',
      rawOf(f.context_root_rewrite),
    );
  }
  if (isTrue(f.ssl_only) && !has(f.ssl_cert) && !has(f.ssl_key) && f.ssl_passthrough.state !== 'invalid' && !isTrue(f.ssl_passthrough)) {
    c.error('ERR_LABEL_DEPENDENCY', K('ssl_only'), 'requires TLS: set com.docker.lb.ssl_cert and com.docker.lb.ssl_key, or com.docker.lb.ssl_passthrough=true', rawOf(f.ssl_only));
  }
  if (f.ssl_backend_tls_verify.state === 'ok' && f.ssl_backend_tls_verify.value === 'required' && f.ssl_backend.state !== 'invalid' && !isTrue(f.ssl_backend)) {
    c.error('ERR_LABEL_DEPENDENCY', K('ssl_backend_tls_verify'), 'requires com.docker.lb.ssl_backend=true: there is no backend TLS to verify', rawOf(f.ssl_backend_tls_verify));
  }
  if (isTrue(f.ip_hash) && has(f.sticky_session_cookie)) {
    c.error('ERR_LABEL_CONFLICT', K('ip_hash'), 'cannot be combined with com.docker.lb.sticky_session_cookie; pick one way to pin clients', rawOf(f.ip_hash));
  }
  if (isTrue(f.ssl_passthrough)) {
    const why = 'with com.docker.lb.ssl_passthrough=true nginx forwards the encrypted stream and never sees requests';
    const incompatible: KnownLabel[] = ['context_root', 'sticky_session_cookie', 'websocket_endpoints', 'ssl_cert', 'ssl_key', 'redirects'];
    for (const other of incompatible) {
      if (has(f[other])) c.error('ERR_LABEL_CONFLICT', K(other), `cannot be used with ssl_passthrough: ${why}`, rawOf(f[other]));
    }
    if (isTrue(f.ssl_backend)) {
      c.error('ERR_LABEL_CONFLICT', K('ssl_backend'), 'cannot be used with ssl_passthrough: the service already terminates TLS itself', rawOf(f.ssl_backend));
    }
    if (!has(f.hosts)) {
      c.error('ERR_LABEL_DEPENDENCY', K('ssl_passthrough'), 'requires com.docker.lb.hosts: passthrough routes on the TLS SNI host name', rawOf(f.ssl_passthrough));
    }
  }
  if (f.backend_mode.state === 'ok' && f.backend_mode.value === 'vip') {
    if (has(f.sticky_session_cookie)) {
      c.error(
        'ERR_LABEL_CONFLICT',
        K('sticky_session_cookie'),
        'cannot be used with com.docker.lb.backend_mode=vip: sticky sessions need task backends (remove backend_mode or set it to task)',
        rawOf(f.sticky_session_cookie),
      );
    }
    if (isTrue(f.ip_hash)) {
      c.error('ERR_LABEL_CONFLICT', K('ip_hash'), 'cannot be used with com.docker.lb.backend_mode=vip: sticky sessions need task backends (remove backend_mode or set it to task)', rawOf(f.ip_hash));
    }
  }
  if (f.websocket_endpoints.state === 'ok' && f.context_root.state === 'ok' && f.context_root.value !== '/') {
    const root = f.context_root.value;
    for (const ep of f.websocket_endpoints.value) {
      if (ep !== root && !ep.startsWith(`${root}/`)) {
        c.error(
          'ERR_LABEL_WEBSOCKET_OUTSIDE_CONTEXT_ROOT',
          K('websocket_endpoints'),
          `is not under the context root ${root}; requests to it would never reach this service (write ${root}${ep === '/' ? '' : ep})`,
          ep,
        );
      }
    }
  }
}

/**
 * What each RouteSpec field of an optional label is when the label is absent: the one place these
 * defaults are declared (buildSpec applies them; docs/labels.md leaves them out of its examples). The
 * required hosts and port have none, and optional fields without a value are left out of the spec.
 */
export const ROUTE_SPEC_DEFAULTS = {
  contextRootRewrite: false,
  ipHash: false,
  sslOnly: false,
  sslPassthrough: false,
  sslBackend: false,
  sslBackendTlsVerify: 'none',
  websocketEndpoints: [],
  redirects: [],
  defaultBackend: false,
  backendMode: 'task',
  serviceCluster: '',
} as const satisfies Partial<Record<keyof RouteSpec, unknown>>;

/** The RouteSpec of labels that all decoded. */
export function buildSpec(f: Fields): RouteSpec {
  const val = <T>(field: Field<T>): T | undefined => (field.state === 'ok' ? field.value : undefined);
  const D = ROUTE_SPEC_DEFAULTS;
  const root = val(f.context_root);
  const contextRoot = root === '/' ? undefined : root;
  const spec: RouteSpec = {
    hosts: val(f.hosts) ?? [], // required unless default_backend: empty only for a default backend
    port: val(f.port) ?? 0, // required: decode never builds a spec without it
    contextRootRewrite: contextRoot !== undefined && (val(f.context_root_rewrite) ?? D.contextRootRewrite),
    ipHash: val(f.ip_hash) ?? D.ipHash,
    sslOnly: val(f.ssl_only) ?? D.sslOnly,
    sslPassthrough: val(f.ssl_passthrough) ?? D.sslPassthrough,
    sslBackend: val(f.ssl_backend) ?? D.sslBackend,
    sslBackendTlsVerify: val(f.ssl_backend_tls_verify) ?? D.sslBackendTlsVerify,
    websocketEndpoints: val(f.websocket_endpoints) ?? [...D.websocketEndpoints],
    redirects: val(f.redirects) ?? [...D.redirects],
    defaultBackend: val(f.default_backend) ?? D.defaultBackend,
    backendMode: val(f.backend_mode) ?? D.backendMode,
    serviceCluster: val(f.service_cluster) ?? D.serviceCluster,
  };
  const network = val(f.network);
  if (network !== undefined) spec.network = network;
  if (contextRoot !== undefined) spec.contextRoot = contextRoot;
  const cookie = val(f.sticky_session_cookie);
  if (cookie !== undefined) spec.stickySessionCookie = cookie;
  const cert = val(f.ssl_cert);
  if (cert !== undefined) spec.sslCert = cert;
  const key = val(f.ssl_key);
  if (key !== undefined) spec.sslKey = key;
  const maxFails = val(f.max_fails);
  if (maxFails !== undefined) spec.maxFails = maxFails;
  const failTimeout = val(f.fail_timeout);
  if (failTimeout !== undefined) spec.failTimeout = failTimeout;
  if (val(f.acme) === true) spec.acme = true;
  return spec;
}
