// `signalbox lint`: offline checks of compose/stack files before they are deployed.
// What core decides (label errors, network and endpoint checks, cross-service conflicts of every file
// given, per service cluster) comes from core's own buildClusterModels, run on a swarm snapshot built
// from the files (lint-core.ts). Lint-only checks stay here: com.docker.lb.* labels misplaced under the
// container `labels:`, repeated labels, unset ${VAR}s, and com.docker.lb.network against the file's
// networks and the stack prefix.
import { LABEL_PREFIX, decodeLabels, formatDiagnostic, terminalSafe } from '@signalbox/model';
import type { Diagnostic, DiagnosticCode, RouteSpec, Severity } from '@signalbox/model';
import { parseCompose } from './compose.js';
import type { ComposeCode, ComposeFile, ComposeNetwork, ComposeService, LabelEntry } from './compose.js';
import { interpolate } from './interpolate.js';
import { attachedNetworks, coreFindings, fixedName } from './lint-core.js';
import type { LintedService, NetworkChoice } from './lint-core.js';

export interface Finding {
  file: string;
  /** Service name as written in the file; null for findings about the whole file. */
  service: string | null;
  severity: Severity;
  code: LintCode;
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
export const WARN_LINT_NETWORK_AMBIGUOUS = 'WARN_LINT_NETWORK_AMBIGUOUS';
/** Every code a finding can carry: the model's, the compose reader's and lint's own. */
export type LintCode =
  | DiagnosticCode
  | ComposeCode
  | typeof ERR_LINT_FILE_UNREADABLE
  | typeof WARN_LINT_CONTAINER_LABELS
  | typeof WARN_LINT_LABEL_DUPLICATE
  | typeof WARN_LINT_VARIABLE_UNSET
  | typeof ERR_LINT_NETWORK_UNDECLARED
  | typeof ERR_LINT_NETWORK_NOT_ATTACHED
  | typeof WARN_LINT_NETWORK_AMBIGUOUS;

/** Appended to every ERR_CONFLICT_* finding: lint cannot know the real creation order. */
export const ORDER_NOTE = 'lint takes the services as created in the order listed (files in the order given), so it reports the later one; core rejects whichever was created later';

const L = (suffix: string): string => `${LABEL_PREFIX}${suffix}`;

export function lintFiles(inputs: readonly LintInput[], opts: LintOptions): LintResult {
  const findings: Finding[] = [];
  const labelled: LintedService[] = [];
  for (const [fileIndex, input] of inputs.entries()) {
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
      const linted = lintService(input.file, fileIndex, file, svc, opts, findings);
      if (linted) labelled.push(linted);
    }
  }
  // Everything core would report, decided by core's builder (conflicts included).
  for (const { service: s, diagnostic: d } of coreFindings(labelled, opts, ORDER_NOTE)) {
    findings.push({ file: s.file, service: s.svc.name, severity: d.severity, code: d.code, key: d.key, value: d.value ?? null, message: d.message, line: s.lineOf(d.key) });
  }
  findings.sort(compareFindings);
  return {
    findings,
    files: inputs.length,
    services: labelled.length,
    errors: findings.filter((f) => f.severity === 'error').length,
    warnings: findings.filter((f) => f.severity === 'warning').length,
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareFindings(a: Finding, b: Finding): number {
  return cmp(a.file, b.file) || cmp(a.service ?? '', b.service ?? '') || cmp(a.key, b.key) || (a.line ?? 0) - (b.line ?? 0) || cmp(a.code, b.code) || cmp(a.message, b.message);
}

/** Lint-only checks of one service; returns it (for the builder) when it has com.docker.lb.* deploy labels. */
function lintService(fileName: string, fileIndex: number, file: ComposeFile, svc: ComposeService, opts: LintOptions, findings: Finding[]): LintedService | undefined {
  const push = (d: Diagnostic<LintCode>, line: number | null): void => {
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

  // Decoded here only for what the lint-only checks need; the builder decodes again and reports.
  const decoded = decodeLabels(labels);
  if (decoded.status === 'ignored') return undefined;
  const linted = { file: fileName, fileIndex, compose: file, svc, labels, lineOf };
  if (decoded.status !== 'ok') return { ...linted, serviceCluster: decoded.serviceCluster, network: { kind: 'as-written' } };
  const net = networkDiagnostics(file, svc, decoded.spec, opts);
  for (const d of net.diagnostics) push(d, lineOf(d.key));
  return { ...linted, serviceCluster: decoded.spec.serviceCluster, network: net.choice };
}

// ------------------------------------------------------------------------------------------ networks

interface NetworkMatch {
  net: ComposeNetwork;
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
    return label === actual ? { net } : undefined;
  }
  // The bare key works too: core finds <stack>_<key> among the service's networks by the service's stack.
  if (label === net.key) return { net };
  if (stack !== undefined) return label === `${stack}_${net.key}` ? { net } : undefined;
  return label.endsWith(`_${net.key}`) ? { net } : undefined;
}

/** Lint's check of com.docker.lb.network, and which network the builder is given for it. */
function networkDiagnostics(file: ComposeFile, svc: ComposeService, spec: RouteSpec, opts: LintOptions): { diagnostics: Diagnostic<LintCode>[]; choice: NetworkChoice } {
  const declared = new Map(file.networks);
  if (!declared.has('default')) declared.set('default', { key: 'default', external: false });
  const attachedKeys = svc.networks ?? ['default'];
  const attached = attachedNetworks(file, svc);
  const key = L('network');
  const stack = opts.stack;
  const assumed = (diagnostics: Diagnostic<LintCode>[]): { diagnostics: Diagnostic<LintCode>[]; choice: NetworkChoice } => ({ diagnostics, choice: { kind: 'assumed' } });

  if (spec.network === undefined) {
    if (attached.length > 1) {
      return assumed([
        {
          code: WARN_LINT_NETWORK_AMBIGUOUS,
          severity: 'warning',
          key,
          message: `is not set and the service joins several networks (${attached.map((n) => describeNet(n, stack)).join(', ')}); core rejects it unless this label names the one the proxy should use`,
        },
      ]);
    }
    return { diagnostics: [], choice: { kind: 'as-written' } };
  }

  const label = spec.network;
  const hit = attached.map((n) => matchNetwork(label, n, opts.env, stack)).find((m) => m !== undefined);
  if (hit) {
    return { diagnostics: [], choice: { kind: 'matched', net: hit.net } };
  }
  const elsewhere = [...declared.values()]
    .filter((n) => !attachedKeys.includes(n.key))
    .map((n) => matchNetwork(label, n, opts.env, stack))
    .find((m) => m !== undefined);
  if (elsewhere) {
    return assumed([
      {
        code: ERR_LINT_NETWORK_NOT_ATTACHED,
        severity: 'error',
        key,
        value: label,
        message: `names network ${describeNet(elsewhere.net, stack)}, which this file declares but the service does not join (it joins: ${attached.map((n) => describeNet(n, stack)).join(', ')}); add it under services.${svc.name}.networks`,
      },
    ]);
  }
  const accepted =
    stack !== undefined
      ? `in stack ${stack} the service's networks are named ${attached.map((n) => fixedName(n) ?? `${stack}_${n.key}`).join(', ')}`
      : `it joins ${attached.map((n) => describeNet(n, stack)).join(', ')}; a network front of this file is accepted as front or any *_front, since a stack prefixes network names with the stack name`;
  return assumed([
    {
      code: ERR_LINT_NETWORK_UNDECLARED,
      severity: 'error',
      key,
      value: label,
      message: `names a network that is neither declared under networks: in this file nor joined by the service (${accepted}); fix the name, or declare the network (external: true if it is created outside this file) and add it to the service`,
    },
  ]);
}

// ------------------------------------------------------------------------------------------ output

export function formatFinding(f: Finding): string {
  const d: Diagnostic<LintCode> =
    f.value === null ? { code: f.code, severity: f.severity, key: f.key, message: f.message } : { code: f.code, severity: f.severity, key: f.key, value: f.value, message: f.message };
  const where = f.service === null ? `${f.file}: ` : `${f.file}: service ${f.service}: `;
  // The code ends the line (ERR_… fails the run, WARN_… only with --strict) and is what docs/errors.md lists.
  return terminalSafe(`${where}${formatDiagnostic(d)} [${f.code}]`);
}
