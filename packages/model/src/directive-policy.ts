// The one list of nginx directives nothing Signalbox renders may contain: raw config.toml options
// (checked by `signalbox config check` and by core at start) and the extension's rendered config
// (defence in depth against a template or escaping bug) use this same policy and the same code, so
// what config check accepts the extension renders, and what it refuses is refused everywhere.

export const ERR_DIRECTIVE_FORBIDDEN = 'ERR_DIRECTIVE_FORBIDDEN';

/**
 * Directives that load code or files, change the process model, or pass the environment: none of
 * them can be produced by a label, and none is needed in an option line.
 */
export const FORBIDDEN_DIRECTIVES: readonly RegExp[] = [
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

export interface DirectiveStatement {
  name: string;
  args: string;
  line: number;
}

/**
 * Directive statements (name + raw args) of nginx config text, quotes and comments respected. A last
 * statement without its `;` is reported too: an option line "daemon off" is still a directive.
 */
export function directives(text: string): DirectiveStatement[] {
  const out: DirectiveStatement[] = [];
  let cur = '';
  let line = 1;
  let startLine = 1;
  let quote: string | undefined;
  const flush = (): void => {
    const s = cur.trim();
    if (s) {
      const m = /^(\S+)\s*([\s\S]*)$/.exec(s)!;
      out.push({ name: m[1]!, args: m[2]!, line: startLine });
    }
    cur = '';
  };
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
      flush();
      continue;
    }
    if (!cur.trim()) startLine = line;
    cur += ch;
  }
  flush();
  return out;
}

/** The single argument of a directive, unquoted: the renderer writes module paths as "…". */
function singleArg(args: string): string | undefined {
  const a = args.trim();
  return /^"[^"\\\s]*"$/.test(a) ? a.slice(1, -1) : /^[^"'\\\s]+$/.test(a) ? a : undefined;
}

export function isForbiddenDirective(name: string): boolean {
  const n = name.toLowerCase();
  return FORBIDDEN_DIRECTIVES.some((re) => re.test(n));
}

/**
 * Forbidden statements in `text`. `allowedModules`: the load_module paths the renderer itself emits
 * (the stream module); config.toml options allow none.
 */
export function forbiddenDirectives(text: string, allowedModules: readonly string[] = []): DirectiveStatement[] {
  return directives(text).filter((d) => isForbiddenDirective(d.name) && !(d.name === 'load_module' && allowedModules.includes(singleArg(d.args) ?? '\0')));
}
