// render(ClusterModel, ExtensionConfig) → nginx.conf. Pure and deterministic: the same input gives
// byte-identical output. Label text only ever reaches the output as quoted values, never as a template.
import type { ClusterModel, ExtensionConfig } from '@signalbox/model';
import { MAIN_TEMPLATE, defaultTemplatesDir, environmentFor } from './templates.js';
import { buildViewModel } from './view-model.js';
import type { RenderOptions } from './view-model.js';

export { buildViewModel, hashBucketSize, DEFAULT_TRUSTED_CERTIFICATE, HEALTH_PATH, INTERNAL_UPSTREAMS } from './view-model.js';
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
export { defaultTemplatesDir, TEMPLATES_DIR_ENV } from './templates.js';

export function renderNginxConf(model: ClusterModel, ext: ExtensionConfig, opts: RenderOptions): string {
  const view = buildViewModel(model, ext, opts);
  const env = environmentFor(opts.templatesDir ?? defaultTemplatesDir());
  const out =
    opts.customTemplate !== undefined ? env.renderString(opts.customTemplate, view) : env.render(MAIN_TEMPLATE, view);
  // nunjucks passes the view model as context: a custom template cannot reach anything else.
  return out.endsWith('\n') ? out : `${out}\n`;
}
