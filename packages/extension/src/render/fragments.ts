// Rendered upstream and server blocks, cached by their exact inputs.
//
// A 10 000-service cluster renders ~30 000 upstream/server blocks; a change to one service changes one
// or two of them. The main template lays out `fragments.upstreams` / `fragments.servers`, strings
// rendered here from partials/upstream.njk and partials/server.njk with ONLY the values they are
// documented to read (so a partial reading anything else fails loudly instead of going stale), keyed
// by the JSON of those values. Re-rendering after a small change then costs the view model and the
// lookups, not 10 MB of template execution.
import type nunjucks from 'nunjucks';
import type { HttpView, ServerView, UpstreamView, ViewModel } from './view-model.js';

export const UPSTREAM_PARTIAL = 'partials/upstream.njk';
export const SERVER_PARTIAL = 'partials/server.njk';

/** What the main template sees besides the view model. */
export interface Fragments {
  /** partials/upstream.njk for each http.upstreams entry, in order, without the final newline. */
  readonly upstreams: string[];
  /** partials/server.njk for each http.servers entry, in order, without the final newline. */
  readonly servers: string[];
}

/** The values partials/server.njk (and location.njk) may read from `http`. */
function serverShared(http: HttpView): Pick<HttpView, 'proxyHeaders' | 'websocketTimeout'> {
  return { proxyHeaders: http.proxyHeaders, websocketTimeout: http.websocketTimeout };
}

interface Entry {
  text: string;
  /** Render number that last used it. */
  used: number;
}

/**
 * One per templates directory. Entries not used by the last `keepRenders` renders are dropped, so
 * memory stays at about one rendered config (plus what the sandbox renders, whose paths differ).
 */
export class FragmentCache {
  private readonly entries = new Map<string, Entry>();
  private renders = 0;
  hits = 0;
  misses = 0;

  constructor(
    private readonly env: nunjucks.Environment,
    private readonly keepRenders = 4,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }

  /** Lazily rendered fragments for one render of `view`; call `done()` after the render. */
  begin(view: ViewModel): { fragments: Fragments; done: () => void } {
    const n = ++this.renders;
    const render = (template: string, prefix: string, value: UpstreamView | ServerView, context: () => object) => this.fragment(n, template, prefix, value, context);
    let upstreams: string[] | undefined;
    let servers: string[] | undefined;
    const fragments: Fragments = {
      get upstreams() {
        return (upstreams ??= view.http.upstreams.map((u) => render(UPSTREAM_PARTIAL, 'u\n', u, () => ({ u }))));
      },
      get servers() {
        if (servers === undefined) {
          const shared = serverShared(view.http);
          const prefix = `s\n${JSON.stringify(shared)}\n`;
          servers = view.http.servers.map((s) => render(SERVER_PARTIAL, prefix, s, () => ({ s, http: shared })));
        }
        return servers;
      },
    };
    return {
      fragments,
      done: () => {
        for (const [k, e] of this.entries) if (e.used <= n - this.keepRenders) this.entries.delete(k);
      },
    };
  }

  private fragment(n: number, template: string, prefix: string, value: UpstreamView | ServerView, context: () => object): string {
    const key = prefix + JSON.stringify(value);
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      hit.used = n;
      this.hits++;
      return hit.text;
    }
    this.misses++;
    const out = this.env.getTemplate(template).render(context());
    const text = out.endsWith('\n') ? out.slice(0, -1) : out;
    this.entries.set(key, { text, used: n });
    return text;
  }
}
