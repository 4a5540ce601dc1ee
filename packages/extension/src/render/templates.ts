// Locating templates/ and the one nunjucks Environment per templates directory.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import nunjucks from 'nunjucks';
import { FragmentCache } from './fragments.js';

export const MAIN_TEMPLATE = 'nginx.conf.njk';
export const TEMPLATES_DIR_ENV = 'SIGNALBOX_TEMPLATES_DIR';

/**
 * The repo's templates/ directory: $SIGNALBOX_TEMPLATES_DIR if set, else the nearest ancestor of
 * this module holding templates/nginx.conf.njk (src/render under ts-jest, dist/render in the image).
 */
export function defaultTemplatesDir(): string {
  const fromEnv = process.env[TEMPLATES_DIR_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return path.resolve(fromEnv);
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = here; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'templates');
    if (existsSync(path.join(candidate, MAIN_TEMPLATE))) return candidate;
    if (path.dirname(dir) === dir) break;
  }
  throw new Error(`cannot find templates/${MAIN_TEMPLATE} above ${here}; set ${TEMPLATES_DIR_ENV}`);
}

const environments = new Map<string, nunjucks.Environment>();
const fragmentCaches = new WeakMap<nunjucks.Environment, FragmentCache>();

/** The rendered-fragment cache of an Environment (templates are never reloaded, so it stays valid). */
export function fragmentCacheFor(env: nunjucks.Environment): FragmentCache {
  let cache = fragmentCaches.get(env);
  if (cache === undefined) {
    cache = new FragmentCache(env);
    fragmentCaches.set(env, cache);
  }
  return cache;
}

/** One Environment per directory, created on first use; templates are cached after the first load. */
export function environmentFor(templatesDir: string): nunjucks.Environment {
  const dir = path.resolve(templatesDir);
  let env = environments.get(dir);
  if (env === undefined) {
    env = new nunjucks.Environment(new nunjucks.FileSystemLoader(dir, { noCache: false, watch: false }), {
      autoescape: false,
      throwOnUndefined: true,
      trimBlocks: true,
      lstripBlocks: true,
    });
    environments.set(dir, env);
  }
  return env;
}
