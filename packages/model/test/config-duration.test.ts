import { durationMs } from '../src/duration.js';

describe('durationMs (Go duration syntax)', () => {
  it.each([
    ['0', 0],
    ['3s', 3000],
    ['500ms', 500],
    ['1m30s', 90_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    ['.5s', 500],
    ['5.s', 5000],
    ['2h45m0.5s', 2 * 3_600_000 + 45 * 60_000 + 500],
    ['1000us', 1],
    ['1000µs', 1],
    ['1000000ns', 1],
    ['+2s', 2000],
    ['-2s', -2000],
    ['-0', 0],
  ])('%s → %d ms', (text, ms) => {
    expect(durationMs(text)).toBeCloseTo(ms, 9);
  });

  it.each(['', '3', 's', '.s', '3 s', '3sec', '1d', '3S', '--1s', '1s ', ' 1s', 'ms', '1m30', '1.2.3s'])('rejects %j', (text) => {
    expect(durationMs(text)).toBeUndefined();
  });
});
