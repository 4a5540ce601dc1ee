// render(ClusterModel, ExtensionConfig) → nginx.conf. Pure and deterministic: the same input gives
// byte-identical output. Label text only ever reaches the output as quoted values, never as a template.
import type { ClusterModel, ExtensionConfig } from '@signalbox/model';
import { MAIN_TEMPLATE, defaultTemplatesDir, environmentFor, fragmentCacheFor } from './templates.js';
import { buildViewModel } from './view-model.js';
import type { RenderOptions } from './view-model.js';

export { buildViewModel, hashBucketSize, DEFAULT_TRUSTED_CERTIFICATE, INTERNAL_UPSTREAMS, UPSTREAM_ZONES } from './view-model.js';
export type {
  HeaderView,
  HttpView,
  ListenView,
  LocationView,
  LogFormatView,
  MainView,
  MapEntryView,
  MapView,
  ProxyLocationView,
  RenderOptions,
  ReturnLocationView,
  ReturnView,
  ServerView,
  StreamServerView,
  StreamView,
  UpstreamServerView,
  UpstreamView,
  ViewModel,
} from './view-model.js';
export { RenderError, quote } from './quote.js';
export { defaultTemplatesDir, environmentFor, fragmentCacheFor, TEMPLATES_DIR_ENV } from './templates.js';
export { FragmentCache, SERVER_PARTIAL, UPSTREAM_PARTIAL } from './fragments.js';
export type { Fragments } from './fragments.js';

export function renderNginxConf(model: ClusterModel, ext: ExtensionConfig, opts: RenderOptions): string {
  const view = buildViewModel(model, ext, opts);
  const env = environmentFor(opts.templatesDir ?? defaultTemplatesDir());
  // Context: the view model plus `fragments` (its upstream/server blocks, rendered lazily through the
  // cache on first use). nunjucks passes only this: a custom template cannot reach anything else.
  const render = fragmentCacheFor(env).begin(view);
  let out: string;
  try {
    const context = { ...view, fragments: render.fragments };
    out = opts.customTemplate !== undefined ? env.renderString(opts.customTemplate, context) : env.render(MAIN_TEMPLATE, context);
  } finally {
    render.done();
  }
  return out.endsWith('\n') ? out : `${out}\n`;
}
