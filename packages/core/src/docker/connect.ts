// The Docker connection, from config.toml's DockerURL and TLS keys.
import { readFileSync } from 'node:fs';
import Docker from 'dockerode';
import type { SignalboxConfig } from '@signalbox/model';

export function connectDocker(cfg: Pick<SignalboxConfig, 'DockerURL' | 'TLSCACert' | 'TLSCert' | 'TLSKey' | 'AllowInsecure'>): Docker {
  const url = new URL(cfg.DockerURL);
  if (url.protocol === 'unix:') return new Docker({ socketPath: url.pathname });
  const tls = cfg.TLSCert !== '' && cfg.TLSKey !== '';
  return new Docker({
    host: url.hostname,
    port: Number(url.port || (tls ? 2376 : 2375)),
    protocol: tls ? 'https' : 'http',
    ...(tls
      ? {
          ca: cfg.TLSCACert !== '' ? readFileSync(cfg.TLSCACert) : undefined,
          cert: readFileSync(cfg.TLSCert),
          key: readFileSync(cfg.TLSKey),
          checkServerIdentity: cfg.AllowInsecure ? () => undefined : undefined,
        }
      : {}),
  } as Docker.DockerOptions);
}
