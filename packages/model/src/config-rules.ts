// The config.toml rules that span keys (TLS files together, distinct ports, names and clusters across
// extensions), each declared once with its docs sentence: config.ts runs them after the per-key checks,
// on values that passed the schema, and docs/configuration.md lists them.
import { RELAY_TLS_PORT } from '@signalbox/protocol';
import { ERR_CONFIG_SEMANTIC } from './config-codes.js';
import type { ExtensionConfig, SignalboxConfig } from './config-types.js';
import type { Diagnostic } from './diagnostics.js';
import { WARN_CONFIG_EDGE_REPLICAS_UNUSED, WARN_CONFIG_SHARED_HOST_PORT, proxiesDisjoint } from './interlock-compat.js';

type Segment = string | number;

/** What a rule across keys sees: the defaulted config and which keys already failed. */
export interface ConfigRuleContext {
  config: SignalboxConfig;
  /** Extension sections whose names are valid, in file order. */
  extensions: readonly string[];
  /** False for a key that failed the schema (its value is then the default). */
  ok(segments: readonly Segment[]): boolean;
  report(segments: readonly Segment[], value: string | undefined, message: string): void;
  warn(warning: Omit<Diagnostic, 'key' | 'severity'> & { segments: readonly Segment[] }): void;
  /** The dotted path of a key, as diagnostics name it. */
  path(segments: readonly Segment[]): string;
}

export interface ConfigRule {
  /** The rule for docs/configuration.md, one sentence. */
  rule: string;
  code: typeof ERR_CONFIG_SEMANTIC;
  check(ctx: ConfigRuleContext): void;
}

const at = (name: string, ...rest: Segment[]): Segment[] => ['Extensions', name, ...rest];

function differ(a: 'PublishedPort' | 'TargetPort', b: 'PublishedSSLPort' | 'TargetSSLPort'): ConfigRule {
  return {
    rule: `In one extension \`${a}\` ≠ \`${b}\`.`,
    code: ERR_CONFIG_SEMANTIC,
    check(ctx) {
      for (const name of ctx.extensions) {
        const ext = ctx.config.Extensions[name]!;
        if (ctx.ok(at(name, a)) && ctx.ok(at(name, b)) && ext[a] === ext[b]) ctx.report(at(name, b), String(ext[b]), `must differ from ${a}`);
      }
    },
  };
}

/** Reports the later of two extensions that use one value of `keys`. */
function uniqueAcrossExtensions(
  rule: string,
  keys: readonly ('ServiceName' | 'ProxyServiceName' | 'ServiceCluster')[],
  message: (owner: readonly Segment[], ctx: ConfigRuleContext) => string,
): ConfigRule {
  return {
    rule,
    code: ERR_CONFIG_SEMANTIC,
    check(ctx) {
      const owners = new Map<string, Segment[]>();
      for (const name of ctx.extensions) {
        for (const key of keys) {
          if (!ctx.ok(at(name, key))) continue;
          const value = ctx.config.Extensions[name]![key];
          const owner = owners.get(value);
          if (owner) ctx.report(at(name, key), value, message(owner, ctx));
          else owners.set(value, at(name, key));
        }
      }
    },
  };
}

const TLS_FILES = ['TLSCACert', 'TLSCert', 'TLSKey'] as const;

/** Every rule that spans keys, in the order its diagnostics are reported. */
export const CONFIG_RULES: readonly ConfigRule[] = [
  {
    rule: '`TLSCACert`, `TLSCert` and `TLSKey` are set together or not at all.',
    code: ERR_CONFIG_SEMANTIC,
    check(ctx) {
      if (!TLS_FILES.every((k) => ctx.ok([k]))) return;
      const set = TLS_FILES.filter((k) => ctx.config[k] !== '');
      if (set.length === 0 || set.length === TLS_FILES.length) return;
      for (const k of TLS_FILES.filter((x) => ctx.config[x] === '')) {
        ctx.report([k], undefined, `must be set because ${set.join(' and ')} ${set.length === 1 ? 'is' : 'are'} set: the TLS files go together or not at all`);
      }
    },
  },
  {
    rule: 'At least one `[Extensions.NAME]` section.',
    code: ERR_CONFIG_SEMANTIC,
    check(ctx) {
      if (Object.keys(ctx.config.Extensions).length === 0 && ctx.ok(['Extensions'])) {
        ctx.report(['Extensions'], undefined, 'must have at least one [Extensions.NAME] section, e.g. [Extensions.default]');
      }
    },
  },
  differ('PublishedPort', 'PublishedSSLPort'),
  differ('TargetPort', 'TargetSSLPort'),
  {
    rule: `With \`ProxyEdge = true\` neither \`TargetPort\` nor \`TargetSSLPort\` is ${RELAY_TLS_PORT}, the port on which the routing proxies take the TLS connections another routing proxy relays during a roll.`,
    code: ERR_CONFIG_SEMANTIC,
    check(ctx) {
      for (const name of ctx.extensions) {
        const ext = ctx.config.Extensions[name]!;
        if (!ext.ProxyEdge) continue;
        for (const key of ['TargetPort', 'TargetSSLPort'] as const) {
          if (ctx.ok(at(name, key)) && ext[key] === RELAY_TLS_PORT) {
            ctx.report(at(name, key), String(ext[key]), `must not be ${RELAY_TLS_PORT} with ProxyEdge = true: the routing proxies take relayed TLS connections on that port`);
          }
        }
      }
    },
  },
  {
    // First come, first served; the later one is reported. Two host-mode extensions may share a port
    // (Interlock's service-cluster layout): swarm never puts both proxies on one node.
    rule: 'No two extensions publish the same port. Two extensions with `PublishMode = "host"` may (Interlock\'s service-cluster layout): swarm never runs both proxies on one node. Without `ProxyConstraints` that keep them apart (`node.labels.region==east` / `==west`) this is a warning, as nothing says which node serves which cluster.',
    code: ERR_CONFIG_SEMANTIC,
    check(ctx) {
      const ports = new Map<number, Segment[][]>();
      for (const name of ctx.extensions) {
        const ext: ExtensionConfig = ctx.config.Extensions[name]!;
        for (const key of ['PublishedPort', 'PublishedSSLPort'] as const) {
          if (!ctx.ok(at(name, key))) continue;
          const owners = ports.get(ext[key]) ?? [];
          const other = owners.find((o) => o[1] !== name);
          if (other === undefined) {
            ports.set(ext[key], [...owners, at(name, key)]);
            continue;
          }
          const otherExt = ctx.config.Extensions[String(other[1])]!;
          const bothHost = ext.PublishMode === 'host' && otherExt.PublishMode === 'host';
          if (bothHost && ctx.ok(at(name, 'PublishMode'))) {
            ports.set(ext[key], [...owners, at(name, key)]);
            if (!proxiesDisjoint(ext, otherExt)) {
              ctx.warn({
                code: WARN_CONFIG_SHARED_HOST_PORT,
                segments: at(name, key),
                value: String(ext[key]),
                message: `is also published in host mode by ${ctx.path(other)}: swarm never runs both proxies on one node, so each node serves one of them, and their ProxyConstraints do not say which (give each its own node label, e.g. node.labels.region==east and ==west)`,
              });
            }
            continue;
          }
          const why = bothHost ? '' : '; only two host-mode extensions (PublishMode = "host") may share a port, on different nodes';
          ctx.report(at(name, key), String(ext[key]), `is already published by ${ctx.path(other)}${why}`);
        }
      }
    },
  },
  {
    // A warning, not an error: the file works, the key just does nothing until ProxyEdge is true again.
    rule: '`EdgeReplicas` counts edge tasks, so with `ProxyEdge = false` (no edge) setting it is a warning: it has no effect.',
    code: ERR_CONFIG_SEMANTIC,
    check(ctx) {
      for (const name of ctx.extensions) {
        const ext = ctx.config.Extensions[name]!;
        if (!ctx.ok(at(name, 'EdgeReplicas')) || !ctx.ok(at(name, 'ProxyEdge')) || ext.ProxyEdge || ext.EdgeReplicas === 0) continue;
        ctx.warn({
          code: WARN_CONFIG_EDGE_REPLICAS_UNUSED,
          segments: at(name, 'EdgeReplicas'),
          value: String(ext.EdgeReplicas),
          message: `has no effect with ProxyEdge = false: there is no edge service, the proxy (ProxyReplicas = ${ext.ProxyReplicas}) publishes the ports itself; remove EdgeReplicas or set ProxyEdge = true`,
        });
      }
    },
  },
  uniqueAcrossExtensions(
    'No two services share a name (`ServiceName` or `ProxyServiceName`, in any extension).',
    ['ServiceName', 'ProxyServiceName'],
    (owner, ctx) => `is already used by ${ctx.path(owner)}; every service needs its own name`,
  ),
  uniqueAcrossExtensions(
    'No two extensions serve the same `ServiceCluster`.',
    ['ServiceCluster'],
    (owner, ctx) => `is already served by [${ctx.path(owner.slice(0, 2))}]; one extension per service cluster`,
  ),
];
