// Interlock compatibility of config.toml: what an unmodified Interlock/UCP file needs so that it loads.
// Runs on the parsed TOML before the schema (key case, keys Signalbox does not use, Interlock images,
// nginx-quoted log formats, empty list entries) and on the defaulted config after it (constraints no
// node can satisfy). It never rejects a file on its own except for one key given twice in two cases.
import { CONFIG_EXTENSION_KEYS, CONFIG_NGINX_TUNING_KEYS, CONFIG_TOP_LEVEL_KEYS } from './config-schema.js';
import type { ExtensionConfig, SignalboxConfig } from './config-types.js';
import type { Diagnostic } from './diagnostics.js';

/** An Interlock key Signalbox accepts and does not use. */
export const WARN_CONFIG_INTERLOCK_KEY = 'WARN_CONFIG_INTERLOCK_KEY';
/** A key written in another case than Signalbox's (Interlock's TOML decoding ignored case). */
export const WARN_CONFIG_KEY_CASE = 'WARN_CONFIG_KEY_CASE';
/** Image or ProxyImage names one of Docker Interlock's images; Signalbox's image is used instead. */
export const WARN_CONFIG_INTERLOCK_IMAGE = 'WARN_CONFIG_INTERLOCK_IMAGE';
/** An empty string in a list (UCP wrote Args = [""], Constraints = [""]); it is dropped. */
export const WARN_CONFIG_EMPTY_ENTRY = 'WARN_CONFIG_EMPTY_ENTRY';
/** A placement constraint that no node outside UCP has, or constraints that contradict each other. */
export const WARN_CONFIG_CONSTRAINT = 'WARN_CONFIG_CONSTRAINT';
/** Two host-mode extensions publish one port without constraints that keep their proxies apart. */
export const WARN_CONFIG_SHARED_HOST_PORT = 'WARN_CONFIG_SHARED_HOST_PORT';
/** EdgeReplicas set in an extension without an edge (ProxyEdge = false): it has no effect. */
export const WARN_CONFIG_EDGE_REPLICAS_UNUSED = 'WARN_CONFIG_EDGE_REPLICAS_UNUSED';
/** A log format written the Interlock way (nginx-quoted pieces, $reqid) was rewritten. */
export const WARN_CONFIG_LOG_FORMAT = 'WARN_CONFIG_LOG_FORMAT';

/** The warnings parseConfig can give (they never refuse a file). */
export type ConfigWarningCode =
  | typeof WARN_CONFIG_INTERLOCK_KEY
  | typeof WARN_CONFIG_KEY_CASE
  | typeof WARN_CONFIG_INTERLOCK_IMAGE
  | typeof WARN_CONFIG_EMPTY_ENTRY
  | typeof WARN_CONFIG_CONSTRAINT
  | typeof WARN_CONFIG_SHARED_HOST_PORT
  | typeof WARN_CONFIG_EDGE_REPLICAS_UNUSED
  | typeof WARN_CONFIG_LOG_FORMAT;

export type ConfigSectionName = 'top' | 'extension' | 'config';
type Table = Record<string, unknown>;
type Segment = string | number;

/**
 * Interlock keys Signalbox accepts and ignores, per section, each with what Signalbox does instead.
 * The reason completes "is an Interlock setting Signalbox does not need: …".
 */
export const INTERLOCK_IGNORED_KEYS: Readonly<Record<ConfigSectionName, Readonly<Record<string, string>>>> = {
  top: {
    HitlessServiceUpdate: 'proxies are never restarted for routine changes: a new nginx.conf is reloaded in place, and networks are joined without a restart',
  },
  extension: {
    HitlessServiceUpdate: 'proxies are never restarted for routine changes: a new nginx.conf is reloaded in place, and networks are joined without a restart',
    ConfigImage: 'there is no separate config service: the extension serves nginx.conf to the proxy agents itself',
    ConfigServiceName: 'there is no separate config service: the extension serves nginx.conf to the proxy agents itself',
  },
  config: {
    Version: 'the nginx version is the one in ProxyImage',
    HTTPVersion: 'nginx always speaks HTTP/1.1 to upstreams (proxy_http_version 1.1), so keep-alive and WebSockets work',
    IPHash: 'client-IP affinity is set per service with the label com.docker.lb.ip_hash=true',
    AdminUser: 'the proxy has no admin page; metrics are served by core and the extension on /metrics',
    AdminPass: 'the proxy has no admin page; metrics are served by core and the extension on /metrics',
    SSLOpts: 'extra ssl_* directives go in HTTPOptions',
    SSLVerify: 'verification of backends is set per service with the label com.docker.lb.ssl_backend_tls_verify',
  },
};

/** Keys of each section, Signalbox's spelling. */
const SECTION_KEYS: Readonly<Record<ConfigSectionName, readonly string[]>> = {
  top: [...Object.keys(CONFIG_TOP_LEVEL_KEYS), 'Extensions'],
  extension: [...Object.keys(CONFIG_EXTENSION_KEYS), 'Config', 'Acme'],
  config: Object.keys(CONFIG_NGINX_TUNING_KEYS),
};

const LIST_KEYS_DROPPING_EMPTY = ['Args', 'ProxyArgs', 'Constraints', 'ProxyConstraints', 'PlacementPreferences', 'ProxyPlacementPreferences', 'Networks'];

export interface CompatResult {
  data: Table;
  warnings: Diagnostic[];
  errors: Diagnostic[];
}

function isTable(v: unknown): v is Table {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);
}

function pathText(segments: readonly Segment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else {
      const part = /^[A-Za-z0-9_-]+$/.test(s) ? s : JSON.stringify(s);
      out += out === '' ? part : `.${part}`;
    }
  }
  return out;
}

function warn(code: ConfigWarningCode, segments: readonly Segment[], value: string | undefined, message: string): Diagnostic {
  return value === undefined ? { code, severity: 'warning', key: pathText(segments), message } : { code, severity: 'warning', key: pathText(segments), value, message };
}

/** Interlock's extension/proxy/config images and plain nginx (which has no proxy agent). */
const INTERLOCK_IMAGE = /^(?:ucp-)?interlock(?:-extension(?:-nginx)?|-proxy|-config)?$/;

function imageRepoName(image: string): string {
  const noDigest = image.split('@')[0]!;
  const last = noDigest.split('/').pop()!;
  return last.replace(/:[^:]*$/, '');
}

/** Why `image` cannot run as this key's service in Signalbox, or undefined when it may. */
export function interlockImageReason(key: 'Image' | 'ProxyImage', image: string): string | undefined {
  const repo = imageRepoName(image);
  if (INTERLOCK_IMAGE.test(repo)) return `is Docker Interlock's ${repo.replace(/^ucp-/, '')} image, which does not speak to Signalbox's core`;
  if (key === 'ProxyImage' && repo === 'nginx') return 'is a plain nginx image, without the proxy agent that fetches and reloads nginx.conf';
  return undefined;
}

/**
 * Interlock wrote log formats as nginx source: single-quoted pieces over several lines ending in ";".
 * Signalbox writes the format in quotes itself, so the pieces are joined. Undefined when not that form.
 */
export function unquoteNginxLogFormat(value: string): string | undefined {
  const s = value.trim();
  if (!s.startsWith("'")) return undefined;
  const piece = /^'([^']*)'\s*/;
  let rest = s;
  let out = '';
  while (rest.startsWith("'")) {
    const m = piece.exec(rest);
    if (!m) return undefined;
    out += m[1];
    rest = rest.slice(m[0].length);
  }
  if (rest !== '' && rest !== ';') return undefined;
  return out;
}

/** Apply Interlock's key matching and drop what Signalbox does not use; `data` is modified in place. */
export function applyInterlockCompat(data: Table): CompatResult {
  const warnings: Diagnostic[] = [];
  const errors: Diagnostic[] = [];

  const normalizeSection = (table: Table, section: ConfigSectionName, at: readonly Segment[]): void => {
    const known = SECTION_KEYS[section];
    const ignored = INTERLOCK_IGNORED_KEYS[section];
    for (const key of Object.keys(table)) {
      if (known.includes(key)) continue;
      const path = [...at, key];
      const ignoredKey = Object.keys(ignored).find((k) => k.toLowerCase() === key.toLowerCase());
      if (ignoredKey !== undefined) {
        warnings.push(warn(WARN_CONFIG_INTERLOCK_KEY, path, valueText(table[key]), `is an Interlock setting Signalbox does not need: ${ignored[ignoredKey]}; it is ignored`));
        delete table[key];
        continue;
      }
      const canonical = known.find((k) => k.toLowerCase() === key.toLowerCase());
      if (canonical === undefined) continue; // left to the schema: unknown key, with its did-you-mean
      if (Object.hasOwn(table, canonical)) {
        errors.push({
          code: 'ERR_CONFIG_UNKNOWN_KEY' as const,
          severity: 'error',
          key: pathText(path),
          message: `is the same key as ${canonical} (names match regardless of case, as in Interlock), which is also set; keep one`,
        });
        delete table[key];
        continue;
      }
      warnings.push(warn(WARN_CONFIG_KEY_CASE, path, undefined, `is read as ${canonical}: key names match regardless of case, as in Interlock; Signalbox's spelling is ${canonical}`));
      Object.defineProperty(table, canonical, { value: table[key], enumerable: true, writable: true, configurable: true });
      delete table[key];
    }
  };

  normalizeSection(data, 'top', []);
  const exts = data.Extensions;
  if (isTable(exts)) {
    for (const [name, ext] of Object.entries(exts)) {
      if (!isTable(ext)) continue;
      const at = ['Extensions', name];
      normalizeSection(ext, 'extension', at);
      for (const key of LIST_KEYS_DROPPING_EMPTY) {
        const list = ext[key];
        if (!Array.isArray(list) || !list.some((v) => typeof v === 'string' && v.trim() === '')) continue;
        warnings.push(warn(WARN_CONFIG_EMPTY_ENTRY, [...at, key], JSON.stringify(list), 'has empty entries (as UCP wrote them); they are dropped'));
        ext[key] = list.filter((v) => !(typeof v === 'string' && v.trim() === ''));
      }
      for (const key of ['Image', 'ProxyImage'] as const) {
        const image = ext[key];
        if (typeof image !== 'string') continue;
        const reason = interlockImageReason(key, image);
        if (reason === undefined) continue;
        const replacement = String(CONFIG_EXTENSION_KEYS[key].default);
        warnings.push(warn(WARN_CONFIG_INTERLOCK_IMAGE, [...at, key], image, `${reason}; Signalbox runs ${replacement} in its place (set ${key} to a Signalbox image to silence this)`));
        delete ext[key];
      }
      const config = ext.Config;
      if (!isTable(config)) continue;
      normalizeSection(config, 'config', [...at, 'Config']);
      for (const key of ['MainLogFormat', 'TraceLogFormat']) {
        const v = config[key];
        if (typeof v !== 'string') continue;
        const unquoted = unquoteNginxLogFormat(v);
        let next = unquoted ?? v;
        const notes: string[] = [];
        if (unquoted !== undefined) notes.push("its nginx-quoted pieces are joined (Signalbox writes the quotes and the ';' itself)");
        // Interlock's template defined $reqid; nginx's own name for it is $request_id.
        if (/\$reqid\b/.test(next)) {
          next = next.replace(/\$reqid\b/g, '$request_id');
          notes.push("Interlock's $reqid is written as nginx's $request_id");
        }
        if (notes.length === 0) continue;
        warnings.push(warn(WARN_CONFIG_LOG_FORMAT, [...at, 'Config', key], undefined, `is read the Interlock way: ${notes.join('; ')}`));
        config[key] = next;
      }
    }
  }
  return { data, warnings, errors };
}

function valueText(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

// ---------------------------------------------------------------------------------------------------------
// After defaults: placement that can never be satisfied, and host-mode ports shared between extensions

interface Constraint {
  attribute: string;
  op: '==' | '!=';
  value: string;
  text: string;
}

const CONSTRAINT_PARTS = /^\s*([A-Za-z0-9_.-]+)\s*(==|!=)\s*(.*?)\s*$/;

function parseConstraints(list: readonly string[]): Constraint[] {
  const out: Constraint[] = [];
  for (const text of list) {
    const m = CONSTRAINT_PARTS.exec(text);
    if (m) out.push({ attribute: m[1]!, op: m[2] as '==' | '!=', value: m[3]!, text });
  }
  return out;
}

/** Two constraint lists no node can satisfy at once: a==x with a==y (x≠y), or a==x with a!=x. */
function contradiction(a: readonly Constraint[], b: readonly Constraint[]): [Constraint, Constraint] | undefined {
  for (const x of a) {
    for (const y of b) {
      if (x.attribute !== y.attribute) continue;
      if (x.op === '==' && y.op === '==' && x.value !== y.value) return [x, y];
      if (x.op !== y.op && x.value === y.value) return [x, y];
    }
  }
  return undefined;
}

/** A label UCP sets on its own nodes: without UCP no node has it. */
const UCP_NODE_LABEL = /^node\.labels\.com\.docker\.ucp\./;

/** Whether the proxies of two extensions can never run on the same node. */
export function proxiesDisjoint(a: ExtensionConfig, b: ExtensionConfig): boolean {
  return contradiction(parseConstraints(a.ProxyConstraints), parseConstraints(b.ProxyConstraints)) !== undefined;
}

/** Warnings on a parsed, defaulted config: constraints that cannot be met. */
export function placementWarnings(cfg: SignalboxConfig): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const [name, ext] of Object.entries(cfg.Extensions)) {
    for (const key of ['Constraints', 'ProxyConstraints'] as const) {
      const parsed = parseConstraints(ext[key]);
      parsed.forEach((c) => {
        if (UCP_NODE_LABEL.test(c.attribute) && c.op === '==') {
          out.push(
            warn(
              WARN_CONFIG_CONSTRAINT,
              ['Extensions', name, key, ext[key].indexOf(c.text)],
              c.text,
              'needs a node label UCP puts on its nodes: while UCP runs it matches, but on a swarm without UCP no node has it and the service stays pending; remove it when UCP is gone',
            ),
          );
        }
      });
      for (let i = 0; i < parsed.length; i++) {
        const clash = contradiction([parsed[i]!], parsed.slice(i + 1));
        if (clash) {
          out.push(
            warn(
              WARN_CONFIG_CONSTRAINT,
              ['Extensions', name, key, ext[key].indexOf(clash[1].text)],
              clash[1].text,
              `can never hold together with "${clash[0].text}": no node satisfies both, so the service would stay pending`,
            ),
          );
        }
      }
    }
  }
  return out;
}
