// Deterministic ordering for the view model: the same model in any input order renders the same bytes.

/** Code-unit order: locale-independent and stable. */
export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Sorted by each key in turn (numbers numerically, anything else as strings in code-unit order). */
export function sortedBy<T>(items: readonly T[], ...keys: ((item: T) => string | number)[]): T[] {
  return [...items].sort((x, y) => {
    for (const key of keys) {
      const a = key(x);
      const b = key(y);
      const c = typeof a === 'number' && typeof b === 'number' ? a - b : cmp(String(a), String(b));
      if (c !== 0) return c;
    }
    return 0;
  });
}

/** JSON with sorted keys: a total, input-order-independent tie-breaker. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => cmp(a, b))) : v,
  );
}

export function uniqueSorted(items: readonly string[]): string[] {
  return [...new Set(items)].sort(cmp);
}

/** The first item of each key (after sorting by key, then canonical JSON): a defensive, sorted copy. */
export function firstByKey<T>(items: readonly T[], key: (item: T) => string): T[] {
  const out: T[] = [];
  for (const item of sortedBy(items, key, canonicalJson)) {
    if (out.length === 0 || key(out[out.length - 1]!) !== key(item)) out.push(item);
  }
  return out;
}
