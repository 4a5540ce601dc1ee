import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { KNOWN_LABELS, LABEL_CODE_DOCS, LABEL_DOCS, LABEL_ERROR_CODES, LABEL_WARNING_CODES, labelSchema } from '../src/index.js';

const schemaFile = fileURLToPath(new URL('../schema/labels.schema.json', import.meta.url));
const docsFile = fileURLToPath(new URL('../../../docs/labels.md', import.meta.url));
const P = 'com.docker.lb.';

describe('labels.schema.json', () => {
  const expected = `${JSON.stringify(labelSchema, null, 2)}\n`;

  test('is the exported labelSchema (UPDATE_GOLDEN=1 rewrites it)', () => {
    if (process.env.UPDATE_GOLDEN === '1') {
      mkdirSync(dirname(schemaFile), { recursive: true });
      writeFileSync(schemaFile, expected);
    }
    expect(readFileSync(schemaFile, 'utf8')).toBe(expected);
  });

  test('works standalone, as editors and CI use it', () => {
    const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(schemaFile, 'utf8')) as object);
    const ok = {
      'com.docker.stack.namespace': 'demo',
      [`${P}hosts`]: 'a.example.com,*.example.org',
      [`${P}port`]: '8080',
      [`${P}context_root`]: '/api/',
      [`${P}redirects`]: 'http://old.example.com,https://a.example.com/x?y=1',
    };
    expect(validate(ok)).toBe(true);
    expect(validate({ [`${P}port`]: '80', [`${P}default_backend`]: 'true' })).toBe(true);
    expect(validate({ [`${P}port`]: '80' })).toBe(false); // hosts required
    expect(validate({ [`${P}hosts`]: 'a.com' })).toBe(false); // port required
    expect(validate({ ...ok, [`${P}host`]: 'a.com' })).toBe(false); // unknown
    expect(validate({ ...ok, [`${P}port`]: '0' })).toBe(false);
    expect(validate({ ...ok, [`${P}hosts`]: 'a..com' })).toBe(false);
    expect(validate({ ...ok, [`${P}ip_hash`]: 'yes' })).toBe(false);
  });

  test('describes every known label and nothing else', () => {
    expect(Object.keys(labelSchema.properties).sort()).toEqual(KNOWN_LABELS.map((s) => P + s).sort());
    for (const s of KNOWN_LABELS) {
      const prop = labelSchema.properties[P + s];
      expect(prop?.description).toContain(LABEL_DOCS[s].description);
      expect(prop?.pattern !== undefined || prop?.enum !== undefined).toBe(true);
    }
  });
});

describe('docs/labels.md (node scripts/gen-label-docs.mjs)', () => {
  const docs = readFileSync(docsFile, 'utf8');

  test.each([...KNOWN_LABELS])('documents %s with its worked example', (s) => {
    expect(docs).toContain(`\`${P}${s}\``);
    expect(docs).toContain(`### ${s}\n`);
    expect(docs).toContain(`${P}${s}=`);
  });

  test('documents every code the decoder can emit', () => {
    const codes = [...LABEL_ERROR_CODES, ...LABEL_WARNING_CODES];
    expect(codes.sort()).toEqual(Object.keys(LABEL_CODE_DOCS).sort());
    expect(LABEL_ERROR_CODES.every((c) => c.startsWith('ERR_LABEL_'))).toBe(true);
    expect(LABEL_WARNING_CODES.every((c) => c.startsWith('WARN_LABEL_'))).toBe(true);
    for (const c of codes) expect(docs).toContain(`\`${c}\``);
  });
});
