// `signalbox config check --explain`: for each key a config.toml sets, how Signalbox treats it compared
// with Interlock (same / same but rewritten / accepted and ignored / different / refused). The verdicts
// come from parseConfig's own diagnostics, so they cannot disagree with what core does with the file.
import { parse } from 'smol-toml';
import { configKeyPath, parseConfig } from './config.js';
import type { Diagnostic } from './diagnostics.js';
import { FORBIDDEN_DIRECTIVE_RULES } from './directive-policy.js';

export type KeyVerdict = 'same' | 'rewritten' | 'ignored' | 'replaced' | 'different' | 'new' | 'refused';

/**
 * The keys of Interlock's config.toml (its configuration reference and the files UCP wrote), by section,
 * leaving out those Signalbox ignores (INTERLOCK_IGNORED_KEYS). Every other Signalbox key is new.
 */
export const INTERLOCK_KEYS: Readonly<Record<'top' | 'extension' | 'config', ReadonlySet<string>>> = {
  top: new Set(['ListenAddr', 'DockerURL', 'TLSCACert', 'TLSCert', 'TLSKey', 'AllowInsecure', 'PollInterval', 'EndpointOverride']),
  extension: new Set([
    'Image',
    'Args',
    'Labels',
    'ContainerLabels',
    'Constraints',
    'PlacementPreferences',
    'ServiceName',
    'ProxyImage',
    'ProxyArgs',
    'ProxyLabels',
    'ProxyContainerLabels',
    'ProxyServiceName',
    'ProxyConfigPath',
    'ProxyReplicas',
    'ProxyStopSignal',
    'ProxyStopGracePeriod',
    'ProxyConstraints',
    'ProxyPlacementPreferences',
    'ProxyUpdateDelay',
    'ServiceCluster',
    'PublishMode',
    'PublishedPort',
    'TargetPort',
    'PublishedSSLPort',
    'TargetSSLPort',
    'Template',
    'Networks',
  ]),
  config: new Set([
    'User',
    'PidPath',
    'MaxConnections',
    'ConnectTimeout',
    'SendTimeout',
    'ReadTimeout',
    'SSLDefaultDHParam',
    'SSLDefaultDHParamPath',
    'WorkerProcesses',
    'RLimitNoFile',
    'SSLCiphers',
    'SSLProtocols',
    'AccessLogPath',
    'ErrorLogPath',
    'MainLogFormat',
    'TraceLogFormat',
    'KeepaliveTimeout',
    'ClientMaxBodySize',
    'ClientBodyBufferSize',
    'ClientHeaderBufferSize',
    'LargeClientHeaderBuffers',
    'ClientBodyTimeout',
    'UnderscoresInHeaders',
    'UpstreamZoneSize',
    'ServerNamesHashBucketSize',
    'GlobalOptions',
    'HTTPOptions',
    'TCPOptions',
    'HideInfoHeaders',
  ]),
};

function sectionOfPath(segments: readonly string[]): 'top' | 'extension' | 'config' {
  if (segments.length >= 4 && segments[0] === 'Extensions') return 'config';
  if (segments.length === 3 && segments[0] === 'Extensions') return 'extension';
  return 'top';
}

/** Whether Interlock had this key (Signalbox's spelling), by dotted path segments. */
function interlockHad(segments: readonly string[]): boolean {
  const leaf = segments[segments.length - 1]!;
  return leaf === 'Extensions' || leaf === 'Config' || INTERLOCK_KEYS[sectionOfPath(segments)].has(leaf);
}

export interface KeyExplanation {
  key: string;
  verdict: KeyVerdict;
  /** Why, or what differs; empty for plain "same". */
  note: string;
}

/** From the one directive policy (directive-policy.ts), so this note cannot drift from what is refused. */
const RAW_OPTIONS_REFUSED = `lines using ${FORBIDDEN_DIRECTIVE_RULES.map((r) => r.shown).join(', ')} are refused`;

/**
 * Keys whose meaning or default is not Interlock's. Also the source of the "different" rows of
 * docs/migrating-from-interlock.md.
 */
export const INTERLOCK_DIFFERENCES: Readonly<Record<string, string>> = {
  'Extensions.*.Template': 'names a Docker config holding a nunjucks template fed the view model (docs/custom-templates.md); an Interlock Go template is refused when the extension starts',
  'Extensions.*.ProxyReplicas': "default 1 (UCP wrote 2); set it to keep Interlock's replica count",
  'Extensions.*.ProxyStopGracePeriod': 'default 10s (UCP wrote 5s)',
  'Extensions.*.PublishedPort': 'default 8080 (Interlock examples use 80)',
  'Extensions.*.Config.User': "default www-data (Interlock's nginx); both users exist in Signalbox's images",
  'Extensions.*.Config.SSLProtocols': 'default "TLSv1.2 TLSv1.3" (UCP wrote "TLSv1.2")',
  'Extensions.*.Config.SSLDefaultDHParam': 'default 2048 (UCP wrote 1024)',
  'Extensions.*.Config.ErrorLogPath': "default /dev/stderr (Interlock's /dev/stdout)",
  'Extensions.*.Config.GlobalOptions': RAW_OPTIONS_REFUSED,
  'Extensions.*.Config.HTTPOptions': RAW_OPTIONS_REFUSED,
  'Extensions.*.Config.TCPOptions': RAW_OPTIONS_REFUSED,
  'Extensions.*.SSLRedirectPort': 'port com.docker.lb.ssl_only redirects to; 0 = PublishedSSLPort (Interlock redirected to 443)',
  'Extensions.*.Config.TrustedProxies': "load balancers whose X-Forwarded-* are kept; Interlock kept a client's X-Forwarded-Proto from anyone",
  'Extensions.*.Config.WorkerShutdownTimeout': 'how long old nginx workers drain after a reload',
};

/** Keys that behave as in Interlock, with something worth knowing. */
export const INTERLOCK_SAME_NOTES: Readonly<Record<string, string>> = {
  'Extensions.*.Args': "added to the image's command, as with Interlock's images; -D turns on debug logging",
  'Extensions.*.ProxyArgs': "added to the image's command, as with Interlock's images; -D turns on debug logging",
  'Extensions.*.Networks': 'when set, the proxy joins only these networks and routes only services on them, as in Interlock',
  'Extensions.*.PublishMode': 'two host-mode extensions may publish the same ports on different nodes (service clusters)',
  'Extensions.*.Config.MainLogFormat': "the format itself, without nginx quotes; Interlock's quoted multi-line form is joined",
  'Extensions.*.Config.TraceLogFormat': "the format itself, without nginx quotes; Interlock's quoted multi-line form is joined, $reqid works",
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

function genericKey(segments: readonly string[]): string {
  return segments.length >= 2 && segments[0] === 'Extensions' ? ['Extensions', '*', ...segments.slice(2)].join('.') : segments.join('.');
}

function differenceFor(segments: readonly string[]): string | undefined {
  return INTERLOCK_DIFFERENCES[genericKey(segments)];
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
    const known = segments[0] === 'Extensions' && segments.length === 2 ? true : interlockHad(canonical ? [...segments.slice(0, -1), canonical] : segments);
    if (decisive) out.push({ key, verdict: VERDICT_OF_CODE[decisive.code]!, note: [...notes, ...(diff ? [diff] : [])].join('; ') });
    else if (!known) out.push({ key, verdict: 'new', note: [...(diff ? [diff] : ['a Signalbox key Interlock did not have; see docs/configuration.md']), ...notes].join('; ') });
    else if (diff) out.push({ key, verdict: 'different', note: [diff, ...notes].join('; ') });
    else {
      const same = INTERLOCK_SAME_NOTES[genericKey(canonical ? [...segments.slice(0, -1), canonical] : segments)];
      out.push({ key, verdict: 'same', note: [...(same ? [same] : []), ...notes].join('; ') });
    }
  }
  return out;
}

/**
 * The key tables of docs/migrating-from-interlock.md: every Signalbox key and every Interlock-only key
 * with the verdict `config check --explain` gives it (same / different / ignored / new).
 */
export function interlockKeyTableMarkdown(sections: {
  top: readonly string[];
  extension: readonly string[];
  config: readonly string[];
  ignored: Readonly<Record<'top' | 'extension' | 'config', Readonly<Record<string, string>>>>;
}): string {
  const cell = (s: string): string => s.replaceAll('|', '\\|').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
  const table = (title: string, prefix: string, keys: readonly string[], ignored: Readonly<Record<string, string>>): string[] => {
    const rows = [`### ${title}`, '', '| Key | Status | Notes |', '|---|---|---|'];
    for (const key of keys) {
      const generic = `${prefix}${key}`;
      const diff = INTERLOCK_DIFFERENCES[generic];
      const section = prefix === '' ? 'top' : prefix.endsWith('Config.') ? 'config' : 'extension';
      if (!INTERLOCK_KEYS[section].has(key)) rows.push(`| \`${key}\` | new in Signalbox | ${cell(diff ?? 'see docs/configuration.md')} |`);
      else if (diff) rows.push(`| \`${key}\` | different | ${cell(diff)} |`);
      else if (key === 'Image' || key === 'ProxyImage') {
        rows.push(`| \`${key}\` | same; Interlock images replaced | an Interlock image (or plain nginx as ProxyImage) is replaced by Signalbox's default, with a warning |`);
      } else if (key === 'Extensions' || key === 'Config') continue;
      else rows.push(`| \`${key}\` | same | ${cell(INTERLOCK_SAME_NOTES[generic] ?? '')} |`);
    }
    for (const [key, why] of Object.entries(ignored)) rows.push(`| \`${key}\` | accepted and ignored | ${cell(why)} |`);
    rows.push('');
    return rows;
  };
  return [
    ...table('Top level', '', sections.top, sections.ignored.top),
    ...table('`[Extensions.NAME]`', 'Extensions.*.', sections.extension, sections.ignored.extension),
    ...table('`[Extensions.NAME.Config]`', 'Extensions.*.Config.', sections.config, sections.ignored.config),
  ].join('\n');
}
