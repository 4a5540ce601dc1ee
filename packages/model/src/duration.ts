// Go's time.ParseDuration syntax, which Interlock's config.toml uses for PollInterval and friends:
// an optional sign, then one or more <number><unit> pairs ("3s", "500ms", "1m30s", "1.5h"), or a bare "0".

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3, // U+00B5 micro sign
  μs: 1e-3, // U+03BC Greek mu
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const COMPONENT = /(\d*)(?:\.(\d*))?([a-zµμ]+)/y;

/** Milliseconds for a Go duration string, or undefined when it is not one. May be fractional or negative. */
export function durationMs(text: string): number | undefined {
  if (typeof text !== 'string') return undefined;
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest.startsWith('-')) sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  let pos = 0;
  while (pos < rest.length) {
    COMPONENT.lastIndex = pos;
    const m = COMPONENT.exec(rest);
    if (!m) return undefined;
    const [, int = '', frac = '', unit = ''] = m;
    if (int === '' && frac === '') return undefined; // "." or a unit with no number
    const mult = UNIT_MS[unit];
    if (mult === undefined) return undefined;
    total += Number(`${int || '0'}.${frac || '0'}`) * mult;
    pos = COMPONENT.lastIndex;
  }
  if (!Number.isFinite(total)) return undefined;
  return total === 0 ? 0 : sign * total;
}
