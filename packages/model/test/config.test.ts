import { parseConfig } from '../src/config.js';
import { CONFIG_EXTENSION_KEYS, CONFIG_NGINX_TUNING_KEYS, CONFIG_TOP_LEVEL_KEYS, defaultExtensionConfig } from '../src/config-schema.js';
import type { SignalboxConfig } from '../src/config-types.js';
import type { Diagnostic } from '../src/diagnostics.js';

const MINIMAL = '[Extensions.default]\n';

function ok(text: string): SignalboxConfig {
  const r = parseConfig(text);
  if (!r.ok) throw new Error(`expected ok, got:\n${r.errors.map((e) => `${e.code} ${e.key}: ${e.message}`).join('\n')}`);
  return r.config;
}

function errors(text: string): Diagnostic[] {
  const r = parseConfig(text);
  if (r.ok) throw new Error('expected errors, got ok');
  return r.errors;
}

type Section = 'top' | 'ext' | 'config';

function doc(section: Section, line: string, extra = ''): string {
  switch (section) {
    case 'top':
      return `${line}\n${extra}\n[Extensions.default]\n`;
    case 'ext':
      return `${extra}\n[Extensions.default]\n${line}\n`;
    case 'config':
      return `${extra}\n[Extensions.default.Config]\n${line}\n`;
  }
}

function keyPath(section: Section, key: string): string {
  return section === 'top' ? key : section === 'ext' ? `Extensions.default.${key}` : `Extensions.default.Config.${key}`;
}

function pick(cfg: SignalboxConfig, section: Section, key: string): unknown {
  const ext = cfg.Extensions.default as unknown as Record<string, unknown>;
  if (section === 'top') return (cfg as unknown as Record<string, unknown>)[key];
  if (section === 'ext') return ext[key];
  return (ext.Config as Record<string, unknown>)[key];
}

interface Row {
  section: Section;
  key: string;
  good: string;
  /** The parsed form of `good`. */
  parsed: unknown;
  bad: string;
  code: 'ERR_CONFIG_TYPE' | 'ERR_CONFIG_VALUE' | 'ERR_CONFIG_SEMANTIC' | 'ERR_DIRECTIVE_FORBIDDEN';
  /** Path suffix of the reported key when it is an item or entry, e.g. "[0]" or ".a". */
  at?: string;
  /** Value the diagnostic echoes back. */
  value?: string;
  /** Other lines needed at the top level for the good value to stand alone. */
  extra?: string;
}

const TLS_OTHERS = {
  TLSCACert: 'TLSCert = "/certs/cert.pem"\nTLSKey = "/certs/key.pem"',
  TLSCert: 'TLSCACert = "/certs/ca.pem"\nTLSKey = "/certs/key.pem"',
  TLSKey: 'TLSCACert = "/certs/ca.pem"\nTLSCert = "/certs/cert.pem"',
};

const ROWS: Row[] = [
  // top level
  { section: 'top', key: 'ListenAddr', good: '"0.0.0.0:9000"', parsed: '0.0.0.0:9000', bad: '8080', code: 'ERR_CONFIG_TYPE', value: '8080' },
  { section: 'top', key: 'DockerURL', good: '"tcp://docker:2376"', parsed: 'tcp://docker:2376', bad: 'true', code: 'ERR_CONFIG_TYPE' },
  { section: 'top', key: 'TLSCACert', good: '"/certs/ca.pem"', parsed: '/certs/ca.pem', bad: '1', code: 'ERR_CONFIG_TYPE', extra: TLS_OTHERS.TLSCACert },
  { section: 'top', key: 'TLSCert', good: '"/certs/cert.pem"', parsed: '/certs/cert.pem', bad: '["a"]', code: 'ERR_CONFIG_TYPE', extra: TLS_OTHERS.TLSCert },
  { section: 'top', key: 'TLSKey', good: '"/certs/key.pem"', parsed: '/certs/key.pem', bad: 'false', code: 'ERR_CONFIG_TYPE', extra: TLS_OTHERS.TLSKey },
  { section: 'top', key: 'AllowInsecure', good: 'true', parsed: true, bad: '"yes"', code: 'ERR_CONFIG_TYPE', value: 'yes' },
  { section: 'top', key: 'PollInterval', good: '"500ms"', parsed: '500ms', bad: '"3 seconds"', code: 'ERR_CONFIG_SEMANTIC' },
  { section: 'top', key: 'EndpointOverride', good: '"http://core:8080"', parsed: 'http://core:8080', bad: '"core:8080"', code: 'ERR_CONFIG_SEMANTIC' },
  // [Extensions.default]
  { section: 'ext', key: 'Image', good: '"example/ext:1.0"', parsed: 'example/ext:1.0', bad: '"my image"', code: 'ERR_CONFIG_VALUE' },
  { section: 'ext', key: 'Args', good: '["--debug"]', parsed: ['--debug'], bad: '"--debug"', code: 'ERR_CONFIG_TYPE' },
  { section: 'ext', key: 'Labels', good: '{ "com.example.team" = "web" }', parsed: { 'com.example.team': 'web' }, bad: '{ a = 1 }', code: 'ERR_CONFIG_TYPE', at: '.a' },
  { section: 'ext', key: 'ContainerLabels', good: '{ a = "b" }', parsed: { a: 'b' }, bad: '["a"]', code: 'ERR_CONFIG_TYPE' },
  { section: 'ext', key: 'Constraints', good: '["node.labels.lb == true"]', parsed: ['node.labels.lb == true'], bad: '["node.role"]', code: 'ERR_CONFIG_SEMANTIC', at: '[0]' },
  { section: 'ext', key: 'PlacementPreferences', good: '["spread=node.labels.zone"]', parsed: ['spread=node.labels.zone'], bad: '["zone"]', code: 'ERR_CONFIG_SEMANTIC', at: '[0]' },
  { section: 'ext', key: 'ServiceName', good: '"my-ext"', parsed: 'my-ext', bad: '"my ext"', code: 'ERR_CONFIG_VALUE' },
  { section: 'ext', key: 'ProxyImage', good: '"registry:5000/proxy@sha256:abc"', parsed: 'registry:5000/proxy@sha256:abc', bad: '""', code: 'ERR_CONFIG_VALUE' },
  { section: 'ext', key: 'ProxyArgs', good: '["-v"]', parsed: ['-v'], bad: '[1]', code: 'ERR_CONFIG_TYPE', at: '[0]' },
  { section: 'ext', key: 'ProxyLabels', good: '{ x = "y" }', parsed: { x: 'y' }, bad: '"x=y"', code: 'ERR_CONFIG_TYPE' },
  { section: 'ext', key: 'ProxyContainerLabels', good: '{ x = "" }', parsed: { x: '' }, bad: '{ x = true }', code: 'ERR_CONFIG_TYPE', at: '.x' },
  { section: 'ext', key: 'ProxyServiceName', good: '"edge_proxy"', parsed: 'edge_proxy', bad: '"-proxy"', code: 'ERR_CONFIG_VALUE' },
  { section: 'ext', key: 'ProxyConfigPath', good: '"/etc/nginx/conf.d/sb.conf"', parsed: '/etc/nginx/conf.d/sb.conf', bad: '"nginx.conf"', code: 'ERR_CONFIG_VALUE' },
  { section: 'ext', key: 'ProxyReplicas', good: '0', parsed: 0, bad: '101', code: 'ERR_CONFIG_VALUE', value: '101' },
  { section: 'ext', key: 'ProxyStopSignal', good: '"SIGTERM"', parsed: 'SIGTERM', bad: '"SIGSTOP"', code: 'ERR_CONFIG_SEMANTIC' },
  { section: 'ext', key: 'ProxyMaxDrainingGenerations', good: '0', parsed: 0, bad: '1001', code: 'ERR_CONFIG_VALUE', value: '1001' },
  { section: 'ext', key: 'ProxyStopGracePeriod', good: '"1m30s"', parsed: '1m30s', bad: '"-1s"', code: 'ERR_CONFIG_SEMANTIC' },
  { section: 'ext', key: 'ProxySessionGracePeriod', good: '"1h"', parsed: '1h', bad: '"5 minutes"', code: 'ERR_CONFIG_SEMANTIC' },
  {
    section: 'ext',
    key: 'ProxyMounts',
    good: '["signalbox-logs:/var/log/signalbox"]',
    parsed: ['signalbox-logs:/var/log/signalbox'],
    bad: '["/var/log:/var/log"]',
    code: 'ERR_CONFIG_VALUE',
    at: '[0]',
  },
  { section: 'ext', key: 'ProxyConstraints', good: '["node.labels.edge!=false"]', parsed: ['node.labels.edge!=false'], bad: '["node.labels.edge"]', code: 'ERR_CONFIG_SEMANTIC', at: '[0]' },
  { section: 'ext', key: 'ProxyPlacementPreferences', good: '["spread=node.id"]', parsed: ['spread=node.id'], bad: '["spread="]', code: 'ERR_CONFIG_SEMANTIC', at: '[0]' },
  { section: 'ext', key: 'ProxyUpdateDelay', good: '"0"', parsed: '0', bad: '"1"', code: 'ERR_CONFIG_SEMANTIC' },
  { section: 'ext', key: 'ServiceCluster', good: '"blue"', parsed: 'blue', bad: '"blue green"', code: 'ERR_CONFIG_VALUE' },
  { section: 'ext', key: 'PublishMode', good: '"host"', parsed: 'host', bad: '"vip"', code: 'ERR_CONFIG_VALUE' },
  { section: 'ext', key: 'ProxyNetworkDetachDelay', good: '"2m"', parsed: '2m', bad: '"1"', code: 'ERR_CONFIG_SEMANTIC' },
  { section: 'ext', key: 'ProxyEdge', good: 'false', parsed: false, bad: '"no"', code: 'ERR_CONFIG_TYPE', value: 'no' },
  { section: 'ext', key: 'EdgeReplicas', good: '1', parsed: 1, bad: '101', code: 'ERR_CONFIG_VALUE', value: '101' },
  { section: 'ext', key: 'PublishedPort', good: '80', parsed: 80, bad: '0', code: 'ERR_CONFIG_VALUE' },
  { section: 'ext', key: 'TargetPort', good: '8000', parsed: 8000, bad: '70000', code: 'ERR_CONFIG_VALUE' },
  { section: 'ext', key: 'PublishedSSLPort', good: '443', parsed: 443, bad: '"443"', code: 'ERR_CONFIG_TYPE' },
  { section: 'ext', key: 'TargetSSLPort', good: '8443', parsed: 8443, bad: '-1', code: 'ERR_CONFIG_VALUE' },
  { section: 'ext', key: 'SSLRedirectPort', good: '443', parsed: 443, bad: '-1', code: 'ERR_CONFIG_VALUE' },
  { section: 'ext', key: 'Template', good: '"my-template.v2"', parsed: 'my-template.v2', bad: '"my template"', code: 'ERR_CONFIG_VALUE' },
  { section: 'ext', key: 'Networks', good: '["frontend", "api_net"]', parsed: ['frontend', 'api_net'], bad: '["front end"]', code: 'ERR_CONFIG_VALUE', at: '[0]' },
  {
    section: 'ext',
    key: 'HostOwners',
    good: '{ "*.shop.example.com" = "shop, payments", "api.example.com" = "-" }',
    parsed: { '*.shop.example.com': 'shop, payments', 'api.example.com': '-' },
    bad: '{ "shop.example.com" = "shop;evil" }',
    code: 'ERR_CONFIG_VALUE',
    at: '."shop.example.com"',
  },
  { section: 'ext', key: 'SecretOwners', good: '{ "shop.crt" = "shop,-" }', parsed: { 'shop.crt': 'shop,-' }, bad: '{ "shop.crt" = "" }', code: 'ERR_CONFIG_VALUE', at: '."shop.crt"' },
  // [Extensions.default.Config]
  { section: 'config', key: 'User', good: '"nginx nginx"', parsed: 'nginx nginx', bad: '"www-data;"', code: 'ERR_CONFIG_VALUE' },
  { section: 'config', key: 'PidPath', good: '"/run/nginx.pid"', parsed: '/run/nginx.pid', bad: '"/run/x;pid"', code: 'ERR_CONFIG_VALUE' },
  { section: 'config', key: 'MaxConnections', good: '4096', parsed: 4096, bad: '0', code: 'ERR_CONFIG_VALUE' },
  { section: 'config', key: 'WorkerProcesses', good: '4', parsed: 4, bad: '0', code: 'ERR_CONFIG_VALUE' },
  { section: 'config', key: 'RLimitNoFile', good: '1024', parsed: 1024, bad: '"65535"', code: 'ERR_CONFIG_TYPE' },
  { section: 'config', key: 'ConnectTimeout', good: '5', parsed: 5, bad: '0', code: 'ERR_CONFIG_VALUE' },
  { section: 'config', key: 'SendTimeout', good: '30', parsed: 30, bad: '86401', code: 'ERR_CONFIG_VALUE' },
  { section: 'config', key: 'ReadTimeout', good: '30', parsed: 30, bad: '1.5', code: 'ERR_CONFIG_TYPE', value: '1.5' },
  { section: 'config', key: 'KeepaliveTimeout', good: '"30s"', parsed: '30s', bad: '"30 s"', code: 'ERR_CONFIG_VALUE' },
  { section: 'config', key: 'ClientMaxBodySize', good: '"0"', parsed: '0', bad: '"32mb"', code: 'ERR_CONFIG_VALUE' },
  { section: 'config', key: 'ClientBodyBufferSize', good: '"16K"', parsed: '16K', bad: '"8x"', code: 'ERR_CONFIG_VALUE' },
  { section: 'config', key: 'ClientHeaderBufferSize', good: '"2k"', parsed: '2k', bad: '"1k;"', code: 'ERR_CONFIG_VALUE' },
  { section: 'config', key: 'LargeClientHeaderBuffers', good: '"8 16k"', parsed: '8 16k', bad: '"4x8k"', code: 'ERR_CONFIG_VALUE' },
  { section: 'config', key: 'ClientBodyTimeout', good: '"2m"', parsed: '2m', bad: '"60 s"', code: 'ERR_CONFIG_VALUE' },
  { section: 'config', key: 'UnderscoresInHeaders', good: 'true', parsed: true, bad: '"on"', code: 'ERR_CONFIG_TYPE' },
  { section: 'config', key: 'ServerNamesHashBucketSize', good: '128', parsed: 128, bad: '-1', code: 'ERR_CONFIG_VALUE' },
  { section: 'config', key: 'UpstreamZoneSize', good: '128', parsed: 128, bad: '16', code: 'ERR_CONFIG_VALUE' },
  { section: 'config', key: 'SSLCiphers', good: '"ECDHE-RSA-AES128-GCM-SHA256:HIGH:!aNULL"', parsed: 'ECDHE-RSA-AES128-GCM-SHA256:HIGH:!aNULL', bad: '"HIGH; include x"', code: 'ERR_CONFIG_VALUE' },
  { section: 'config', key: 'SSLProtocols', good: '"TLSv1.3"', parsed: 'TLSv1.3', bad: '"TLSv1.4"', code: 'ERR_CONFIG_VALUE' },
  { section: 'config', key: 'SSLDefaultDHParam', good: '4096', parsed: 4096, bad: '512', code: 'ERR_CONFIG_VALUE' },
  { section: 'config', key: 'SSLDefaultDHParamPath', good: '"/etc/ssl/dhparam.pem"', parsed: '/etc/ssl/dhparam.pem', bad: '"dhparam.pem"', code: 'ERR_CONFIG_VALUE' },
  { section: 'config', key: 'AccessLogBuffer', good: '"64k"', parsed: '64k', bad: '"64 k"', code: 'ERR_CONFIG_VALUE' },
  { section: 'config', key: 'AccessLogFlush', good: '"5s"', parsed: '5s', bad: '"5 s"', code: 'ERR_CONFIG_VALUE' },
  { section: 'config', key: 'AccessLogPath', good: '""', parsed: '', bad: '"access.log"', code: 'ERR_CONFIG_VALUE' },
  { section: 'config', key: 'ErrorLogPath', good: '"/var/log/nginx/error.log"', parsed: '/var/log/nginx/error.log', bad: '"stderr"', code: 'ERR_CONFIG_VALUE' },
  { section: 'config', key: 'MainLogFormat', good: '\'$remote_addr "$request" $status\'', parsed: '$remote_addr "$request" $status', bad: '"it\'s"', code: 'ERR_CONFIG_VALUE' },
  { section: 'config', key: 'TraceLogFormat', good: '"$request_id $request_time"', parsed: '$request_id $request_time', bad: '"$a\\n$b"', code: 'ERR_CONFIG_VALUE', value: '$a\n$b' },
  { section: 'config', key: 'HideInfoHeaders', good: 'true', parsed: true, bad: '1', code: 'ERR_CONFIG_TYPE' },
  { section: 'config', key: 'TrustedProxies', good: '["10.0.0.0/8", "2001:db8::1"]', parsed: ['10.0.0.0/8', '2001:db8::1'], bad: '["lb.example.com"]', code: 'ERR_CONFIG_VALUE', at: '[0]' },
  { section: 'config', key: 'WorkerShutdownTimeout', good: '"30s"', parsed: '30s', bad: '"30sec"', code: 'ERR_CONFIG_VALUE' },
  { section: 'config', key: 'GlobalOptions', good: '["worker_priority -5;"]', parsed: ['worker_priority -5;'], bad: '["load_module modules/x.so;"]', code: 'ERR_DIRECTIVE_FORBIDDEN', at: '[0]' },
  {
    section: 'config',
    key: 'HTTPOptions',
    good: '["gzip on;", "map $http_upgrade $c { default upgrade; }"]',
    parsed: ['gzip on;', 'map $http_upgrade $c { default upgrade; }'],
    bad: '["gzip on; include /etc/evil.conf;"]',
    code: 'ERR_DIRECTIVE_FORBIDDEN',
    at: '[0]',
  },
  { section: 'config', key: 'TCPOptions', good: '["proxy_timeout 10m;"]', parsed: ['proxy_timeout 10m;'], bad: '["a;\\nb;"]', code: 'ERR_CONFIG_VALUE', at: '[0]' },
];

describe('parseConfig: every key', () => {
  it('the table covers every key of every section', () => {
    const covered = (s: Section): string[] =>
      ROWS.filter((r) => r.section === s)
        .map((r) => r.key)
        .sort();
    expect(covered('top')).toEqual(Object.keys(CONFIG_TOP_LEVEL_KEYS).sort());
    expect(covered('ext')).toEqual(Object.keys(CONFIG_EXTENSION_KEYS).sort());
    expect(covered('config')).toEqual(Object.keys(CONFIG_NGINX_TUNING_KEYS).sort());
  });

  it("AccessLogPath also takes nginx's syslog target (the agent's relay), and refuses extra words in it", () => {
    const at = (v: string) => parseConfig(`[Extensions.default.Config]\nAccessLogPath = ${v}\n`);
    const ok = at('"syslog:server=127.0.0.1:5140,nohostname"');
    expect(ok.ok && ok.config.Extensions.default!.Config.AccessLogPath).toBe('syslog:server=127.0.0.1:5140,nohostname');
    const bad = at('"syslog:server=127.0.0.1:5140 main"');
    expect(bad.ok ? [] : bad.errors.map((e) => e.code)).toEqual(['ERR_CONFIG_VALUE']);
  });

  it.each(ROWS.map((r) => [`${keyPath(r.section, r.key)} = ${r.good}`, r] as const))('accepts %s', (_, r) => {
    expect(pick(ok(doc(r.section, `${r.key} = ${r.good}`, r.extra)), r.section, r.key)).toEqual(r.parsed);
  });

  it.each(ROWS.map((r) => [`${keyPath(r.section, r.key)} = ${r.bad}`, r] as const))('rejects %s', (_, r) => {
    const errs = errors(doc(r.section, `${r.key} = ${r.bad}`, r.extra));
    expect(errs).toEqual([expect.objectContaining({ code: r.code, severity: 'error', key: keyPath(r.section, r.key) + (r.at ?? '') })]);
    const [e] = errs;
    expect(e!.message).not.toMatch(/must NOT|must match|instancePath|\/Extensions/); // no raw ajv text
    expect(e!.value).toBeDefined();
    if (r.value !== undefined) expect(e!.value).toBe(r.value);
  });
});

describe('parseConfig: defaults', () => {
  it('fills every key from a file with only [Extensions.default]', () => {
    const cfg = ok(MINIMAL);
    expect(cfg.ListenAddr).toBe(':8080');
    expect(cfg.DockerURL).toBe('unix:///var/run/docker.sock');
    expect(cfg.PollInterval).toBe('3s');
    expect(cfg.AllowInsecure).toBe(false);
    expect(cfg.EndpointOverride).toBe('');
    const ext = cfg.Extensions.default!;
    expect(ext).toMatchObject({
      Image: 'signalbox-extension:local',
      ServiceName: 'signalbox-extension',
      ProxyServiceName: 'signalbox-proxy',
      ProxyReplicas: 1,
      ProxyStopSignal: 'SIGQUIT',
      Constraints: ['node.role==manager'],
      ProxyConstraints: ['node.platform.os==linux'],
      PublishMode: 'ingress',
      ProxyEdge: true,
      EdgeReplicas: 0,
      PublishedPort: 8080,
      TargetPort: 80,
      PublishedSSLPort: 8443,
      TargetSSLPort: 443,
      Labels: {},
      Networks: [],
    });
    expect(ext.Config).toMatchObject({ User: 'www-data', MaxConnections: 1024, LargeClientHeaderBuffers: '4 8k', ServerNamesHashBucketSize: 0 });
    expect(ext.Config.MainLogFormat).toBe('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"');
    for (const v of ['$request_id', '$upstream_addr', '$upstream_response_time', '$request_time']) expect(ext.Config.TraceLogFormat).toContain(v);
  });

  it('names the services of other extensions after their section', () => {
    const cfg = ok('[Extensions.default]\n[Extensions.blue]\nServiceCluster = "blue"\nPublishedPort = 81\nPublishedSSLPort = 444\n');
    expect(cfg.Extensions.blue).toMatchObject({ ServiceName: 'signalbox-extension-blue', ProxyServiceName: 'signalbox-proxy-blue' });
  });

  it('defaultExtensionConfig() matches what parsing gives', () => {
    const cfg = ok('[Extensions.default]\n[Extensions.blue]\nServiceCluster = "blue"\nPublishedPort = 81\nPublishedSSLPort = 444\n');
    expect(defaultExtensionConfig('default')).toEqual(cfg.Extensions.default);
    expect(defaultExtensionConfig('blue')).toEqual({ ...cfg.Extensions.blue, ServiceCluster: '', PublishedPort: 8080, PublishedSSLPort: 8443 });
  });

  it('keeps given values and defaults the rest of the same section', () => {
    const cfg = ok('[Extensions.default]\nPublishedPort = 80\n[Extensions.default.Config]\nMaxConnections = 8192\n');
    expect(cfg.Extensions.default).toMatchObject({ PublishedPort: 80, PublishedSSLPort: 8443 });
    expect(cfg.Extensions.default!.Config).toMatchObject({ MaxConnections: 8192, WorkerProcesses: 1 });
  });

  it("returns plain objects, not the TOML parser's null-prototype ones", () => {
    const cfg = ok('[Extensions.default.Labels]\n"com.example.a" = "1"\n');
    expect(Object.getPrototypeOf(cfg.Extensions.default!.Labels)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(cfg.Extensions)).toBe(Object.prototype);
  });

  it('deep-freezes the result', () => {
    const cfg = ok('[Extensions.default]\nLabels = { a = "b" }\n');
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(Object.isFrozen(cfg.Extensions)).toBe(true);
    expect(Object.isFrozen(cfg.Extensions.default)).toBe(true);
    expect(Object.isFrozen(cfg.Extensions.default!.Config)).toBe(true);
    expect(Object.isFrozen(cfg.Extensions.default!.Constraints)).toBe(true);
    expect(Object.isFrozen(cfg.Extensions.default!.Labels)).toBe(true);
    expect(() => {
      (cfg as { ListenAddr: string }).ListenAddr = ':1';
    }).toThrow(TypeError);
    expect(() => (cfg.Extensions.default!.Constraints as string[]).push('x')).toThrow(TypeError);
    // a fresh parse is not affected by anything done to an earlier result
    expect(ok(MINIMAL).Extensions.default!.Constraints).toEqual(['node.role==manager']);
  });
});

describe('parseConfig: unknown keys', () => {
  it.each([
    ['top level', 'ListenAdr = ":8080"\n[Extensions.default]\n', 'ListenAdr', /did you mean "ListenAddr"/],
    ['top level, misspelled beyond case', 'listenadr = ":8080"\n[Extensions.default]\n', 'listenadr', /did you mean "ListenAddr"\?/],
    ['extension', '[Extensions.default]\nPublishedPrt = 80\n', 'Extensions.default.PublishedPrt', /did you mean "PublishedPort"/],
    ['extension, swapped letters', '[Extensions.default]\nProxyRpelicas = 2\n', 'Extensions.default.ProxyRpelicas', /did you mean "ProxyReplicas"/],
    ['Config table name', '[Extensions.default.Conifg]\nUser = "x"\n', 'Extensions.default.Conifg', /did you mean "Config"/],
    ['Config', '[Extensions.default.Config]\nMaxConection = 10\n', 'Extensions.default.Config.MaxConection', /did you mean "MaxConnections"/],
    ['Config key in the extension', '[Extensions.default]\nMaxConnections = 10\n', 'Extensions.default.MaxConnections', /belongs in \[Extensions\.default\.Config\]/],
    ['extension key at the top', 'PublishedPort = 80\n[Extensions.default]\n', 'PublishedPort', /belongs in \[Extensions\.<NAME>\]/],
    ['extension without Extensions.', '[default]\nImage = "x"\n[Extensions.default]\n', 'default', /written \[Extensions\.default\]/],
    ['nothing close', '[Extensions.default]\nFrobnicate = 1\n', 'Extensions.default.Frobnicate', /is not a known key of \[Extensions\.default\]/],
    ['Acme', '[Extensions.default.Acme]\nDirectoryUrl = "https://ca.test/dir"\n', 'Extensions.default.Acme.DirectoryUrl', /did you mean "DirectoryURL"/],
    ['Acme key in the extension', '[Extensions.default]\nRenewBefore = "1h"\n', 'Extensions.default.RenewBefore', /belongs in \[Extensions\.default\.Acme\]/],
  ])('%s', (_, text, key, message) => {
    const errs = errors(text);
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatchObject({ code: 'ERR_CONFIG_UNKNOWN_KEY', key });
    expect(errs[0]!.message).toMatch(message);
  });

  it('allows any key inside label tables', () => {
    expect(ok('[Extensions.default.ProxyLabels]\n"com.docker.lb.anything" = "x"\n').Extensions.default!.ProxyLabels).toEqual({
      'com.docker.lb.anything': 'x',
    });
  });
});

describe('parseConfig: TOML syntax', () => {
  it('reports one diagnostic with line and column', () => {
    const errs = errors('ListenAddr = ":8080"\n[Extensions.default]\nPublishedPort = = 80\n');
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatchObject({ code: 'ERR_CONFIG_TOML', key: 'config.toml', value: 'PublishedPort = = 80' });
    expect(errs[0]!.message).toMatch(/line 3, column \d+/);
    expect(errs[0]!.message).not.toContain('\n');
  });

  it('names the source it was given', () => {
    const r = parseConfig('a = "unterminated', '/etc/signalbox/config.toml');
    expect(r.ok ? [] : r.errors).toEqual([expect.objectContaining({ code: 'ERR_CONFIG_TOML', key: '/etc/signalbox/config.toml' })]);
  });

  it.each([
    ['duplicate key', 'x = 1\nx = 2\n'],
    ['redefined table', '[Extensions.default]\n[Extensions.default]\n'],
    ['__proto__ key', '[Extensions.default.Labels]\n__proto__ = "x"\n'],
  ])('%s', (_, text) => {
    expect(errors(text)).toEqual([expect.objectContaining({ code: 'ERR_CONFIG_TOML' })]);
  });

  it('never throws', () => {
    for (const text of ['', '\0', '[[Extensions]]', 'Extensions = 1', 'Extensions = { default = 1 }', '[Extensions."a b"]', `a = ${'['.repeat(2000)}`]) {
      expect(() => parseConfig(text)).not.toThrow();
      expect(parseConfig(text).ok).toBe(false);
    }
  });
});

describe('parseConfig: schema errors', () => {
  it('reports every error, not just the first', () => {
    const errs = errors('ListenAddr = 1\nBogus = 2\n[Extensions.default]\nPublishedPort = "80"\nProxyReplicas = 500\n[Extensions.default.Config]\nUser = "a;b"\n');
    expect(errs.map((e) => `${e.code} ${e.key}`).sort()).toEqual([
      'ERR_CONFIG_TYPE Extensions.default.PublishedPort',
      'ERR_CONFIG_TYPE ListenAddr',
      'ERR_CONFIG_UNKNOWN_KEY Bogus',
      'ERR_CONFIG_VALUE Extensions.default.Config.User',
      'ERR_CONFIG_VALUE Extensions.default.ProxyReplicas',
    ]);
  });

  it('says what type and range were expected', () => {
    const [type] = errors('[Extensions.default]\nPublishedPort = "80"\n');
    expect(type!.message).toBe('must be an integer, not a string');
    const [range] = errors('[Extensions.default]\nProxyReplicas = 500\n');
    expect(range!.message).toBe('must be an integer from 0 to 100');
    const [oneOf] = errors('[Extensions.default]\nPublishMode = "vip"\n');
    expect(oneOf!.message).toBe('must be one of "ingress", "host"');
    const [name] = errors('[Extensions.default]\nServiceName = "a b"\n');
    expect(name!.message).toMatch(/^must be a Docker service name/);
    const [size] = errors('[Extensions.default.Config]\nClientMaxBodySize = "1 GB"\n');
    expect(size!.message).toMatch(/^must be an nginx size/);
  });

  it('reports a wrong type once, not again as a bad enum value', () => {
    expect(errors('[Extensions.default]\nPublishMode = 1\n')).toEqual([expect.objectContaining({ code: 'ERR_CONFIG_TYPE', key: 'Extensions.default.PublishMode' })]);
  });

  it('rejects TOML dates where strings are expected', () => {
    expect(errors('[Extensions.default]\nProxyUpdateDelay = 1979-05-27\n')[0]).toMatchObject({ code: 'ERR_CONFIG_TYPE', message: 'must be a string, not a date' });
  });

  it('rejects a whole section of the wrong type', () => {
    expect(errors('Extensions = 1\n')).toEqual([expect.objectContaining({ code: 'ERR_CONFIG_TYPE', key: 'Extensions' })]);
    expect(errors('[Extensions]\ndefault = 1\n')).toEqual([expect.objectContaining({ code: 'ERR_CONFIG_TYPE', key: 'Extensions.default' })]);
    expect(errors('[Extensions.default]\nConfig = "x"\n')).toEqual([expect.objectContaining({ code: 'ERR_CONFIG_TYPE', key: 'Extensions.default.Config' })]);
  });

  it.each([['"a b"'], ['"-x"'], ['"x.y"'], [`"${'a'.repeat(41)}"`]])('rejects the extension name %s', (name) => {
    const errs = errors(`[Extensions.${name}]\n`);
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatchObject({ code: 'ERR_CONFIG_VALUE' });
    expect(errs[0]!.key).toMatch(/^Extensions\./);
    expect(errs[0]!.message).toMatch(/is not a valid extension name/);
  });

  it('quotes path segments that are not bare keys', () => {
    expect(errors('[Extensions.default.Labels]\n"com.example.x" = 1\n')[0]).toMatchObject({ key: 'Extensions.default.Labels."com.example.x"' });
  });
});

describe('parseConfig: rules across keys', () => {
  function semantic(text: string): Array<[string, string]> {
    return errors(text).map((e) => {
      expect(e.code).toBe(e.key.includes('Options') ? 'ERR_CONFIG_VALUE' : 'ERR_CONFIG_SEMANTIC');
      return [e.key, e.message];
    });
  }

  it('needs at least one extension', () => {
    expect(semantic('')).toEqual([['Extensions', expect.stringMatching(/at least one \[Extensions\.NAME\]/)]]);
    expect(semantic('[Extensions]\n')).toHaveLength(1);
  });

  it.each([
    ['ListenAddr', '"8080"'],
    ['ListenAddr', '":0"'],
    ['ListenAddr', '"host:70000"'],
    ['DockerURL', '"/var/run/docker.sock"'],
    ['DockerURL', '"tcp://docker"'],
    ['DockerURL', '"http://docker:2375"'],
    ['DockerURL', '"unix://"'],
    ['PollInterval', '"0s"'],
    ['PollInterval', '"-1s"'],
    ['EndpointOverride', '"ftp://core"'],
  ])('rejects %s = %s', (key, value) => {
    expect(semantic(`${key} = ${value}\n[Extensions.default]\n`)).toEqual([[key, expect.any(String)]]);
  });

  it.each([
    ['ListenAddr', '"[::]:8080"'],
    ['ListenAddr', '"127.0.0.1:80"'],
    ['DockerURL', '"unix:///run/docker.sock"'],
    ['DockerURL', '"tcp://10.0.0.1:2376"'],
    ['DockerURL', '"tcp://[fd00::1]:2376"'],
    ['EndpointOverride', '"https://core.internal:8443/base"'],
  ])('accepts %s = %s', (key, value) => {
    ok(`${key} = ${value}\n[Extensions.default]\n`);
  });

  it('wants all TLS files or none', () => {
    expect(semantic('TLSCert = "/c.pem"\n[Extensions.default]\n')).toEqual([
      ['TLSCACert', 'must be set because TLSCert is set: the TLS files go together or not at all'],
      ['TLSKey', 'must be set because TLSCert is set: the TLS files go together or not at all'],
    ]);
    ok('TLSCACert = "/ca.pem"\nTLSCert = "/c.pem"\nTLSKey = "/k.pem"\nDockerURL = "tcp://d:2376"\n[Extensions.default]\n');
  });

  it('wants different HTTP and HTTPS ports within one extension', () => {
    expect(semantic('[Extensions.default]\nPublishedPort = 443\nPublishedSSLPort = 443\n')).toEqual([['Extensions.default.PublishedSSLPort', 'must differ from PublishedPort']]);
    expect(semantic('[Extensions.default]\nTargetPort = 443\n')).toEqual([['Extensions.default.TargetSSLPort', 'must differ from TargetPort']]);
    expect(semantic('[Extensions.default]\nTargetSSLPort = 10445\n')).toEqual([
      ['Extensions.default.TargetSSLPort', 'must not be 10445 with ProxyEdge = true: the routing proxies take relayed TLS connections on that port'],
    ]);
    expect(parseConfig('[Extensions.default]\nTargetSSLPort = 10445\nProxyEdge = false\n').ok).toBe(true);
  });

  it('keeps extensions apart: ports, service names and clusters', () => {
    const text = [
      '[Extensions.default]',
      '[Extensions.blue]',
      'PublishedPort = 8443', // the default's PublishedSSLPort
      'PublishedSSLPort = 9443',
      'ServiceName = "signalbox-proxy"', // the default's ProxyServiceName
      '[Extensions.green]',
      'ServiceCluster = "green"',
      'PublishedPort = 9080',
      'PublishedSSLPort = 9443', // blue's
      'ProxyServiceName = "signalbox-proxy-blue"', // blue's
      '[Extensions.other]',
      'ServiceCluster = "green"',
      'PublishedPort = 10080',
      'PublishedSSLPort = 10443',
    ].join('\n');
    expect(semantic(text)).toEqual([
      ['Extensions.blue.PublishedPort', 'is already published by Extensions.default.PublishedSSLPort; only two host-mode extensions (PublishMode = "host") may share a port, on different nodes'],
      ['Extensions.blue.ServiceName', 'is already used by Extensions.default.ProxyServiceName; every service needs its own name'],
      ['Extensions.blue.ServiceCluster', 'is already served by [Extensions.default]; one extension per service cluster'],
      ['Extensions.green.PublishedSSLPort', 'is already published by Extensions.blue.PublishedSSLPort; only two host-mode extensions (PublishMode = "host") may share a port, on different nodes'],
      ['Extensions.green.ProxyServiceName', 'is already used by Extensions.blue.ProxyServiceName; every service needs its own name'],
      ['Extensions.other.ServiceCluster', 'is already served by [Extensions.green]; one extension per service cluster'],
    ]);
  });

  it('warns that EdgeReplicas has no effect without an edge (ProxyEdge = false), and only then', () => {
    const warnings = (toml: string) => {
      const r = parseConfig(`[Extensions.default]\n${toml}\n`);
      expect(r.ok).toBe(true);
      return r.warnings.map((w) => [w.code, w.key, w.value, w.message]);
    };
    expect(warnings('ProxyEdge = false\nEdgeReplicas = 1')).toEqual([
      [
        'WARN_CONFIG_EDGE_REPLICAS_UNUSED',
        'Extensions.default.EdgeReplicas',
        '1',
        'has no effect with ProxyEdge = false: there is no edge service, the proxy (ProxyReplicas = 1) publishes the ports itself; remove EdgeReplicas or set ProxyEdge = true',
      ],
    ]);
    expect(warnings('ProxyEdge = false')).toEqual([]);
    expect(warnings('ProxyEdge = false\nEdgeReplicas = 0')).toEqual([]);
    expect(warnings('ProxyReplicas = 2\nEdgeReplicas = 1')).toEqual([]);
    // A ProxyEdge that failed the schema says nothing about the edge: no warning on top of its error.
    const bad = parseConfig('[Extensions.default]\nProxyEdge = "no"\nEdgeReplicas = 1\n');
    expect(bad.ok ? [] : bad.errors.map((e) => e.key)).toEqual(['Extensions.default.ProxyEdge']);
    expect(bad.warnings).toEqual([]);
  });

  it('does not let one extension clash with itself by name', () => {
    expect(semantic('[Extensions.default]\nServiceName = "x"\nProxyServiceName = "x"\n')).toEqual([
      ['Extensions.default.ProxyServiceName', 'is already used by Extensions.default.ServiceName; every service needs its own name'],
    ]);
  });

  it.each([
    ['load_module modules/ngx_stream_module.so;', 'load_module'],
    ['include /etc/nginx/conf.d/*.conf;', 'include'],
    ['  INCLUDE x;', 'INCLUDE'],
    ['ssl_engine pkcs11;', 'ssl_engine'],
    ['js_import main.js;', 'js_import'],
    ['perl_modules perl/lib;', 'perl_modules'],
    ['perl_set $x "sub { 1 }";', 'perl_set'],
    ['access_by_lua_block { ngx.exit(403) }', 'access_by_lua_block'],
    ['location /x { content_by_lua_file /x.lua; }', 'content_by_lua_file'],
    ['gzip on; include /x;', 'include'],
    // The extension's list, now the one list (issue 10): these passed config check and then made every render fail.
    ['daemon off;', 'daemon'],
    ['daemon off', 'daemon'],
    ['master_process off;', 'master_process'],
    ['env PATH;', 'env'],
    ['working_directory /tmp;', 'working_directory'],
    ['lua_package_path "/x/?.lua";', 'lua_package_path'],
    ['thread_pool default threads=32;', 'thread_pool'],
  ])('refuses the raw option %j', (line, directive) => {
    const errs = errors(`[Extensions.default.Config]\nHTTPOptions = [${JSON.stringify(line)}]\n`);
    expect(errs).toEqual([
      expect.objectContaining({ code: 'ERR_DIRECTIVE_FORBIDDEN', key: 'Extensions.default.Config.HTTPOptions[0]', value: line, message: `uses ${directive}: directive not allowed in raw options` }),
    ]);
  });

  it.each(['gzip_types text/plain;', 'proxy_buffering off;', 'set $included 1;', 'add_header X-Js-Version 1;', 'server_tokens off;'])('allows the raw option %j', (line) => {
    ok(`[Extensions.default.Config]\nGlobalOptions = [${JSON.stringify(line)}]\n`);
  });

  it('skips cross-key rules for keys that already failed the schema', () => {
    // Both ports invalid; no "must differ" or "already published" on top of the type errors.
    const errs = errors('[Extensions.default]\nPublishedPort = "a"\nPublishedSSLPort = "a"\n[Extensions.b]\nPublishedPort = "a"\nServiceCluster = "b"\n');
    expect(errs.every((e) => e.code === 'ERR_CONFIG_TYPE')).toBe(true);
  });

  it('still checks the other extensions when one has a bad name or bad values', () => {
    const errs = errors('[Extensions."bad name"]\n[Extensions.default]\nProxyReplicas = -1\nConstraints = ["node.role"]\n');
    expect(errs.map((e) => `${e.code} ${e.key}`)).toEqual([
      'ERR_CONFIG_VALUE Extensions."bad name"',
      'ERR_CONFIG_VALUE Extensions.default.ProxyReplicas',
      'ERR_CONFIG_SEMANTIC Extensions.default.Constraints[0]',
    ]);
  });

  it('reports schema and semantic errors together', () => {
    const errs = errors('PollInterval = "soon"\n[Extensions.default]\nProxyReplicas = -1\n');
    expect(errs.map((e) => e.code).sort()).toEqual(['ERR_CONFIG_SEMANTIC', 'ERR_CONFIG_VALUE']);
  });
});

describe('parseConfig: [Extensions.NAME.Acme]', () => {
  it('is off by default and takes every key', () => {
    expect(ok(MINIMAL).Extensions.default!.Acme).toEqual({
      DirectoryURL: '',
      Email: '',
      CABundle: '',
      AllowedHosts: [],
      RenewBefore: '720h',
      RetryInitial: '1m',
      RetryMax: '6h',
      StoreKeySecret: 'signalbox-acme-store-key',
    });
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const text = [
      '[Extensions.default.Acme]',
      'DirectoryURL = "https://pebble:14000/dir"',
      'Email = "ops@example.com"',
      `CABundle = """\n${pem}"""`,
      'AllowedHosts = ["*.example.com", "example.com"]',
      'RenewBefore = "240h"',
      'StoreKeySecret = "ops-acme-key"',
      '',
    ].join('\n');
    expect(ok(text).Extensions.default!.Acme).toMatchObject({
      DirectoryURL: 'https://pebble:14000/dir',
      Email: 'ops@example.com',
      CABundle: pem,
      AllowedHosts: ['*.example.com', 'example.com'],
      RenewBefore: '240h',
      StoreKeySecret: 'ops-acme-key',
    });
  });

  it('names each bad value', () => {
    const errs = errors('[Extensions.default.Acme]\nDirectoryURL = "ftp://x"\nEmail = "nobody"\nAllowedHosts = ["Bad_Host"]\nRenewBefore = "30d"\nRetryMax = "0"\nStoreKeySecret = "/run/secrets/x"\n');
    expect(errs.map((e) => `${e.code} ${e.key}`).sort()).toEqual([
      'ERR_CONFIG_SEMANTIC Extensions.default.Acme.RenewBefore',
      'ERR_CONFIG_SEMANTIC Extensions.default.Acme.RetryMax',
      'ERR_CONFIG_VALUE Extensions.default.Acme.AllowedHosts[0]',
      'ERR_CONFIG_VALUE Extensions.default.Acme.DirectoryURL',
      'ERR_CONFIG_VALUE Extensions.default.Acme.Email',
      'ERR_CONFIG_VALUE Extensions.default.Acme.StoreKeySecret',
    ]);
  });
});
