// Reads the parts of a compose/stack file `signalbox lint` checks: each service's deploy.labels
// (the swarm service labels Signalbox reads), its container labels (which it never sees), its
// networks, published ports, replicas and endpoint mode (for the swarm snapshot lint builds), and the
// file's top-level networks. Values are kept as written (no variable substitution here) with their
// line numbers.
import { LineCounter, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Node, YAMLMap } from 'yaml';
import type { Severity } from '@signalbox/model';

export interface LabelEntry {
  key: string;
  value: string;
  line: number | null;
}

export interface ComposeService {
  name: string;
  line: number | null;
  /** deploy.labels in file order; the list form may repeat a key. */
  deployLabels: LabelEntry[];
  /** Line of deploy.labels (or of the service when absent). */
  deployLabelsLine: number | null;
  /** Service-level labels: (container labels). */
  containerLabels: LabelEntry[];
  /** Keys of the networks the service joins; undefined when it names none (it then gets `default`). */
  networks: string[] | undefined;
  /** `ports:` entries, as written (variables not substituted). */
  ports: ComposePort[];
  /** deploy.replicas as written; undefined when absent (1). */
  replicas: string | undefined;
  /** deploy.mode as written (replicated, global). */
  mode: string | undefined;
  /** deploy.endpoint_mode as written (vip, dnsrr). */
  endpointMode: string | undefined;
}

/** One `ports:` entry: the short form `[IP:]PUBLISHED:TARGET[/PROTO]` or the long form's fields. */
export type ComposePort = { short: string } | { target?: string; published?: string; protocol?: string; mode?: string };

export interface ComposeNetwork {
  key: string;
  /** Explicit `name:` (or legacy `external: {name: …}`), as written. */
  name?: string;
  external: boolean;
  /** `driver:` as written; undefined when absent (overlay in a stack). */
  driver?: string;
}

export interface ComposeFile {
  services: ComposeService[];
  networks: Map<string, ComposeNetwork>;
}

export interface ComposeProblem {
  service: string | null;
  severity: Severity;
  code: ComposeCode;
  key: string;
  value?: string;
  message: string;
  line: number | null;
}

export const ERR_LINT_YAML = 'ERR_LINT_YAML';
export const ERR_LINT_COMPOSE_SHAPE = 'ERR_LINT_COMPOSE_SHAPE';
export const WARN_LINT_NO_SERVICES = 'WARN_LINT_NO_SERVICES';
export type ComposeCode = typeof ERR_LINT_YAML | typeof ERR_LINT_COMPOSE_SHAPE | typeof WARN_LINT_NO_SERVICES;

type Pos = (node: Node | null | undefined) => number | null;

/** A scalar's text as the user wrote it: 0800 stays "0800", `key:` and null become "". */
function scalarText(node: unknown): string | undefined {
  if (!isScalar(node)) return undefined;
  if (node.value === null || node.value === undefined) return '';
  if (typeof node.value === 'string') return node.value;
  const src = (node as { source?: unknown }).source;
  return typeof src === 'string' && node.type === 'PLAIN' ? src : String(node.value);
}

const nonEmpty = (s: string | undefined): string | undefined => (s === undefined || s === '' ? undefined : s);

function yamlReason(message: string): string {
  const first = message.split('\n')[0] ?? message;
  return first.replace(/ at line \d+, column \d+:?\s*$/, '').trim();
}

/** Stack files are a few KiB; larger input is refused before the YAML parser sees it. */
export const MAX_STACK_FILE_BYTES = 4 * 1024 * 1024;

export function parseCompose(text: string): { file?: ComposeFile; problems: ComposeProblem[] } {
  if (text.length > MAX_STACK_FILE_BYTES) {
    return {
      problems: [
        {
          service: null,
          severity: 'error',
          code: ERR_LINT_YAML,
          key: 'file',
          message: `is ${text.length} characters long; signalbox lint reads stack files of at most ${MAX_STACK_FILE_BYTES} (4 MiB)`,
          line: null,
        },
      ],
    };
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true, uniqueKeys: true });
  const problems: ComposeProblem[] = [];
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const pos = e.linePos?.[0];
      problems.push({
        service: null,
        severity: 'error',
        code: ERR_LINT_YAML,
        key: pos ? `line ${pos.line}, column ${pos.col}` : 'yaml',
        message: `is not valid YAML: ${yamlReason(e.message)}`,
        line: pos?.line ?? null,
      });
    }
    return { problems };
  }
  const pos: Pos = (node) => (node?.range ? lc.linePos(node.range[0]).line : null);
  const shape = (service: string | null, key: string, node: Node | null | undefined, message: string): void => {
    problems.push({ service, severity: 'error', code: ERR_LINT_COMPOSE_SHAPE, key, message, line: pos(node) });
  };

  const root = doc.contents;
  const file: ComposeFile = { services: [], networks: new Map() };
  if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) {
    problems.push({ service: null, severity: 'warning', code: WARN_LINT_NO_SERVICES, key: 'services', message: 'the file is empty; nothing to check', line: null });
    return { file, problems };
  }
  if (!isMap(root)) {
    shape(null, '(top level)', root, 'must be a mapping with a services: key (is this a compose/stack file?)');
    return { problems };
  }

  // Top-level networks.
  const nets = root.get('networks', true) as Node | undefined;
  if (nets !== undefined && !(isScalar(nets) && nets.value === null)) {
    if (!isMap(nets)) shape(null, 'networks', nets, 'must be a mapping of network names');
    else {
      for (const pair of nets.items) {
        const key = scalarText(pair.key);
        if (key === undefined) continue;
        const def = pair.value as Node | null;
        const net: ComposeNetwork = { key, external: false };
        if (isMap(def)) {
          const name = scalarText(def.get('name', true));
          if (name !== undefined && name !== '') net.name = name;
          const driver = scalarText(def.get('driver', true));
          if (driver !== undefined && driver !== '') net.driver = driver;
          const ext = def.get('external', true) as Node | undefined;
          if (isScalar(ext)) net.external = ext.value === true || ext.value === 'true';
          else if (isMap(ext)) {
            net.external = true;
            const legacy = scalarText(ext.get('name', true));
            if (legacy !== undefined && legacy !== '' && net.name === undefined) net.name = legacy;
          }
        }
        file.networks.set(key, net);
      }
    }
  }

  const services = root.get('services', true) as Node | undefined;
  if (services === undefined || (isScalar(services) && services.value === null)) {
    problems.push({ service: null, severity: 'warning', code: WARN_LINT_NO_SERVICES, key: 'services', message: 'is missing or empty; nothing to check', line: pos(services) });
    return { file, problems };
  }
  if (!isMap(services)) {
    shape(null, 'services', services, 'must be a mapping of service names to service definitions');
    return { file, problems };
  }
  for (const pair of services.items) {
    const name = scalarText(pair.key);
    if (name === undefined) continue;
    const svcNode = pair.value as Node | null;
    if (!isMap(svcNode)) {
      shape(name, `services.${name}`, svcNode ?? (pair.key as Node), 'must be a mapping (image:, deploy:, …)');
      continue;
    }
    const svc: ComposeService = {
      name,
      line: pos(pair.key as Node),
      deployLabels: [],
      deployLabelsLine: pos(svcNode),
      containerLabels: [],
      networks: undefined,
      ports: [],
      replicas: undefined,
      mode: undefined,
      endpointMode: undefined,
    };
    const deploy = svcNode.get('deploy', true) as Node | undefined;
    if (deploy !== undefined && !(isScalar(deploy) && deploy.value === null)) {
      if (!isMap(deploy)) shape(name, `services.${name}.deploy`, deploy, 'must be a mapping');
      else {
        svc.replicas = nonEmpty(scalarText(deploy.get('replicas', true)));
        svc.mode = nonEmpty(scalarText(deploy.get('mode', true)));
        svc.endpointMode = nonEmpty(scalarText(deploy.get('endpoint_mode', true)));
        const labels = deploy.get('labels', true) as Node | undefined;
        if (labels !== undefined) {
          svc.deployLabelsLine = pos(labels);
          svc.deployLabels = readLabels(labels, `services.${name}.deploy.labels`, name, pos, shape);
        }
      }
    }
    const containerLabels = svcNode.get('labels', true) as Node | undefined;
    if (containerLabels !== undefined) {
      svc.containerLabels = readLabels(containerLabels, `services.${name}.labels`, name, pos, shape);
    }
    const networks = svcNode.get('networks', true) as Node | undefined;
    if (networks !== undefined && !(isScalar(networks) && networks.value === null)) {
      if (isSeq(networks)) {
        svc.networks = networks.items.map(scalarText).filter((n): n is string => n !== undefined && n !== '');
      } else if (isMap(networks)) {
        svc.networks = (networks as YAMLMap).items.map((p) => scalarText(p.key)).filter((n): n is string => n !== undefined && n !== '');
      } else shape(name, `services.${name}.networks`, networks, 'must be a list or a mapping of network names');
    }
    // Ports only feed the snapshot (a host-mode port is how core reaches a service on no overlay);
    // docker stack deploy reports malformed ones itself, so entries lint cannot read are skipped.
    const ports = svcNode.get('ports', true) as Node | undefined;
    if (isSeq(ports)) {
      for (const item of ports.items) {
        const text = scalarText(item);
        if (text !== undefined) svc.ports.push({ short: text });
        else if (isMap(item)) {
          const field = (k: string): string | undefined => nonEmpty(scalarText(item.get(k, true)));
          const p: ComposePort = {};
          for (const k of ['target', 'published', 'protocol', 'mode'] as const) {
            const v = field(k);
            if (v !== undefined) p[k] = v;
          }
          svc.ports.push(p);
        }
      }
    }
    file.services.push(svc);
  }
  return { file, problems };
}

function readLabels(node: Node, path: string, service: string, pos: Pos, shape: (service: string | null, key: string, node: Node | null | undefined, message: string) => void): LabelEntry[] {
  const out: LabelEntry[] = [];
  if (isScalar(node) && node.value === null) return out;
  if (isSeq(node)) {
    node.items.forEach((item, i) => {
      const text = scalarText(item);
      if (text === undefined) {
        shape(service, `${path}[${i}]`, item as Node, 'must be a string key=value');
        return;
      }
      const eq = text.indexOf('=');
      out.push({ key: eq < 0 ? text : text.slice(0, eq), value: eq < 0 ? '' : text.slice(eq + 1), line: pos(item as Node) });
    });
    return out;
  }
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = scalarText(pair.key);
      if (key === undefined) {
        shape(service, path, pair.key as Node, 'has a key that is not a string');
        continue;
      }
      const value = pair.value === null ? '' : scalarText(pair.value);
      if (value === undefined) {
        shape(service, key, pair.value as Node, `must be a string (under ${path}); quote it`);
        continue;
      }
      out.push({ key, value, line: pos(pair.key as Node) });
    }
    return out;
  }
  shape(service, path, node, 'must be a list of key=value strings or a mapping');
  return out;
}
