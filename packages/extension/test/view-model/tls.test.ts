import { defaultBackendCertificate, secretPath, sslCiphers, sslDhparam, sslProtocols } from '../../src/render/tls.js';
import { location, tuning, upstream, vhost } from './fixtures.js';

describe('secretPath', () => {
  it('quotes the file of a secret and rejects names that leave the directory', () => {
    expect(secretPath('/run/secrets/', 'site.crt')).toBe('"/run/secrets/site.crt"');
    expect(() => secretPath('/run/secrets', '..')).toThrow('invalid secret name');
    expect(() => secretPath('/run/secrets', 'a/b')).toThrow('invalid secret name');
  });
});

describe('defaultBackendCertificate', () => {
  it('takes the first TLS host routed to a service of the default backend', () => {
    const db = upstream('db', undefined, { services: ['svc'] });
    const hosts = [
      vhost('a.test', [location('/', upstream('a', undefined, { services: ['svc'] }))]),
      vhost('b.test', [location('/', upstream('b', undefined, { services: ['other'] }))], { tls: { certSecret: 'b', keySecret: 'b' } }),
      vhost('c.test', [location('/', upstream('c', undefined, { services: ['svc'] }))], { tls: { certSecret: 'c', keySecret: 'ck' } }),
    ];
    expect(defaultBackendCertificate(db, hosts)).toEqual({ host: 'c.test', tls: { certSecret: 'c', keySecret: 'ck' } });
    expect(defaultBackendCertificate(db, hosts.slice(0, 2))).toBeUndefined();
  });
});

describe('ssl settings', () => {
  it('normalises SSLProtocols and rejects anything but protocol names', () => {
    expect(sslProtocols('  TLSv1.2   TLSv1.3 ')).toBe('TLSv1.2 TLSv1.3');
    expect(sslProtocols(' ')).toBeNull();
    expect(() => sslProtocols('TLSv1.2; evil')).toThrow('invalid SSLProtocols');
  });

  it('quotes SSLCiphers and leaves out an empty one', () => {
    expect(sslCiphers(' HIGH:!aNULL ')).toBe('"HIGH:!aNULL"');
    expect(sslCiphers('')).toBeNull();
  });

  it('prefers SSLDefaultDHParamPath over the generated parameters, and has none without either', () => {
    expect(sslDhparam(tuning({ SSLDefaultDHParamPath: ' /etc/dh.pem ' }), { secretsDir: '/s', dhparamPath: '/gen.pem' })).toBe('"/etc/dh.pem"');
    expect(sslDhparam(tuning({ SSLDefaultDHParamPath: '' }), { secretsDir: '/s', dhparamPath: '/gen.pem' })).toBe('"/gen.pem"');
    expect(sslDhparam(tuning({ SSLDefaultDHParamPath: '' }), { secretsDir: '/s' })).toBeNull();
  });
});
