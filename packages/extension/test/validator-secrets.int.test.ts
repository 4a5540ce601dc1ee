// The nginx -t sandbox stands one dummy cert + key in for every secret the model names (hard links to
// one file, issue 11): each named secret loads, and a certificate the model does not name still fails;
// the address-space limit does not count the upstream zone, which nginx -t maps in full.
import { NginxValidator, upstreamZoneBytes, type SandboxPaths } from '../src/nginx-validator.js';

const conf = (p: SandboxPaths, servers: string) =>
  `pid ${p.pidPath};\nerror_log ${p.prefix}/error.log;\nevents {}\nhttp {\n  client_body_temp_path ${p.tempDir};\n  proxy_temp_path ${p.tempDir};\n` +
  `  fastcgi_temp_path ${p.tempDir};\n  uwsgi_temp_path ${p.tempDir};\n  scgi_temp_path ${p.tempDir};\n  access_log off;\n${servers}\n}\n`;

const tlsServer = (p: SandboxPaths, i: number, name = `s${i}`) =>
  `  server {\n    listen 127.0.0.1:39443 ssl;\n    server_name ${name}.test;\n    ssl_certificate "${p.secretsDir}/${name}.cert";\n    ssl_certificate_key "${p.secretsDir}/${name}.key";\n    return 200;\n  }\n`;

const validator = new NginxValidator({ timeoutMs: 120_000 });

test('every secret the model names is there for nginx -t (500 TLS servers)', async () => {
  const secrets = Array.from({ length: 500 }, (_, i) => [`s${i}.cert`, `s${i}.key`]).flat();
  const res = await validator.validate((p) => conf(p, Array.from({ length: 500 }, (_, i) => tlsServer(p, i)).join('')), secrets);
  expect(res).toEqual({ ok: true });
});

test('a certificate the model does not name fails validation, naming the file', async () => {
  const res = await validator.validate((p) => conf(p, tlsServer(p, 0) + tlsServer(p, 1, 'missing')), ['s0.cert', 's0.key']);
  expect(res.ok).toBe(false);
  expect(res.ok ? '' : res.error).toMatch(/missing\.(cert|key)/);
});

describe('the address-space limit leaves room for the upstream zone (mapped in full by nginx -t)', () => {
  const small = new NginxValidator({ timeoutMs: 60_000, memoryLimitBytes: 256 * 1024 * 1024 });
  const withZone = (p: SandboxPaths, zone: string) =>
    conf(p, `  upstream u_a {\n    zone ${zone};\n    server 127.0.0.1:9;\n  }\n  server {\n    listen 127.0.0.1:39480;\n    location / { proxy_pass http://u_a; }\n  }\n`);

  test("upstreamZoneBytes counts only the renderer's zones", () => {
    expect(upstreamZoneBytes('    zone signalbox_upstreams 640000k;\n    zone signalbox_upstreams;\n  zone signalbox_stream_upstreams 2m;\n  zone other 9m;\n')).toBe(640000 * 1024 + 2 * 1024 * 1024);
  });

  test('a 512 MiB signalbox_upstreams zone validates under a 256 MiB limit', async () => {
    expect(await small.validate((p) => withZone(p, 'signalbox_upstreams 512m'), [])).toEqual({ ok: true });
  });

  test('the same zone under another name gets no extra room and fails', async () => {
    const res = await small.validate((p) => withZone(p, 'other 512m'), []);
    expect(res.ok).toBe(false);
  });
});
