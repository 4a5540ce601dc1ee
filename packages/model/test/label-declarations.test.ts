// The label declarations drive the decoder, the JSON Schema and docs/labels.md: each declared label
// must be in all of them, and nothing else may be.
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { KNOWN_LABELS, LABELS, LABEL_CODE_DOCS, ROUTE_SPEC_DEFAULTS, decodeLabels, exampleLabels } from '../src/index.js';
import type { KnownLabel } from '../src/index.js';

const P = 'com.docker.lb.';
const docs = readFileSync(fileURLToPath(new URL('../../../docs/labels.md', import.meta.url)), 'utf8');
const schema = JSON.parse(readFileSync(fileURLToPath(new URL('../schema/labels.schema.json', import.meta.url)), 'utf8')) as {
  properties: Record<string, { pattern?: string; enum?: string[]; examples: string[] }>;
};

/** The label sections of docs/labels.md (### headings before the diagnostic codes) and the rows of its table. */
function documented(): { sections: string[]; rows: string[] } {
  const labelsPart = docs.slice(0, docs.indexOf('## Diagnostic codes'));
  return {
    sections: [...labelsPart.matchAll(/^### ([a-z_]+)$/gm)].map((m) => m[1]!),
    rows: [...labelsPart.matchAll(/^\| \[`com\.docker\.lb\.([a-z_]+)`\]/gm)].map((m) => m[1]!),
  };
}

describe('label declarations', () => {
  test('docs/labels.md has a table row and a section for every declared label, in order, and no other', () => {
    const { sections, rows } = documented();
    expect(sections).toEqual([...KNOWN_LABELS]);
    expect(rows).toEqual([...KNOWN_LABELS]);
  });

  test.each([...KNOWN_LABELS])('docs/labels.md shows the declaration of %s', (s) => {
    const start = docs.indexOf(`### ${s}\n`);
    const section = docs.slice(start, docs.indexOf('\n#', start + 1));
    expect(section).toContain(`${LABELS[s].description}\n`);
    expect(section).toContain(`[\`${LABELS[s].code}\`]`);
    expect(section).toContain(`${P}${s}=`);
  });

  test('the schema file has a property for every declared label, with its pattern or enum, and no other', () => {
    expect(Object.keys(schema.properties).sort()).toEqual(KNOWN_LABELS.map((s) => P + s).sort());
    for (const s of KNOWN_LABELS) {
      const prop = schema.properties[P + s]!;
      const declared = LABELS[s].schema;
      if ('pattern' in declared) expect(prop.pattern).toBe(declared.pattern);
      else expect(prop.enum).toEqual([...declared.enum]);
      expect(prop.examples).toEqual([LABELS[s].example]);
    }
  });

  test.each([...KNOWN_LABELS])('a malformed %s is rejected with its declared code, which is a documented error code', (s: KnownLabel) => {
    const { code } = LABELS[s];
    expect(LABEL_CODE_DOCS[code].severity).toBe('error');
    const r = decodeLabels({ ...exampleLabels(s), [P + s]: '{' });
    if (r.status !== 'rejected') throw new Error(`accepted ${s}={`);
    expect(r.errors.filter((e) => e.key === P + s).map((e) => e.code)).toEqual([code]);
  });

  test('a service with only hosts and port decodes to ROUTE_SPEC_DEFAULTS (what docs/labels.md leaves out of its examples)', () => {
    const r = decodeLabels({ [`${P}hosts`]: 'app.example.com', [`${P}port`]: '8080' });
    if (r.status !== 'ok') throw new Error(`rejected: ${JSON.stringify(r)}`);
    expect(r.spec).toEqual({ hosts: ['app.example.com'], port: 8080, ...ROUTE_SPEC_DEFAULTS });
  });

  test('the decoder runs only the declared parsers: no label module compiles a JSON Schema', () => {
    const src = fileURLToPath(new URL('../src/', import.meta.url));
    const modules = readdirSync(src).filter((f) => /^label/.test(f));
    expect(modules).toEqual(expect.arrayContaining(['labels.ts', 'label-declarations.ts', 'label-parsers.ts', 'label-rules.ts']));
    for (const f of modules) expect(readFileSync(src + f, 'utf8')).not.toMatch(/from 'ajv'/);
  });
});
