import { listeners, pickInternalPorts, publicPorts } from '../../src/render/listeners.js';
import { extension } from './fixtures.js';

describe('publicPorts', () => {
  it('rejects the same port for HTTP and HTTPS', () => {
    expect(publicPorts(extension({ TargetPort: 8080, TargetSSLPort: 8443 }))).toEqual({ http: 8080, ssl: 8443 });
    expect(() => publicPorts(extension({ TargetPort: 8080, TargetSSLPort: 8080 }))).toThrow('TargetPort and TargetSSLPort are both 8080');
  });
});

describe('pickInternalPorts', () => {
  it('takes the first free ports from 10443, skipping the public ones', () => {
    expect(pickInternalPorts(extension(), { secretsDir: '/s' })).toEqual({ tls: 10443, hop: 10444 });
    expect(pickInternalPorts(extension({ TargetPort: 10444, TargetSSLPort: 10443 }), { secretsDir: '/s' })).toEqual({ tls: 10445, hop: 10446 });
  });

  it('takes the requested ports and rejects one that collides', () => {
    expect(pickInternalPorts(extension(), { secretsDir: '/s', internalTlsPort: 9000, internalPassthroughPort: 9100 })).toEqual({ tls: 9000, hop: 9100 });
    expect(() => pickInternalPorts(extension(), { secretsDir: '/s', internalTlsPort: 443 })).toThrow('internal TLS port 443 collides');
  });
});

describe('listeners', () => {
  it('moves HTTPS to loopback with the PROXY protocol when there is passthrough', () => {
    expect(listeners({ http: 80, ssl: 443 }, null)).toEqual({
      plain: { address: '80', ssl: false, proxyProtocol: false, defaultServer: false },
      ssl: { address: '443', ssl: true, proxyProtocol: false, defaultServer: false },
      realIpFrom: [],
      plainRealIpFrom: [],
      plainRealIpHeader: 'X-Signalbox-Client-Address',
    });
    expect(listeners({ http: 80, ssl: 443 }, { tls: 10443, hop: 10444 })).toMatchObject({
      ssl: { address: '127.0.0.1:10443', ssl: true, proxyProtocol: true },
      realIpFrom: ['127.0.0.1'],
    });
  });

  it('behind the edge HTTP takes the edge header and TLS the PROXY header, both trusted from the edge network only', () => {
    expect(listeners({ http: 80, ssl: 443 }, null, ['10.9.8.0/24'])).toEqual({
      plain: { address: '80', ssl: false, proxyProtocol: false, defaultServer: false },
      ssl: { address: '443', ssl: true, proxyProtocol: true, defaultServer: false },
      realIpFrom: ['10.9.8.0/24'],
      plainRealIpFrom: ['10.9.8.0/24'],
      plainRealIpHeader: 'X-Signalbox-Client-Address',
    });
    // With passthrough the HTTPS servers hear the stream hop on loopback; the stream block takes the edge's header.
    expect(listeners({ http: 80, ssl: 443 }, { tls: 10443, hop: 10444 }, ['10.9.8.0/24'])).toMatchObject({
      plain: { proxyProtocol: false },
      realIpFrom: ['127.0.0.1'],
      plainRealIpFrom: ['10.9.8.0/24'],
    });
  });
});
