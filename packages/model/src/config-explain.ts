// `signalbox config check --explain`: for each key a config.toml sets, how Signalbox treats it compared
// with Interlock (same / same but rewritten / accepted and ignored / different / refused). The verdicts
// come from parseConfig's own diagnostics, so they cannot disagree with what core does with the file.
import { parse } from 'smol-toml';
import { configKeyPath, parseConfig } from './config.js';
import type { Diagnostic } from './diagnostics.js';

export type KeyVerdict = 'same' | 'rewritten' | 'ignored' | 'replaced' | 'different' | 'refused';

export interface KeyExplanation {
  key: string;
  verdict: KeyVerdict;
  /** Why, or what differs; empty for plain "same". */
  note: string;
}

/**
 * Keys whose meaning or default is not Interlock's. Also the source of the "different" rows of
 * docs/migrating-from-interlock.md.
 */
export const INTERLOCK_DIFFERENCES: Readonly<Record<string, string>> = {
  'Extensions.*.Template':
    'names a Docker config holding a nunjucks template fed the view model (docs/custom-templates.md); an Interlock Go template is refused when the extension starts',
  'Extensions.*.ProxyReplicas': "default 1 (UCP wrote 2); set it to keep Interlock's replica count",
  'Extensions.*.ProxyStopGracePeriod': 'default 10s (UCP wrote 5s)',
  'Extensions.*.PublishedPort': 'default 8080 (Interlock examples use 80)',
  'Extensions.*.Networks': 'the proxy also joins the networks of the services it routes unless Networks is set, as in Interlock',
  'Extensions.*.Config.User': "default www-data (Interlock's nginx); both users exist in Signalbox's images",
  'Extensions.*.Config.SSLProtocols': 'default "TLSv1.2 TLSv1.3" (UCP wrote "TLSv1.2")',
  'Extensions.*.Config.SSLDefaultDHParam': 'default 2048 (UCP wrote 1024)',
  'Extensions.*.Config.ErrorLogPath': "default /dev/stderr (Interlock's /dev/stdout)",
  'Extensions.*.Config.GlobalOptions': 'load_module, include, ssl_engine, js_*, perl* and *_by_lua* lines are refused',
  'Extensions.*.Config.HTTPOptions': 'load_module, include, ssl_engine, js_*, perl* and *_by_lua* lines are refused',
  'Extensions.*.Config.TCPOptions': 'load_module, include, ssl_engine, js_*, perl* and *_by_lua* lines are refused',
};

const VERDICT_OF_CODE: Readonly<Record<string, KeyVerdict>> = {
  WARN_CONFIG_INTERLOCK_KEY: 'ignored',
  WARN_CONFIG_INTERLOCK_IMAGE: 'replaced',
  WARN_CONFIG_KEY_CASE: 'rewritten',
  WARN_CONFIG_LOG_FORMAT: 'rewritten',
  WARN_CONFIG_EMPTY_ENTRY: 'rewritten',
};

type Table = Record<string, unknown>;
const isTable = (v: unknown): v is Table => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);

/** Leaf keys the file sets, as dotted paths (maps such as Labels count as one key). */
function keysOf(data: Table): string[][] {
  const out: string[][] = [];
  for (const [k, v] of Object.entries(data)) {
    if (k.toLowerCase() === 'extensions' && isTable(v)) {
      for (const [name, ext] of Object.entries(v)) {
        if (!isTable(ext)) {
          out.push([k, name]);
          continue;
        }
        for (const [ek, ev] of Object.entries(ext)) {
          if (ek.toLowerCase() === 'config' && isTable(ev)) for (const ck of Object.keys(ev)) out.push([k, name, ek, ck]);
          else out.push([k, name, ek]);
        }
      }
    } else out.push([k]);
  }
  return out;
}

function differenceFor(segments: readonly string[]): string | undefined {
  const generic = segments.length >= 2 && segments[0] === 'Extensions' ? ['Extensions', '*', ...segments.slice(2)].join('.') : segments.join('.');
  return INTERLOCK_DIFFERENCES[generic];
}

/** Per-key verdicts for a config.toml, in file order; undefined when the file is not TOML. */
export function explainConfig(text: string): KeyExplanation[] | undefined {
  let data: Table;
  try {
    data = parse(text) as Table;
  } catch {
    return undefined;
  }
  const result = parseConfig(text);
  const byKey = new Map<string, Diagnostic[]>();
  for (const d of [...(result.ok ? [] : result.errors), ...result.warnings]) {
    const list = byKey.get(d.key) ?? [];
    list.push(d);
    byKey.set(d.key, list);
  }
  const out: KeyExplanation[] = [];
  for (const segments of keysOf(data)) {
    const key = configKeyPath(segments);
    // Diagnostics about the key itself or one of its items (Constraints[1]).
    const ds = [...byKey.entries()].filter(([k]) => k === key || k.startsWith(`${key}[`)).flatMap(([, v]) => v);
    const error = ds.find((d) => d.severity === 'error');
    if (error) {
      out.push({ key, verdict: 'refused', note: `${error.code}: ${error.message}` });
      continue;
    }
    const decisive = ds.find((d) => VERDICT_OF_CODE[d.code] !== undefined);
    const notes = ds.map((d) => d.message);
    const canonical = decisive?.code === 'WARN_CONFIG_KEY_CASE' ? /read as (\S+):/.exec(decisive.message)?.[1] : undefined;
    const diff = differenceFor(canonical ? [...segments.slice(0, -1), canonical] : segments);
    if (decisive) out.push({ key, verdict: VERDICT_OF_CODE[decisive.code]!, note: [...notes, ...(diff ? [diff] : [])].join('; ') });
    else if (diff) out.push({ key, verdict: 'different', note: [diff, ...notes].join('; ') });
    else out.push({ key, verdict: 'same', note: notes.join('; ') });
  }
  return out;
}
