// What the TLS front takes from a routing config (the certificate map, the TLS and keep-alive settings,
// worker_processes), its generated nginx.conf, and the certificate text its Lua loads.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TLS_FRONT_SOCKET, TLS_REQUESTS_SOCKET } from '@signalbox/protocol';
import { certificateSet, tlsFrontCertificates, tlsFrontConfig, tlsFrontSettings, wantsTlsFront, workerProcesses } from '../src/index.js';

const ROUTING = `load_module "/usr/lib/nginx/modules/ngx_stream_module.so";
worker_processes 2;

events {
    worker_connections 1024;
}

http {
    keepalive_timeout 75s;
    keepalive_time 5s;
    client_max_body_size 32m;

    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers "HIGH:!aNULL:!MD5";
    ssl_prefer_server_ciphers on;
    ssl_session_cache shared:signalbox_ssl:10m;
    ssl_session_timeout 10m;

    map $ssl_server_name $signalbox_tls_certificate {
        hostnames;
        "a.example.com" "/run/secrets/a_cert /run/secrets/a_key";
        "*.Shop.example.com" "/run/secrets/shop_cert /run/secrets/shop_key";
        "\\\\default" "/run/secrets/d_cert /run/secrets/d_key";
        default "/run/secrets/a_cert /run/secrets/a_key";
    }

    server {
        listen unix:/run/signalbox/tls-front/https.sock;
        ssl_protocols TLSv1.3;
    }
}

stream {
    ssl_protocols TLSv1;
}
`;

describe('tlsFrontCertificates', () => {
  it('reads the hosts (lower case, wildcards kept, escapes and a keyword’s escape undone) and the default of the map', () => {
    const c = tlsFrontCertificates(ROUTING)!;
    expect(Object.fromEntries(c.hosts)).toEqual({
      'a.example.com': { certificate: '/run/secrets/a_cert', key: '/run/secrets/a_key' },
      '*.shop.example.com': { certificate: '/run/secrets/shop_cert', key: '/run/secrets/shop_key' },
      default: { certificate: '/run/secrets/d_cert', key: '/run/secrets/d_key' },
    });
    expect(c.fallback).toEqual({ certificate: '/run/secrets/a_cert', key: '/run/secrets/a_key' });
    expect(wantsTlsFront(ROUTING)).toBe(true);
  });

  it('an empty default means no fallback (the handshake of an unknown name is rejected)', () => {
    const c = tlsFrontCertificates(ROUTING.replace('default "/run/secrets/a_cert /run/secrets/a_key";', 'default "";'))!;
    expect(c.fallback).toBeNull();
    expect(c.hosts.size).toBe(3);
  });

  it('a config without the map (single hop, or a custom template without it) asks for no front', () => {
    const plain = ROUTING.replace('$signalbox_tls_certificate', '$something_else');
    expect(tlsFrontCertificates(plain)).toBeUndefined();
    expect(wantsTlsFront(plain)).toBe(false);
  });

  it('refuses a map line it does not understand, and a map that is not closed, naming them', () => {
    expect(() => tlsFrontCertificates(ROUTING.replace('"a.example.com" "/run/secrets/a_cert /run/secrets/a_key";', '"a.example.com" $var;'))).toThrow(
      /unexpected line in the \$signalbox_tls_certificate map: .*\$var/,
    );
    expect(() => tlsFrontCertificates(ROUTING.slice(0, ROUTING.indexOf('\n        default')))).toThrow(/not closed/);
  });
});

describe('tlsFrontSettings and workerProcesses', () => {
  it('takes the http-level TLS and keep-alive directives only, in order (not a server’s, not the stream block’s)', () => {
    expect(tlsFrontSettings(ROUTING)).toEqual([
      'keepalive_timeout 75s;',
      'keepalive_time 5s;',
      'ssl_protocols TLSv1.2 TLSv1.3;',
      'ssl_ciphers "HIGH:!aNULL:!MD5";',
      'ssl_prefer_server_ciphers on;',
      'ssl_session_cache shared:signalbox_ssl:10m;',
      'ssl_session_timeout 10m;',
    ]);
  });

  it('gives the front the routing config’s worker_processes, auto when it has none', () => {
    expect(workerProcesses(ROUTING)).toBe('2');
    expect(workerProcesses('events {}\n')).toBe('auto');
  });
});

describe('tlsFrontConfig', () => {
  it('listens on the front socket with the PROXY header, sends requests to the routing socket, and carries the settings', () => {
    const conf = tlsFrontConfig({
      dir: '/run/x/',
      lua: { controlPort: 8084, ndkModulePath: '/m/ndk.so', luaModulePath: '/m/lua.so', placeholder: { certificate: '/run/x/p.crt', key: '/run/x/p.key' } },
      settings: ['ssl_protocols TLSv1.3;'],
      workerProcesses: '2',
    });
    expect(conf).toContain(`listen unix:/run/x/${TLS_FRONT_SOCKET} ssl proxy_protocol default_server;`);
    expect(conf.match(new RegExp(`server unix:/run/x/${TLS_REQUESTS_SOCKET};`, 'g'))).toHaveLength(2);
    expect(conf).toContain('    ssl_protocols TLSv1.3;\n');
    expect(conf).toContain('worker_processes 2;');
    expect(conf).toContain('listen 127.0.0.1:8084;');
    expect(conf).toContain('proxy_set_header X-Signalbox-Client-Address $remote_addr;');
    expect(conf).toContain('load_module /m/lua.so;');
    expect(conf).toContain('ssl_certificate_by_lua_block');
  });

  it('without Lua: a server per certificate pair (names sorted), the default server rejecting or with the fallback', () => {
    const c = tlsFrontCertificates(ROUTING)!;
    const conf = tlsFrontConfig({ dir: '/run/x', static: c, settings: [] });
    expect(conf).not.toMatch(/lua/);
    expect(conf).toContain('server_name "*.shop.example.com";\n        ssl_certificate /run/secrets/shop_cert;');
    expect(conf).toContain('server_name "a.example.com";\n        ssl_certificate /run/secrets/a_cert;');
    expect(conf).toMatch(/ssl proxy_protocol default_server;\n[^}]*ssl_certificate \/run\/secrets\/a_cert;/);
    const rejecting = tlsFrontConfig({ dir: '/run/x', static: { ...c, fallback: null }, settings: [] });
    expect(rejecting).toMatch(/default_server;\n[^}]*ssl_reject_handshake on;/);
    expect(() => tlsFrontConfig({ dir: '/run/x', settings: [] })).toThrow(/either the Lua module or its certificates/);
  });
});

describe('certificateSet', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'sbx-front-'));
    await writeFile(path.join(dir, 'a.crt'), 'CERT-A\n');
    await writeFile(path.join(dir, 'a.key'), 'KEY-A\n');
    await writeFile(path.join(dir, 'b.crt'), 'CERT-B');
    await writeFile(path.join(dir, 'b.key'), 'KEY-B');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('one PEM per certificate pair, hosts naming it, the default, and a version that follows the content', async () => {
    const a = { certificate: path.join(dir, 'a.crt'), key: path.join(dir, 'a.key') };
    const b = { certificate: path.join(dir, 'b.crt'), key: path.join(dir, 'b.key') };
    const missing = { certificate: path.join(dir, 'none.crt'), key: path.join(dir, 'none.key') };
    const read = () =>
      certificateSet(
        new Map([
          ['x.test', a],
          ['*.y.test', b],
          ['z.test', a],
          ['gone.test', missing],
        ]),
        b,
      );
    const set = await read();
    const lines = set.body.trim().split('\n');
    const certs = lines.filter((l) => l.startsWith('C '));
    expect(certs).toHaveLength(2);
    const idOf = (pem: string) => certs.find((l) => Buffer.from(l.split(' ')[2]!, 'base64').toString() === pem)!.split(' ')[1]!;
    const [idA, idB] = [idOf('CERT-A\nKEY-A\n'), idOf('CERT-B\nKEY-B\n')];
    expect(lines.filter((l) => !l.startsWith('C '))).toEqual(['# signalbox tls front certificates', `H *.y.test ${idB}`, `H x.test ${idA}`, `H z.test ${idA}`, `D ${idB}`]);
    expect(set.unreadable).toEqual(['gone.test']);
    // Same files, same content: same version; another content: another version.
    expect((await read()).version).toBe(set.version);
    await writeFile(path.join(dir, 'b.key'), 'KEY-B2');
    expect((await read()).version).not.toBe(set.version);
  });
});
