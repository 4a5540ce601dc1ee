// The edge's lame duck. An edge task stops stop-first in host mode, and nginx's graceful stop closes its
// idle keep-alive connections at once: a load balancer that sends a request on one of them just then
// gets no answer (a 502 at the LB; seen once in the multinode tests). So, on a graceful stop, an edge
// that a load balancer checks first fails the LB health path for a moment while it still serves
// everything else (edge.ts), until each checker has been answered 503 a few times and has taken the node
// out; only then does nginx stop. An edge nobody checks stops at once: there is no one to warn.
import type { Logger } from 'pino';
import { sleep } from '@signalbox/protocol';
import { EDGE_LAME_DUCK_PATH } from './edge.js';

/** One address that asked the LB health path, as the edge nginx remembers it. */
export interface HealthChecker {
  address: string;
  /** nginx's clock (s) at its last check. */
  lastCheck: number;
  checks: number;
  /** 503s it was answered since the lame duck began. */
  failed: number;
}

export interface CheckerState {
  /** nginx's clock (s) when it answered. */
  now: number;
  lame: boolean;
  checkers: HealthChecker[];
}

/**
 * 503s each checker gets before the edge stops. A load balancer marks a node down after `fall` failed
 * checks (2 in the documented HAProxy example, where the third is one more interval of margin).
 */
export const LAME_DUCK_ANSWERS = 3;
/** A checker counts when it checked at least twice (a load balancer, not someone's one curl) within this (s). */
export const CHECKER_RECENT_S = 30;

/** The edge nginx's answer: "now T lame 0|1", then "ADDRESS LAST CHECKS FAILED" per line. */
export function parseCheckerState(text: string): CheckerState {
  const [head = '', ...lines] = text.trim().split('\n');
  const m = /^now (\d+(?:\.\d+)?) lame ([01])$/.exec(head.trim());
  if (!m) throw new Error(`unexpected answer from the edge nginx's lame-duck endpoint: ${JSON.stringify(head.slice(0, 80))}`);
  const checkers: HealthChecker[] = [];
  for (const line of lines) {
    const [address, last, checks, failed] = line.trim().split(' ');
    if (address === undefined || failed === undefined) continue;
    checkers.push({ address, lastCheck: Number(last), checks: Number(checks), failed: Number(failed) });
  }
  return { now: Number(m[1]), lame: m[2] === '1', checkers };
}

/** The load balancers to warn: addresses that checked at least twice, the last time within CHECKER_RECENT_S. */
export function loadBalancers(state: CheckerState): HealthChecker[] {
  return state.checkers.filter((c) => c.checks >= 2 && state.now - c.lastCheck <= CHECKER_RECENT_S);
}

export interface LameDuckOptions {
  /** The edge nginx's loopback port (the pool's peers port). */
  port: number;
  /** At most this long (the stop grace period less the time nginx needs to stop). */
  maxMs: number;
  log: Logger;
  pollMs?: number;
  /** Aborted by a second stop signal: stop waiting. */
  signal?: AbortSignal;
}

export interface LameDuckResult {
  /** The load balancers that were checking when the stop began. */
  checkers: string[];
  /** Those still not answered LAME_DUCK_ANSWERS times when the wait ended. */
  notWarned: string[];
  waitedMs: number;
}

async function ask(port: number, method: 'GET' | 'PUT'): Promise<CheckerState> {
  const res = await fetch(`http://127.0.0.1:${port}${EDGE_LAME_DUCK_PATH}`, { method, signal: AbortSignal.timeout(1000) });
  if (!res.ok) throw new Error(`the edge nginx answered ${res.status} on ${EDGE_LAME_DUCK_PATH}`);
  return parseCheckerState(await res.text());
}

/**
 * Fails the LB health path until every load balancer checking this edge has been answered 503
 * LAME_DUCK_ANSWERS times, or `maxMs` has passed. Returns at once when none checks it.
 */
export async function lameDuck(o: LameDuckOptions): Promise<LameDuckResult> {
  const start = Date.now();
  const before = await ask(o.port, 'GET');
  const checkers = loadBalancers(before).map((c) => c.address);
  if (checkers.length === 0) {
    o.log.info('no load balancer checks this edge: stopping without a lame duck');
    return { checkers, notWarned: [], waitedMs: 0 };
  }
  o.log.info({ checkers, maxMs: o.maxMs }, 'lame duck: failing the LB health check while still serving, so load balancers take this node out first');
  let state = await ask(o.port, 'PUT');
  const notWarned = () => checkers.filter((a) => (state.checkers.find((c) => c.address === a)?.failed ?? 0) < LAME_DUCK_ANSWERS);
  while (notWarned().length > 0 && Date.now() - start < o.maxMs && !o.signal?.aborted) {
    await sleep(Math.max(0, Math.min(o.pollMs ?? 100, o.maxMs - (Date.now() - start))));
    state = await ask(o.port, 'GET');
  }
  const result = { checkers, notWarned: notWarned(), waitedMs: Date.now() - start };
  o.log.info(result, result.notWarned.length === 0 ? 'lame duck over: every load balancer saw this edge fail its check' : 'lame duck cut short: some load balancers may not have taken this node out');
  return result;
}
