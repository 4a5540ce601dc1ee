// parseConfig: config.toml text → a validated, defaulted, frozen SignalboxConfig, or every problem found.
// Three passes: TOML syntax, the JSON Schema (types, ranges, patterns, unknown keys), then rules that
// span keys (durations, addresses, uniqueness across extensions). Nothing here throws.
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { parse, TomlError } from 'smol-toml';
import {
  configSchema,
  configKeyDefault,
  DEFAULT_EXTENSION_NAME,
  CONFIG_EXTENSION_KEYS,
  CONFIG_NGINX_TUNING_KEYS,
  CONFIG_ACME_KEYS,
  PROXY_STOP_SIGNALS,
  CONFIG_TOP_LEVEL_KEYS,
  CONFIG_PATTERNS,
} from './config-schema.js';
import type { ConfigJsonSchema, ConfigKeySpec } from './config-schema.js';
import type { ExtensionConfig, SignalboxConfig } from './config-types.js';
import type { Diagnostic } from './diagnostics.js';
import { ERR_DIRECTIVE_FORBIDDEN, forbiddenDirectives } from './directive-policy.js';
import { durationMs } from './duration.js';
import { editDistance } from './edit-distance.js';
import { applyInterlockCompat, placementWarnings, proxiesDisjoint, WARN_CONFIG_SHARED_HOST_PORT } from './interlock-compat.js';
import type { ConfigWarningCode } from './interlock-compat.js';

export const ERR_CONFIG_TOML = 'ERR_CONFIG_TOML';
export const ERR_CONFIG_UNKNOWN_KEY = 'ERR_CONFIG_UNKNOWN_KEY';
export const ERR_CONFIG_TYPE = 'ERR_CONFIG_TYPE';
export const ERR_CONFIG_VALUE = 'ERR_CONFIG_VALUE';
export const ERR_CONFIG_SEMANTIC = 'ERR_CONFIG_SEMANTIC';
/** A bug in the parser itself; reported rather than thrown. */
export const ERR_CONFIG_INTERNAL = 'ERR_CONFIG_INTERNAL';
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
const PATTERN_EXPECT = new Map<string, string>(Object.values(CONFIG_PATTERNS).reverse().map((p) => [p.pattern, p.expect]));

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
    const expect =
      e.keyword === 'maxLength' ? `at most ${String(e.schema)} characters long` : CONFIG_PATTERNS.extensionName.expect;
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

function buildSection(
  specs: Readonly<Record<string, ConfigKeySpec>>,
  input: unknown,
  segments: readonly Segment[],
  isBad: (s: readonly Segment[]) => boolean,
  extensionName?: string,
): Table {
  const src = isTable(input) ? input : {};
  const out: Table = {};
  for (const [key, spec] of Object.entries(specs)) {
    const v = src[key];
    out[key] = v === undefined || isBad([...segments, key]) ? configKeyDefault(spec, key, extensionName) : cloneValue(v);
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
// Pass 3: rules across keys

const HOST = String.raw`(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)`;
const LISTEN_ADDR = new RegExp(`^(?:${HOST})?:(\\d{1,5})$`);
const TCP_URL = new RegExp(`^tcp://${HOST}:(\\d{1,5})$`);
const UNIX_URL = /^unix:\/\/\/\S+$/;
const CONSTRAINT = /^\s*[A-Za-z0-9_.-]+\s*(?:==|!=)\s*\S.*$/;
const PLACEMENT = /^spread=[A-Za-z0-9_.-]+$/;

function validPort(digits: string | undefined): boolean {
  const n = Number(digits);
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

function semanticDiagnostics(
  cfg: SignalboxConfig,
  isBad: (s: readonly Segment[]) => boolean,
  badNames: ReadonlySet<string>,
  warnings: Diagnostic[],
): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report = (segments: readonly Segment[], value: string | undefined, message: string, code: ConfigCode = ERR_CONFIG_SEMANTIC): void => {
    out.push(diag(code, configKeyPath(segments), value, message));
  };
  const ok = (segments: readonly Segment[]): boolean => !isBad(segments);

  if (ok(['ListenAddr']) && !validPort(LISTEN_ADDR.exec(cfg.ListenAddr)?.[1])) {
    report(['ListenAddr'], cfg.ListenAddr, 'must be [host]:port with a port from 1 to 65535, e.g. ":8080"');
  }
  if (ok(['DockerURL']) && !UNIX_URL.test(cfg.DockerURL) && !validPort(TCP_URL.exec(cfg.DockerURL)?.[1])) {
    report(['DockerURL'], cfg.DockerURL, 'must be unix:///path/to/socket or tcp://host:port');
  }
  if (ok(['EndpointOverride']) && cfg.EndpointOverride !== '' && !isHttpUrl(cfg.EndpointOverride)) {
    report(['EndpointOverride'], cfg.EndpointOverride, 'must be empty or an http:// or https:// URL, e.g. http://signalbox-core:8080');
  }
  const tlsKeys = ['TLSCACert', 'TLSCert', 'TLSKey'] as const;
  if (tlsKeys.every((k) => ok([k]))) {
    const set = tlsKeys.filter((k) => cfg[k] !== '');
    if (set.length > 0 && set.length < tlsKeys.length) {
      for (const k of tlsKeys.filter((x) => cfg[x] === '')) {
        report([k], undefined, `must be set because ${set.join(' and ')} ${set.length === 1 ? 'is' : 'are'} set: the TLS files go together or not at all`);
      }
    }
  }
  checkDuration(['PollInterval'], cfg.PollInterval, true);

  const names = Object.keys(cfg.Extensions);
  if (names.length === 0 && ok(['Extensions'])) {
    report(['Extensions'], undefined, 'must have at least one [Extensions.NAME] section, e.g. [Extensions.default]');
  }

  const ports = new Map<number, Segment[][]>();
  const serviceNames = new Map<string, Segment[]>();
  const clusters = new Map<string, Segment[]>();
  for (const name of names) {
    if (badNames.has(name)) continue;
    const ext = cfg.Extensions[name]!;
    const at = (...rest: Segment[]): Segment[] => ['Extensions', name, ...rest];

    if (ok(at('PublishedPort')) && ok(at('PublishedSSLPort')) && ext.PublishedPort === ext.PublishedSSLPort) {
      report(at('PublishedSSLPort'), String(ext.PublishedSSLPort), 'must differ from PublishedPort');
    }
    if (ok(at('TargetPort')) && ok(at('TargetSSLPort')) && ext.TargetPort === ext.TargetSSLPort) {
      report(at('TargetSSLPort'), String(ext.TargetSSLPort), 'must differ from TargetPort');
    }
    if (ok(at('ProxyStopSignal')) && !PROXY_STOP_SIGNALS.includes(ext.ProxyStopSignal)) {
      report(at('ProxyStopSignal'), ext.ProxyStopSignal, `is not a known signal; use one of ${PROXY_STOP_SIGNALS.join(', ')}`);
    }
    checkDuration(at('ProxyStopGracePeriod'), ext.ProxyStopGracePeriod, false);
    checkDuration(at('ProxyUpdateDelay'), ext.ProxyUpdateDelay, false);
    for (const key of ['RenewBefore', 'RetryInitial', 'RetryMax'] as const) checkDuration(at('Acme', key), ext.Acme[key], true);
    checkDuration(at('ProxyNetworkDetachDelay'), ext.ProxyNetworkDetachDelay, false);
    for (const key of ['Constraints', 'ProxyConstraints'] as const) {
      if (!ok(at(key))) continue;
      ext[key].forEach((c, i) => {
        if (!CONSTRAINT.test(c)) report(at(key, i), c, 'must be "<attribute>==<value>" or "<attribute>!=<value>", e.g. node.role==manager');
      });
    }
    for (const key of ['PlacementPreferences', 'ProxyPlacementPreferences'] as const) {
      if (!ok(at(key))) continue;
      ext[key].forEach((p, i) => {
        if (!PLACEMENT.test(p)) report(at(key, i), p, 'must be "spread=<label path>", e.g. spread=node.labels.zone');
      });
    }
    for (const key of ['GlobalOptions', 'HTTPOptions', 'TCPOptions'] as const) {
      if (!ok(at('Config', key))) continue;
      ext.Config[key].forEach((line, i) => {
        // The extension refuses the same directives in what it renders (one policy, one code).
        const bad = forbiddenDirectives(line)[0];
        if (bad) report(at('Config', key, i), line, `uses ${bad.name}: directive not allowed in raw options`, ERR_DIRECTIVE_FORBIDDEN);
      });
    }

    // Across extensions: first come, first served; the later one is reported. Two host-mode extensions may
    // share a port (Interlock's service-cluster layout): swarm never puts both proxies on one node.
    for (const key of ['PublishedPort', 'PublishedSSLPort'] as const) {
      if (!ok(at(key))) continue;
      const owners = ports.get(ext[key]) ?? [];
      const other = owners.find((o) => o[1] !== name);
      if (other === undefined) {
        ports.set(ext[key], [...owners, at(key)]);
        continue;
      }
      const otherExt = cfg.Extensions[String(other[1])]!;
      if (ext.PublishMode === 'host' && otherExt.PublishMode === 'host' && ok(at('PublishMode'))) {
        ports.set(ext[key], [...owners, at(key)]);
        if (!proxiesDisjoint(ext, otherExt)) {
          warnings.push({
            code: WARN_CONFIG_SHARED_HOST_PORT,
            severity: 'warning',
            key: configKeyPath(at(key)),
            value: String(ext[key]),
            message: `is also published in host mode by ${configKeyPath(other)}: swarm never runs both proxies on one node, so each node serves one of them, and their ProxyConstraints do not say which (give each its own node label, e.g. node.labels.region==east and ==west)`,
          });
        }
        continue;
      }
      const why = ext.PublishMode === 'host' && otherExt.PublishMode === 'host' ? '' : '; only two host-mode extensions (PublishMode = "host") may share a port, on different nodes';
      report(at(key), String(ext[key]), `is already published by ${configKeyPath(other)}${why}`);
    }
    for (const key of ['ServiceName', 'ProxyServiceName'] as const) {
      if (!ok(at(key))) continue;
      const owner = serviceNames.get(ext[key]);
      if (owner) report(at(key), ext[key], `is already used by ${configKeyPath(owner)}; every service needs its own name`);
      else serviceNames.set(ext[key], at(key));
    }
    if (ok(at('ServiceCluster'))) {
      const owner = clusters.get(ext.ServiceCluster);
      if (owner) report(at('ServiceCluster'), ext.ServiceCluster, `is already served by [${configKeyPath(owner.slice(0, 2))}]; one extension per service cluster`);
      else clusters.set(ext.ServiceCluster, at('ServiceCluster'));
    }
  }
  return out;

  function checkDuration(segments: readonly Segment[], value: string, positive: boolean): void {
    if (!ok(segments)) return;
    const ms = durationMs(value);
    if (ms === undefined) report(segments, value, 'must be a Go duration such as 3s, 500ms or 1m30s');
    else if (ms < 0 || (positive && ms === 0)) report(segments, value, positive ? 'must be longer than 0' : 'must not be negative');
  }
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
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
