// Small normalisations of config.toml values shared by the main, http and stream blocks.

/** Verbatim option lines (GlobalOptions, HTTPOptions, TCPOptions): trimmed, blank ones dropped. */
export function verbatim(lines: readonly string[]): string[] {
  return lines.map((l) => l.trim()).filter((l) => l !== '');
}

/** null for an empty (or blank) value: the directive is left out. */
export function emptyOrNull(value: string): string | null {
  return value.trim() === '' ? null : value;
}
