import { EDGE_CLIENT_ADDRESS_HEADER } from '@signalbox/protocol';
import { accessLogBuffer, forwardedHeaderMaps, httpView, logFormat, proxyHeaders, responseHeaders, trustedProxies } from '../../src/render/http-settings.js';
import { tuning } from './fixtures.js';

describe('trustedProxies', () => {
  it('quotes sorted, unique addresses and CIDRs and rejects anything else', () => {
    expect(trustedProxies([' 10.0.0.0/8', 'fd00::/64', '10.0.0.0/8', '192.0.2.1'])).toEqual(['"10.0.0.0/8"', '"192.0.2.1"', '"fd00::/64"']);
    expect(() => trustedProxies(['10.0.0.0/33'])).toThrow('TrustedProxies entry "10.0.0.0/33" is not an IP address or CIDR');
    expect(() => trustedProxies(['example.test'])).toThrow('is not an IP address or CIDR');
  });
});

describe('forwardedHeaderMaps', () => {
  it('keeps X-Forwarded-* only from trusted proxies, else uses the proxy view', () => {
    expect(forwardedHeaderMaps().map((m) => [m.variable, m.source, m.default])).toEqual([
      ['$signalbox_forwarded_for', '$signalbox_trusted_proxy', '$remote_addr'],
      ['$signalbox_forwarded_host', '"$signalbox_trusted_proxy:$http_x_forwarded_host"', '$http_host'],
      ['$signalbox_forwarded_proto', '"$signalbox_trusted_proxy:$http_x_forwarded_proto"', '$scheme'],
    ]);
  });
});

describe('responseHeaders', () => {
  it('describes the proxy unless HideInfoHeaders is set', () => {
    expect(responseHeaders(tuning({ HideInfoHeaders: false }), 'proxy-1').map((h) => `${h.name}: ${h.value}`)).toEqual([
      'x-request-id: $request_id',
      'x-proxy-id: "proxy-1"',
      'x-server-info: "signalbox"',
      'x-upstream-addr: $upstream_addr',
      'x-upstream-response-time: $upstream_header_time',
    ]);
    expect(responseHeaders(tuning({ HideInfoHeaders: false }), undefined)[1]).toEqual({ name: 'x-proxy-id', value: '$hostname' });
    expect(responseHeaders(tuning({ HideInfoHeaders: true }), 'p')).toEqual([{ name: 'x-request-id', value: '$request_id' }]);
  });
});

describe('logFormat and accessLogBuffer', () => {
  it('single-quotes a log format with escapes, falls back when empty and rejects control characters', () => {
    expect(logFormat(" $a 'b' \\ ", 'x', 'MainLogFormat')).toBe("'$a \\'b\\' \\\\'");
    expect(logFormat('  ', '$fallback', 'MainLogFormat')).toBe("'$fallback'");
    expect(() => logFormat('a\nb', 'x', 'TraceLogFormat')).toThrow('invalid TraceLogFormat');
  });

  it('buffers the access log unless AccessLogBuffer is 0', () => {
    expect(accessLogBuffer(tuning({ AccessLogBuffer: '64k', AccessLogFlush: '5s' }))).toBe('buffer=64k flush=5s');
    expect(accessLogBuffer(tuning({ AccessLogBuffer: '0k' }))).toBeNull();
  });
});

describe('httpView', () => {
  const parts = { maps: [], upstreams: [], servers: [], serverNames: ['a.test', 'long-name.example.test'] };

  it('sizes the server-name hash for the names unless ServerNamesHashBucketSize is set', () => {
    expect(httpView(tuning({ ServerNamesHashBucketSize: 0 }), { secretsDir: '/s' }, parts)).toMatchObject({ serverNamesHashBucketSize: 64, serverNamesHashMaxSize: 512 });
    expect(httpView(tuning({ ServerNamesHashBucketSize: 256 }), { secretsDir: '/s' }, parts).serverNamesHashBucketSize).toBe(256);
  });

  it('takes the timeouts, temp paths and access log from config and options', () => {
    const view = httpView(tuning({ ConnectTimeout: 5, ReadTimeout: 7, AccessLogPath: '', HTTPOptions: [' gzip on; ', ''] }), { secretsDir: '/s', tempDir: '/tmp/t' }, parts);
    expect(view).toMatchObject({ proxyConnectTimeout: '5s', proxyReadTimeout: '7s', accessLog: null, options: ['gzip on;'] });
    expect(view.tempPaths?.[0]).toEqual({ kind: 'client_body', path: '"/tmp/t/client_body"' });
    expect(() => httpView(tuning({ ConnectTimeout: 0 }), { secretsDir: '/s' }, parts)).toThrow('ConnectTimeout');
  });
});

describe('proxyHeaders', () => {
  it("behind the edge blanks the edge's client address header, so apps never see it; single hop sends the same headers as ever", () => {
    const single = proxyHeaders();
    expect(single.map((h) => h.name)).toEqual(['Host', 'X-Real-IP', 'X-Forwarded-For', 'X-Forwarded-Proto', 'X-Forwarded-Host', 'X-Request-ID']);
    expect(proxyHeaders(true)).toEqual([...single, { name: EDGE_CLIENT_ADDRESS_HEADER, value: '""' }]);
  });
});
