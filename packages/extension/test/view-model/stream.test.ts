import { shieldedFromPassthroughWildcards, streamView } from '../../src/render/stream.js';
import { tuning, upstream } from './fixtures.js';

describe('shieldedFromPassthroughWildcards', () => {
  it('lists the hosts served here that a passthrough wildcard would take', () => {
    const passthrough = [
      { host: '*.pt.test', upstream: upstream('w') },
      { host: 'x.pt.test', upstream: upstream('x') },
    ];
    expect(shieldedFromPassthroughWildcards(passthrough, ['b.pt.test', 'a.deep.pt.test', 'x.pt.test', 'other.test', 'b.pt.test'])).toEqual(['a.deep.pt.test', 'b.pt.test']);
    expect(shieldedFromPassthroughWildcards([{ host: 'x.pt.test', upstream: upstream('x') }], ['a.pt.test'])).toEqual([]);
  });
});

describe('streamView', () => {
  const view = streamView(tuning({ ConnectTimeout: 3, ReadTimeout: 9, TCPOptions: ['  '] }), {
    passthrough: [{ host: '*.pt.test', upstream: upstream('pt_up', undefined, { balance: 'ip_hash' }) }],
    hostsServedHere: ['www.pt.test'],
    publicSslPort: 8443,
    internal: { tls: 10443, hop: 10444 },
    zoneKb: 64,
  });

  it('routes passthrough hosts by SNI to the hop and everything else, shielded hosts first, to the terminating servers', () => {
    expect(view.maps.map((m) => [m.variable, m.entries, m.default])).toEqual([
      [
        '$signalbox_tls_route',
        [
          { key: '"*.pt.test"', value: 'signalbox_passthrough_hop' },
          { key: '"www.pt.test"', value: 'signalbox_https_terminate' },
        ],
        'signalbox_https_terminate',
      ],
      ['$signalbox_passthrough', [{ key: '"*.pt.test"', value: 'pt_up' }], 'signalbox_passthrough_reject'],
    ]);
  });

  it('listens on the public TLS port and the hop, with the internal upstreams on loopback', () => {
    expect(view.servers.map((s) => [s.listen.address, s.proxyProtocol, s.listen.proxyProtocol, s.proxyPass, s.proxyConnectTimeout, s.proxyTimeout])).toEqual([
      ['8443', true, false, '$signalbox_tls_route', '3s', '9s'],
      ['127.0.0.1:10444', false, true, '$signalbox_passthrough', '3s', '9s'],
    ]);
    expect(view.upstreams.map((u) => [u.name, u.servers.map((s) => s.address).join(), u.balance])).toEqual([
      ['pt_up', '10.0.0.1:80', 'hash $proxy_protocol_addr consistent'],
      ['signalbox_https_terminate', '127.0.0.1:10443', null],
      ['signalbox_passthrough_hop', '127.0.0.1:10444', null],
      ['signalbox_passthrough_reject', '127.0.0.1:1', null],
    ]);
    expect(view.options).toEqual([]);
  });
});

describe('streamView behind the edge: the relay', () => {
  const front = 'unix:/run/signalbox/tls-front/tls-front.sock';
  const behindEdge = (relay?: { peers: string[]; hosts: string[] }) =>
    streamView(tuning({ ConnectTimeout: 3, ReadTimeout: 9 }), {
      passthrough: [],
      hostsServedHere: ['www.test'],
      publicSslPort: 8443,
      internal: null,
      zoneKb: 64,
      edgeTrusted: ['10.0.9.0/24'],
      tlsFront: front,
      ...(relay ? { relay } : {}),
    });

  it('always has the relay port (what the other tasks relay to), which never relays; nothing is relayed without peers or held hosts', () => {
    for (const v of [behindEdge(), behindEdge({ peers: [], hosts: ['new.test'] }), behindEdge({ peers: ['10.0.9.7'], hosts: [] })]) {
      expect(v.maps).toEqual([]);
      expect(v.servers.map((s) => [s.listen.address, s.listen.proxyProtocol, s.sslPreread, s.proxyPass, s.realIpFrom])).toEqual([
        ['8443', true, false, front, ['10.0.9.0/24']],
        ['10445', true, false, front, ['10.0.9.0/24']],
      ]);
    }
  });

  it('sends the held hosts by SNI to the peers’ relay port (sorted, IPv6 bracketed), everything else to the TLS front', () => {
    const v = behindEdge({ peers: ['fd00::7', '10.0.9.8', '10.0.9.7'], hosts: ['new.test', '*.held.test'] });
    expect(v.maps.map((m) => [m.variable, m.entries, m.default])).toEqual([
      [
        '$signalbox_tls_public',
        [
          { key: '"*.held.test"', value: 'signalbox_relay' },
          { key: '"new.test"', value: 'signalbox_relay' },
        ],
        'signalbox_https_terminate',
      ],
    ]);
    expect(v.upstreams.map((u) => [u.name, u.servers.map((s) => s.address)])).toEqual([
      ['signalbox_https_terminate', [front]],
      ['signalbox_relay', ['10.0.9.7:10445', '10.0.9.8:10445', '[fd00::7]:10445']],
    ]);
    // A peer that does not answer costs 2 s at most (then the next), not ConnectTimeout.
    expect(v.servers.map((s) => [s.listen.address, s.sslPreread, s.proxyPass, s.proxyConnectTimeout])).toEqual([
      ['8443', true, '$signalbox_tls_public', '2s'],
      ['10445', false, front, '3s'],
    ]);
  });

  it('refuses a peer that is not an IP address (it would name a host nginx resolves at start)', () => {
    expect(() => behindEdge({ peers: ['tasks.proxy'], hosts: ['new.test'] })).toThrow('invalid relay peer address: "tasks.proxy"');
  });

  it('single hop has no relay port and relays nothing', () => {
    const v = streamView(tuning({}), {
      passthrough: [{ host: 'pt.test', upstream: upstream('pt_up') }],
      hostsServedHere: [],
      publicSslPort: 443,
      internal: { tls: 10443, hop: 10444 },
      zoneKb: 64,
      relay: { peers: ['10.0.9.7'], hosts: ['new.test'] },
    });
    expect(v.servers.map((s) => s.listen.address)).toEqual(['443', '127.0.0.1:10444']);
    expect(v.maps.map((m) => m.variable)).toEqual(['$signalbox_tls_route', '$signalbox_passthrough']);
  });
});
