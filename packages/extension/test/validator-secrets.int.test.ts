// The nginx -t sandbox stands one dummy cert + key in for every secret the model names (hard links to
// one file, issue 11): each named secret loads, and a certificate the model does not name still fails.
import { NginxValidator, type SandboxPaths } from '../src/nginx-validator.js';

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
