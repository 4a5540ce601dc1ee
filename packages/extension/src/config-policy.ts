// Refuse rendered configs containing directives no label or config key can legitimately produce.
// Defence in depth: the label decoder already stops injection; this catches a template or escaping bug.

export interface PolicyOptions {
  /** The one load_module path the renderer may emit (Debian builds the stream module dynamically). */
  allowedModules: readonly string[];
}

const FORBIDDEN: readonly RegExp[] = [
  /^include$/,
  /^load_module$/,
  /_by_lua/,
  /^lua_/,
  /^perl/,
  /^js_/,
  /^ssl_engine$/,
  /^env$/,
  /^daemon$/,
  /^master_process$/,
  /^working_directory$/,
  /^thread_pool$/,
];

/** Directive statements (name + raw args) of an nginx config, quotes and comments respected. */
export function directives(text: string): { name: string; args: string; line: number }[] {
  const out: { name: string; args: string; line: number }[] = [];
  let cur = '';
  let line = 1;
  let startLine = 1;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\n') line++;
    if (quote) {
      cur += ch;
      if (ch === '\\') {
        cur += text[++i] ?? '';
      } else if (ch === quote) quote = undefined;
      continue;
    }
    if (ch === '#') {
      while (i < text.length && text[i] !== '\n') i++;
      line++;
      continue;
    }
    if (ch === '"' || ch === "'") {
      quote = ch;
      cur += ch;
      continue;
    }
    if (ch === ';' || ch === '{' || ch === '}') {
      const s = cur.trim();
      if (s) {
        const m = /^(\S+)\s*([\s\S]*)$/.exec(s)!;
        out.push({ name: m[1]!, args: m[2]!, line: startLine });
      }
      cur = '';
      continue;
    }
    if (!cur.trim()) startLine = line;
    cur += ch;
  }
  return out;
}

/** The single argument of a directive, unquoted: the renderer writes module paths as "…" (quote()). */
function singleArg(args: string): string | undefined {
  const a = args.trim();
  return /^"[^"\\\s]*"$/.test(a) ? a.slice(1, -1) : /^[^"'\\\s]+$/.test(a) ? a : undefined;
}

export function checkPolicy(text: string, o: PolicyOptions): string[] {
  const problems: string[] = [];
  for (const d of directives(text)) {
    if (!FORBIDDEN.some((re) => re.test(d.name))) continue;
    if (d.name === 'load_module' && o.allowedModules.includes(singleArg(d.args) ?? '\0')) continue;
    problems.push(`line ${d.line}: directive "${d.name}" is not allowed in a generated config`);
  }
  return problems;
}
