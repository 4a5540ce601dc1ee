// Every config.toml in Interlock's documentation (packages/model/test/fixtures/interlock/config, each
// naming its source page) loads unchanged: no errors, a warning for each Interlock-only thing, and
// Signalbox's own images and key spellings in the result.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/config.js';
import { CONFIG_EXTENSION_KEYS } from '../src/config-schema.js';
import { applyInterlockCompat, placementWarnings, unquoteNginxLogFormat } from '../src/interlock-compat.js';

const dir = fileURLToPath(new URL('./fixtures/interlock/config/', import.meta.url));
const corpus = readdirSync(dir)
  .filter((f) => f.endsWith('.toml'))
  .sort();
const read = (f: string): string => readFileSync(`${dir}${f}`, 'utf8');

describe('Interlock config corpus', () => {
  it('has the documented files, each naming its source page', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(6);
    for (const f of corpus) expect(read(f)).toMatch(/^# Source: https:\/\/docs\.docker\.com\/ee\/ucp\/interlock\//);
  });

  it.each(corpus)('%s passes config check with Signalbox images and no Interlock-only value left', (f) => {
    const r = parseConfig(read(f), f);
    if (!r.ok) throw new Error(r.errors.map((e) => `${e.key}: ${e.message}`).join('\n'));
    expect(r.warnings.every((w) => w.severity === 'warning' && w.code.startsWith('WARN_CONFIG_'))).toBe(true);
    for (const ext of Object.values(r.config.Extensions)) {
      expect(ext.Image).toBe(CONFIG_EXTENSION_KEYS.Image.default);
      expect(ext.ProxyImage).toBe(CONFIG_EXTENSION_KEYS.ProxyImage.default);
      expect(ext.Config.MainLogFormat).not.toMatch(/['\n;]/);
      expect(ext.Config.TraceLogFormat).not.toMatch(/['\n;]|\$reqid/);
      expect(ext.Args).not.toContain('');
    }
    // The image warning says what runs instead.
    expect(r.warnings.find((w) => w.code === 'WARN_CONFIG_INTERLOCK_IMAGE')?.message).toMatch(/Signalbox runs signalbox-extension:local in its place/);
  });

  it('reads RlimitNoFile as RLimitNoFile, with a warning naming the spelling', () => {
    const r = parseConfig(read('config-example-nginx.toml'));
    if (!r.ok) throw new Error('refused');
    expect(r.config.Extensions.default!.Config.RLimitNoFile).toBe(65535);
    expect(r.config.Extensions.default!.Config.MaxConnections).toBe(2048);
    expect(r.warnings).toContainEqual(expect.objectContaining({ code: 'WARN_CONFIG_KEY_CASE', key: 'Extensions.default.Config.RlimitNoFile' }));
  });

  it('accepts the service-cluster layout: same host-mode ports, proxies on disjoint node groups, no warning', () => {
    const r = parseConfig(read('service-clusters-3.2.toml'));
    if (!r.ok) throw new Error('refused');
    expect(Object.keys(r.config.Extensions)).toEqual(['east', 'west']);
    expect(r.config.Extensions.west!.PublishedPort).toBe(80);
    expect(r.warnings.filter((w) => w.code === 'WARN_CONFIG_SHARED_HOST_PORT')).toEqual([]);
    expect(r.config.Extensions.east!.Config.TraceLogFormat).toContain('$request_id $msec');
  });

  it('warns when host-mode extensions share a port without constraints that keep them apart', () => {
    const r = parseConfig(read('service-clusters-3.0.toml'));
    if (!r.ok) throw new Error('refused');
    expect(r.warnings.filter((w) => w.code === 'WARN_CONFIG_SHARED_HOST_PORT').map((w) => w.key)).toEqual(['Extensions.us-west.PublishedPort', 'Extensions.us-west.PublishedSSLPort']);
  });

  it('still refuses a shared port when either extension publishes through ingress', () => {
    const r = parseConfig('[Extensions.a]\nPublishMode = "host"\n[Extensions.b]\nServiceCluster = "b"\n');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors[0]!.message).toMatch(/only two host-mode extensions/);
  });

  it('HitlessServiceUpdate is accepted with what Signalbox does instead, at the top and in an extension', () => {
    const r = parseConfig('HitlessServiceUpdate = true\n[Extensions.default]\nHitlessServiceUpdate = true\n');
    if (!r.ok) throw new Error('refused');
    const msgs = r.warnings.filter((w) => w.code === 'WARN_CONFIG_INTERLOCK_KEY').map((w) => `${w.key}: ${w.message}`);
    expect(msgs).toHaveLength(2);
    for (const m of msgs) expect(m).toMatch(/proxies are never restarted for routine changes/);
  });

  it('keeps the did-you-mean error for misspellings beyond case, and refuses one key given in two cases', () => {
    const r = parseConfig('[Extensions.default.Config]\nRlimitNoFlie = 1\n');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]).toMatchObject({ code: 'ERR_CONFIG_UNKNOWN_KEY', message: expect.stringMatching(/did you mean "RLimitNoFile"/) });
    const twice = parseConfig('[Extensions.default.Config]\nRlimitNoFile = 1\nRLimitNoFile = 2\n');
    expect(twice.ok).toBe(false);
    if (!twice.ok) expect(twice.errors[0]!.message).toMatch(/same key as RLimitNoFile/);
  });

  it('matches section names regardless of case too', () => {
    const r = parseConfig('[extensions.default.config]\nmaxconnections = 7\n');
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.config.Extensions.default!.Config.MaxConnections).toBe(7);
  });

  it('leaves a non-Interlock image alone and warns on plain nginx as ProxyImage', () => {
    const r = parseConfig('[Extensions.default]\nImage = "registry.example.com/signalbox-extension:1.0"\nProxyImage = "nginx:alpine"\n');
    if (!r.ok) throw new Error('refused');
    expect(r.config.Extensions.default!.Image).toBe('registry.example.com/signalbox-extension:1.0');
    expect(r.warnings.map((w) => w.key)).toEqual(['Extensions.default.ProxyImage']);
    expect(r.warnings[0]!.message).toMatch(/plain nginx image, without the proxy agent/);
  });

  it('warns about constraints that cannot be met', () => {
    const r = parseConfig('[Extensions.default]\nProxyConstraints = ["node.labels.zone==a", "node.labels.zone==b", "node.role!=manager", "node.role==manager"]\n');
    if (!r.ok) throw new Error('refused');
    expect(placementWarnings(r.config).map((w) => `${w.key} ${w.value}`)).toEqual([
      'Extensions.default.ProxyConstraints[1] node.labels.zone==b',
      'Extensions.default.ProxyConstraints[3] node.role==manager',
    ]);
  });

  it('unquotes only the nginx-quoted form', () => {
    expect(unquoteNginxLogFormat("'a '\n\t'b';")).toBe('a b');
    expect(unquoteNginxLogFormat('$remote_addr')).toBeUndefined();
    expect(unquoteNginxLogFormat("'a' junk")).toBeUndefined();
    const data = { Extensions: { default: { Config: { MainLogFormat: "'a' 'b" } } } };
    applyInterlockCompat(data);
    expect(data.Extensions.default.Config.MainLogFormat).toBe("'a' 'b"); // left for the schema to refuse
  });
});
