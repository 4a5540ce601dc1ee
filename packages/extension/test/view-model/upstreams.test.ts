import { RenderError } from '../../src/render/quote.js';
import { UpstreamSet, httpUpstreams, internalUpstream, serverViews, sharedUpstreams, streamUpstreams, upstreamZoneKb } from '../../src/render/upstreams.js';
import { server, tuning, upstream } from './fixtures.js';

describe('serverViews', () => {
  it('sorts servers, keeps one per address:port and applies the default max_fails and fail_timeout', () => {
    const views = serverViews(upstream('a', [server('10.0.0.2', 80, 'b'), server('10.0.0.1', 8080, 'a'), server('10.0.0.2', 80, 'c')]));
    expect(views).toEqual([
      { address: '10.0.0.1:8080', maxFails: 1, failTimeout: '10s', down: false, comment: 'a' },
      { address: '10.0.0.2:80', maxFails: 1, failTimeout: '10s', down: false, comment: 'b' },
    ]);
  });

  it('writes IPv6 addresses in brackets and takes the upstream max_fails and fail_timeout', () => {
    const [view] = serverViews(upstream('a', [server('fd00::1', 80, '')], { maxFails: 3, failTimeout: '30s' }));
    expect(view).toEqual({ address: '[fd00::1]:80', maxFails: 3, failTimeout: '30s', down: false, comment: null });
  });

  it('holds one down placeholder when there are no servers', () => {
    expect(serverViews(upstream('a', []))).toEqual([{ address: '127.0.0.1:1', maxFails: null, failTimeout: null, down: true, comment: 'no servers: answers 503' }]);
  });

  it('rejects a negative max_fails', () => {
    expect(() => serverViews(upstream('a', undefined, { maxFails: -1 }))).toThrow('invalid max_fails: -1');
  });
});

describe('UpstreamSet', () => {
  it('sorts by name and accepts the same upstream twice', () => {
    const set = new UpstreamSet();
    const b = upstream('b');
    set.add(b);
    set.add(upstream('a'));
    set.add({ ...b, servers: [...b.servers] });
    expect(set.sorted().map((u) => u.name)).toEqual(['a', 'b']);
  });

  it('rejects an internal name and two different upstreams of one name', () => {
    expect(() => new UpstreamSet().add(upstream('signalbox_passthrough_hop'))).toThrow('is reserved');
    const set = new UpstreamSet();
    set.add(upstream('a', [server('10.0.0.1')]));
    expect(() => set.add(upstream('a', [server('10.0.0.9')]))).toThrow(RenderError);
  });
});

describe('sharedUpstreams', () => {
  it('renders identical upstreams once, under the first name, with the services of all', () => {
    const { kept, alias } = sharedUpstreams([upstream('a', undefined, { services: ['x'] }), upstream('b', undefined, { services: ['y'] }), upstream('c', undefined, { balance: 'ip_hash' })]);
    expect(kept.map((u) => [u.name, u.services])).toEqual([
      ['a', ['x', 'y']],
      ['c', ['web']],
    ]);
    expect([...alias]).toEqual([['b', 'a']]);
  });
});

describe('httpUpstreams', () => {
  it('sizes the shared zone on the first upstream only and keeps connections alive to non-empty ones', () => {
    const { upstreams } = httpUpstreams([upstream('b', []), upstream('a', [server('10.0.0.1')], { balance: 'ip_hash' })], 64);
    expect(upstreams.map((u) => [u.name, u.zone, u.balance, u.keepalive, u.empty])).toEqual([
      ['a', 'signalbox_upstreams 128k', 'ip_hash', 32, false],
      // An empty upstream has no balancing (its one server is down).
      ['b', 'signalbox_upstreams', null, null, true],
    ]);
  });

  it('gives upstreams sticky on one cookie one map, and reads other cookie names from the Cookie header', () => {
    const { upstreams, stickyMaps } = httpUpstreams(
      [
        upstream('a', [server('10.0.0.1')], { balance: 'cookie', cookie: 'sid' }),
        upstream('b', [server('10.0.0.2')], { balance: 'cookie', cookie: 'sid' }),
        upstream('c', [server('10.0.0.3')], { balance: 'cookie', cookie: 'my.sid' }),
      ],
      64,
    );
    expect(upstreams.map((u) => u.balance)).toEqual(['hash $signalbox_sticky_0 consistent', 'hash $signalbox_sticky_0 consistent', 'hash $signalbox_sticky_1 consistent']);
    expect(stickyMaps).toEqual([
      { source: '$cookie_sid', variable: '$signalbox_sticky_0', hostnames: false, entries: [{ key: '""', value: '$request_id' }], default: '$cookie_sid' },
      { source: '$http_cookie', variable: '$signalbox_sticky_1', hostnames: false, entries: [{ key: '"~(^|;\\\\s*)my\\\\.sid=([^;]+)"', value: '$2' }], default: '$request_id' },
    ]);
  });

  it('rejects cookie balancing without a cookie name and returns the aliases of shared upstreams', () => {
    expect(() => httpUpstreams([upstream('a', undefined, { balance: 'cookie' })], 64)).toThrow('cookie balance without a cookie name');
    expect([...httpUpstreams([upstream('a'), upstream('b')], 64).alias]).toEqual([['b', 'a']]);
  });
});

describe('streamUpstreams and internalUpstream', () => {
  it('pins sticky passthrough upstreams to the PROXY-protocol client address in the stream zone', () => {
    const views = streamUpstreams([upstream('p', undefined, { balance: 'cookie', cookie: 'x' }), upstream('q')], 32);
    expect(views.map((u) => [u.name, u.zone, u.balance, u.keepalive])).toEqual([
      ['p', 'signalbox_stream_upstreams 64k', 'hash $proxy_protocol_addr consistent', null],
      ['q', 'signalbox_stream_upstreams', null, null],
    ]);
    expect(internalUpstream('n', '127.0.0.1:1', true, 'why').servers).toEqual([{ address: '127.0.0.1:1', maxFails: null, failTimeout: null, down: true, comment: 'why' }]);
  });
});

describe('upstreamZoneKb', () => {
  it('defaults to 64 KiB and never goes below 32', () => {
    expect(upstreamZoneKb(tuning({ UpstreamZoneSize: 0 }))).toBe(64);
    expect(upstreamZoneKb(tuning({ UpstreamZoneSize: 8 }))).toBe(32);
    expect(upstreamZoneKb(tuning({ UpstreamZoneSize: 128.7 }))).toBe(128);
  });
});
