// The edge's nginx.conf: a static forwarder generated from a few settings, so the edge never reloads for
// routing, network or certificate changes. The routing proxy tasks are found by name through swarm's DNS
// when they are needed (tasks.<proxy>: healthy tasks only).
//
// - HTTP port, L7 (`http`): the client's keep-alive connection ends here. Each request goes to a routing
//   proxy task on a connection of its own, with the client address in EDGE_CLIENT_ADDRESS_HEADER; so a
//   routing proxy's reload (its old workers close their idle keep-alive connections) or its replacement
//   never reaches the client, and a connect failure is retried on another task, as is a host the task
//   does not route (it closes without an answer): one routing proxy may reload a moment before another.
// - HTTPS port, L4 (`stream`): TLS terminates on the routing proxies (they hold the certificates), so
//   the edge forwards bytes, with the client address in a PROXY protocol header.
import { EDGE_CLIENT_ADDRESS_HEADER, LB_HEALTH_PATH, PROXY_ID_HEADER, REQUEST_ID_HEADER, SERVER_INFO_HEADER, UNSERVED_BEHIND_EDGE_MESSAGE } from '@signalbox/protocol';

export const EDGE_CONFIG_NAME = 'signalbox-edge';

export interface EdgeParams {
  /** DNS name of the routing proxy tasks, e.g. tasks.signalbox-proxy. */
  upstream: string;
  httpPort: number;
  httpsPort?: number | undefined;
  pidPath: string;
  /** Docker's embedded DNS server (address[:port]). */
  resolver: string;
  /** HideInfoHeaders: the edge's own 503 carries only x-request-id, not the headers that describe it. */
  hideInfoHeaders?: boolean | undefined;
  /** Ports of the routing proxies, when they differ from the edge's own (tests); default the same. */
  upstreamHttpPort?: number;
  upstreamHttpsPort?: number;
  /** `load_module` path when nginx has stream as a dynamic module (Debian); undefined when built in. */
  streamModulePath?: string | undefined;
  /** Directory for nginx's temp files (tests run nginx unprivileged); default nginx's compiled-in paths. */
  tempDir?: string | undefined;
  /**
   * The keep-alive pool (needs Debian's Lua module): `load_module` paths of NDK and the Lua module, and the
   * loopback port where the agent sets the routing proxy tasks (EdgePeers). Undefined: no pool.
   */
  pool?: { ndkModulePath: string; luaModulePath: string; peersPort: number } | undefined;
}

/** Where the edge agent puts the routing proxy tasks, on the edge's loopback (`ip:port,ip:port`). */
export const EDGE_PEERS_PATH = '/signalbox/peers';

/**
 * Where the edge agent turns the lame duck on (PUT) and reads who checks the LB health path and what
 * they were answered (GET), on the edge's loopback: see lame-duck.ts.
 */
export const EDGE_LAME_DUCK_PATH = '/signalbox/lame-duck';

/**
 * How long the edge remembers a health checker (s) after its last check. A load balancer checks every few
 * seconds; an address that checked twice (and not longer ago than this) is taken to be one.
 */
const CHECKER_MEMORY_S = 60;

/** Keep-alive connections to the routing proxies held per edge worker. */
const POOL_SIZE = 64;
/**
 * An idle pooled connection is closed by the edge well before a routing proxy would close it
 * (keepalive_timeout, 75 s by default), so the edge is the side that closes it.
 */
const POOL_IDLE = '20s';

/** How long a resolved task list is used: new tasks get connections within a second of turning healthy. */
const RESOLVER_VALID = '1s';
/**
 * Idle and read limits of what the edge forwards: WebSockets behind the proxies may idle up to an hour,
 * and the routing proxies enforce their own (shorter, configured) timeouts, which then end the request.
 */
const LONG_TIMEOUT = '3600s';
/**
 * Request headers up to 64k a line pass the edge; the routing proxies apply the configured limits
 * (LargeClientHeaderBuffers), so the edge never answers 400/431 where single hop would not.
 */
const HEADER_BUFFERS = '8 64k';

/**
 * http-level directives of an nginx in front of the routing nginx (the edge, and the TLS front): any body
 * size, streamed both ways, headers as sent, so the routing nginx's configured limits are the ones that apply.
 */
export const TRANSPARENT_HTTP = `    client_max_body_size 0;
    client_body_timeout ${LONG_TIMEOUT};
    send_timeout ${LONG_TIMEOUT};
    large_client_header_buffers ${HEADER_BUFFERS};
    underscores_in_headers on;
    ignore_invalid_headers off;
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_buffer_size 64k;
    proxy_buffers 4 64k;
    proxy_redirect off;
    proxy_pass_header Server;
    proxy_pass_header Date;
`;

/** The debug headers a routing proxy puts on its answers (HideInfoHeaders leaves out those that describe it). */
function unansweredHeaders(p: EdgeParams): string {
  const headers = [[REQUEST_ID_HEADER, '$request_id']];
  if (!p.hideInfoHeaders) headers.push([PROXY_ID_HEADER, '$hostname'], [SERVER_INFO_HEADER, '"signalbox"']);
  return headers.map(([k, v]) => `            add_header ${k} ${v} always;\n`).join('');
}

/**
 * The keep-alive pool to the routing proxies for requests without a body (GET, HEAD, OPTIONS, no
 * upgrade): nginx retries such a request when a reused connection fails, which is what a routing proxy's
 * reload does to its idle connections, so the client never sees it; a request with a body stays on a
 * connection of its own. The tasks change without an edge reload: the agent puts them in a shared dict
 * (EDGE_PEERS_PATH on loopback), and a Lua balancer picks one per attempt, the next one on a retry.
 */
function poolBlock(pool: NonNullable<EdgeParams['pool']>): string {
  return `
    # Keep-alive pool to the routing proxy tasks (GET, HEAD, OPTIONS); the agent sets the tasks below.
    lua_package_path "/usr/share/lua/5.1/?.lua;;";
    lua_shared_dict signalbox_peers 1m;
    # Who checks ${LB_HEALTH_PATH} (a key per client address): a dict of its own, so that anyone asking it
    # can evict only other checkers, never the task list or the lame-duck flag.
    lua_shared_dict signalbox_checkers 1m;
    upstream signalbox_routing_pool {
        server 0.0.0.1:1; # never used: the balancer sets every peer
        balancer_by_lua_block {
            local balancer = require "ngx.balancer"
            local ctx = ngx.ctx
            if not ctx.signalbox_peers then
                local peers = {}
                for peer in string.gmatch(ngx.shared.signalbox_peers:get("peers") or "", "[^,]+") do peers[#peers + 1] = peer end
                ctx.signalbox_peers = peers
                ctx.signalbox_next = math.random(math.max(#peers, 1))
                balancer.set_more_tries(2)
            end
            local peers = ctx.signalbox_peers
            -- Emptied since $signalbox_upstream chose the pool: no peer set, so the placeholder fails at
            -- once (an error, the next round) instead of math.random(0) raising one.
            if #peers == 0 then return end
            local peer = peers[(ctx.signalbox_next - 1) % #peers + 1]
            ctx.signalbox_next = ctx.signalbox_next + 1
            local host, port = string.match(peer, "^(.+):(%d+)$")
            local ok, err = balancer.set_current_peer(host, tonumber(port))
            if not ok then ngx.log(ngx.ERR, "signalbox pool: ", err) end
        }
        keepalive ${POOL_SIZE};
        keepalive_timeout ${POOL_IDLE};
        keepalive_requests 10000;
    }
    map "$request_method:$http_upgrade" $signalbox_poolable {
        default 0;
        "GET:" 1;
        "HEAD:" 1;
        "OPTIONS:" 1;
    }
    server {
        listen 127.0.0.1:${pool.peersPort};
        access_log off;
        location = ${EDGE_PEERS_PATH} {
            client_max_body_size 64k;
            client_body_buffer_size 64k;
            content_by_lua_block {
                ngx.req.read_body()
                local body = ngx.req.get_body_data() or ""
                if ngx.req.get_method() ~= "PUT" or not string.match(body, "^[0-9.:,]*$") then return ngx.exit(400) end
                ngx.shared.signalbox_peers:set("peers", body)
                ngx.say("ok")
            }
        }
        # The lame duck: PUT turns it on for good (the edge is stopping). Both methods answer nginx's
        # clock, then one line per remembered checker: address, last check, checks, 503s while lame.
        location = ${EDGE_LAME_DUCK_PATH} {
            content_by_lua_block {
                local method = ngx.req.get_method()
                if method == "PUT" then ngx.shared.signalbox_peers:set("lame", true)
                elseif method ~= "GET" then return ngx.exit(405) end
                local d = ngx.shared.signalbox_checkers
                ngx.say("now ", ngx.now(), " lame ", ngx.shared.signalbox_peers:get("lame") and 1 or 0)
                for _, key in ipairs(d:get_keys(0)) do
                    local who = string.match(key, "^last:(.+)$")
                    local last = who and d:get(key)
                    if last then ngx.say(who, " ", last, " ", d:get("checks:" .. who) or 0, " ", d:get("failed:" .. who) or 0) end
                end
            }
        }
    }
`;
}

/** Pooled only when the agent has set the tasks (it does within a second of start); else as without the pool. */
const POOL_CHOICE = `        set_by_lua_block $signalbox_upstream {
            local peers = ngx.shared.signalbox_peers:get("peers")
            if ngx.var.signalbox_poolable == "1" and peers and peers ~= "" then return "signalbox_routing_pool" end
            return ngx.var.signalbox_routing_proxy
        }
`;

/**
 * Pauses (s) before the rounds after the first when nothing answered a request without a body: a route
 * reaches the routing tasks one reload at a time, and one that has not loaded it yet closes without an
 * answer. Measured skew between two tasks' reloads: a few hundred ms; the sum bounds how long an unknown
 * host waits for its 503.
 */
export const AGAIN_PAUSES = ['0.2', '0.6'] as const;

/** The rounds after the first: paused ones (ngx.sleep) when the Lua module is loaded, else one at once. */
function againLocations(p: EdgeParams): string {
  const pauses: readonly (string | undefined)[] = p.pool ? AGAIN_PAUSES : [undefined];
  return pauses
    .map((pause, i) => {
      const name = i === 0 ? '@signalbox_again' : `@signalbox_again${i + 1}`;
      const next = i + 1 < pauses.length ? `@signalbox_again${i + 2}` : '@signalbox_unanswered';
      return `        location ${name} {
${pause === undefined ? '' : `            access_by_lua_block { ngx.sleep(${pause}) }\n`}            proxy_pass http://$signalbox_upstream;
            error_page 502 = ${next};
        }
`;
    })
    .join('');
}

/**
 * The LB health path, passed on to a routing proxy like any request (whose default server answers it).
 * While the edge stops (the lame duck) it answers 503 here and still serves everything else, so a load
 * balancer takes the node out before nginx closes its connections; it remembers who checks, for the agent.
 */
const HEALTH_LOCATION = `        location = ${LB_HEALTH_PATH} {
            access_by_lua_block {
                local d = ngx.shared.signalbox_checkers
                local who = ngx.var.remote_addr
                -- Each check renews the checker's memory (not atomic across workers: a lost count is harmless).
                d:set("last:" .. who, ngx.now(), ${CHECKER_MEMORY_S})
                d:set("checks:" .. who, (d:get("checks:" .. who) or 0) + 1, ${CHECKER_MEMORY_S})
                if ngx.shared.signalbox_peers:get("lame") then
                    d:incr("failed:" .. who, 1, 0, ${CHECKER_MEMORY_S})
                    ngx.status = 503
                    ngx.header["Content-Type"] = "text/plain"
                    ngx.say("signalbox: this edge is stopping")
                    return ngx.exit(ngx.HTTP_OK)
                end
            }
            proxy_pass http://$signalbox_upstream;
            error_page 502 = $signalbox_unanswered_next;
        }
`;

function httpBlock(p: EdgeParams): string {
  const temp = p.tempDir ? ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `    ${k}_temp_path ${p.tempDir}/${k};\n`).join('') : '';
  return `http {
    server_tokens off;
    access_log off;
${temp}
    # Per-request lookup through Docker's DNS: a variable in proxy_pass is resolved at run time.
    resolver ${p.resolver} valid=${RESOLVER_VALID} ipv6=off;
    resolver_timeout 2s;
${p.pool ? poolBlock(p.pool) : ''}
    # The client's connection ends here; the edge never reloads, so it is never closed by a change.
    keepalive_timeout 75s;
    keepalive_requests 10000;

    # Transparent: any body size, streamed both ways, headers as sent (the routing proxies set the limits).
${TRANSPARENT_HTTP}
    # Without the pool, and for every request with a body or an upgrade, one upstream connection per
    # request, never reused: a routing proxy that reloads closes its idle connections, and nginx retries a
    # request that fails on a reused connection only when it is idempotent (a POST would get a 502). A
    # connect failure (a task that just left) is retried on another task: nothing was sent yet.
    proxy_http_version 1.1;
    proxy_connect_timeout 2s;
    proxy_next_upstream error timeout;
    proxy_next_upstream_tries 3;
    proxy_next_upstream_timeout 6s;
    proxy_read_timeout ${LONG_TIMEOUT};
    proxy_send_timeout ${LONG_TIMEOUT};

    # Host and the client's X-Forwarded-For pass unchanged; the client address travels in a header of its
    # own, which the routing proxies trust only from the edge network. A client's own copy is replaced.
    # An HTTP/1.0 request without Host (a load balancer's health check) would lose the header (nginx drops
    # an empty one) and the HTTP/1.1 upstream request would be refused (400): send the edge's own address,
    # which no virtual host matches, so it lands where a Host-less request lands in single-hop mode.
    proxy_set_header Host $signalbox_upstream_host;
    map $http_host $signalbox_upstream_host {
        default $http_host;
        "" $server_addr;
    }
    proxy_set_header ${EDGE_CLIENT_ADDRESS_HEADER} $remote_addr;
    # WebSocket and other upgrades pass through; anything else closes the upstream connection after it.
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $signalbox_upstream_connection;
    map $http_upgrade $signalbox_fresh_connection {
        default upgrade;
        "" close;
    }
    map $signalbox_upstream $signalbox_upstream_connection {
        default $signalbox_fresh_connection;${p.pool ? '\n        signalbox_routing_pool "";' : ''}
    }

    # A routing proxy closes the connection without an answer for a request it cannot serve (a host or path
    # it has not loaded yet while another has, a route whose task it does not know yet): that is an error,
    # retried on another task above. When no task answers, the edge's own 502 becomes a 503 that says why:
    # some task was reached (bytes were sent to one) but none serves the request, or none was reached. Not
    # the connect time: the second round below adds a "0.000" for the first, whatever happened in it.
    map $upstream_bytes_sent $signalbox_unanswered {
        default "signalbox: no routing proxy could be reached\\n";
        "~[1-9]" "${UNSERVED_BEHIND_EDGE_MESSAGE}\\n";
    }

    # When no task answered, a request without a body (GET, HEAD, OPTIONS) asks the tasks again. With a
    # single routing task nginx has no other task to try, and for the few ms after that task's reload
    # starts its new workers, its old ones (without the new route) still take connections. With several,
    # a new route reaches them one reload at a time, a few hundred ms apart: with the Lua module loaded
    # (the pool), the later rounds wait ${AGAIN_PAUSES.join(' s and ')} s first, so the client waits instead of failing (an
    # unknown host then gets its 503 that much later). A request with a body is not sent twice: it was
    # streamed, not buffered, and may have been handled.
    map $request_method $signalbox_unanswered_next {
        default @signalbox_unanswered;
        GET @signalbox_again;
        HEAD @signalbox_again;
        OPTIONS @signalbox_again;
    }

    server {
        listen ${p.httpPort};
        set $signalbox_routing_proxy ${p.upstream}:${p.upstreamHttpPort ?? p.httpPort};
${p.pool ? POOL_CHOICE : '        set $signalbox_upstream $signalbox_routing_proxy;\n'}        recursive_error_pages on;
        location / {
            proxy_pass http://$signalbox_upstream;
            error_page 502 = $signalbox_unanswered_next;
        }
${p.pool ? HEALTH_LOCATION : ''}${againLocations(p)}        location @signalbox_unanswered {
            default_type text/plain;
${unansweredHeaders(p)}            return 503 $signalbox_unanswered;
        }
    }
}
`;
}

function streamBlock(p: EdgeParams, httpsPort: number): string {
  return `stream {
    # Per-connection lookup through Docker's DNS: a variable in proxy_pass is resolved at run time.
    resolver ${p.resolver} valid=${RESOLVER_VALID} ipv6=off;
    resolver_timeout 2s;

    # The routing proxies take the client address from this header (realip).
    proxy_protocol on;
    # A task that went away between the lookup and the connect: try another one.
    proxy_connect_timeout 2s;
    proxy_next_upstream on;
    proxy_next_upstream_tries 3;
    proxy_next_upstream_timeout 6s;
    # Idle limit of a forwarded connection; WebSockets behind the proxies may idle up to an hour.
    proxy_timeout ${LONG_TIMEOUT};

    map $server_port $signalbox_routing_proxy {
        ${httpsPort} ${p.upstream}:${p.upstreamHttpsPort ?? httpsPort};
    }

    server {
        listen ${httpsPort};
        proxy_pass $signalbox_routing_proxy;
    }
}
`;
}

export function edgeConfig(p: EdgeParams): string {
  const load =
    (p.pool ? `load_module ${p.pool.ndkModulePath};\nload_module ${p.pool.luaModulePath};\n` : '') + (p.streamModulePath && p.httpsPort !== undefined ? `load_module ${p.streamModulePath};\n` : '');
  return `# Generated by signalbox proxy-agent (edge): forwards HTTP requests and TLS connections to routing proxy tasks.
${load}worker_processes auto;
pid ${p.pidPath};
error_log stderr warn;

events {
    worker_connections 16384;
}

${httpBlock(p)}${p.httpsPort === undefined ? '' : `\n${streamBlock(p, p.httpsPort)}`}`;
}
