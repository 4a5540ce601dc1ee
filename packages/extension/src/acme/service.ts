// ACME in the extension: follows the model's acmeHosts, keeps their certificates (manager + sealed swarm
// store), puts issued ones into the model it renders (as ACME files, see ACME_FILE_PREFIX), and hands
// the files to proxy agents over the control plane.
import { createHash } from 'node:crypto';
import type { AcmeConfig, ClusterModel } from '@signalbox/model';
import type { AcmeStoreStatus, Logger } from '@signalbox/protocol';
import { durationMs } from '@signalbox/model';
import { ACME_FILE_PREFIX } from '../render/view-model.js';
import { AcmeManager, type AcmeHostStatus, type Orderer } from './manager.js';
import { ChallengeStore, createOrderer } from './orderer.js';
import type { AcmeStore, CertificateRecord, UnreadableObject } from './store.js';

export interface AcmeServiceDeps {
  store: AcmeStore;
  log: Logger;
  /** A certificate was issued or renewed: the last model must be rendered again. */
  onIssued: () => void;
  /** Orderer factory (tests); default: acme-client against the configured directory. */
  createOrderer?: typeof createOrderer;
  tickMs?: number;
}

/** ACME file names (as a model's TlsCert names them) of a certificate: content-addressed, so a renewal is a new name. */
export function acmeFileNames(rec: CertificateRecord): { cert: string; key: string } {
  const id = createHash('sha256').update(rec.certPem).digest('hex').slice(0, 16);
  return { cert: `${ACME_FILE_PREFIX}${id}.crt`, key: `${ACME_FILE_PREFIX}${id}.key` };
}

export class AcmeService {
  readonly challenges = new ChallengeStore();
  private manager: AcmeManager | undefined;
  private config: AcmeConfig | undefined;
  private orderer: Promise<Orderer> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private loaded: Promise<void> | undefined;
  private storeState: { unreadable: UnreadableObject[]; resealed: number; resealError?: string } = { unreadable: [], resealed: 0 };

  constructor(private readonly d: AcmeServiceDeps) {}

  /** Start (or re-configure) for [Extensions.NAME.Acme]; a no-op while DirectoryURL is empty. */
  private configure(cfg: AcmeConfig): void {
    if (cfg.DirectoryURL === '') return;
    if (this.manager && JSON.stringify(cfg) === JSON.stringify(this.config)) return;
    this.config = cfg;
    this.orderer = undefined;
    const manager = new AcmeManager({
      orderer: async (host) => {
        try {
          return await (
            await this.ensureOrderer()
          )(host);
        } catch (e) {
          // The next try looks the account up again (the CA may have lost it); it costs one request per failure.
          this.orderer = undefined;
          throw e;
        }
      },
      save: (rec) => this.d.store.saveCertificate(rec),
      policy: {
        renewBeforeMs: durationMs(cfg.RenewBefore) ?? 720 * 3600_000,
        retry: { initialMs: durationMs(cfg.RetryInitial) ?? 60_000, maxMs: durationMs(cfg.RetryMax) ?? 6 * 3600_000 },
        orderTimeoutMs: 5 * 60_000,
        concurrency: 4,
      },
      log: this.d.log,
      onIssued: () => this.d.onIssued(),
    });
    const previous = this.manager;
    this.manager = manager;
    if (previous) manager.restore(previous.certificates().values());
    // A restarted extension serves what the swarm holds at once, and orders nothing it already has.
    this.loaded = this.d.store
      .load()
      .then((state) => {
        manager.restore(state.certificates.values());
        this.storeState = { unreadable: state.unreadable, resealed: state.resealed, ...(state.resealError !== undefined ? { resealError: state.resealError } : {}) };
        if (state.unreadable.length > 0) {
          // Their hosts are ordered again (the service keeps HTTPS); the objects stay, so putting the right key back restores them.
          this.d.log.error(
            { objects: state.unreadable },
            `${state.unreadable.length} ACME object(s) cannot be opened with the store key; their hosts are ordered again. ${state.unreadable[0]!.reason}`,
          );
        }
        if (state.resealed > 0) this.d.log.info({ resealed: state.resealed }, 'ACME records sealed under the API token were sealed again under the store key (token rotation now keeps them)');
        if (state.resealError !== undefined) this.d.log.error({ err: state.resealError }, 'cannot re-seal ACME records under the store key; they stay readable only until the API token is rotated');
        this.d.log.info({ certificates: state.certificates.size, keyId: this.d.store.keyId }, 'ACME state restored from the swarm');
        if (state.certificates.size > 0) this.d.onIssued();
      })
      .catch((e: Error) => this.d.log.error({ err: e.message }, 'cannot read the ACME store; hosts without a certificate are ordered'));
    if (this.d.store.keyProblem !== undefined) this.d.log.error({}, `ACME orders are stopped: ${this.d.store.keyProblem}`);
    if (!this.timer) {
      this.timer = setInterval(() => this.manager?.tick(), this.d.tickMs ?? 15_000);
      this.timer.unref();
    }
  }

  /** The account is created (or read from the store) at the first order; a failure there fails that order only. */
  private ensureOrderer(): Promise<Orderer> {
    const cfg = this.config!;
    if (!this.orderer) {
      const create = this.d.createOrderer ?? createOrderer;
      // No order without a store key: a certificate the swarm cannot keep would be ordered again at every restart.
      this.orderer = Promise.resolve(this.loaded)
        .then(() => this.d.store.assertWritable())
        .then(() => this.d.store.load())
        .then((state) =>
          create({ directoryUrl: cfg.DirectoryURL, email: cfg.Email, caBundle: cfg.CABundle, challenges: this.challenges, account: state.account, saveAccount: (a) => this.d.store.saveAccount(a) }),
        );
      this.orderer.catch(() => (this.orderer = undefined));
    }
    return this.orderer;
  }

  /**
   * The model to render: ACME hosts with an issued certificate get it as their TlsCert (explicit
   * certificates never reach here: the plan leaves those hosts out). Starts due orders.
   */
  async apply(model: ClusterModel, cfg: AcmeConfig): Promise<ClusterModel> {
    this.configure(cfg);
    const m = this.manager;
    if (!m) return model;
    await this.loaded;
    m.setHosts(model.acmeHosts ?? []);
    m.tick();
    const certs = m.certificates();
    if (certs.size === 0) return model;
    return {
      ...model,
      virtualHosts: model.virtualHosts.map((vh) => {
        const rec = certs.get(vh.host);
        if (!rec || vh.tls) return vh;
        const names = acmeFileNames(rec);
        return { ...vh, tls: { certSecret: names.cert, keySecret: names.key } };
      }),
    };
  }

  /** Files proxies fetch, by the name under their ACME directory (without the leading '.'). */
  files(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const rec of this.manager?.certificates().values() ?? []) {
      const names = acmeFileNames(rec);
      out[names.cert.slice(1)] = rec.certPem;
      out[names.key.slice(1)] = rec.keyPem;
    }
    return out;
  }

  /** The PEM behind an ACME file name as a model names it (for the pre-publish certificate check). */
  read(name: string): Buffer | undefined {
    if (!name.startsWith(ACME_FILE_PREFIX)) return undefined;
    const pem = this.files()[name.slice(1)];
    return pem === undefined ? undefined : Buffer.from(pem);
  }

  status(): AcmeHostStatus[] {
    return this.manager?.status() ?? [];
  }

  /** The store's key and what it could not open (the extension's GET /v1/status `acmeStore`). */
  storeStatus(): AcmeStoreStatus | undefined {
    if (!this.manager) return undefined;
    const s = this.d.store;
    return {
      key: s.keyName,
      ...(s.keyId !== undefined ? { keyId: s.keyId } : {}),
      ...(s.keyProblem !== undefined ? { problem: s.keyProblem } : {}),
      unreadable: this.storeState.unreadable.map((u) => ({ name: u.name, ...(u.host !== undefined ? { host: u.host } : {}), reason: u.reason })),
      resealed: this.storeState.resealed,
      ...(this.storeState.resealError !== undefined ? { resealError: this.storeState.resealError } : {}),
    };
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
