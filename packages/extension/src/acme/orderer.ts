// HTTP-01 orders through acme-client: one ECDSA P-256 key and certificate per host. Challenge answers go
// into the ChallengeStore, which the extension serves on /.well-known/acme-challenge/ (every proxy replica
// forwards that path of ACME hosts to the extension, so the CA may reach any of them).
import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import acme from 'acme-client';
import type { AccountRecord } from './store.js';
import type { IssuedPair, Orderer } from './manager.js';

/** Key authorizations by token, while their challenge is pending. */
export class ChallengeStore {
  private readonly byToken = new Map<string, string>();

  set(token: string, keyAuthorization: string): void {
    this.byToken.set(token, keyAuthorization);
  }

  delete(token: string): void {
    this.byToken.delete(token);
  }

  get(token: string): string | undefined {
    return this.byToken.get(token);
  }
}

export interface OrdererOptions {
  directoryUrl: string;
  email: string;
  /** PEM CA certificates trusted for the directory's HTTPS besides Node's roots ('' = none). */
  caBundle: string;
  challenges: ChallengeStore;
  /** The stored account, or undefined to create one (then `saveAccount` is called once). */
  account: AccountRecord | undefined;
  saveAccount: (rec: AccountRecord) => Promise<void>;
}

/**
 * acme-client talks through its shared axios instance; the CA bundle is set on it once per process
 * (an extension serves one [Extensions.NAME], so one directory).
 */
function trust(caBundle: string): void {
  if (caBundle.trim() === '') return;
  acme.axios.defaults.httpsAgent = new Agent({ ca: [...rootCertificates, caBundle], keepAlive: true });
}

export async function createOrderer(o: OrdererOptions): Promise<Orderer> {
  trust(o.caBundle);
  let account = o.account?.directoryUrl === o.directoryUrl ? o.account : undefined;
  if (!account) {
    account = { keyPem: (await acme.crypto.createPrivateEcdsaKey('P-256')).toString(), directoryUrl: o.directoryUrl };
  }
  const client = new acme.Client({ directoryUrl: o.directoryUrl, accountKey: account.keyPem, ...(account.url ? { accountUrl: account.url } : {}) });
  if (!account.url) {
    await client.createAccount({ termsOfServiceAgreed: true, ...(o.email ? { contact: [`mailto:${o.email}`] } : {}) });
    account = { ...account, url: client.getAccountUrl() };
    await o.saveAccount(account);
  }
  return async (host: string): Promise<IssuedPair> => {
    const key = await acme.crypto.createPrivateEcdsaKey('P-256');
    const [, csr] = await acme.crypto.createCsr({ commonName: host, altNames: [host] }, key);
    const certPem = await client.auto({
      csr,
      termsOfServiceAgreed: true,
      // The extension cannot reach the proxies' public address itself; the CA's own check is the test.
      skipChallengeVerification: true,
      challengePriority: ['http-01'],
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        if (challenge.type !== 'http-01') throw new Error(`only http-01 is supported, the CA offered ${challenge.type}`);
        o.challenges.set(challenge.token, keyAuthorization);
      },
      challengeRemoveFn: async (_authz, challenge) => {
        o.challenges.delete(challenge.token);
      },
    });
    return { certPem, keyPem: key.toString() };
  };
}
