import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, cpSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ClusterModel } from '@signalbox/model';
import { RenderError, buildViewModel, defaultTemplatesDir, hashBucketSize, quote, renderNginxConf } from '../src/render/index.js';
import type { ProxyLocationView, ServerView, ViewModel } from '../src/render/index.js';
import { nginxVar } from '../src/render/quote.js';
import { caseNames, loadCase } from './golden/load-cases.js';

const UPDATE = process.env['UPDATE_GOLDEN'] === '1';

describe('golden nginx.conf', () => {
  const names = caseNames();

  it('has the representative cases', () => {
    expect(names).toEqual(
      expect.arrayContaining([
        'empty',
        'one-host',
        'two-hosts-scale',
        'context-root',
        'sticky-cookie',
        'ip-hash',
        'tls',
        'passthrough',
        'ssl-backend',
        'websocket',
        'redirects',
        'default-backend',
        'canary',
        'vip',
        'empty-upstream',
        'hide-info-headers',
        'options',
        'custom-bucket-size',
        'wildcard-host',
      ]),
    );
  });

  it.each(names)('%s', (name) => {
    const c = loadCase(name);
    const out = renderNginxConf(c.model, c.ext, c.options);
    if (UPDATE) {
      writeFileSync(c.expectedPath, out);
      return;
    }
    if (!existsSync(c.expectedPath)) {
      throw new Error(`missing ${c.expectedPath}: run with UPDATE_GOLDEN=1 and review the diff`);
    }
    expect(out).toBe(readFileSync(c.expectedPath, 'utf8'));
  });
});

// ---- helpers ---------------------------------------------------------------------------------

/** Reverse every array in a JSON value (a deterministic "shuffle"). */
function reversedDeep<T>(value: T): T {
  if (Array.isArray(value)) return value.map(reversedDeep).reverse() as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .reverse()
        .map(([k, v]) => [k, reversedDeep(v)]),
    ) as T;
  }
  return value;
}

/** Rotate every array by one (a second, different permutation). */
function rotatedDeep<T>(value: T): T {
  if (Array.isArray(value)) {
    const items = value.map(rotatedDeep);
    return (items.length > 1 ? [...items.slice(1), items[0]] : items) as T;
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rotatedDeep(v)])) as T;
  }
  return value;
}

function server(vm: ViewModel, comment: string): ServerView {
  const s = vm.http.servers.find((x) => x.comment === comment);
  if (!s) throw new Error(`no server ${comment}: ${vm.http.servers.map((x) => x.comment).join(' | ')}`);
  return s;
}

function location(s: ServerView, modifier: '=' | '', p: string) {
  return s.locations.find((l) => l.modifier === modifier && l.path === quote(p));
}

// ---- determinism -------------------------------------------------------------------------------

describe('determinism', () => {
  it.each(caseNames())('%s: same bytes twice and for permuted input', (name) => {
    const c = loadCase(name);
    const first = renderNginxConf(c.model, c.ext, c.options);
    expect(renderNginxConf(c.model, c.ext, c.options)).toBe(first);
    const vm = buildViewModel(c.model, c.ext, c.options);
    for (const permuted of [reversedDeep(c.model), rotatedDeep(c.model)]) {
      expect(buildViewModel(permuted, c.ext, c.options)).toEqual(vm);
      expect(renderNginxConf(permuted, c.ext, c.options)).toBe(first);
    }
  });

  it('resolves duplicates the model should not contain the same way whatever their order', () => {
    const c = loadCase('one-host');
    const dup = structuredClone(c.model.virtualHosts[0]!);
    dup.locations[0]!.upstream.name = 'u_duplicate';
    const dupLoc = structuredClone(c.model.virtualHosts[0]!.locations[0]!);
    dupLoc.upstream.name = 'u_duplicate_location';
    const withDups = (order: 'ab' | 'ba'): ClusterModel => {
      const m = structuredClone(c.model);
      m.virtualHosts = order === 'ab' ? [m.virtualHosts[0]!, dup] : [dup, m.virtualHosts[0]!];
      const locs = m.virtualHosts.map((v) => v.locations);
      for (const l of locs) (order === 'ab' ? l.push.bind(l) : l.unshift.bind(l))(dupLoc);
      return m;
    };
    const ab = renderNginxConf(withDups('ab'), c.ext, c.options);
    expect(renderNginxConf(withDups('ba'), c.ext, c.options)).toBe(ab);
    expect(ab.match(/server_name "app\.example\.com";/g)).toHaveLength(1);
  });

  it('does not mutate its input', () => {
    const c = loadCase('redirects');
    const before = JSON.stringify(c.model);
    renderNginxConf(reversedDeep(c.model), c.ext, c.options);
    renderNginxConf(c.model, c.ext, c.options);
    expect(JSON.stringify(c.model)).toBe(before);
  });
});

// ---- quoting ------------------------------------------------------------------------------------

describe('quote', () => {
  it('double-quotes and escapes backslash and double quote', () => {
    expect(quote('/app/')).toBe('"/app/"');
    expect(quote('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(quote('x;y{z}')).toBe('"x;y{z}"');
  });

  it('appends trusted variables, braced when a literal follows', () => {
    expect(quote('https://new.example.com', nginxVar('request_uri'))).toBe('"https://new.example.com$request_uri"');
    expect(quote('https://', nginxVar('host'), ':8443', nginxVar('request_uri'))).toBe('"https://$host:8443$request_uri"');
    expect(quote(nginxVar('host'), 'suffix')).toBe('"${host}suffix"');
  });

  it.each(['$host', 'a$b', 'line\nbreak', 'nul\u0000', 'tab\t', 'del\u007f'])('refuses %j', (bad) => {
    expect(() => quote(bad)).toThrow(RenderError);
    expect(() => quote(bad)).toThrow(/internal error: unsafe character/);
  });
});

// ---- rules ---------------------------------------------------------------------------------------

describe('view model rules', () => {
  it('computes server_names_hash_bucket_size from the longest name, as nginx sizes hash elements', () => {
    expect(hashBucketSize(0)).toBe(64);
    expect(hashBucketSize(46)).toBe(64); // 8 + align8(48) + 8 = 64
    expect(hashBucketSize(47)).toBe(128); // 8 + align8(49) + 8 = 72
    expect(hashBucketSize(110)).toBe(128);
    expect(hashBucketSize(111)).toBe(256);
    const c = loadCase('long-host');
    expect(buildViewModel(c.model, c.ext, c.options).http.serverNamesHashBucketSize).toBe(128);
    const custom = loadCase('custom-bucket-size');
    expect(buildViewModel(custom.model, custom.ext, custom.options).http.serverNamesHashBucketSize).toBe(256);
  });

  it('sizes the server-name hash buckets for four names once there are many names', () => {
    // One name per bucket cannot be placed without collisions: nginx would search 1 000 sizes and warn.
    expect(hashBucketSize(18, 4)).toBe(256); // 4 × (8 + align8(20)) + 8 = 136
    const c = loadCase('one-host');
    const template = c.model.virtualHosts[0]!;
    const many: ClusterModel = {
      ...c.model,
      virtualHosts: Array.from({ length: 300 }, (_, i) => ({ ...template, host: `h${String(i).padStart(3, '0')}.example.com` })),
    };
    expect(buildViewModel(c.model, c.ext, c.options).http.serverNamesHashBucketSize).toBe(hashBucketSize(template.host.length));
    expect(buildViewModel(many, c.ext, c.options).http.serverNamesHashBucketSize).toBe(hashBucketSize(16, 4));
  });

  it('buffers the access log by default; AccessLogBuffer "0" writes each line at once', () => {
    const c = loadCase('one-host');
    expect(buildViewModel(c.model, c.ext, c.options).http.accessLog).toEqual({ path: '"/dev/stdout"', format: 'main', buffer: 'buffer=64k flush=1s' });
    const unbuffered = { ...c.ext, Config: { ...c.ext.Config, AccessLogBuffer: '0' } };
    expect(buildViewModel(c.model, unbuffered, c.options).http.accessLog?.buffer).toBeNull();
    const big = { ...c.ext, Config: { ...c.ext.Config, AccessLogBuffer: '4k', AccessLogFlush: '5s' } };
    expect(buildViewModel(c.model, big, c.options).http.accessLog?.buffer).toBe('buffer=4k flush=5s');
    const bad = { ...c.ext, Config: { ...c.ext.Config, AccessLogBuffer: '4 k' } };
    expect(() => buildViewModel(c.model, bad, c.options)).toThrow(/AccessLogBuffer/);
  });

  it('sends the access log as syslog to the agent unbuffered (nginx refuses buffer= there)', () => {
    const c = loadCase('one-host');
    const syslog = { ...c.ext, Config: { ...c.ext.Config, AccessLogPath: 'syslog:server=127.0.0.1:5140,nohostname' } };
    expect(buildViewModel(c.model, syslog, c.options).http.accessLog).toEqual({ path: '"syslog:server=127.0.0.1:5140,nohostname"', format: 'main', buffer: null });
    expect(renderNginxConf(c.model, syslog, c.options)).toContain('    access_log "syslog:server=127.0.0.1:5140,nohostname" main;\n');
  });

  it('renders identical upstreams once and merges servers that differ only in their names', () => {
    const c = loadCase('shared-blocks');
    const view = buildViewModel(c.model, c.ext, c.options);
    expect(view.http.upstreams.map((u) => u.name)).not.toContain('u_5e6f7a8b_www_example_com');
    expect(view.http.upstreams.find((u) => u.name === 'u_1a2b3c4d_example_com')?.servers.map((s) => s.address)).toEqual(['10.0.1.1:8080', '10.0.1.2:8080']);
    const names = view.http.servers.map((s) => s.serverName);
    expect(names).toContain('"example.com" "www.example.com"');
    expect(names).toContain('"shop1.example.com" "shop2.example.com"'); // both only redirect to https
    expect(names.filter((n) => n === '"shop1.example.com"' || n === '"shop2.example.com"')).toHaveLength(2); // own certificates
    expect(view.http.maps.filter((m) => m.variable.startsWith('$signalbox_sticky_'))).toHaveLength(1); // both sticky on `session`
    // Every host still reaches the servers it did: each proxy_pass names an upstream holding its model's servers.
    const byName = new Map(view.http.upstreams.map((u) => [u.name, u.servers.map((s) => s.address).sort()]));
    for (const vh of c.model.virtualHosts) {
      const s = view.http.servers.find((x) => x.serverName?.split(' ').includes(`"${vh.host}"`) && x.tls === null)!;
      const loc = s.locations.find((l) => l.path === '"/"')!;
      if (loc.kind !== 'proxy') continue; // ssl_only: redirects
      const name = /^"http:\/\/([^"/]+)"$/.exec(loc.proxyPass)![1]!;
      expect(byName.get(name)).toEqual(vh.locations[0]!.upstream.servers.map((x) => `${x.addr}:${x.port}`).sort());
    }
  });

  it('strips the context root with proxy_pass URI semantics when rewrite is set', () => {
    const c = loadCase('context-root');
    const s = server(buildViewModel(c.model, c.ext, c.options), 'shop.example.com (http)');
    const admin = location(s, '', '/admin/') as ProxyLocationView;
    expect(admin.kind).toBe('proxy');
    expect(admin.proxyPass).toMatch(/^"http:\/\/u_shop_example_com_admin_[0-9a-f]{8}\/"$/);
    expect(location(s, '=', '/admin')).toMatchObject({ kind: 'return', status: 301, body: '"/admin/$is_args$args"' });
    const api = location(s, '', '/api/') as ProxyLocationView;
    expect(api.proxyPass).toMatch(/^"http:\/\/u_shop_example_com_api_[0-9a-f]{8}"$/);
    expect(location(s, '=', '/api')).toMatchObject({ kind: 'proxy', proxyPass: api.proxyPass });
  });

  it('maps websocket endpoints under a rewritten root to the stripped path', () => {
    const c = loadCase('websocket');
    const s = server(buildViewModel(c.model, c.ext, c.options), 'chat.example.com (http)');
    expect(location(s, '', '/live/ws')).toMatchObject({ kind: 'proxy', websocket: true, proxyPass: expect.stringMatching(/\/ws"$/) });
    expect(location(s, '', '/ws')).toMatchObject({ kind: 'proxy', websocket: true, proxyPass: expect.not.stringMatching(/\/ws"$/) });
  });

  it('uses $cookie_NAME for plain cookie names and a regex over $http_cookie otherwise', () => {
    const c = loadCase('sticky-cookie');
    const vm = buildViewModel(c.model, c.ext, c.options);
    expect(vm.http.maps.map((m) => m.source).slice(0, 2)).toEqual(['$http_cookie', '$cookie_PHPSESSID']);
    expect(vm.http.maps[0]!.entries[0]!.key).toBe('"~(^|;\\\\s*)JSESSION\\\\-ID=([^;]+)"');
    expect(vm.http.upstreams.map((u) => u.balance)).toEqual(['hash $signalbox_sticky_0 consistent', 'hash $signalbox_sticky_1 consistent']);
  });

  it('moves terminated TLS to a loopback port with PROXY protocol when passthrough is active', () => {
    const c = loadCase('passthrough');
    const vm = buildViewModel(c.model, c.ext, c.options);
    expect(vm.stream).not.toBeNull();
    expect(vm.stream!.internalTlsPort).toBe(10443);
    const https = server(vm, 'app.example.com (https)');
    expect(https.listen).toEqual([{ address: '127.0.0.1:10443', ssl: true, proxyProtocol: true, defaultServer: false }]);
    expect(https.realIpFrom).toEqual(['127.0.0.1']);
    expect(vm.main.loadModules).toEqual(['"/usr/lib/nginx/modules/ngx_stream_module.so"']);
    // Without passthrough: no stream block and no load_module even when a module path is given.
    const plain = loadCase('tls');
    const vm2 = buildViewModel(plain.model, plain.ext, plain.options);
    expect(vm2.stream).toBeNull();
    expect(vm2.main.loadModules).toEqual([]);
    expect(server(vm2, 'a.example.com (https)').listen[0]!.address).toBe('443');
  });

  it('picks internal ports that do not collide with the public ones', () => {
    const c = loadCase('cluster-ports');
    const vm = buildViewModel(c.model, c.ext, c.options);
    expect([vm.stream!.internalTlsPort, vm.stream!.internalPassthroughPort]).toEqual([10445, 10446]);
    expect(() => buildViewModel(c.model, c.ext, { ...c.options, internalTlsPort: 10443 })).toThrow(RenderError);
  });

  it('keeps x-request-id and drops the info headers with HideInfoHeaders', () => {
    const c = loadCase('hide-info-headers');
    expect(buildViewModel(c.model, c.ext, c.options).http.responseHeaders.map((h) => h.name)).toEqual(['x-request-id']);
    const shown = loadCase('one-host');
    // Each proxy task names itself: nginx's $hostname is the task's container, as Interlock's x-proxy-id was.
    expect(buildViewModel(shown.model, shown.ext, shown.options).http.responseHeaders).toContainEqual({
      name: 'x-proxy-id',
      value: '$hostname',
    });
    expect(buildViewModel(shown.model, shown.ext, { ...shown.options, proxyId: 'p-1' }).http.responseHeaders).toContainEqual({ name: 'x-proxy-id', value: '"p-1"' });
  });

  it('renders the secrets directory into certificate paths', () => {
    const c = loadCase('tls');
    const vm = buildViewModel(c.model, c.ext, { ...c.options, secretsDir: '/custom/dir/' });
    expect(server(vm, 'a.example.com (https)').tls).toEqual({
      certificate: '"/custom/dir/a.example.com.crt"',
      certificateKey: '"/custom/dir/a.example.com.key"',
    });
  });
});

// ---- defence in depth ---------------------------------------------------------------------------

describe('unsafe input never reaches nginx syntax', () => {
  const base = loadCase('one-host');
  const withModel = (patch: (m: ClusterModel) => void): ClusterModel => {
    const m = structuredClone(base.model);
    patch(m);
    return m;
  };

  it.each([
    ['a host with a space', (m: ClusterModel) => (m.virtualHosts[0]!.host = 'a b.example.com')],
    ['a regex host', (m: ClusterModel) => (m.virtualHosts[0]!.host = '~^(.+)$')],
    ['a host with a brace', (m: ClusterModel) => (m.virtualHosts[0]!.host = 'a}.example.com')],
    ['a path with $', (m: ClusterModel) => (m.virtualHosts[0]!.locations[0]!.path = '/a$b')],
    ['a relative path', (m: ClusterModel) => (m.virtualHosts[0]!.locations[0]!.path = 'app')],
    ['a bad upstream name', (m: ClusterModel) => (m.virtualHosts[0]!.locations[0]!.upstream.name = 'x; include /etc/passwd')],
    ['a bad server address', (m: ClusterModel) => (m.virtualHosts[0]!.locations[0]!.upstream.servers[0]!.addr = '10.0.0.1 backup')],
    ['a secret name with a slash', (m: ClusterModel) => (m.virtualHosts[0]!.tls = { certSecret: '../etc/shadow', keySecret: 'k' })],
    ['a redirect target with $', (m: ClusterModel) => m.redirects.push({ sourceHost: 'x.example.com', source: 'http://x.example.com', target: 'https://y.example.com/$host' })],
    ['a websocket endpoint with a newline', (m: ClusterModel) => m.virtualHosts[0]!.locations[0]!.websocketEndpoints.push('/ws\nreturn 200')],
    ['a reserved upstream name', (m: ClusterModel) => (m.virtualHosts[0]!.locations[0]!.upstream.name = 'signalbox_https_terminate')],
  ])('refuses %s', (_what, patch) => {
    expect(() => renderNginxConf(withModel(patch), base.ext, base.options)).toThrow(RenderError);
  });

  it('refuses two different upstreams under one name', () => {
    const m = withModel((m) => {
      const other = structuredClone(m.virtualHosts[0]!);
      other.host = 'other.example.com';
      other.locations[0]!.upstream.servers[0]!.port = 9999;
      m.virtualHosts.push(other);
    });
    expect(() => renderNginxConf(m, base.ext, base.options)).toThrow(/two different upstreams/);
  });

  it('escapes a cookie name for the regex and never evaluates label text as a template', () => {
    const m = withModel((m) => {
      const up = m.virtualHosts[0]!.locations[0]!.upstream;
      up.balance = 'cookie';
      up.cookie = 'a{{7*7}}.b';
      m.redirects.push({ sourceHost: 'x.example.com', source: 'http://x.example.com', target: 'https://y.example.com/{{ 7*7 }}' });
    });
    const out = renderNginxConf(m, base.ext, base.options);
    expect(out).toContain('"~(^|;\\\\s*)a\\\\{\\\\{7\\\\*7\\\\}\\\\}\\\\.b=([^;]+)" $2;');
    expect(out).toContain('return 302 "https://y.example.com/{{ 7*7 }}$request_uri";');
    expect(out).not.toContain('49');
  });

  it('refuses invalid tuning values', () => {
    const bad = structuredClone(base.ext);
    bad.Config.ClientMaxBodySize = '32m; include /etc/passwd';
    expect(() => renderNginxConf(base.model, bad, base.options)).toThrow(/ClientMaxBodySize/);
  });
});

// ---- templates -------------------------------------------------------------------------------------

describe('templates', () => {
  it('finds the repo templates directory from the module location', () => {
    expect(existsSync(path.join(defaultTemplatesDir(), 'nginx.conf.njk'))).toBe(true);
  });

  it('honours SIGNALBOX_TEMPLATES_DIR and the templatesDir option', () => {
    const c = loadCase('one-host');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'signalbox-templates-'));
    try {
      cpSync(defaultTemplatesDir(), dir, { recursive: true });
      writeFileSync(path.join(dir, 'nginx.conf.njk'), '# custom dir {{ cluster }}\n');
      const saved = process.env['SIGNALBOX_TEMPLATES_DIR'];
      process.env['SIGNALBOX_TEMPLATES_DIR'] = dir;
      try {
        expect(defaultTemplatesDir()).toBe(dir);
        expect(renderNginxConf(c.model, c.ext, c.options)).toBe('# custom dir (default)\n');
      } finally {
        if (saved === undefined) delete process.env['SIGNALBOX_TEMPLATES_DIR'];
        else process.env['SIGNALBOX_TEMPLATES_DIR'] = saved;
      }
      const other = path.join(dir, 'other');
      mkdirSync(other);
      writeFileSync(path.join(other, 'nginx.conf.njk'), '# option {{ main.workerProcesses }}\n');
      expect(renderNginxConf(c.model, c.ext, { ...c.options, templatesDir: other })).toBe('# option 1\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('renders a custom template with the same view model, partials included', () => {
    const c = loadCase('one-host');
    const custom = ['# custom for {{ cluster }}', '{% for u in http.upstreams %}', '{% include "partials/upstream.njk" %}', '{% endfor %}'].join('\n');
    const out = renderNginxConf(c.model, c.ext, { ...c.options, customTemplate: custom });
    expect(out).toMatch(/^# custom for \(default\)\n {4}# services: app\n {4}upstream u_app_example_com_[0-9a-f]{8} \{\n/);
  });

  it('fails loudly on an undefined variable in a custom template', () => {
    const c = loadCase('one-host');
    expect(() => renderNginxConf(c.model, c.ext, { ...c.options, customTemplate: '{{ nope }}' })).toThrow(/undefined/);
  });
});

describe('what apps saw behind Interlock', () => {
  test('Host as the client sent it, X-Forwarded-* through the trusted-proxy maps', () => {
    const c = loadCase('trusted-proxies');
    const vm = buildViewModel(c.model, c.ext, c.options);
    expect(vm.http.proxyHeaders.find((h) => h.name === 'Host')!.value).toBe('$http_host');
    expect(vm.http.trustedProxies).toEqual(['"10.0.0.0/8"', '"192.0.2.10"', '"2001:db8::/32"']);
    const proto = vm.http.maps.find((m) => m.variable === '$signalbox_forwarded_proto')!;
    expect(proto).toMatchObject({ source: '"$signalbox_trusted_proxy:$http_x_forwarded_proto"', default: '$scheme' });
    const xff = vm.http.maps.find((m) => m.variable === '$signalbox_forwarded_for')!;
    expect(xff).toMatchObject({ entries: [{ key: '1', value: '$proxy_add_x_forwarded_for' }], default: '$remote_addr' });
    // Nothing trusted by default.
    const plain = loadCase('one-host');
    expect(buildViewModel(plain.model, plain.ext, plain.options).http.trustedProxies).toEqual([]);
  });

  test('a TrustedProxies entry that is not an address is refused', () => {
    const c = loadCase('trusted-proxies');
    const ext = { ...c.ext, Config: { ...c.ext.Config, TrustedProxies: ['10.0.0.0/40'] } };
    expect(() => buildViewModel(c.model, ext, c.options)).toThrow(/TrustedProxies entry "10.0.0.0\/40"/);
  });

  test('idempotent requests are retried on another task on errors and 502/503/504', () => {
    const c = loadCase('one-host');
    expect(buildViewModel(c.model, c.ext, c.options).http.proxyNextUpstream).toBe('error timeout http_502 http_503 http_504');
  });

  test('ssl_only answers 302 to SSLRedirectPort, or PublishedSSLPort when it is 0', () => {
    const lb = loadCase('ssl-only-redirect-port');
    const s = server(buildViewModel(lb.model, lb.ext, lb.options), 'b.example.com (http): redirects to https');
    expect(location(s, '', '/')).toMatchObject({ kind: 'return', status: 302, body: '"https://$host$request_uri"' });
    const direct = { ...lb.ext, SSLRedirectPort: 0 };
    const s2 = server(buildViewModel(lb.model, direct, lb.options), 'b.example.com (http): redirects to https');
    expect(location(s2, '', '/')).toMatchObject({ status: 302, body: '"https://$host:8443$request_uri"' });
  });

  test('default_backend over HTTPS with the certificate of a host its service serves', () => {
    const c = loadCase('default-backend-https');
    const s = server(buildViewModel(c.model, c.ext, c.options), 'default server (https): default backend, with the certificate of fallback.example.com');
    expect(s.rejectHandshake).toBe(false);
    expect(s.tls).toEqual({ certificate: '"/run/secrets/fallback.example.com.crt"', certificateKey: '"/run/secrets/fallback.example.com.key"' });
    expect(location(s, '', '/')).toMatchObject({ kind: 'proxy', proxyPass: '"http://u_default_backend"' });
    // Without a certificate the handshake is still refused.
    const plain = loadCase('default-backend');
    const vm = buildViewModel(plain.model, plain.ext, plain.options);
    expect(server(vm, 'default server (https): unknown hosts, TLS handshake rejected').rejectHandshake).toBe(true);
  });
});
