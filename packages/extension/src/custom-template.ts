// config.toml's Template: the name of a Docker config holding a nunjucks template that replaces
// templates/nginx.conf.njk. It is fed the same typed view model (docs/custom-templates.md) and may
// include the built-in partials. Interlock's Template was a Go template over Interlock's own data;
// those are recognised and refused, since no data of that shape exists here.
import nunjucks from 'nunjucks';
import type Docker from 'dockerode';
import { environmentFor, defaultTemplatesDir } from './render/index.js';

export const MIGRATION_GUIDE = 'docs/migrating-from-interlock.md#custom-templates';

/** Logged when the Template config cannot be used; the extension stops (docs/errors.md). */
export const ERR_TEMPLATE_INVALID = 'ERR_TEMPLATE_INVALID';

/** Thrown when the Template config cannot be used; the message names the config and what to do. */
export class CustomTemplateError extends Error {
  override name = 'CustomTemplateError';
}

// Go text/template actions nunjucks never writes: {{ .Field }}, {{ range … }}, {{ end }}, {{ $x := … }},
// {{ if .X }} / {{ if eq … }}, {{ template "x" }}, {{ define "x" }}, {{ with … }}, {{- trim markers.
const GO_ACTIONS: readonly RegExp[] = [
  /\{\{-?\s*\.[A-Za-z_]/,
  /\{\{-?\s*(?:range|end|with|define|template|block)\b/,
  /\{\{-?\s*\$[A-Za-z_]\w*\s*:?=/,
  /\{\{-?\s*(?:if|else\s+if)\s+(?:\.|\$|not\b|eq\b|ne\b|and\b|or\b|len\b)/,
  /\{\{-?\s*else\s*-?\}\}/,
];

/** Why `text` looks like an Interlock (Go) template, or undefined. */
export function goTemplateEvidence(text: string): string | undefined {
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    for (const re of GO_ACTIONS) {
      const m = re.exec(line);
      if (m) return `line ${i + 1}: ${m[0].trim()}`;
    }
  }
  return undefined;
}

/**
 * Check a custom template: refuse a Go template, and compile it (syntax errors surface here, at start,
 * rather than on the first render). Returns the text to pass as RenderOptions.customTemplate.
 */
export function checkCustomTemplate(name: string, text: string, templatesDir = defaultTemplatesDir()): string {
  const go = goTemplateEvidence(text);
  if (go !== undefined) {
    throw new CustomTemplateError(
      `Template ${JSON.stringify(name)} is a Go template written for Interlock (${go}); Signalbox templates are nunjucks over its own view model. Rewrite it from templates/nginx.conf.njk, see ${MIGRATION_GUIDE}, or remove Template from config.toml to use the built-in template`,
    );
  }
  try {
    new nunjucks.Template(text, environmentFor(templatesDir), `Template ${name}`, true);
  } catch (e) {
    throw new CustomTemplateError(`Template ${JSON.stringify(name)} is not a valid nunjucks template: ${e instanceof Error ? e.message.split('\n').slice(0, 3).join(' ') : String(e)}`);
  }
  return text;
}

/** Read the Docker config named `name` (exactly) and check it. */
export async function loadCustomTemplate(docker: Docker, name: string, templatesDir?: string): Promise<string> {
  const listed = await docker.listConfigs({ filters: JSON.stringify({ name: [name] }) });
  const match = listed.find((c) => c.Spec?.Name === name);
  if (match === undefined || match.ID === undefined) {
    throw new CustomTemplateError(`Template ${JSON.stringify(name)}: no Docker config of that name; create it with docker config create ${name} nginx.conf.njk`);
  }
  const info = (await docker.getConfig(match.ID).inspect()) as { Spec?: { Data?: string } };
  const text = Buffer.from(info.Spec?.Data ?? '', 'base64').toString('utf8');
  return checkCustomTemplate(name, text, templatesDir);
}
