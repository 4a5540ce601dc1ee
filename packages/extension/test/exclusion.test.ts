// Bisection over services (issue 9 case 7): broken services are found, and a time-out is charged only
// to a service that is slow on its own, never to whichever innocent service name order adds last.
import { findCulprits, isTimeout } from '../src/exclusion.js';

const TIMEOUT = 'nginx -t did not finish within 15000 ms';
const names = Array.from({ length: 16 }, (_, i) => `svc-${String(i).padStart(2, '0')}`);

/** A validator whose cost is the sum of per-service costs; over `limit` it times out. Broken ones fail. */
function validator(cost: Record<string, number>, broken: string[] = [], limit = 100) {
  const calls: string[][] = [];
  const check = async (included: ReadonlySet<string>) => {
    calls.push([...included]);
    const bad = [...included].find((s) => broken.includes(s));
    if (bad) return `host not found in upstream "${bad}"`;
    const total = [...included].reduce((t, s) => t + (cost[s] ?? 1), 0);
    return total > limit ? TIMEOUT : undefined;
  };
  return { check, calls };
}

test('isTimeout recognises the validator message only', () => {
  expect(isTimeout(TIMEOUT)).toBe(true);
  expect(isTimeout('unknown directive "x"')).toBe(false);
});

test('broken services are found by bisection, with their error', async () => {
  const v = validator({}, ['svc-03', 'svc-11']);
  const c = await findCulprits(names, v.check);
  expect([...c.keys()]).toEqual(['svc-03', 'svc-11']);
  expect(c.get('svc-03')).toBe('host not found in upstream "svc-03"');
});

test('a service that is slow on its own is charged with the time-out', async () => {
  const v = validator({ 'svc-12': 500 });
  const c = await findCulprits(names, v.check);
  expect([...c]).toEqual([['svc-12', TIMEOUT]]);
});

test('a time-out of everything together is charged to no one (not to the last services by name)', async () => {
  // 16 services of cost 10 with a limit of 100: any 11 together time out, each alone is fine.
  const v = validator(Object.fromEntries(names.map((n) => [n, 10])));
  const c = await findCulprits(names, v.check);
  expect([...c.keys()]).toEqual([]);
});
