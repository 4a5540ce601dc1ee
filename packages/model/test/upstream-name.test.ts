import { upstreamName } from '../src/index.js';

describe('upstream names', () => {
  test('have the form u_<8 to 31 hex digits>_<escaped host and path> and are stable', () => {
    const name = upstreamName('web.example.test', '/api');
    expect(name).toMatch(/^u_[0-9a-f]{8,31}_web_example_testX2Fapi$/);
    expect(upstreamName('web.example.test', '/api')).toBe(name);
  });

  test('names of similar hosts spread over many lengths (nginx compares the length before the bytes)', () => {
    const names = Array.from({ length: 1000 }, (_, i) => upstreamName(`svc${i}.example.test`, '/'));
    const byLength = new Map<number, number>();
    for (const n of names) byLength.set(n.length, (byLength.get(n.length) ?? 0) + 1);
    // Host lengths alone give 3 lengths here (svc0..svc999); the hash spreads them over 8 to 31 digits.
    expect(byLength.size).toBeGreaterThanOrEqual(24);
    expect(Math.max(...byLength.values())).toBeLessThan(names.length / 10);
    expect(new Set(names).size).toBe(names.length);
  });
});
