// Golden cases: cases/<name>.json (model + config overrides + render options) with the expected
// cases/<name>.nginx.conf beside it. Shared by the unit (byte comparison) and integration (nginx -t) tests.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClusterModel, ExtensionConfig, NginxTuning } from '@signalbox/model';
import type { RenderOptions } from '../../src/render/index.js';

export const GOLDEN_DIR = path.dirname(fileURLToPath(import.meta.url));
export const CASES_DIR = path.join(GOLDEN_DIR, 'cases');

/** The secrets directory every golden is rendered with; the nginx check maps it to a temp dir. */
export const GOLDEN_SECRETS_DIR = '/run/secrets';
/** Debian's dynamic stream module; the nginx check adapts it to the nginx under test. */
export const GOLDEN_STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

interface CaseFile {
  description: string;
  /** Missing arrays default to []; cluster to ''. */
  model: Partial<ClusterModel>;
  /** Overrides of base-extension.json (top-level keys). */
  extension?: Partial<Omit<ExtensionConfig, 'Config'>>;
  /** Overrides of base-extension.json's Config. */
  config?: Partial<NginxTuning>;
  /** Overrides of the default render options; null unsets one. */
  options?: { [K in keyof RenderOptions]?: RenderOptions[K] | null };
}

export interface GoldenCase {
  name: string;
  description: string;
  model: ClusterModel;
  ext: ExtensionConfig;
  options: RenderOptions;
  /** Path of the expected nginx.conf. */
  expectedPath: string;
}

export function loadBaseExtension(): ExtensionConfig {
  return JSON.parse(readFileSync(path.join(GOLDEN_DIR, 'base-extension.json'), 'utf8')) as ExtensionConfig;
}

export function loadCase(name: string): GoldenCase {
  const file = JSON.parse(readFileSync(path.join(CASES_DIR, `${name}.json`), 'utf8')) as CaseFile;
  const base = loadBaseExtension();
  const ext: ExtensionConfig = { ...base, ...file.extension, Config: { ...base.Config, ...file.config } };
  const model: ClusterModel = {
    cluster: '',
    virtualHosts: [],
    passthrough: [],
    redirects: [],
    services: [],
    proxyNetworks: [],
    proxySecrets: [],
    ...file.model,
  };
  // JSON null in a case's options means "leave unset".
  const overrides = Object.fromEntries(Object.entries(file.options ?? {}).filter(([, v]) => v !== null));
  const options = {
    secretsDir: GOLDEN_SECRETS_DIR,
    streamModulePath: GOLDEN_STREAM_MODULE,
    ...overrides,
  } as RenderOptions;
  if (file.options?.streamModulePath === null) delete options.streamModulePath;
  return { name, description: file.description, model, ext, options, expectedPath: path.join(CASES_DIR, `${name}.nginx.conf`) };
}

export function caseNames(): string[] {
  return readdirSync(CASES_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

export function loadCases(): GoldenCase[] {
  return caseNames().map(loadCase);
}
