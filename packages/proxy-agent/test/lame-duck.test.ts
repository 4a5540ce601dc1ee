import { CHECKER_RECENT_S, loadBalancers, parseCheckerState } from '../src/lame-duck.js';

describe('the edge nginx’s list of health checkers', () => {
  it('reads the clock, the switch and one checker a line', () => {
    expect(parseCheckerState('now 1700000010.5 lame 1\n10.0.0.9 1700000010.1 7 2\n10.0.0.8 1700000001 1 0\n')).toEqual({
      now: 1700000010.5,
      lame: true,
      checkers: [
        { address: '10.0.0.9', lastCheck: 1700000010.1, checks: 7, failed: 2 },
        { address: '10.0.0.8', lastCheck: 1700000001, checks: 1, failed: 0 },
      ],
    });
    expect(parseCheckerState('now 12 lame 0\n')).toEqual({ now: 12, lame: false, checkers: [] });
  });

  it('refuses an answer that is not the list (another server on the port), naming what it got', () => {
    expect(() => parseCheckerState('<html>404</html>')).toThrow(/lame-duck endpoint: "<html>404<\/html>"/);
  });

  it('takes as load balancers the addresses that checked at least twice, the last time recently; not a one-off curl, not one gone quiet', () => {
    const now = 1000;
    const state = {
      now,
      lame: false,
      checkers: [
        { address: 'lb', lastCheck: now - 0.4, checks: 12, failed: 0 },
        { address: 'curl', lastCheck: now - 1, checks: 1, failed: 0 },
        { address: 'old-lb', lastCheck: now - CHECKER_RECENT_S - 1, checks: 30, failed: 0 },
        { address: 'slow-lb', lastCheck: now - CHECKER_RECENT_S, checks: 2, failed: 0 },
      ],
    };
    expect(loadBalancers(state).map((c) => c.address)).toEqual(['lb', 'slow-lb']);
  });
});
