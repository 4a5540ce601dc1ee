// config.toml's Template: nunjucks templates over the view model are accepted, Interlock's Go templates
// refused with a pointer to the migration guide.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CustomTemplateError, MIGRATION_GUIDE, checkCustomTemplate, goTemplateEvidence } from '../src/custom-template.js';
import { defaultTemplatesDir, renderNginxConf } from '../src/render/index.js';
import { loadCase } from './golden/load-cases.js';

const fixture = (name: string): string => readFileSync(fileURLToPath(new URL(`./fixtures/templates/${name}`, import.meta.url)), 'utf8');

describe('custom templates', () => {
  test('an Interlock (Go) template is refused, naming the line and the migration guide', () => {
    const text = fixture('interlock-style.tmpl');
    expect(goTemplateEvidence(text)).toBe('line 3: {{ .C');
    expect(() => checkCustomTemplate('interlock.tmpl', text)).toThrow(CustomTemplateError);
    expect(() => checkCustomTemplate('interlock.tmpl', text)).toThrow(new RegExp(`Go template written for Interlock \\(line 3.*${MIGRATION_GUIDE.replace(/[.#]/g, '\\$&')}`));
  });

  test.each([
    ['{{ range .Hosts }}', 'range'],
    ['{{- $x := .Config }}', 'variable'],
    ['{{ if eq .A "b" }}x{{ else }}y{{ end }}', 'if eq'],
    ['{{ template "x" . }}', 'template'],
  ])('%s is recognised as Go (%s)', (text) => {
    expect(goTemplateEvidence(text)).toBeDefined();
  });

  test('the built-in templates are not mistaken for Go templates', () => {
    const dir = defaultTemplatesDir();
    const files = ['nginx.conf.njk', ...readdirSync(path.join(dir, 'partials')).map((f) => `partials/${f}`)];
    for (const f of files) expect(goTemplateEvidence(readFileSync(path.join(dir, f), 'utf8'))).toBeUndefined();
  });

  test('a nunjucks syntax error is reported at start, naming the config', () => {
    expect(() => checkCustomTemplate('broken', '{% for s in http.servers %}no end')).toThrow(/Template "broken" is not a valid nunjucks template/);
  });

  test('a custom template gets the same view model and may include the built-in partials', () => {
    const c = loadCase('custom-template');
    const text = checkCustomTemplate('custom', c.options.customTemplate!);
    const out = renderNginxConf(c.model, c.ext, { ...c.options, customTemplate: text });
    expect(out).toMatch(/^# custom template for cluster \(default\): 3 servers, 1 upstreams\n/);
    expect(out).toContain('# custom: app.example.com (http)\n');
    expect(out).toContain('server_name "app.example.com";');
  });
});
