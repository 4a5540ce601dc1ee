// parseConfig: config.toml text → a validated, defaulted, frozen SignalboxConfig, or every problem found.
// Three passes: TOML syntax, the JSON Schema (types, ranges, patterns, unknown keys), then what the schema
// cannot express: each key's declared check (config-checks.ts: durations, addresses, the directive policy)
// and the rules across keys (config-rules.ts: TLS files together, uniqueness across extensions). Nothing
// here throws.
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { parse, TomlError } from 'smol-toml';
import { ERR_CONFIG_INTERNAL, ERR_CONFIG_SEMANTIC, ERR_CONFIG_TOML, ERR_CONFIG_TYPE, ERR_CONFIG_UNKNOWN_KEY, ERR_CONFIG_VALUE } from './config-codes.js';
import type { ConfigKeyCheck } from './config-checks.js';
import { CONFIG_RULES } from './config-rules.js';
import { configSchema, configKeyDefault, DEFAULT_EXTENSION_NAME, CONFIG_EXTENSION_KEYS, CONFIG_NGINX_TUNING_KEYS, CONFIG_ACME_KEYS, CONFIG_TOP_LEVEL_KEYS, CONFIG_PATTERNS } from './config-schema.js';
import type { ConfigJsonSchema, ConfigKeySpec } from './config-schema.js';
import type { ExtensionConfig, SignalboxConfig } from './config-types.js';
import type { Diagnostic } from './diagnostics.js';
import type { ERR_DIRECTIVE_FORBIDDEN } from './directive-policy.js';
import { editDistance } from './edit-distance.js';
import { applyInterlockCompat, placementWarnings } from './interlock-compat.js';
import type { ConfigWarningCode } from './interlock-compat.js';

export * from './config-codes.js';
export type ConfigCode =
  | typeof ERR_CONFIG_TOML
  | typeof ERR_CONFIG_UNKNOWN_KEY
  | typeof ERR_CONFIG_TYPE
  | typeof ERR_CONFIG_VALUE
  | typeof ERR_CONFIG_SEMANTIC
  | typeof ERR_CONFIG_INTERNAL
  | ConfigWarningCode
  /** A raw option uses a directive of the one directive policy (directive-policy.ts). */
  | typeof ERR_DIRECTIVE_FORBIDDEN;

/** Warnings never make a file invalid: Interlock keys Signalbox ignores, rewritten values, placement that cannot be met. */
export type ConfigResult = { ok: true; config: SignalboxConfig; warnings: Diagnostic[] } | { ok: false; errors: Diagnostic[]; warnings: Diagnostic[] };

type Segment = string | number;
type Table = Record<string, unknown>;

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

/** TOML-style dotted path: Extensions.default.Config.MaxConnections, Extensions.default.Constraints[0], Labels."a.b". */
export function configKeyPath(segments: readonly Segment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else {
      const part = BARE_KEY.test(s) ? s : JSON.stringify(s);
      out += out === '' ? part : `.${part}`;
    }
  }
  return out;
}

/**
 * Parse and validate config.toml. `source` names the file in the TOML syntax diagnostic (default "config.toml").
 * On success the config has every default applied and is deep-frozen.
 */
/** A config.toml is a few KiB; anything this large is a mistake (or an attack on the parser). */
export const MAX_CONFIG_BYTES = 1024 * 1024;

export function parseConfig(text: string, source = 'config.toml'): ConfigResult {
  if (typeof text === 'string' && text.length > MAX_CONFIG_BYTES) {
    return { ok: false, errors: [diag(ERR_CONFIG_TOML, source, undefined, `is ${text.length} characters long; a config.toml may have at most ${MAX_CONFIG_BYTES} (1 MiB)`)], warnings: [] };
  }
  try {
    return parseUnsafe(text, source);
  } catch (e) {
    return { ok: false, errors: [diag(ERR_CONFIG_INTERNAL, source, undefined, `could not be checked: ${e instanceof Error ? e.message : String(e)}`)], warnings: [] };
  }
}

function parseUnsafe(text: string, source: string): ConfigResult {
  let data: Table;
  try {
    data = parse(String(text), { unsafeKeyBehaviour: 'throw' }) as Table;
  } catch (e) {
    return { ok: false, errors: [tomlDiagnostic(e, String(text), source)], warnings: [] };
  }
  // Interlock's files load unchanged: keys in any case, its unused keys and images, quoted log formats.
  const compat = applyInterlockCompat(data);
  const warnings = compat.warnings;
  const errors: Diagnostic[] = [...compat.errors];
  const bad = new Set<string>();
  const badExtensionNames = new Set<string>();
  for (const { d, segments, badName } of schemaDiagnostics(data)) {
    errors.push(d);
    if (d.code !== ERR_CONFIG_UNKNOWN_KEY) bad.add(configKeyPath(segments));
    if (badName !== undefined) badExtensionNames.add(badName);
  }
  const isBad = (segments: readonly Segment[]): boolean => {
    const p = configKeyPath(segments);
    for (const b of bad) if (b === p || b.startsWith(`${p}.`) || b.startsWith(`${p}[`)) return true;
    return false;
  };
  const config = applyDefaults(data, isBad);
  errors.push(...semanticDiagnostics(config, isBad, badExtensionNames, warnings));
  warnings.push(...placementWarnings(config));
  if (errors.length > 0) return { ok: false, errors, warnings };
  return { ok: true, config: deepFreeze(config), warnings };
}

function diag(code: ConfigCode, key: string, value: string | undefined, message: string): Diagnostic {
  return value === undefined ? { code, severity: 'error', key, message } : { code, severity: 'error', key, value, message };
}

// ---------------------------------------------------------------------------------------------------------
// Pass 1: TOML

function tomlDiagnostic(e: unknown, text: string, source: string): Diagnostic {
  if (e instanceof TomlError) {
    const reason = (e.message.split('\n')[0] ?? '').replace(/^Invalid TOML document:\s*/, '');
    const line = text.split(/\r?\n/)[e.line - 1];
    return diag(ERR_CONFIG_TOML, source, line, `is not valid TOML: ${reason} (line ${e.line}, column ${e.column})`);
  }
  return diag(ERR_CONFIG_TOML, source, undefined, `is not valid TOML: ${e instanceof Error ? e.message : String(e)}`);
}

// ---------------------------------------------------------------------------------------------------------
// Pass 2: JSON Schema, with ajv's errors translated into diagnostics

let compiled: ValidateFunction | undefined;
function validator(): ValidateFunction {
  compiled ??= new Ajv({ allErrors: true, verbose: true, strict: true }).compile(configSchema);
  return compiled;
}

interface SchemaDiagnostic {
  d: Diagnostic;
  segments: Segment[];
  /** Set when an extension's name itself is invalid. */
  badName?: string;
}

function isTable(v: unknown): v is Table {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);
}

function pointerSegments(pointer: string, data: unknown): Segment[] {
  if (pointer === '') return [];
  const out: Segment[] = [];
  let cur: unknown = data;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (Array.isArray(cur)) {
      out.push(Number(key));
      cur = cur[Number(key)];
    } else {
      out.push(key);
      cur = isTable(cur) ? cur[key] : undefined;
    }
  }
  return out;
}

/** The offending value as text: strings as they are, everything else in JSON. */
export function configValueText(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

function tomlTypeOf(v: unknown): string {
  if (typeof v === 'string') return 'a string';
  if (typeof v === 'number') return Number.isInteger(v) ? 'an integer' : 'a float';
  if (typeof v === 'boolean') return 'a boolean';
  if (v instanceof Date) return 'a date';
  if (Array.isArray(v)) return 'an array';
  return 'a table';
}

function expectedType(schema: ConfigJsonSchema | undefined): string {
  switch (schema?.type) {
    case 'string':
      return 'a string';
    case 'integer':
      return 'an integer';
    case 'boolean':
      return 'true or false';
    case 'array':
      return 'an array of strings';
    case 'object':
      if (schema.properties) return 'a table';
      if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
        return schema.additionalProperties.type === 'string' ? 'a table of strings' : 'a table of [Extensions.NAME] sections';
      }
      return 'a table';
    default:
      return 'a different type';
  }
}

// Reversed so the first pattern listed wins when two share a regular expression.
const PATTERN_EXPECT = new Map<string, string>(
  Object.values(CONFIG_PATTERNS)
    .reverse()
    .map((p) => [p.pattern, p.expect]),
);

type Section = 'top' | 'extension' | 'config' | 'acme';
const SECTION_KEYS: Record<Section, readonly string[]> = {
  top: [...Object.keys(CONFIG_TOP_LEVEL_KEYS), 'Extensions'],
  extension: [...Object.keys(CONFIG_EXTENSION_KEYS), 'Config', 'Acme'],
  config: Object.keys(CONFIG_NGINX_TUNING_KEYS),
  acme: Object.keys(CONFIG_ACME_KEYS),
};

function sectionOf(segments: readonly Segment[]): Section | undefined {
  if (segments.length === 0) return 'top';
  if (segments.length === 2 && segments[0] === 'Extensions') return 'extension';
  if (segments.length === 3 && segments[0] === 'Extensions' && segments[2] === 'Config') return 'config';
  if (segments.length === 3 && segments[0] === 'Extensions' && segments[2] === 'Acme') return 'acme';
  return undefined;
}

function sectionTitle(section: Section, extName: string): string {
  const ext = extName === '<NAME>' ? 'Extensions.<NAME>' : configKeyPath(['Extensions', extName]);
  if (section === 'acme') return `[${ext}.Acme]`;
  return section === 'top' ? 'the top level' : section === 'extension' ? `[${ext}]` : `[${ext}.Config]`;
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const dist = editDistance(w, c.toLowerCase());
    if (dist < bestDist) [best, bestDist] = [c, dist];
  }
  return best !== undefined && bestDist <= Math.max(2, Math.floor(word.length / 4)) ? best : undefined;
}

function unknownKeyMessage(parent: readonly Segment[], key: string, value: unknown): string {
  const section = sectionOf(parent);
  if (section === undefined) return 'is not a known key';
  const extName = section === 'top' ? '<NAME>' : String(parent[1]);
  const here = SECTION_KEYS[section];
  const sameCase = here.find((k) => k.toLowerCase() === key.toLowerCase());
  if (sameCase) return `is not a known key; did you mean "${sameCase}"? (key names are case-sensitive)`;
  for (const other of ['top', 'extension', 'config', 'acme'] as const) {
    if (other === section) continue;
    const match = SECTION_KEYS[other].find((k) => k.toLowerCase() === key.toLowerCase());
    if (match) return `is not a key of ${sectionTitle(section, extName)}; "${match}" belongs in ${sectionTitle(other, extName)}`;
  }
  const near = closest(key, here);
  if (near) return `is not a known key; did you mean "${near}"?`;
  if (section === 'top' && isTable(value)) {
    return `is not a known key; extension sections are written [${configKeyPath(['Extensions', key])}]`;
  }
  return `is not a known key of ${sectionTitle(section, extName)}; see docs/configuration.md for the keys`;
}

function schemaDiagnostics(data: Table): SchemaDiagnostic[] {
  const validate = validator();
  if (validate(data)) return [];
  const out: SchemaDiagnostic[] = [];
  const typeErrorPaths = new Set<string>();
  const errors = validate.errors ?? [];
  for (const e of errors) if (e.keyword === 'type') typeErrorPaths.add(e.instancePath);
  const seen = new Set<string>();
  for (const e of errors) {
    if (e.keyword !== 'type' && typeErrorPaths.has(e.instancePath) && e.propertyName === undefined) continue;
    const t = translate(e, data);
    if (!t) continue;
    const id = `${t.d.code}\0${t.d.key}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(t);
  }
  return out;
}

function translate(e: ErrorObject, data: Table): SchemaDiagnostic | undefined {
  const segments = pointerSegments(e.instancePath, data);
  const schema = e.parentSchema as ConfigJsonSchema | undefined;
  if (e.keyword === 'propertyNames') return undefined; // reported through its inner error, which carries propertyName
  if (e.propertyName !== undefined) {
    const name = e.propertyName;
    const path = [...segments, name];
    // A key of a map such as HostOwners, rather than an [Extensions.NAME] section name.
    const keyPattern = segments.length > 1 ? Object.values(CONFIG_PATTERNS).find((p) => p.pattern === e.schema) : undefined;
    if (keyPattern) {
      return { d: diag(ERR_CONFIG_VALUE, configKeyPath(path), name, `is not a valid key here: it must be ${keyPattern.expect}`), segments: path };
    }
    const expect = e.keyword === 'maxLength' ? `at most ${String(e.schema)} characters long` : CONFIG_PATTERNS.extensionName.expect;
    return {
      d: diag(ERR_CONFIG_VALUE, configKeyPath(path), name, `is not a valid extension name: it must be ${expect}`),
      segments: path,
      badName: name,
    };
  }
  const valueText = configValueText(e.data);
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String((e.params as { additionalProperty: string }).additionalProperty);
      const value = isTable(e.data) ? e.data[key] : undefined;
      const path = [...segments, key];
      return { d: diag(ERR_CONFIG_UNKNOWN_KEY, configKeyPath(path), configValueText(value), unknownKeyMessage(segments, key, value)), segments: path };
    }
    case 'type':
      return { d: diag(ERR_CONFIG_TYPE, configKeyPath(segments), valueText, `must be ${expectedType(schema)}, not ${tomlTypeOf(e.data)}`), segments };
    case 'minimum':
    case 'maximum':
      return {
        d: diag(ERR_CONFIG_VALUE, configKeyPath(segments), valueText, `must be an integer from ${String(schema?.minimum)} to ${String(schema?.maximum)}`),
        segments,
      };
    case 'enum':
      return {
        d: diag(ERR_CONFIG_VALUE, configKeyPath(segments), valueText, `must be one of ${(schema?.enum ?? []).map((v) => `"${v}"`).join(', ')}`),
        segments,
      };
    case 'pattern': {
      const expect = PATTERN_EXPECT.get(String(e.schema)) ?? 'of the documented form';
      return { d: diag(ERR_CONFIG_VALUE, configKeyPath(segments), valueText, `must be ${expect}`), segments };
    }
    case 'maxLength':
      return { d: diag(ERR_CONFIG_VALUE, configKeyPath(segments), valueText, `must be at most ${String(e.schema)} characters long`), segments };
    case 'minLength':
      return { d: diag(ERR_CONFIG_VALUE, configKeyPath(segments), valueText, 'must not be empty'), segments };
    default:
      return { d: diag(ERR_CONFIG_VALUE, configKeyPath(segments), valueText, 'is not a valid value here; see docs/configuration.md'), segments };
  }
}

// ---------------------------------------------------------------------------------------------------------
// Defaults: every key from the input when it passed the schema, else its default

function cloneValue(v: unknown): unknown {
  if (Array.isArray(v)) return [...(v as unknown[])];
  if (isTable(v)) return Object.fromEntries(Object.entries(v));
  return v;
}

function buildSection(specs: Readonly<Record<string, ConfigKeySpec>>, input: unknown, segments: readonly Segment[], isBad: (s: readonly Segment[]) => boolean, extensionName?: string): Table {
  const src = isTable(input) ? input : {};
  const out: Table = {};
  for (const [key, spec] of Object.entries(specs)) {
    const v = src[key];
    out[key] = v === undefined || isBad([...segments, key]) ? configKeyDefault(spec, extensionName) : cloneValue(v);
  }
  return out;
}

function applyDefaults(data: Table, isBad: (s: readonly Segment[]) => boolean): SignalboxConfig {
  const top = buildSection(CONFIG_TOP_LEVEL_KEYS, data, [], isBad);
  const extensions: Record<string, ExtensionConfig> = {};
  // Not isBad(['Extensions']): that is also true when only something inside one extension is wrong.
  const exts = isTable(data.Extensions) ? data.Extensions : {};
  for (const [name, input] of Object.entries(exts)) {
    const segs = ['Extensions', name];
    const ext = buildSection(CONFIG_EXTENSION_KEYS, input, segs, isBad, name);
    ext.Config = buildSection(CONFIG_NGINX_TUNING_KEYS, isTable(input) ? input.Config : undefined, [...segs, 'Config'], isBad);
    ext.Acme = buildSection(CONFIG_ACME_KEYS, isTable(input) ? input.Acme : undefined, [...segs, 'Acme'], isBad);
    Object.defineProperty(extensions, name, { value: ext as unknown as ExtensionConfig, enumerable: true, writable: true, configurable: true });
  }
  return { ...top, Extensions: extensions } as unknown as SignalboxConfig;
}

// ---------------------------------------------------------------------------------------------------------
// Pass 3: each key's own check, then the rules across keys (config-checks.ts, config-rules.ts)

function semanticDiagnostics(cfg: SignalboxConfig, isBad: (s: readonly Segment[]) => boolean, badNames: ReadonlySet<string>, warnings: Diagnostic[]): Diagnostic[] {
  // Reported grouped by section: the top level first, then each extension in file order.
  const found: { d: Diagnostic; rank: number }[] = [];
  const extensions = Object.keys(cfg.Extensions).filter((name) => !badNames.has(name));
  const push = (code: ConfigCode, segments: readonly Segment[], value: string | undefined, message: string): void => {
    const rank = segments[0] === 'Extensions' && segments.length > 1 ? 1 + extensions.indexOf(String(segments[1])) : 0;
    found.push({ d: diag(code, configKeyPath(segments), value, message), rank });
  };
  const ok = (segments: readonly Segment[]): boolean => !isBad(segments);
  const checkSection = (specs: Readonly<Record<string, ConfigKeySpec>>, values: object, segments: readonly Segment[]): void => {
    for (const [key, spec] of Object.entries(specs)) {
      const check = spec.check as ConfigKeyCheck<unknown> | undefined;
      if (!check || !ok([...segments, key])) continue;
      const value: unknown = (values as Table)[key];
      for (const p of check.problems(value)) {
        const at = p.index === undefined ? [...segments, key] : [...segments, key, p.index];
        const shown = p.index === undefined ? value : (value as readonly unknown[])[p.index];
        push(check.code, at, configValueText(shown), p.message);
      }
    }
  };
  checkSection(CONFIG_TOP_LEVEL_KEYS, cfg, []);
  for (const name of extensions) {
    const ext = cfg.Extensions[name]!;
    checkSection(CONFIG_EXTENSION_KEYS, ext, ['Extensions', name]);
    checkSection(CONFIG_NGINX_TUNING_KEYS, ext.Config, ['Extensions', name, 'Config']);
    checkSection(CONFIG_ACME_KEYS, ext.Acme, ['Extensions', name, 'Acme']);
  }
  for (const rule of CONFIG_RULES) {
    rule.check({
      config: cfg,
      extensions,
      ok,
      path: configKeyPath,
      report: (segments, value, message) => push(rule.code, segments, value, message),
      warn: ({ segments, ...w }) => warnings.push({ ...w, severity: 'warning', key: configKeyPath(segments) }),
    });
  }
  return found.sort((a, b) => a.rank - b.rank).map((f) => f.d);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** For tests and tools: the defaults of a file containing only [Extensions.default]. */
export function defaultConfig(): SignalboxConfig {
  const r = parseConfig(`[Extensions.${DEFAULT_EXTENSION_NAME}]\n`);
  if (!r.ok) throw new Error('built-in defaults do not validate');
  return r.config;
}
