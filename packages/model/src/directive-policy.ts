// The one list of nginx directives nothing Signalbox renders may contain: raw config.toml options
// (checked by `signalbox config check` and by core at start) and the extension's rendered config
// (defence in depth against a template or escaping bug) use this same policy and the same code, so
// what config check accepts the extension renders, and what it refuses is refused everywhere.

export const ERR_DIRECTIVE_FORBIDDEN = 'ERR_DIRECTIVE_FORBIDDEN';

/**
 * Directives that load code or files, change the process model, or pass the environment: none of
 * them can be produced by a label, and none is needed in an option line. Each with the name the
 * docs show (docs/configuration.md is generated from this list; a test checks security.md and errors.md).
 */
export const FORBIDDEN_DIRECTIVE_RULES: readonly { readonly pattern: RegExp; readonly shown: string }[] = [
  { pattern: /^include$/, shown: 'include' },
  { pattern: /^load_module$/, shown: 'load_module' },
  { pattern: /^ssl_engine$/, shown: 'ssl_engine' },
  { pattern: /^env$/, shown: 'env' },
  { pattern: /^daemon$/, shown: 'daemon' },
  { pattern: /^master_process$/, shown: 'master_process' },
  { pattern: /^working_directory$/, shown: 'working_directory' },
  { pattern: /^thread_pool$/, shown: 'thread_pool' },
  { pattern: /^js_/, shown: 'js_*' },
  { pattern: /^perl/, shown: 'perl*' },
  { pattern: /^lua_/, shown: 'lua_*' },
  { pattern: /_by_lua/, shown: '*_by_lua*' },
];

export const FORBIDDEN_DIRECTIVES: readonly RegExp[] = FORBIDDEN_DIRECTIVE_RULES.map((r) => r.pattern);

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

/** The forbidden directives as the docs show them: "`include`, `load_module`, … or `*_by_lua*`" (lastJoin ' or '). */
export function forbiddenDirectiveList(lastJoin = ', '): string {
  const shown = FORBIDDEN_DIRECTIVE_RULES.map((r) => `\`${r.shown}\``);
  return `${shown.slice(0, -1).join(', ')}${lastJoin}${shown[shown.length - 1] ?? ''}`;
}
