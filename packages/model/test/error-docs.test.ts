// Error codes cannot drift from their documentation: every 'ERR_…' and 'WARN_…' string literal in the
// sources of packages/*/src is documented in docs/errors.md or docs/labels.md, and every such code those
// pages document still exists in the sources. (The compiler checks the other half: codes are typed
// unions, so a misspelt code in the sources does not build.)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const DOCS = ['docs/errors.md', 'docs/labels.md'];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) out.push(...sourceFiles(full));
    else if (/\.(ts|mts|js|mjs)$/.test(entry) && !entry.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/** code → files (relative) whose source has it as a string literal. */
function codesInSources(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const packages = path.join(ROOT, 'packages');
  for (const pkg of readdirSync(packages)) {
    const src = path.join(packages, pkg, 'src');
    let isDir = false;
    try {
      isDir = statSync(src).isDirectory();
    } catch {
      continue;
    }
    if (!isDir) continue;
    for (const file of sourceFiles(src)) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(['"`])((?:ERR|WARN)_[A-Z_]+)\1/g)) {
        const code = m[2]!;
        const rel = path.relative(ROOT, file);
        const files = found.get(code) ?? [];
        if (!files.includes(rel)) files.push(rel);
        found.set(code, files);
      }
    }
  }
  return found;
}

/** Codes written as `ERR_…` or `WARN_…` (in backticks) in the docs, by file. */
function codesInDocs(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const doc of DOCS) {
    const text = readFileSync(path.join(ROOT, doc), 'utf8');
    out.set(doc, new Set([...text.matchAll(/`((?:ERR|WARN)_[A-Z_]+)`/g)].map((m) => m[1]!)));
  }
  return out;
}

const inSources = codesInSources();
const inDocs = codesInDocs();
const documented = new Set([...inDocs.values()].flatMap((s) => [...s]));

test('the sources use error codes at all (the scan works)', () => {
  for (const code of ['ERR_LABEL_HOST_INVALID', 'ERR_CONFLICT_ROUTE', 'ERR_NGINX_REJECTED', 'ERR_EXTENSION_UNKNOWN', 'ERR_CONFIG_TOML', 'WARN_SERVING_PREVIOUS_LABELS', 'WARN_LINT_NO_SERVICES']) {
    expect(inSources.has(code)).toBe(true);
  }
  expect(inSources.size).toBeGreaterThan(40);
});

test('every ERR_/WARN_ code in packages/*/src is documented in docs/errors.md or docs/labels.md', () => {
  const undocumented = [...inSources.entries()]
    .filter(([code]) => !documented.has(code))
    .map(([code, files]) => `${code} (${files.join(', ')})`)
    .sort();
  expect(undocumented).toEqual([]);
});

test('every ERR_/WARN_ code the docs name still exists in the sources', () => {
  const stale = [...inDocs.entries()].flatMap(([doc, codes]) => [...codes].filter((c) => !inSources.has(c)).map((c) => `${c} (${doc})`)).sort();
  expect(stale).toEqual([]);
});
