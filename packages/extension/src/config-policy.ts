// Refuse rendered configs containing directives no label or config key can legitimately produce.
// Defence in depth: the label decoder already stops injection; this catches a template or escaping bug.
// The list is model's directive policy, the same one `signalbox config check` and core apply to raw
// options, with the same code.
import { ERR_DIRECTIVE_FORBIDDEN, forbiddenDirectives } from '@signalbox/model';

export { directives } from '@signalbox/model';

export interface PolicyOptions {
  /** The one load_module path the renderer may emit (Debian builds the stream module dynamically). */
  allowedModules: readonly string[];
}

export function checkPolicy(text: string, o: PolicyOptions): string[] {
  return forbiddenDirectives(text, o.allowedModules).map((d) => `${ERR_DIRECTIVE_FORBIDDEN}: line ${d.line}: directive "${d.name}" is not allowed in a generated config`);
}
