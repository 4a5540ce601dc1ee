// Typed result of decoding a service's com.docker.lb.* labels. Templates only ever see these values.
import type { Diagnostic } from './diagnostics.js';

export const LABEL_PREFIX = 'com.docker.lb.';

export interface Redirect {
  /** Absolute source URL, e.g. http://old.example.com */
  source: string;
  /** Absolute target URL, e.g. https://new.example.com */
  target: string;
  /** Host part of source, lower-cased; the server the redirect lives in. */
  sourceHost: string;
}

export interface RouteSpec {
  /** Lower-cased, unique, sorted. May be empty only for a default backend. */
  hosts: string[];
  port: number;
  /** Network name as written in the label; resolved against the swarm by the builder. */
  network?: string;
  /** Normalised path prefix: starts with '/', no trailing slash, never just '/'. */
  contextRoot?: string;
  contextRootRewrite: boolean;
  stickySessionCookie?: string;
  ipHash: boolean;
  /** Docker secret names. */
  sslCert?: string;
  sslKey?: string;
  sslOnly: boolean;
  sslPassthrough: boolean;
  sslBackend: boolean;
  sslBackendTlsVerify: 'none' | 'required';
  /** Normalised paths, unique, sorted. */
  websocketEndpoints: string[];
  redirects: Redirect[];
  defaultBackend: boolean;
  backendMode: 'task' | 'vip';
  /** '' when the label is absent: served by the cluster whose ServiceCluster is empty. */
  serviceCluster: string;
  maxFails?: number;
  /** nginx time, validated, e.g. '10s'. */
  failTimeout?: string;
  /** com.docker.lb.acme (Signalbox extension): certificates for the hosts from the configured ACME CA (absent = false). */
  acme?: true;
}

export type DecodeResult =
  | { status: 'ok'; spec: RouteSpec; warnings: Diagnostic[] }
  /** serviceCluster is reported when it could be read, so the right cluster shows the rejection. */
  | { status: 'rejected'; errors: Diagnostic[]; warnings: Diagnostic[]; serviceCluster: string }
  /** No com.docker.lb.* label at all: not ours, never causes a config change. */
  | { status: 'ignored' };
