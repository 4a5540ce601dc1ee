import { countEstablished, drainPorts } from '../src/drain.js';
import { edgeConfig } from '../src/edge.js';
import { peersText } from '../src/edge-peers.js';
import { loadOptions, OptionsError } from '../src/options.js';

describe('edgeConfig', () => {
  const conf = edgeConfig({ upstream: 'tasks.signalbox-proxy', httpPort: 80, httpsPort: 443, pidPath: '/run/edge.pid', resolver: '127.0.0.11' });
  const httpPart = conf.slice(conf.indexOf('http {'), conf.indexOf('\nstream {'));
  const streamPart = conf.slice(conf.indexOf('\nstream {'));

  it('serves HTTP at L7: each request to a routing proxy task resolved through Docker DNS at request time, on a connection of its own', () => {
    expect(httpPart).toContain('resolver 127.0.0.11 valid=1s ipv6=off;');
    expect(httpPart).toMatch(/server \{\n\s+listen 80;\n\s+set \$signalbox_routing_proxy tasks\.signalbox-proxy:80;/);
    expect(httpPart).toContain('set $signalbox_upstream $signalbox_routing_proxy;');
    expect(httpPart).toContain('proxy_pass http://$signalbox_upstream;');
    // No upstream block, so no keepalive pool: a reused connection a reloading proxy closes could fail a POST.
    expect(httpPart).not.toMatch(/^\s*(upstream|keepalive) /m);
    expect(httpPart).toMatch(/map \$http_upgrade \$signalbox_fresh_connection \{\n\s+default upgrade;\n\s+"" close;/);
    expect(httpPart).toMatch(/map \$signalbox_upstream \$signalbox_upstream_connection \{\n\s+default \$signalbox_fresh_connection;\n\s+\}/);
    expect(httpPart).toContain('proxy_next_upstream error timeout;');
    expect(httpPart).toContain('proxy_next_upstream_tries 3;');
  });

  it('is transparent on HTTP: streamed, any size, Host and X-Forwarded-For as sent, the client address in its own header', () => {
    for (const d of ['proxy_request_buffering off;', 'proxy_buffering off;', 'client_max_body_size 0;', 'underscores_in_headers on;', 'ignore_invalid_headers off;']) {
      expect(httpPart).toContain(d);
    }
    expect(httpPart).toContain('proxy_set_header Host $signalbox_upstream_host;');
    // A Host-less HTTP/1.0 request (a load balancer's health check) still sends a Host upstream.
    expect(httpPart).toMatch(/map \$http_host \$signalbox_upstream_host \{\s+default \$http_host;\s+"" \$server_addr;/);
    expect(httpPart).toContain('proxy_set_header X-Signalbox-Client-Address $remote_addr;');
    expect(httpPart).not.toMatch(/proxy_set_header X-Forwarded-For/i);
    expect(httpPart).toContain('proxy_set_header Upgrade $http_upgrade;');
    expect(httpPart).toContain('proxy_read_timeout 3600s;');
  });

  it('keeps HTTPS at L4 with a PROXY header and a retry of a connect failure on another task', () => {
    expect(streamPart).toMatch(/map \$server_port \$signalbox_routing_proxy \{\n\s+443 tasks\.signalbox-proxy:443;\n\s+\}/);
    expect(streamPart).toContain('proxy_protocol on;');
    expect(streamPart).toContain('proxy_next_upstream on;');
    expect(streamPart).toContain('proxy_next_upstream_tries 3;');
    expect(streamPart).toMatch(/listen 443;/);
    expect(streamPart).not.toMatch(/listen 80;/);
  });

  it("answers 503 itself when no task routes the host or none is reached, with the routing proxies' debug headers (HideInfoHeaders: the request id only)", () => {
    expect(httpPart).toContain('error_page 502 = @signalbox_unanswered;');
    expect(httpPart).toMatch(/map \$upstream_bytes_sent \$signalbox_unanswered \{[^}]*"~\[1-9\]" "signalbox: no service with a running task is routed for this host and path\\n";/);
    expect(httpPart).toContain('error_page 502 = $signalbox_unanswered_next;');
    expect(httpPart).toMatch(/location @signalbox_unanswered \{[^}]*add_header x-request-id \$request_id always;[^}]*add_header x-proxy-id \$hostname always;[^}]*return 503 \$signalbox_unanswered;/);
    const hidden = edgeConfig({ upstream: 'x', httpPort: 80, pidPath: '/p', resolver: '127.0.0.11', hideInfoHeaders: true });
    expect(hidden).toContain('add_header x-request-id $request_id always;');
    expect(hidden).not.toMatch(/x-proxy-id|x-server-info/);
  });

  it('loads the stream module only when it is a dynamic module and there is a TLS port', () => {
    expect(conf).not.toContain('load_module');
    expect(edgeConfig({ upstream: 'x', httpPort: 80, httpsPort: 443, pidPath: '/p', resolver: '127.0.0.11', streamModulePath: '/m/s.so' })).toMatch(/^load_module \/m\/s\.so;$/m);
    const httpOnly = edgeConfig({ upstream: 'x', httpPort: 80, pidPath: '/p', resolver: '127.0.0.11', streamModulePath: '/m/s.so' });
    expect(httpOnly).not.toContain('load_module');
    expect(httpOnly).not.toContain('stream {');
  });
});

describe('edgeConfig with the keep-alive pool', () => {
  const pool = { ndkModulePath: '/m/ndk.so', luaModulePath: '/m/lua.so', peersPort: 8083 };
  const conf = edgeConfig({ upstream: 'tasks.signalbox-proxy', httpPort: 80, httpsPort: 443, pidPath: '/run/edge.pid', resolver: '127.0.0.11', pool });
  const httpPart = conf.slice(conf.indexOf('http {'), conf.indexOf('\nstream {'));

  it('loads NDK and the Lua module, and pools only requests without a body or an upgrade', () => {
    expect(conf).toMatch(/^load_module \/m\/ndk\.so;\nload_module \/m\/lua\.so;$/m);
    expect(httpPart).toMatch(/upstream signalbox_routing_pool \{[\s\S]*balancer_by_lua_block[\s\S]*keepalive 64;\n\s+keepalive_timeout 20s;/);
    expect(httpPart).toMatch(/map "\$request_method:\$http_upgrade" \$signalbox_poolable \{\n\s+default 0;\n\s+"GET:" 1;\n\s+"HEAD:" 1;\n\s+"OPTIONS:" 1;\n\s+\}/);
    // Pooled requests keep the connection; the others close it (or upgrade) as without the pool.
    expect(httpPart).toMatch(/map \$signalbox_upstream \$signalbox_upstream_connection \{\n\s+default \$signalbox_fresh_connection;\n\s+signalbox_routing_pool "";/);
    expect(httpPart).toContain('if ngx.var.signalbox_poolable == "1" and peers and peers ~= "" then return "signalbox_routing_pool" end');
    // The first round (and the LB health path's), then two paused ones (the Lua module is loaded), the last one ending in the 503.
    expect(httpPart.match(/proxy_pass http:\/\/\$signalbox_upstream;/g)).toHaveLength(4);
    expect(httpPart).toMatch(/location @signalbox_again \{\n\s+access_by_lua_block \{ ngx\.sleep\(0\.2\) \}\n\s+proxy_pass http:\/\/\$signalbox_upstream;\n\s+error_page 502 = @signalbox_again2;/);
    expect(httpPart).toMatch(
      /location @signalbox_again2 \{\n\s+access_by_lua_block \{ ngx\.sleep\(0\.6\) \}\n\s+proxy_pass http:\/\/\$signalbox_upstream;\n\s+error_page 502 = @signalbox_unanswered;/,
    );
  });

  it('takes the task list on loopback only, as addresses and ports, by PUT', () => {
    expect(httpPart).toContain('listen 127.0.0.1:8083;');
    expect(httpPart).toContain('location = /signalbox/peers {');
    expect(httpPart).toContain('if ngx.req.get_method() ~= "PUT" or not string.match(body, "^[0-9.:,]*$") then return ngx.exit(400) end');
  });

  it('passes the LB health path on, but answers it 503 once the lame duck is on, and remembers who checks it in a dict of its own', () => {
    const health = httpPart.slice(httpPart.indexOf('location = /signalbox-health {'));
    expect(health).toMatch(/^location = \/signalbox-health \{\n\s+access_by_lua_block \{/);
    expect(health).toContain('local d = ngx.shared.signalbox_checkers');
    expect(health).toContain('d:set("last:" .. who, ngx.now(), 60)');
    expect(health).toMatch(/if ngx\.shared\.signalbox_peers:get\("lame"\) then\n\s+d:incr\("failed:" \.\. who, 1, 0, 60\)\n\s+ngx\.status = 503/);
    // Otherwise the routing proxies answer it, as any request.
    expect(health).toMatch(/\}\n\s+proxy_pass http:\/\/\$signalbox_upstream;\n\s+error_page 502 = \$signalbox_unanswered_next;\n\s+\}/);
    expect(httpPart).toContain('lua_shared_dict signalbox_checkers 1m;');
    // The switch and the checkers' list: on loopback only, PUT or GET.
    const from = httpPart.indexOf('listen 127.0.0.1:8083;');
    const loopback = httpPart.slice(from, httpPart.indexOf('\n    }\n', from));
    expect(loopback).toContain('location = /signalbox/lame-duck {');
    expect(loopback).toContain('if method == "PUT" then ngx.shared.signalbox_peers:set("lame", true)');
    expect(loopback).toContain('elseif method ~= "GET" then return ngx.exit(405) end');
  });

  it('without the pool: no Lua, a connection per request', () => {
    const plain = edgeConfig({ upstream: 'tasks.signalbox-proxy', httpPort: 80, pidPath: '/run/edge.pid', resolver: '127.0.0.11' });
    expect(plain).not.toMatch(/lua|upstream signalbox_routing_pool/);
    expect(plain).not.toContain('location = /signalbox-health');
    expect(plain).toContain('set $signalbox_upstream $signalbox_routing_proxy;');
  });

  it('lists the tasks sorted, once each, IPv4 only, with the port', () => {
    expect(peersText(['10.0.0.9', '10.0.0.10', '10.0.0.9', 'fe80::1', 'x'], 80)).toBe('10.0.0.10:80,10.0.0.9:80');
    expect(peersText([], 80)).toBe('');
  });
});

describe('countEstablished', () => {
  // /proc/net/tcp: local 0.0.0.0:80 listening (0A), two established on :80 (0050), one on :8082 (1F92).
  const tcp = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0A00050C:0050 0A000907:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1
   2: 0A00050C:0050 0A000907:D2F2 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:1F92 0100007F:D000 01 00000000:00000000 00:00000000 00000000     0        0 4 1 0000000000000000 20 4 30 10 -1
   4: 0A00050C:01BB 0A000907:D2F4 06 00000000:00000000 00:00000000 00000000     0        0 0 1 0000000000000000 20 4 30 10 -1
`;
  const tcp6 = `  sl  local_address                         remote_address                        st
   0: 0000000000000000FFFF00000A00050C:01BB 0000000000000000FFFF00000A000907:D2F6 01 00000000:00000000
`;
  it('counts established client connections on the given ports only (not listening, not TIME_WAIT, not other ports)', () => {
    expect(countEstablished([tcp], new Set([80]))).toBe(2);
    expect(countEstablished([tcp, tcp6], new Set([80, 443]))).toBe(3);
    expect(countEstablished([tcp, tcp6], new Set([9999]))).toBe(0);
  });

  it("a stop waits for the clients' own TLS connections only, not for the edge's on the HTTP port (its pool's idle ones are retried)", () => {
    expect([...drainPorts(443)]).toEqual([443]);
    expect(countEstablished([tcp, tcp6], drainPorts(443))).toBe(1);
    expect(countEstablished([tcp, tcp6], drainPorts(undefined))).toBe(0);
  });
});

describe('edge options', () => {
  it('reads the edge upstream, resolver, drain and lame-duck times', () => {
    const o = loadOptions({ SIGNALBOX_EDGE_UPSTREAM: 'tasks.signalbox-proxy', SIGNALBOX_EDGE_RESOLVER: '127.0.0.1:5353', SIGNALBOX_DRAIN_MS: '6000', SIGNALBOX_LAME_DUCK_MS: '8000' });
    expect(o).toMatchObject({ edgeUpstream: 'tasks.signalbox-proxy', edgeResolver: '127.0.0.1:5353', drainMs: 6000, lameDuckMs: 8000, edgeHideInfoHeaders: false });
    expect(loadOptions({}).lameDuckMs).toBe(0);
    expect(() => loadOptions({ SIGNALBOX_LAME_DUCK_MS: '8s' })).toThrow(/SIGNALBOX_LAME_DUCK_MS/);
    expect(loadOptions({ SIGNALBOX_EDGE_HIDE_INFO_HEADERS: '1' }).edgeHideInfoHeaders).toBe(true);
    expect(() => loadOptions({ SIGNALBOX_EDGE_HIDE_INFO_HEADERS: 'yes' })).toThrow(/SIGNALBOX_EDGE_HIDE_INFO_HEADERS/);
  });
  it('has the keep-alive pool on by default, on the Debian module paths; SIGNALBOX_EDGE_POOL=0 turns it off', () => {
    expect(loadOptions({})).toMatchObject({
      edgePool: true,
      ndkModulePath: '/usr/lib/nginx/modules/ndk_http_module.so',
      luaModulePath: '/usr/lib/nginx/modules/ngx_http_lua_module.so',
      edgePeersPort: 8083,
    });
    expect(loadOptions({ SIGNALBOX_EDGE_POOL: '0' }).edgePool).toBe(false);
  });
  it('refuses a name that could inject nginx text', () => {
    expect(() => loadOptions({ SIGNALBOX_EDGE_UPSTREAM: 'x; include /etc/passwd' })).toThrow(OptionsError);
    expect(() => loadOptions({ SIGNALBOX_EDGE_UPSTREAM: 'x:80' })).toThrow(/SIGNALBOX_EDGE_UPSTREAM/);
  });
});
