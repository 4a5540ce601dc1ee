// Create, update or remove the services core manages. Drift is judged only on the fields core sets:
// the engine adds defaults and the extension's config mounts that core must not fight over.
import type Docker from 'dockerode';
import type { Logger } from '@signalbox/protocol';
import { SPEC_VERSION_LABEL } from '@signalbox/protocol';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Raw = any;

/** A service spec as core wants it (Engine API ServiceSpec shape). */
export type ServiceSpec = Record<string, unknown> & { Name: string };

/**
 * Maps whose keys are data, not field names: compared whole, so a key core no longer sets (a label
 * removed from config.toml) or one added by hand is a difference too. The engine adds none of its own.
 */
const WHOLE_MAPS = new Set(['Labels', 'Sysctls']);

/**
 * `current` projected onto the keys `desired` has: what to compare so engine defaults never look like drift.
 * Arrays keep their current length, so an element added by hand (a constraint, an env entry) or one core
 * no longer wants (a network, a secret) is a difference, not cut off by the projection.
 */
export function project(current: unknown, desired: unknown): unknown {
  if (Array.isArray(desired)) {
    const cur = Array.isArray(current) ? current : [];
    return cur.map((c: unknown, i) => (i < desired.length ? project(c, desired[i]) : c));
  }
  if (desired !== null && typeof desired === 'object') {
    const cur = (current !== null && typeof current === 'object' ? current : {}) as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(desired)) {
      const d = (desired as Record<string, unknown>)[k];
      out[k] = WHOLE_MAPS.has(k) && d !== null && typeof d === 'object' && !Array.isArray(d) ? { ...((cur[k] as object | undefined) ?? {}) } : project(cur[k], d);
    }
    return out;
  }
  return current;
}

/** Dotted paths where `current` differs from `desired`, for the drift log (keys of either side). */
export function diffPaths(current: unknown, desired: unknown, prefix = ''): string[] {
  if (desired !== null && typeof desired === 'object') {
    const d = desired as Record<string, unknown>;
    const c = (current !== null && typeof current === 'object' ? current : {}) as Record<string, unknown>;
    if (Array.isArray(desired) && (!Array.isArray(current) || current.length !== desired.length)) return [prefix || '.'];
    const keys = [...new Set([...Object.keys(d), ...Object.keys(c)])];
    return keys.flatMap((k) => diffPaths(c[k], d[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(current) === JSON.stringify(desired) ? [] : [prefix || '.'];
}

export type EnsureResult = {
  /** refused: swarm rolled the service back from exactly this spec (its tasks failed); not re-applied. */
  action: 'created' | 'updated' | 'unchanged' | 'refused';
  changed: string[];
  /** For refused: the engine's UpdateStatus message. */
  message?: string;
  /** For the log: each changed path's value before and after, as short JSON. */
  values?: Record<string, { was: string; now: string }>;
  /** For updated: it undid a hand-made change (the service carried the version of the spec we want). */
  drift?: boolean;
};

/** The value at a dotted path from diffPaths ('.' = the whole value). */
export function valueAt(v: unknown, path: string): unknown {
  if (path === '.' || path === '') return v;
  let cur: unknown = v;
  const keys = path.split('.');
  for (let i = 0; i < keys.length; i++) {
    if (cur === null || typeof cur !== 'object') return undefined;
    // Label keys have dots of their own (Labels.com.signalbox.spec-version).
    const rest = keys.slice(i).join('.');
    if (rest in (cur as Record<string, unknown>)) return (cur as Record<string, unknown>)[rest];
    cur = (cur as Record<string, unknown>)[keys[i]!];
  }
  return cur;
}

const short = (v: unknown): string => {
  const s = v === undefined ? 'unset' : JSON.stringify(v);
  return s.length > 200 ? `${s.slice(0, 197)}...` : s;
};

/** What changed, path by path, as the log shows it; paths under a shown one are not repeated. */
export function describeChanges(current: unknown, desired: unknown, changed: readonly string[]): Record<string, { was: string; now: string }> {
  const out: Record<string, { was: string; now: string }> = {};
  for (const p of changed.slice(0, 20)) out[p] = { was: short(valueAt(current, p)), now: short(valueAt(desired, p)) };
  return out;
}

/** Whether a change at this path makes swarm replace the service's tasks (task template, published ports). */
export const rollsTasks = (path: string): boolean => path.startsWith('TaskTemplate.') || path.startsWith('EndpointSpec.');

/** A copy of `desired` with the values at `paths` taken from `current` (left out where current has none). */
export function keepPaths<T extends Record<string, unknown>>(desired: T, current: unknown, paths: readonly string[]): T {
  const out = structuredClone(desired) as Record<string, unknown>;
  for (const path of paths) {
    const keys = path.split('.');
    let dst: Record<string, unknown> | undefined = out;
    for (const k of keys.slice(0, -1)) dst = dst?.[k] !== null && typeof dst?.[k] === 'object' ? (dst[k] as Record<string, unknown>) : undefined;
    if (!dst) continue;
    const last = keys[keys.length - 1]!;
    const value = valueAt(current, path);
    if (value === undefined) delete dst[last];
    else dst[last] = structuredClone(value);
  }
  return out as T;
}

export { SPEC_VERSION_LABEL } from '@signalbox/protocol';

export class ServiceManager {
  /** The last spec sent per service (without ignored paths), to recognise a rollback of it. */
  private readonly applied = new Map<string, string>();
  /**
   * Per service, the spec swarm was seen rolling back. Remembered past the rollback state: an update
   * by someone else (a forced restart) clears that state, and the spec would still fail the same way.
   */
  private readonly rolledBack = new Map<string, string>();

  constructor(
    private readonly docker: Docker,
    private readonly log: Logger,
  ) {}

  async find(name: string): Promise<Raw | undefined> {
    const list = (await this.docker.listServices({ filters: { name: [name] } })) as Raw[];
    return list.find((s) => s.Spec?.Name === name);
  }

  /**
   * Make the service match `desired` on the fields it sets. Paths in `ignore` (dotted, e.g.
   * 'TaskTemplate.ContainerSpec.Configs') are sent on create and update but never cause an update by
   * themselves: the bootstrap config changes with every published config, and must not roll the proxy.
   * Nor are they sent when the update would not replace the tasks anyway (replicas, labels, update or
   * rollback settings): there the service keeps its current values, so the tasks keep running.
   */
  async ensure(desired: ServiceSpec, ignore: readonly string[] = []): Promise<EnsureResult> {
    const existing = await this.find(desired.Name);
    if (!existing) {
      await this.docker.createService(desired as Raw);
      this.log.info({ service: desired.Name }, 'created managed service');
      return { action: 'created', changed: [] };
    }
    const projected = project(existing.Spec, desired);
    const changed = diffPaths(projected, desired).filter((p) => !ignore.some((i) => p === i || p.startsWith(`${i}.`)));
    if (changed.length === 0) return { action: 'unchanged', changed };
    // Swarm rolled back the spec core applied last, and that is still the one wanted: its tasks failed
    // (missing image, crash, failed health check). Re-applying it would stop the working tasks again,
    // over and over; wait for a different spec. (The engine drops PreviousSpec on rollback, so what was
    // rolled back is known only from what core sent.)
    const key = JSON.stringify(keepPaths(desired, undefined, ignore));
    const state = String(existing.UpdateStatus?.State ?? '');
    if (state.startsWith('rollback') && this.applied.get(desired.Name) === key) this.rolledBack.set(desired.Name, key);
    if (this.rolledBack.get(desired.Name) === key) {
      return { action: 'refused', changed, message: String(existing.UpdateStatus?.Message || `swarm rolled back this spec (now ${state || 'no update state'})`) };
    }
    this.rolledBack.delete(desired.Name);
    const body = changed.some(rollsTasks) ? desired : keepPaths(desired, existing.Spec, ignore);
    await this.docker.getService(existing.ID).update({ _query: { version: existing.Version?.Index }, ...body } as Raw);
    this.applied.set(desired.Name, key);
    const values = describeChanges(projected, desired, changed);
    // The service still carries the version of the spec we want: we applied exactly this spec before,
    // so the difference is a hand-made change (also after a core restart, which forgets what it applied).
    const version = (desired.Labels as Record<string, string> | undefined)?.[SPEC_VERSION_LABEL];
    const drift = version !== undefined && existing.Spec?.Labels?.[SPEC_VERSION_LABEL] === version;
    if (drift) this.log.warn({ service: desired.Name, changed, values }, 'reverted a hand-made change (drift) to match config.toml');
    else this.log.info({ service: desired.Name, changed, values }, 'updated managed service to match config.toml');
    return { action: 'updated', changed, values, drift };
  }

  async remove(name: string): Promise<boolean> {
    const existing = await this.find(name);
    if (!existing) return false;
    await this.docker.getService(existing.ID).remove();
    this.log.info({ service: name }, 'removed managed service');
    return true;
  }

  /** Config objects carrying a label (e.g. every nginx.conf an extension published), newest first. */
  async listConfigs(label: string): Promise<Raw[]> {
    const list = (await this.docker.listConfigs({ filters: { label: [label] } })) as Raw[];
    return list.sort((a, b) => String(b.CreatedAt).localeCompare(String(a.CreatedAt)) || String(b.ID).localeCompare(String(a.ID)));
  }

  async removeConfig(id: string): Promise<void> {
    await this.docker.getConfig(id).remove();
  }

  /** Removes a network; the engine refuses while a service or task still uses it. */
  async removeNetwork(id: string): Promise<void> {
    await this.docker.getNetwork(id).remove();
  }

  /**
   * An overlay network of ours by name, created (not attachable: only services core creates join it)
   * when missing. subnet is '' until the engine has allocated one.
   */
  async ensureNetwork(name: string, labels: Record<string, string>): Promise<{ id: string; subnet: string; created: boolean }> {
    const find = async () => ((await this.docker.listNetworks({ filters: { name: [name] } })) as Raw[]).find((n) => n.Name === name);
    let net = await find();
    let created = false;
    if (!net) {
      await this.docker.createNetwork({ Name: name, Driver: 'overlay', Attachable: false, CheckDuplicate: true, Labels: labels } as Raw);
      this.log.info({ network: name }, 'created managed network');
      created = true;
      net = await find();
      if (!net) throw new Error(`network ${name} was created but is not listed`);
    }
    const full = (await this.docker.getNetwork(String(net.Id)).inspect()) as Raw;
    const subnet = String(((full.IPAM?.Config ?? []) as Raw[]).map((c) => c.Subnet).find((x) => typeof x === 'string' && x.includes('.')) ?? '');
    return { id: String(net.Id), subnet, created };
  }

  /** Networks carrying a label, e.g. edge networks this core created. */
  async listNetworksByLabel(label: string): Promise<Raw[]> {
    return (await this.docker.listNetworks({ filters: { label: [label] } })) as Raw[];
  }

  /** Services carrying a label, e.g. every proxy/extension this core manages. */
  async listByLabel(label: string): Promise<Raw[]> {
    return (await this.docker.listServices({ filters: { label: [label] } })) as Raw[];
  }
}
