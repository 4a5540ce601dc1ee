// `signalbox lint`: offline checks of compose/stack files before they are deployed.
// Per service: decodeLabels on deploy.labels (exactly what core will do), com.docker.lb.* labels
// misplaced under the container `labels:`, com.docker.lb.network against the file's networks.
// Across services (of every file given, per service cluster): the conflicts core would resolve by
// rejecting one of the services.
import { LABEL_PREFIX, decodeLabels, formatDiagnostic } from '@signalbox/model';
import type { Diagnostic, RouteSpec, Severity } from '@signalbox/model';
import { parseCompose } from './compose.js';
import type { ComposeFile, ComposeNetwork, ComposeService, LabelEntry } from './compose.js';
import { interpolate } from './interpolate.js';

export interface Finding {
  file: string;
  /** Service name as written in the file; null for findings about the whole file. */
  service: string | null;
  severity: Severity;
  code: string;
  /** Label key (com.docker.lb.hosts) or file location. */
  key: string;
  value: string | null;
  message: string;
  /** 1-based line in the file when known. */
  line: number | null;
}

export interface LintInput {
  file: string;
  /** File contents, or undefined when it could not be read (then readError says why). */
  text?: string;
  readError?: string;
}

export interface LintOptions {
  /** Used for ${VAR} substitution, as docker stack deploy does. */
  env: Readonly<Record<string, string | undefined>>;
  /** Stack name the files will be deployed as: network names are then checked exactly (STACK_front). */
  stack?: string;
}

export interface LintResult {
  findings: Finding[];
  files: number;
  /** Services with at least one com.docker.lb.* deploy label. */
  services: number;
  errors: number;
  warnings: number;
}

export const ERR_LINT_FILE_UNREADABLE = 'ERR_LINT_FILE_UNREADABLE';
export const WARN_LINT_CONTAINER_LABELS = 'WARN_LINT_CONTAINER_LABELS';
export const WARN_LINT_LABEL_DUPLICATE = 'WARN_LINT_LABEL_DUPLICATE';
export const WARN_LINT_VARIABLE_UNSET = 'WARN_LINT_VARIABLE_UNSET';
export const ERR_LINT_NETWORK_UNDECLARED = 'ERR_LINT_NETWORK_UNDECLARED';
export const ERR_LINT_NETWORK_NOT_ATTACHED = 'ERR_LINT_NETWORK_NOT_ATTACHED';
export const WARN_LINT_NETWORK_UNPREFIXED = 'WARN_LINT_NETWORK_UNPREFIXED';
export const WARN_LINT_NETWORK_AMBIGUOUS = 'WARN_LINT_NETWORK_AMBIGUOUS';
// Cross-service conflicts use the builder's codes: core reports the same problem with the same code.
export const ERR_CONFLICT_ROUTE = 'ERR_CONFLICT_ROUTE';
export const ERR_CONFLICT_CERT = 'ERR_CONFLICT_CERT';
export const ERR_CONFLICT_PASSTHROUGH = 'ERR_CONFLICT_PASSTHROUGH';
export const ERR_CONFLICT_DEFAULT_BACKEND = 'ERR_CONFLICT_DEFAULT_BACKEND';

const L = (suffix: string): string => `${LABEL_PREFIX}${suffix}`;

/** A service that decoded cleanly, kept for the cross-service checks. */
interface Routed {
  file: string;
  service: string;
  spec: RouteSpec;
  lineOf: (key: string) => number | null;
}

export function lintFiles(inputs: readonly LintInput[], opts: LintOptions): LintResult {
  const findings: Finding[] = [];
  const routed: Routed[] = [];
  let services = 0;
  for (const input of inputs) {
    if (input.text === undefined) {
      findings.push({
        file: input.file,
        service: null,
        severity: 'error',
        code: ERR_LINT_FILE_UNREADABLE,
        key: input.file,
        value: null,
        message: `cannot be read: ${input.readError ?? 'unknown error'}`,
        line: null,
      });
      continue;
    }
    const { file, problems } = parseCompose(input.text);
    for (const p of problems) {
      findings.push({ file: input.file, service: p.service, severity: p.severity, code: p.code, key: p.key, value: p.value ?? null, message: p.message, line: p.line });
    }
    if (!file) continue;
    for (const svc of file.services) {
      const r = lintService(input.file, file, svc, opts, findings);
      if (r.labelled) services++;
      if (r.routed) routed.push(r.routed);
    }
  }
  crossServiceChecks(routed, findings);
  findings.sort(compareFindings);
  return {
    findings,
    files: inputs.length,
    services,
    errors: findings.filter((f) => f.severity === 'error').length,
    warnings: findings.filter((f) => f.severity === 'warning').length,
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareFindings(a: Finding, b: Finding): number {
  return (
    cmp(a.file, b.file) ||
    cmp(a.service ?? '', b.service ?? '') ||
    cmp(a.key, b.key) ||
    (a.line ?? 0) - (b.line ?? 0) ||
    cmp(a.code, b.code) ||
    cmp(a.message, b.message)
  );
}

function lintService(
  fileName: string,
  file: ComposeFile,
  svc: ComposeService,
  opts: LintOptions,
  findings: Finding[],
): { labelled: boolean; routed?: Routed } {
  const push = (d: Diagnostic, line: number | null): void => {
    findings.push({ file: fileName, service: svc.name, severity: d.severity, code: d.code, key: d.key, value: d.value ?? null, message: d.message, line });
  };

  // Substitute variables first, as docker stack deploy does before the service is created.
  const subst = (entries: readonly LabelEntry[], warn: boolean): LabelEntry[] =>
    entries.map((e) => {
      const k = interpolate(e.key, opts.env);
      const v = interpolate(e.value, opts.env);
      if (warn && (k.text.startsWith(LABEL_PREFIX) || e.key.startsWith(LABEL_PREFIX))) {
        for (const u of [...k.unset, ...v.unset]) {
          push(
            {
              code: WARN_LINT_VARIABLE_UNSET,
              severity: 'warning',
              key: k.text || e.key,
              value: e.value,
              message: u.required
                ? `uses \${${u.name}}, which is required but not set here${u.hint ? ` (${u.hint})` : ''}; docker stack deploy fails unless it is set; checked as if empty`
                : `uses \${${u.name}}, which is not set here; docker stack deploy substitutes an empty string unless it is set then; checked as if empty`,
            },
            e.line,
          );
        }
      }
      return { key: k.text, value: v.text, line: e.line };
    });
  const deploy = subst(svc.deployLabels, true);
  const container = subst(svc.containerLabels, false);

  const labels: Record<string, string> = {};
  const lines = new Map<string, number | null>();
  for (const e of deploy) {
    if (!e.key.startsWith(LABEL_PREFIX)) continue;
    if (e.key in labels && labels[e.key] !== e.value) {
      push(
        { code: WARN_LINT_LABEL_DUPLICATE, severity: 'warning', key: e.key, value: e.value, message: `is set more than once under deploy.labels; the last value wins (was "${labels[e.key]}")` },
        e.line,
      );
    }
    labels[e.key] = e.value;
    lines.set(e.key, e.line);
  }
  const lineOf = (key: string): number | null => lines.get(key) ?? svc.deployLabelsLine;

  for (const e of container) {
    if (!e.key.startsWith(LABEL_PREFIX)) continue;
    const message =
      e.key in labels
        ? 'is also set under the service-level labels: (container labels), where it has no effect: Signalbox reads only deploy.labels; remove it there'
        : 'is under the service-level labels: (container labels), which Signalbox never sees; move it under deploy.labels';
    push({ code: WARN_LINT_CONTAINER_LABELS, severity: 'warning', key: e.key, value: e.value, message }, e.line);
  }

  const decoded = decodeLabels(labels);
  if (decoded.status === 'ignored') return { labelled: false };
  for (const d of decoded.status === 'rejected' ? decoded.errors : []) push(d, lineOf(d.key));
  for (const d of decoded.warnings) push(d, lineOf(d.key));
  if (decoded.status !== 'ok') return { labelled: true };

  for (const d of networkDiagnostics(file, svc, decoded.spec, opts)) push(d, lineOf(d.key));
  return { labelled: true, routed: { file: fileName, service: svc.name, spec: decoded.spec, lineOf } };
}

// ------------------------------------------------------------------------------------------ networks

interface NetworkMatch {
  net: ComposeNetwork;
  /** The name as written matches only as an unprefixed key of a stack-scoped network. */
  bare: boolean;
}

/** The swarm name of a network of this file, when it does not depend on the stack name. */
function fixedName(net: ComposeNetwork): string | undefined {
  return net.name ?? (net.external ? net.key : undefined);
}

function describeNet(net: ComposeNetwork, stack: string | undefined): string {
  const fixed = fixedName(net);
  if (fixed !== undefined) return fixed === net.key ? fixed : `${net.key} (= ${fixed})`;
  return stack !== undefined ? `${net.key} (= ${stack}_${net.key})` : `${net.key} (deployed as <stack>_${net.key})`;
}

function matchNetwork(label: string, net: ComposeNetwork, env: LintOptions['env'], stack: string | undefined): NetworkMatch | undefined {
  const fixed = fixedName(net);
  if (fixed !== undefined) {
    const actual = interpolate(fixed, env).text;
    return label === actual ? { net, bare: false } : undefined;
  }
  if (stack !== undefined) return label === `${stack}_${net.key}` ? { net, bare: false } : undefined;
  if (label === net.key) return { net, bare: true };
  return label.endsWith(`_${net.key}`) ? { net, bare: false } : undefined;
}

function networkDiagnostics(file: ComposeFile, svc: ComposeService, spec: RouteSpec, opts: LintOptions): Diagnostic[] {
  const declared = new Map(file.networks);
  if (!declared.has('default')) declared.set('default', { key: 'default', external: false });
  const attachedKeys = svc.networks ?? ['default'];
  const attached = attachedKeys.map((k) => declared.get(k) ?? { key: k, external: false });
  const key = L('network');
  const stack = opts.stack;

  if (spec.network === undefined) {
    if (attached.length > 1) {
      return [
        {
          code: WARN_LINT_NETWORK_AMBIGUOUS,
          severity: 'warning',
          key,
          message: `is not set and the service joins several networks (${attached.map((n) => describeNet(n, stack)).join(', ')}); core rejects it unless this label names the one the proxy should use`,
        },
      ];
    }
    return [];
  }

  const label = spec.network;
  const hit = attached.map((n) => matchNetwork(label, n, opts.env, stack)).find((m) => m !== undefined);
  if (hit) {
    if (!hit.bare) return [];
    return [
      {
        code: WARN_LINT_NETWORK_UNPREFIXED,
        severity: 'warning',
        key,
        value: label,
        message: `is the network's key in this file, but docker stack deploy names it <stack>_${label} and core looks the label up by that swarm name; write <stack>_${label} (or lint with --stack NAME), or give the network a fixed name with name: ${label}`,
      },
    ];
  }
  const elsewhere = [...declared.values()].filter((n) => !attachedKeys.includes(n.key)).map((n) => matchNetwork(label, n, opts.env, stack)).find((m) => m !== undefined);
  if (elsewhere) {
    return [
      {
        code: ERR_LINT_NETWORK_NOT_ATTACHED,
        severity: 'error',
        key,
        value: label,
        message: `names network ${describeNet(elsewhere.net, stack)}, which this file declares but the service does not join (it joins: ${attached.map((n) => describeNet(n, stack)).join(', ')}); add it under services.${svc.name}.networks`,
      },
    ];
  }
  const accepted =
    stack !== undefined
      ? `in stack ${stack} the service's networks are named ${attached.map((n) => fixedName(n) ?? `${stack}_${n.key}`).join(', ')}`
      : `it joins ${attached.map((n) => describeNet(n, stack)).join(', ')}; a network front of this file is accepted as front or any *_front, since a stack prefixes network names with the stack name`;
  return [
    {
      code: ERR_LINT_NETWORK_UNDECLARED,
      severity: 'error',
      key,
      value: label,
      message: `names a network that is neither declared under networks: in this file nor joined by the service (${accepted}); fix the name, or declare the network (external: true if it is created outside this file) and add it to the service`,
    },
  ];
}

// ---------------------------------------------------------------------------- cross-service checks

/** Options that must agree for services sharing a host and path (a canary pair); as core's builder. */
const UPSTREAM_OPTIONS: readonly [string, (s: RouteSpec) => unknown][] = [
  ['sticky_session_cookie', (s) => s.stickySessionCookie],
  ['ip_hash', (s) => s.ipHash],
  ['ssl_backend', (s) => s.sslBackend],
  ['ssl_backend_tls_verify', (s) => s.sslBackendTlsVerify],
  ['context_root_rewrite', (s) => s.contextRootRewrite],
  ['max_fails', (s) => s.maxFails],
  ['fail_timeout', (s) => s.failTimeout],
  ['backend_mode', (s) => s.backendMode],
];

function show(v: unknown): string {
  return v === undefined ? 'unset' : typeof v === 'string' ? `"${v}"` : String(v);
}

function optionDifferences(a: RouteSpec, b: RouteSpec): string[] {
  const out: string[] = [];
  for (const [name, get] of UPSTREAM_OPTIONS) {
    const va = get(a);
    const vb = get(b);
    if (va !== vb) out.push(`${name} ${show(va)} here vs ${show(vb)} there`);
  }
  return out;
}

function who(other: Routed, self: Routed): string {
  return other.file === self.file ? `service ${other.service}` : `service ${other.service} (${other.file})`;
}

const LATER_LOSES = 'core keeps the service created first and rejects the other';

function crossServiceChecks(routed: readonly Routed[], findings: Finding[]): void {
  const byCluster = new Map<string, Routed[]>();
  for (const r of routed) byCluster.set(r.spec.serviceCluster, [...(byCluster.get(r.spec.serviceCluster) ?? []), r]);
  for (const group of byCluster.values()) {
    for (let i = 0; i < group.length; i++) {
      for (let j = 0; j < group.length; j++) {
        if (i !== j) pairChecks(group[i]!, group[j]!, findings);
      }
    }
  }
}

/** Report on `self` every conflict it has with `other` (called for both orders). */
function pairChecks(self: Routed, other: Routed, findings: Finding[]): void {
  const a = self.spec;
  const b = other.spec;
  const add = (code: string, suffix: string, value: string, message: string): void => {
    findings.push({ file: self.file, service: self.service, severity: 'error', code, key: L(suffix), value, message, line: self.lineOf(L(suffix)) });
  };
  const pathA = a.contextRoot ?? '/';
  const pathB = b.contextRoot ?? '/';
  const shared = a.hosts.filter((h) => b.hosts.includes(h));
  for (const host of shared) {
    if (!a.sslPassthrough && !b.sslPassthrough) {
      if (pathA === pathB) {
        const diff = optionDifferences(a, b);
        if (diff.length > 0) {
          add(
            ERR_CONFLICT_ROUTE,
            'hosts',
            host,
            `host ${host} path ${pathA} is also routed by ${who(other, self)} with different options (${diff.join('; ')}); services sharing a host and path form a canary pair only when these options match; ${LATER_LOSES}`,
          );
        }
      }
      const certA = a.sslCert !== undefined && a.sslKey !== undefined ? `${a.sslCert}/${a.sslKey}` : undefined;
      const certB = b.sslCert !== undefined && b.sslKey !== undefined ? `${b.sslCert}/${b.sslKey}` : undefined;
      if (certA !== undefined && certB !== undefined && certA !== certB) {
        add(
          ERR_CONFLICT_CERT,
          'ssl_cert',
          a.sslCert!,
          `host ${host} also uses a different certificate (${certB}) from ${who(other, self)}; services sharing a host must use the same ssl_cert/ssl_key; ${LATER_LOSES}`,
        );
      }
    } else if (a.sslPassthrough && b.sslPassthrough) {
      add(ERR_CONFLICT_PASSTHROUGH, 'ssl_passthrough', host, `host ${host} is also passed through (ssl_passthrough) to ${who(other, self)}; only one service may receive a passed-through host; ${LATER_LOSES}`);
    } else if (a.sslPassthrough) {
      add(
        ERR_CONFLICT_PASSTHROUGH,
        'ssl_passthrough',
        host,
        `host ${host} is passed through (ssl_passthrough) here but also served over HTTP${b.sslCert ? '/terminated TLS' : ''} by ${who(other, self)}; a host cannot be both; ${LATER_LOSES}`,
      );
    } else {
      add(
        ERR_CONFLICT_PASSTHROUGH,
        'hosts',
        host,
        `host ${host} is served over HTTP${a.sslCert ? '/terminated TLS' : ''} here but passed through (ssl_passthrough) by ${who(other, self)}; a host cannot be both; ${LATER_LOSES}`,
      );
    }
  }
  if (a.defaultBackend && b.defaultBackend) {
    add(ERR_CONFLICT_DEFAULT_BACKEND, 'default_backend', 'true', `${who(other, self)} is also a default backend; only one service per service cluster can be; ${LATER_LOSES}`);
  }
}

// ------------------------------------------------------------------------------------------ output

export function formatFinding(f: Finding): string {
  const d: Diagnostic = f.value === null ? { code: f.code, severity: f.severity, key: f.key, message: f.message } : { code: f.code, severity: f.severity, key: f.key, value: f.value, message: f.message };
  const where = f.service === null ? `${f.file}: ` : `${f.file}: service ${f.service}: `;
  // The code ends the line (ERR_… fails the run, WARN_… only with --strict) and is what docs/errors.md lists.
  return `${where}${formatDiagnostic(d)} [${f.code}]`;
}
