// The TLS front's nginx.conf, and what the front takes from the routing config. Pure text functions.
//
// Behind the edge each routing task runs two nginx: the routing nginx (reloaded for every route change)
// and the TLS front (started once per task, never reloaded for routes). The routing nginx's stream block
// owns the TLS port and sends every terminated connection to the front's unix socket with a PROXY
// header; the front ends TLS and the client's keep-alive, and sends each request in plain HTTP to the
// routing nginx's HTTPS servers on another unix socket. A routing reload then closes nothing a client
// holds: the front's requests to it are pooled only for GET, HEAD and OPTIONS, which nginx retries when a
// pooled connection was closed under them, and every other request gets a connection of its own.
//
// Certificates are picked at handshake time by SNI from a shared dict the agent fills (tls-front.ts), so
// a new host, or a host moving to another certificate, changes nothing in this file.
import { TRANSPARENT_HTTP } from './edge.js';
import { EDGE_CLIENT_ADDRESS_HEADER, TLS_CERTIFICATE_MAP, TLS_FRONT_SOCKET, TLS_REQUESTS_SOCKET } from '@signalbox/protocol';

/** Where the agent sets the certificates (PUT) and reads their version (GET), on the front's loopback. */
export const TLS_FRONT_CERTIFICATES_PATH = '/signalbox/certificates';
/** Request header of the PUT: the version of the certificates sent (the front answers it to GET). */
export const TLS_FRONT_VERSION_HEADER = 'x-signalbox-version';
/** Size of the shared dict that holds the certificates; a PEM pair is 3–6 KiB. */
const CERTIFICATES_DICT = '64m';

export interface TlsFrontParams {
  /** Directory of the two sockets, the front's pid file and temp files. */
  dir: string;
  /**
   * Certificates by SNI at handshake time, from a shared dict the agent fills (Debian's Lua module, as in
   * the signalbox-base image). Without it (an nginx image without Lua), `static` below instead.
   */
  lua?: {
    /** Loopback port of the certificates endpoint. */
    controlPort: number;
    ndkModulePath: string;
    luaModulePath: string;
    /** A throwaway certificate nginx needs to load; never sent (the Lua callback sets or rejects). */
    placeholder: { certificate: string; key: string };
  };
  /** Without Lua: a server per certificate, written into the file, so a change of them reloads the front. */
  static?: TlsFrontCertificates;
  /** The routing config's http-level TLS and keep-alive directives (tlsFrontSettings), verbatim. */
  settings: readonly string[];
  /** nginx's worker_processes (default auto). */
  workerProcesses?: string;
}

/** The routing config wants a TLS front: it has the certificate map the extension renders behind the edge. */
export function wantsTlsFront(routingConfig: string): boolean {
  return mapStart(routingConfig) >= 0;
}

function mapStart(text: string): number {
  return text.search(new RegExp(`^ {4}map \\$ssl_server_name \\${TLS_CERTIFICATE_MAP} \\{$`, 'm'));
}

export interface CertificateFiles {
  certificate: string;
  key: string;
}

export interface TlsFrontCertificates {
  /** Server name (lower case; `*.suffix` and `prefix.*` wildcards as nginx writes them) → files. */
  hosts: Map<string, CertificateFiles>;
  /** For names no entry matches (the default backend's certificate); null: the handshake is rejected. */
  fallback: CertificateFiles | null;
}

const ENTRY = /^ {8}(?:"((?:[^"\\]|\\.)+)"|(default)) "([^"\s]+) ([^"\s]+)";$/;
const EMPTY_DEFAULT = /^ {8}default "";$/;

/**
 * The certificate map of a routing config (TLS_CERTIFICATE_MAP, rendered by the extension's
 * render/tls-front.ts), or undefined when it has none. Throws on a line it does not understand, so a
 * template that changed the map's layout fails loudly rather than leaving hosts without certificates.
 */
export function tlsFrontCertificates(routingConfig: string): TlsFrontCertificates | undefined {
  const start = mapStart(routingConfig);
  if (start < 0) return undefined;
  const lines = routingConfig.slice(start).split('\n').slice(1);
  const hosts = new Map<string, CertificateFiles>();
  let fallback: CertificateFiles | null = null;
  for (const line of lines) {
    if (line === '    }') return { hosts, fallback };
    if (line === '        hostnames;' || EMPTY_DEFAULT.test(line)) continue;
    const m = ENTRY.exec(line);
    if (!m) throw new Error(`unexpected line in the ${TLS_CERTIFICATE_MAP} map: ${JSON.stringify(line)}`);
    const files = { certificate: m[3]!, key: m[4]! };
    if (m[2] === 'default') fallback = files;
    // A host named like a map keyword (default, hostnames…) is written with a leading backslash.
    else hosts.set(m[1]!.replace(/\\(.)/g, '$1').replace(/^\\/, '').toLowerCase(), files);
  }
  throw new Error(`the ${TLS_CERTIFICATE_MAP} map is not closed`);
}

const SETTING =
  /^ {4}((?:ssl_(?:protocols|ciphers|dhparam|prefer_server_ciphers|session_cache|session_timeout|session_tickets|ecdh_curve|buffer_size))|keepalive_timeout|keepalive_time|keepalive_requests) [^\n]*;$/;

/**
 * The http-level directives of the routing config that shape the client's TLS and keep-alive, in order:
 * the front applies them (the routing nginx no longer sees the client's connection). A change of these
 * reloads the front, once.
 */
export function tlsFrontSettings(routingConfig: string): string[] {
  const http = routingConfig.indexOf('\nhttp {\n');
  if (http < 0) return [];
  const end = routingConfig.indexOf('\n}\n', http);
  const block = routingConfig.slice(http, end < 0 ? undefined : end);
  return block
    .split('\n')
    .filter((l) => SETTING.test(l))
    .map((l) => l.trim());
}

/** The routing config's worker_processes (the front does the TLS work, so it gets as many); default auto. */
export function workerProcesses(routingConfig: string): string {
  return /^worker_processes (auto|\d{1,3});$/m.exec(routingConfig)?.[1] ?? 'auto';
}

/**
 * The front's Lua: one table per worker, rebuilt when the version in the shared dict changes. Names are
 * looked up as nginx's `hostnames` map does: exact, then the longest `*.suffix`, then the longest
 * `prefix.*`, then the default; no match rejects the handshake (as ssl_reject_handshake did).
 */
const LUA_INIT = `
        local ssl = require "ngx.ssl"
        local dict = ngx.shared.signalbox_tls
        local M = { version = false, hosts = {}, fallback = nil, pems = {}, parsed = {} }
        local function refresh()
            local version = dict:get("version")
            if version == M.version then return end
            local hosts, pems, fallback = {}, {}, nil
            for line in string.gmatch(dict:get("certificates") or "", "[^\\n]+") do
                local kind, a, b = string.match(line, "^(%u) ([^ ]+) ?(.*)$")
                if kind == "H" then hosts[a] = b
                elseif kind == "D" then fallback = a
                elseif kind == "C" then pems[a] = ngx.decode_base64(b) end
            end
            local parsed = {}
            for id in pairs(pems) do parsed[id] = M.parsed[id] end
            M.version, M.hosts, M.fallback, M.pems, M.parsed = version, hosts, fallback, pems, parsed
        end
        local function lookup(name)
            local hosts = M.hosts
            if name then
                name = string.lower(name)
                if hosts[name] then return hosts[name] end
                local rest = name
                while true do
                    local dot = string.find(rest, ".", 1, true)
                    if not dot then break end
                    rest = string.sub(rest, dot + 1)
                    if hosts["*." .. rest] then return hosts["*." .. rest] end
                end
                local prefix = name
                while true do
                    local dot = string.match(prefix, "^.*()%.")
                    if not dot then break end
                    prefix = string.sub(prefix, 1, dot - 1)
                    if hosts[prefix .. ".*"] then return hosts[prefix .. ".*"] end
                end
            end
            return M.fallback
        end
        function M.certificate()
            refresh()
            local id = lookup(ssl.server_name())
            if not id then return ngx.exit(ngx.ERROR) end
            local p = M.parsed[id]
            if not p then
                local pem = M.pems[id]
                local cert, err = ssl.parse_pem_cert(pem or "")
                local key, kerr = ssl.parse_pem_priv_key(pem or "")
                if not cert or not key then
                    ngx.log(ngx.ERR, "signalbox tls front: cannot load certificate ", id, ": ", err or kerr)
                    return ngx.exit(ngx.ERROR)
                end
                p = { cert = cert, key = key }
                M.parsed[id] = p
            end
            ssl.clear_certs()
            local ok, err = ssl.set_cert(p.cert)
            if ok then ok, err = ssl.set_priv_key(p.key) end
            if not ok then
                ngx.log(ngx.ERR, "signalbox tls front: cannot set certificate ", id, ": ", err)
                return ngx.exit(ngx.ERROR)
            end
        end
        package.loaded.signalbox_tls_front = M
`;

function frontLocation(): string {
  return `        location / {
            proxy_pass http://$signalbox_upstream;
            proxy_set_header Host $signalbox_upstream_host;
            proxy_set_header ${EDGE_CLIENT_ADDRESS_HEADER} $remote_addr;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $signalbox_upstream_connection;
        }
`;
}

function frontListen(dir: string, defaultServer: boolean): string {
  return `        listen unix:${dir}/${TLS_FRONT_SOCKET} ssl proxy_protocol${defaultServer ? ' default_server' : ''};
        # Only the routing nginx's stream block reaches this socket; its PROXY header carries the client.
        set_real_ip_from unix:;
        real_ip_header proxy_protocol;
`;
}

/** Without Lua: one server per certificate pair (names sorted), the default server with the fallback or rejecting. */
function staticServers(dir: string, c: TlsFrontCertificates): string {
  const byPair = new Map<string, { files: CertificateFiles; names: string[] }>();
  for (const [name, files] of [...c.hosts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const key = `${files.certificate} ${files.key}`;
    const entry = byPair.get(key) ?? { files, names: [] };
    entry.names.push(name);
    byPair.set(key, entry);
  }
  const cert = (f: CertificateFiles) => `        ssl_certificate ${f.certificate};\n        ssl_certificate_key ${f.key};\n`;
  const servers = [
    `    server {\n${frontListen(dir, true)}${c.fallback ? cert(c.fallback) : '        ssl_reject_handshake on;\n'}${frontLocation()}    }\n`,
    ...[...byPair.values()].map(({ files, names }) => `    server {\n${frontListen(dir, false)}        server_name ${names.map((n) => `"${n}"`).join(' ')};\n${cert(files)}${frontLocation()}    }\n`),
  ];
  return `    server_names_hash_bucket_size 256;\n    server_names_hash_max_size 65536;\n\n${servers.join('\n')}`;
}

function luaServers(dir: string, lua: NonNullable<TlsFrontParams['lua']>): string {
  return `    lua_package_path "/usr/share/lua/5.1/?.lua;;";
    lua_shared_dict signalbox_tls ${CERTIFICATES_DICT};
    init_by_lua_block {${LUA_INIT}    }

    server {
${frontListen(dir, true)}        ssl_certificate ${lua.placeholder.certificate};
        ssl_certificate_key ${lua.placeholder.key};
        ssl_certificate_by_lua_block {
            require("signalbox_tls_front").certificate()
        }
${frontLocation()}    }

    server {
        listen 127.0.0.1:${lua.controlPort};
        access_log off;
        location = ${TLS_FRONT_CERTIFICATES_PATH} {
            client_max_body_size ${CERTIFICATES_DICT};
            client_body_buffer_size ${CERTIFICATES_DICT};
            content_by_lua_block {
                local dict = ngx.shared.signalbox_tls
                if ngx.req.get_method() == "GET" then return ngx.say(dict:get("version") or "") end
                if ngx.req.get_method() ~= "PUT" then return ngx.exit(405) end
                ngx.req.read_body()
                local body = ngx.req.get_body_data()
                local version = ngx.var.http_${TLS_FRONT_VERSION_HEADER.replace(/-/g, '_')}
                if not body or not version then return ngx.exit(400) end
                local ok, err = dict:set("certificates", body)
                if not ok then
                    ngx.status = 507
                    return ngx.say(err)
                end
                dict:set("version", version)
                ngx.say("ok")
            }
        }
    }
`;
}

export function tlsFrontConfig(p: TlsFrontParams): string {
  const dir = p.dir.replace(/\/+$/, '');
  if ((p.lua === undefined) === (p.static === undefined)) throw new Error('the TLS front needs either the Lua module or its certificates');
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `    ${k}_temp_path ${dir}/${k};\n`).join('');
  const settings = p.settings.map((s) => `    ${s}\n`).join('');
  const modules = p.lua ? `load_module ${p.lua.ndkModulePath};\nload_module ${p.lua.luaModulePath};\n` : '';
  return `# Generated by signalbox proxy-agent: the TLS front of a routing task (see tls-front-config.ts).
${modules}worker_processes ${p.workerProcesses ?? 'auto'};
pid ${dir}/nginx.pid;
error_log stderr warn;

events {
    worker_connections 16384;
}

http {
    server_tokens off;
    access_log off;
${temp}
    # From the routing config: TLS protocols, ciphers, session cache, keep-alive limits.
${settings}
    # Transparent: any body size, streamed both ways, headers as sent (the routing nginx sets the limits).
${TRANSPARENT_HTTP}    proxy_http_version 1.1;
    proxy_connect_timeout 5s;
    proxy_read_timeout 3600s;
    proxy_send_timeout 3600s;

    # A pool for requests without a body or an upgrade: when the routing nginx reloads, its old workers
    # close the pool's idle connections, and nginx sends such a request again on a new connection (it does
    # not count as a try). Every other request gets a connection of its own, which a reload lets finish.
    upstream signalbox_routing_pool {
        server unix:${dir}/${TLS_REQUESTS_SOCKET};
        keepalive 64;
        keepalive_timeout 20s;
        keepalive_requests 10000;
    }
    upstream signalbox_routing {
        server unix:${dir}/${TLS_REQUESTS_SOCKET};
    }
    map "$request_method:$http_upgrade" $signalbox_upstream {
        default signalbox_routing;
        "GET:" signalbox_routing_pool;
        "HEAD:" signalbox_routing_pool;
        "OPTIONS:" signalbox_routing_pool;
    }
    map $http_upgrade $signalbox_fresh_connection {
        default upgrade;
        "" close;
    }
    map $signalbox_upstream $signalbox_upstream_connection {
        default $signalbox_fresh_connection;
        signalbox_routing_pool "";
    }
    # An HTTP/1.0 request without Host would lose the header (nginx drops an empty one); the front's own
    # name matches no virtual host, so it lands on the default server as it would have.
    map $http_host $signalbox_upstream_host {
        default $http_host;
        "" "signalbox-tls-front";
    }

${p.lua ? luaServers(dir, p.lua) : staticServers(dir, p.static!)}}
`;
}
