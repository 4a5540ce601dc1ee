// decodeLabels: every com.docker.lb.* label of a service → a normalised RouteSpec, or a rejection
// listing every problem found. Pure and total: it never throws, whatever it is given.
//
// Order of work, per label: (1) the raw value is checked for control/invisible characters and
// length; (2) surrounding ASCII spaces are trimmed; (3) the label's declared parser
// (label-declarations.ts) checks the value once and explains what is wrong, with the label's code;
// (4) cross-label rules (label-rules.ts: required, conflicts, dependencies) run on the parsed values.
import { LABELS, KNOWN_LABELS } from './label-declarations.js';
import type { KnownLabel } from './label-declarations.js';
import { Collector, bounded, cmp, finish, make, rawProblem, trimSpaces, valueReport } from './label-diagnostics.js';
import { buildSpec, crossChecks } from './label-rules.js';
import type { Field, Fields } from './label-rules.js';
import type { Parser } from './label-parsers.js';
import { LABEL_PREFIX } from './labels-types.js';
import type { DecodeResult } from './labels-types.js';
import { editDistance } from './edit-distance.js';

export { interlockUnsafeNote } from './label-diagnostics.js';
// The decoder's codes (declared in label-codes.ts) are part of its API.
export type { LabelCode } from './label-codes.js';

/**
 * Prefix of the message the decoder used when the label schema rejected a value the parser accepted.
 * The decoder no longer runs the schema (one check per label); labels.test.ts checks instead that
 * schema and parser agree, and that no diagnostic carries this message.
 */
export const LABEL_SCHEMA_MISMATCH_MESSAGE = 'does not match the label schema';

const K = (suffix: KnownLabel): string => `${LABEL_PREFIX}${suffix}`;
const KNOWN_SET: ReadonlySet<string> = new Set(KNOWN_LABELS);
const isKnown = (suffix: string): suffix is KnownLabel => KNOWN_SET.has(suffix);

// ---------------------------------------------------------------- unknown labels

/** The known label an unknown suffix was probably meant to be. */
export function suggestLabel(suffix: string): KnownLabel | undefined {
  if (suffix.length === 0 || suffix.length > 64) return undefined;
  const lower = suffix.toLowerCase().replace(/-/g, '_');
  let best: KnownLabel | undefined;
  let bestD = Infinity;
  for (const known of KNOWN_LABELS) {
    const d = editDistance(lower, known);
    const limit = known.length <= 4 ? 1 : known.length <= 8 ? 2 : 3;
    if (d <= limit && d < bestD) {
      best = known;
      bestD = d;
    }
  }
  return best;
}

// ---------------------------------------------------------------- decode

function collectLabels(labels: unknown): [string, unknown][] {
  if (labels === null || typeof labels !== 'object') return [];
  const out: [string, unknown][] = [];
  for (const key of Object.keys(labels)) {
    if (key.startsWith(LABEL_PREFIX)) out.push([key, (labels as Record<string, unknown>)[key]]);
  }
  return out.sort((a, b) => cmp(a[0], b[0]));
}

function decode(labels: unknown): DecodeResult {
  const entries = collectLabels(labels);
  if (entries.length === 0) return { status: 'ignored' };
  const c = new Collector();
  const present = new Set<string>();
  const clean: Record<string, string> = Object.create(null) as Record<string, string>;

  // 1. unknown keys and raw value checks
  for (const [key, value] of entries) {
    present.add(key);
    const suffix = key.slice(LABEL_PREFIX.length);
    if (!isKnown(suffix)) {
      const s = suggestLabel(suffix);
      c.error(
        'ERR_LABEL_UNKNOWN',
        key,
        s !== undefined ? `is not a known label; did you mean ${LABEL_PREFIX}${s}?` : 'is not a known label (label names are case-sensitive; see docs/labels.md for the list)',
        typeof value === 'string' ? value : undefined,
      );
    }
    if (typeof value !== 'string') {
      c.error('ERR_LABEL_NOT_STRING', key, `must be a string, not ${value === null ? 'null' : typeof value}`);
      continue;
    }
    const problem = rawProblem(value);
    if (problem) {
      c.error(problem.code, key, problem.message, value);
      continue;
    }
    clean[key] = trimSpaces(value);
  }

  // 2. per-label parsing
  const fields = {} as Record<KnownLabel, Field<unknown>>;
  for (const suffix of KNOWN_LABELS) {
    const key = K(suffix);
    const value = clean[key];
    if (!present.has(key)) fields[suffix] = { state: 'absent' };
    else if (value === undefined) fields[suffix] = { state: 'invalid' };
    else {
      const { parse, code } = LABELS[suffix];
      const parsed = (parse as Parser<unknown>)(valueReport(c, code, key), value);
      fields[suffix] = parsed === undefined ? { state: 'invalid' } : { state: 'ok', value: parsed, raw: value };
    }
  }
  const f = fields as Fields;
  if (f.context_root.state === 'ok' && f.context_root.value === '/') {
    c.warn('WARN_LABEL_CONTEXT_ROOT_IGNORED', K('context_root'), 'means no context root; remove the label (it has no effect)', f.context_root.raw);
  }

  // 3. cross-label rules
  crossChecks(c, f);

  const warnings = finish(c.warnings);
  const serviceCluster = f.service_cluster.state === 'ok' ? f.service_cluster.value : '';
  if (c.errors.length > 0) return { status: 'rejected', errors: finish(c.errors), warnings, serviceCluster };
  return { status: 'ok', spec: buildSpec(f), warnings };
}

function describeThrown(e: unknown): string {
  try {
    return bounded(e instanceof Error ? e.message : String(e));
  } catch {
    return 'unknown error';
  }
}

/**
 * Decode a service's labels. Only com.docker.lb.* keys are considered. Never throws:
 * - no such key → { status: 'ignored' }
 * - every label valid → { status: 'ok', spec, warnings }
 * - otherwise → { status: 'rejected', errors (all of them, sorted by key), warnings, serviceCluster }
 */
export function decodeLabels(labels: Record<string, string>): DecodeResult {
  try {
    return decode(labels);
  } catch (e) {
    return {
      status: 'rejected',
      errors: [make('ERR_LABEL_INTERNAL', 'error', `${LABEL_PREFIX}*`, `could not be decoded because of an internal error (${describeThrown(e)}); please report this`)],
      warnings: [],
      serviceCluster: '',
    };
  }
}

// ---------------------------------------------------------------- examples (docs and tests)

/** A complete, valid label set showing `suffix` with its example value (and whatever it needs). */
export function exampleLabels(suffix: KnownLabel): Record<string, string> {
  const picked: Record<string, string> = suffix === 'default_backend' ? { port: '8080' } : { hosts: 'app.example.com', port: '8080' };
  Object.assign(picked, LABELS[suffix].exampleWith ?? {}, { [suffix]: LABELS[suffix].example });
  const out: Record<string, string> = {};
  for (const s of KNOWN_LABELS) {
    const v = picked[s];
    if (v !== undefined) out[K(s)] = v;
  }
  return out;
}
