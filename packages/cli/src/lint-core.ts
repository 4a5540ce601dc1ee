// What core would decide about the services of the files given to `signalbox lint`: a synthetic
// SwarmSnapshot is built from the files and run through core's own buildClusterModels, so label
// errors, network/endpoint checks and cross-service conflicts (ERR_CONFLICT_*) come from the same code
// core runs, not from a copy. Lint-only checks (container labels, variables, network names and the
// stack prefix) stay in lint.ts.
//
// What lint cannot know offline is filled in so that it never produces a finding:
// - creation order: services are taken as created in the order listed (files in the order given,
//   then services in each file), so of two conflicting services the later one is reported;
// - secrets: every secret a label names is taken to exist (external secrets may be in the swarm);
// - service clusters: every service_cluster value found gets a target (config.toml is not known here);
// - the stack name (without --stack): com.docker.lb.network is checked by lint's own network check,
//   and the builder is given the network that check matched.
import { LABEL_PREFIX, buildClusterModels } from '@signalbox/model';
import type { ClusterTarget, Diagnostic, NetworkSnapshot, PortSnapshot, ServiceSnapshot, SwarmSnapshot, TaskSnapshot } from '@signalbox/model';
import type { ComposeFile, ComposeNetwork, ComposePort, ComposeService } from './compose.js';
import { interpolate } from './interpolate.js';

const NETWORK_LABEL = `${LABEL_PREFIX}network`;
const SSL_LABELS = [`${LABEL_PREFIX}ssl_cert`, `${LABEL_PREFIX}ssl_key`];

/** How the builder is given com.docker.lb.network. */
export type NetworkChoice =
  /** No label and at most one network: the builder decides as core will. */
  | { kind: 'as-written' }
  /** Lint's network check matched the label (or the bare key) to this network of the file. */
  | { kind: 'matched'; net: ComposeNetwork }
  /**
   * Lint's network check reported a problem with the label (or its absence): the builder is given the
   * service's first overlay network so the other checks and conflicts still run, and the builder's own
   * findings on the label are left out (lint's say the same with the file's network names).
   */
  | { kind: 'assumed' };

/** A labelled service of a file, as lint.ts read it. */
export interface LintedService {
  file: string;
  fileIndex: number;
  compose: ComposeFile;
  svc: ComposeService;
  /** com.docker.lb.* deploy labels after variable substitution (the last of a repeated key). */
  labels: Record<string, string>;
  serviceCluster: string;
  network: NetworkChoice;
  lineOf: (key: string) => number | null;
}

export interface CoreFinding {
  service: LintedService;
  diagnostic: Diagnostic;
}

export interface SnapshotOptions {
  env: Readonly<Record<string, string | undefined>>;
  stack?: string;
}

// Placeholders: nothing lint reports depends on them (server counts are not findings).
const NODE = { id: 'lint-node', hostname: 'lint', addr: '192.0.2.1', role: 'manager' as const, ready: true };
const EPOCH = Date.UTC(2000, 0, 1);
const MAX_TASKS = 100;
const PREDEFINED_DRIVERS: Record<string, string> = { host: 'host', bridge: 'bridge', none: 'null' };

/** Service names in the snapshot are tokens, replaced in messages by the name (and file) as written. */
const token = (seq: number): string => `\uE000${seq}\uE001`;
const TOKEN = /\uE000(\d+)\uE001/g;
const SERVICE_TOKEN = /service \uE000(\d+)\uE001/g;

/** The networks of a file a service joins (`default` when it names none). */
export function attachedNetworks(file: ComposeFile, svc: ComposeService): ComposeNetwork[] {
  return (svc.networks ?? ['default']).map((k) => file.networks.get(k) ?? { key: k, external: false });
}

/** The swarm name of a network of this file, when it does not depend on the stack name. */
export function fixedName(net: ComposeNetwork): string | undefined {
  return net.name ?? (net.external ? net.key : undefined);
}

/**
 * Swarm name of a network of file number `fileIndex`: as docker stack deploy names it. Without --stack,
 * each file is its own stack with a placeholder name (a valid network name, never printed: the label
 * is checked by lint's network check and the builder is given the network it matched).
 */
function networkSnapshot(net: ComposeNetwork, fileIndex: number, opts: SnapshotOptions): NetworkSnapshot {
  const fixed = fixedName(net);
  const name = fixed !== undefined ? interpolate(fixed, opts.env).text : opts.stack !== undefined ? `${opts.stack}_${net.key}` : `lint-stack-${fileIndex + 1}_${net.key}`;
  const driver = net.driver !== undefined ? interpolate(net.driver, opts.env).text : (net.external && PREDEFINED_DRIVERS[name]) || 'overlay';
  return { id: name, name, driver, scope: driver === 'overlay' ? 'swarm' : 'local', attachable: false, ingress: false, labels: {} };
}

function int(text: string | undefined, opts: SnapshotOptions): number | undefined {
  if (text === undefined) return undefined;
  const s = interpolate(text, opts.env).text.trim();
  return /^\d+$/.test(s) ? Number(s) : undefined;
}

function portsOf(ports: readonly ComposePort[], opts: SnapshotOptions): PortSnapshot[] {
  const out: PortSnapshot[] = [];
  const proto = (p: string | undefined): PortSnapshot['protocol'] => (p === 'udp' || p === 'sctp' ? p : 'tcp');
  for (const p of ports) {
    if ('short' in p) {
      // [IP:]PUBLISHED:TARGET[/PROTO] or TARGET[/PROTO]; the short form is always ingress mode in a swarm.
      const [spec, protocol] = interpolate(p.short, opts.env).text.split('/');
      const parts = (spec ?? '').split(':');
      const target = int(parts.at(-1), opts);
      const published = parts.length > 1 ? int(parts.at(-2), opts) : undefined;
      if (target !== undefined) out.push({ target, published: published ?? target, protocol: proto(protocol), mode: 'ingress' });
      continue;
    }
    const target = int(p.target, opts);
    if (target === undefined) continue;
    const mode = p.mode === undefined ? 'ingress' : interpolate(p.mode, opts.env).text;
    out.push({
      target,
      published: int(p.published, opts) ?? target,
      protocol: proto(p.protocol === undefined ? undefined : interpolate(p.protocol, opts.env).text),
      mode: mode === 'host' ? 'host' : 'ingress',
    });
  }
  return out;
}

function replicasOf(svc: ComposeService, opts: SnapshotOptions): number {
  if (svc.mode !== undefined && interpolate(svc.mode, opts.env).text === 'global') return 1; // one node here
  return Math.min(int(svc.replicas, opts) ?? 1, MAX_TASKS);
}

interface Built {
  snap: SwarmSnapshot;
  targets: ClusterTarget[];
  /** Per service: the com.docker.lb.network value the builder was given instead of the label, if any. */
  rewritten: Map<number, string | undefined>;
}

export function buildSnapshot(services: readonly LintedService[], opts: SnapshotOptions): Built {
  const networks = new Map<string, NetworkSnapshot>();
  const secrets = new Set<string>();
  const rewritten = new Map<number, string | undefined>();
  const snapServices: ServiceSnapshot[] = services.map((s, seq) => {
    const nets = attachedNetworks(s.compose, s.svc).map((n) => networkSnapshot(n, s.fileIndex, opts));
    for (const n of nets) networks.set(n.id, n);
    const overlays = nets.filter((n) => n.driver === 'overlay' && n.scope === 'swarm');
    const labels = { ...s.labels };
    const give = (name: string | undefined): void => {
      if (name === undefined || name === labels[NETWORK_LABEL]) return;
      rewritten.set(seq, labels[NETWORK_LABEL]);
      labels[NETWORK_LABEL] = name;
    };
    if (s.network.kind === 'matched') give(networkSnapshot(s.network.net, s.fileIndex, opts).name);
    if (s.network.kind === 'assumed') give(overlays[0]?.name);
    for (const key of SSL_LABELS) if (labels[key]) secrets.add(labels[key]);
    const endpointMode = s.svc.endpointMode !== undefined && interpolate(s.svc.endpointMode, opts.env).text === 'dnsrr' ? 'dnsrr' : 'vip';
    const tasks: TaskSnapshot[] = [];
    for (let r = 0; r < replicasOf(s.svc, opts); r++) {
      tasks.push({ id: `lint-${seq}.${r + 1}`, nodeId: NODE.id, slot: r + 1, addresses: nets.map((n) => ({ networkId: n.id, addr: `10.0.${seq % 250}.${r + 2}` })) });
    }
    return {
      id: `lint-${seq}`,
      name: token(seq),
      labels,
      createdAt: new Date(EPOCH + seq * 1000).toISOString(),
      networkIds: nets.map((n) => n.id),
      endpointMode,
      vips: endpointMode === 'vip' ? overlays.map((n) => ({ networkId: n.id, addr: `10.0.${seq % 250}.1` })) : [],
      ports: portsOf(s.svc.ports, opts),
      tasks,
    };
  });
  const clusters = new Set(['', ...services.map((s) => s.serviceCluster)]);
  return {
    snap: {
      services: snapServices,
      networks: [...networks.values()],
      secrets: [...secrets].map((name) => ({ id: name, name })),
      nodes: [NODE],
    },
    targets: [...clusters].sort().map((c) => ({ name: `cluster ${c}`, serviceCluster: c, networks: [] })),
    rewritten,
  };
}

/** Every diagnostic core's builder reports for these services, with service names as written. */
export function coreFindings(services: readonly LintedService[], opts: SnapshotOptions, orderNote: string): CoreFinding[] {
  const { snap, targets, rewritten } = buildSnapshot(services, opts);
  const seen = new Set<string>();
  const out: CoreFinding[] = [];
  for (const model of buildClusterModels(snap, targets).values()) {
    for (const status of model.services) {
      if (seen.has(status.id)) continue; // a service is in one model; be safe against orphans listed by every target
      seen.add(status.id);
      const seq = Number(status.id.slice('lint-'.length));
      const self = services[seq]!;
      const display = (m: string, withService: boolean): string => {
        const o = services[Number(m)]!;
        const name = o.file === self.file ? o.svc.name : `${o.svc.name} (${o.file})`;
        return withService ? `service ${name}` : name;
      };
      for (const d of [...status.errors, ...status.warnings]) {
        if (d.key === NETWORK_LABEL && self.network.kind === 'assumed') continue;
        let message = d.message.replace(SERVICE_TOKEN, (_, m: string) => display(m, true)).replace(TOKEN, (_, m: string) => display(m, false));
        if (/^ERR_CONFLICT_/.test(d.code)) message += `; ${orderNote}`;
        const diagnostic: Diagnostic = { ...d, message };
        if (d.key === NETWORK_LABEL && rewritten.has(seq) && d.value === snap.services[seq]!.labels[NETWORK_LABEL]) {
          const original = rewritten.get(seq);
          if (original === undefined) delete diagnostic.value;
          else diagnostic.value = original;
        }
        out.push({ service: self, diagnostic });
      }
    }
  }
  return out;
}
