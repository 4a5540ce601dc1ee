// A new routing task must not take traffic before it can reach its backends. It joins its app networks
// while the overlay's peer entries for tasks on other nodes still arrive by gossip; where that is slow
// (seen on the multi-node swarm after a node rejoined), a connection to a backend on another node goes
// nowhere for seconds. nginx then counts a timeout against every server of the upstream (max_fails=1,
// fail_timeout=10s) and answers 502 for the next 10 s, though the path works a moment later.
//
// So a routing task reports healthy (which is when swarm's DNS lists it to the edge and a start-first
// roll stops the old task) only once every upstream of its installed config has a server that answers
// a TCP connect, or after a cap. A refused connect counts as an answer: the network path works and the
// app is nginx's business. Once reached (or capped) it stays so: a backend that dies later is a backend
// problem, not a reason to take the proxy out of service. The wait is only worth it while another
// routing task serves (a start-first roll, several replicas): when none does (the only task restarted),
// a task that serves what it can beats no task at all, so it opens at once.

import { Resolver } from 'node:dns/promises';
import { connect } from 'node:net';
import type { Logger } from 'pino';
import { RELAY_UPSTREAM } from '@signalbox/protocol';

export interface Endpoint {
  host: string;
  port: number;
}

/** An answer to a connect (accepted or refused), or silence (timeout, unreachable). */
export type ProbeResult = 'answered' | 'silent';
export type Probe = (e: Endpoint, timeoutMs: number) => Promise<ProbeResult>;

export interface BackendReachOptions {
  logger: Logger;
  /** From the gate's creation (the agent's start): after this the task is let through regardless. */
  maxWaitMs?: number;
  connectTimeoutMs?: number;
  /** Pause between rounds of probes while some upstream has not answered. */
  intervalMs?: number;
  /** Probes in flight at once. */
  concurrency?: number;
  /** Servers of one upstream tried per round (an upstream needs one answer). */
  perUpstream?: number;
  probe?: Probe;
  /** Does another routing task serve now? false: open at once. Absent: always wait (up to the cap). */
  othersServe?: () => Promise<boolean>;
  now?: () => number;
}

export interface BackendReachState {
  ready: boolean;
  /** Upstreams with no answering server yet (while not ready). */
  waiting: number;
  /** One of them, with the servers tried: for the health reason and the log. */
  example: string | undefined;
}

const UPSTREAM = /\bupstream\s+([^\s{]+)\s*\{([^}]*)\}/g;
const SERVER = /(?<=^|[;{])\s*server\s+([^\s;]+)([^;]*);/gm;
const IPV4 = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/;
const IPV6 = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/;

/**
 * The servers of each `upstream` block in an nginx config that are worth probing: IP literals with a
 * port, not marked `down`, not on loopback (the task's own hops). Hostnames and unix sockets are skipped, and
 * so is the relay (other routing tasks, RELAY_UPSTREAM).
 */
export function upstreamServers(conf: string): Map<string, Endpoint[]> {
  const out = new Map<string, Endpoint[]>();
  for (const [, name, body] of conf.matchAll(UPSTREAM) as IterableIterator<[string, string, string]>) {
    if (name === RELAY_UPSTREAM) continue;
    const servers: Endpoint[] = [];
    for (const [, addr, params] of body.matchAll(SERVER) as IterableIterator<[string, string, string]>) {
      if (/(^|\s)down(\s|$)/.test(params)) continue;
      const m = IPV4.exec(addr) ?? IPV6.exec(addr);
      if (!m) continue;
      const host = m[1]!;
      if (host.startsWith('127.') || host === '::1') continue;
      servers.push({ host, port: Number(m[2]) });
    }
    if (servers.length > 0) out.set(name, servers);
  }
  return out;
}

/** A TCP connect: accepted or refused is an answer; anything else (timeout, no route) is silence. */
export const tcpProbe: Probe = (e, timeoutMs) =>
  new Promise((resolve) => {
    const socket = connect({ host: e.host, port: e.port });
    const done = (r: ProbeResult) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done('silent'), timeoutMs);
    socket.once('connect', () => done('answered'));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' ? 'answered' : 'silent'));
  });

const key = (e: Endpoint) => (e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`);

export class BackendReach {
  private readonly startedAt: number;
  private readonly o: Required<Omit<BackendReachOptions, 'logger' | 'othersServe'>> & Pick<BackendReachOptions, 'logger' | 'othersServe'>;
  private upstreams = new Map<string, Endpoint[]>();
  /** Servers that answered once: their path works. */
  private readonly answered = new Set<string>();
  private latched = false;
  private loop: Promise<void> | undefined;
  private stopped = false;

  constructor(options: BackendReachOptions) {
    this.o = {
      maxWaitMs: 10_000,
      connectTimeoutMs: 1000,
      intervalMs: 250,
      concurrency: 32,
      perUpstream: 4,
      probe: tcpProbe,
      now: Date.now,
      ...options,
    };
    this.startedAt = this.o.now();
  }

  /** The config now installed: its upstreams are what must answer (until the gate has opened). */
  watch(conf: string): void {
    if (this.latched || this.stopped) return;
    this.upstreams = upstreamServers(conf);
    this.loop ??= this.run().finally(() => (this.loop = undefined));
  }

  state(): BackendReachState {
    if (this.latched) return { ready: true, waiting: 0, example: undefined };
    const waiting = this.unreached();
    const name = waiting[0];
    const example = name === undefined ? undefined : `${name} (${(this.upstreams.get(name) ?? []).map(key).join(', ')})`;
    return { ready: false, waiting: waiting.length, example };
  }

  /** Settles once the gate is open (for tests and shutdown). */
  async settled(): Promise<void> {
    await this.loop;
  }

  stop(): void {
    this.stopped = true;
  }

  private unreached(): string[] {
    return [...this.upstreams.entries()].filter(([, servers]) => !servers.some((s) => this.answered.has(key(s)))).map(([name]) => name);
  }

  private async run(): Promise<void> {
    for (let round = 0; !this.latched && !this.stopped; round++) {
      const waiting = this.unreached();
      const elapsed = this.o.now() - this.startedAt;
      if (waiting.length === 0) {
        this.latched = true;
        if (round > 1) this.o.logger.info({ ms: elapsed, upstreams: this.upstreams.size }, 'every upstream answers: taking traffic');
        return;
      }
      if (elapsed >= this.o.maxWaitMs) {
        this.latched = true;
        this.o.logger.warn({ ms: elapsed, waiting: waiting.length, example: this.state().example }, 'some upstreams still answer nothing: taking traffic anyway (the wait is capped)');
        return;
      }
      // Asked only once a round of probes left something waiting: the usual start needs no lookup.
      if (round > 0 && this.o.othersServe && !(await this.o.othersServe())) {
        this.latched = true;
        this.o.logger.info({ ms: elapsed, waiting: waiting.length }, 'no other routing task serves: taking traffic without waiting for upstreams');
        return;
      }
      if (round === 1) this.o.logger.info({ waiting: waiting.length, example: this.state().example }, 'waiting for upstreams to answer a connect before taking traffic');
      if (round > 0) await new Promise((r) => setTimeout(r, this.o.intervalMs));
      await this.probeRound(waiting, round);
    }
  }

  /** Up to `perUpstream` servers of each waiting upstream, the next ones each round. */
  private async probeRound(waiting: string[], round: number): Promise<void> {
    const targets = new Map<string, Endpoint>();
    for (const name of waiting) {
      const servers = this.upstreams.get(name) ?? [];
      const n = Math.min(this.o.perUpstream, servers.length);
      for (let i = 0; i < n; i++) {
        const s = servers[(round * n + i) % servers.length]!;
        targets.set(key(s), s);
      }
    }
    const queue = [...targets.values()];
    const worker = async () => {
      for (let e = queue.shift(); e !== undefined; e = queue.shift()) {
        if ((await this.o.probe(e, this.o.connectTimeoutMs)) === 'answered') this.answered.add(key(e));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.o.concurrency, queue.length) }, worker));
  }
}

/**
 * Whether a healthy task of `service` other than this one is listed: swarm's DNS (`tasks.NAME`) lists a
 * task only once it is healthy, so this task is not among them yet. A lookup that fails for another
 * reason than "no such name" counts as yes: waiting is bounded, serving half-blind is not undone.
 */
export function healthyTasksListed(service: string, resolver: string): () => Promise<boolean> {
  const r = new Resolver({ timeout: 1000, tries: 1 });
  r.setServers([resolver]);
  return async () => {
    try {
      return (await r.resolve4(`tasks.${service}`)).length > 0;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return !(code === 'ENOTFOUND' || code === 'ENODATA');
    }
  };
}
