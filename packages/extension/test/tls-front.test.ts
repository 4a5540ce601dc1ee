// The contract between the renderer and the proxy agent's TLS front: what the extension writes into the
// routing config behind the edge is what the agent reads back (tlsFrontCertificates, tlsFrontSettings).
import { tlsFrontCertificates, tlsFrontSettings } from '@signalbox/proxy-agent';
import { renderNginxConf } from '../src/render/index.js';
import { loadCase } from './golden/load-cases.js';

describe('TLS front: the certificate map behind the edge', () => {
  it('names every TLS host’s files, and no default when unknown names must be rejected', () => {
    const c = loadCase('edge-tls');
    const text = renderNginxConf(c.model, c.ext, c.options);
    const front = tlsFrontCertificates(text)!;
    expect(Object.fromEntries(front.hosts)).toEqual({
      'a.example.com': { certificate: '/run/secrets/a.example.com.crt', key: '/run/secrets/a.example.com.key' },
      'b.example.com': { certificate: '/run/secrets/b_cert', key: '/run/secrets/b_key' },
      'c.example.com': { certificate: '/run/secrets/a.example.com.crt', key: '/run/secrets/a.example.com.key' },
    });
    expect(front.fallback).toBeNull();
    expect(tlsFrontSettings(text)).toEqual(expect.arrayContaining(['ssl_protocols TLSv1.2 TLSv1.3;', 'keepalive_time 5s;']));
    // The routing nginx terminates no TLS itself any more; it still loads the pairs (nginx -t checks them).
    expect(text).not.toMatch(/listen [^;]* ssl/);
    expect(text).toContain('ssl_certificate "/run/secrets/b_cert";');
  });

  it('gives the default backend’s certificate to names no host matches', () => {
    const c = loadCase('edge-default-backend-tls');
    const front = tlsFrontCertificates(renderNginxConf(c.model, c.ext, c.options))!;
    expect(front.fallback).toEqual({ certificate: '/run/secrets/fallback.example.com.crt', key: '/run/secrets/fallback.example.com.key' });
  });

  it('wildcards, map keywords and upper case reach the agent as names it can match', () => {
    const c = loadCase('edge-tls');
    const vh = c.model.virtualHosts[0]!;
    const model = {
      ...c.model,
      virtualHosts: ['*.Shop.example.com', 'default', 'www.example.*'].map((host) => ({ ...vh, host, tls: { certSecret: 'x_cert', keySecret: 'x_key' } })),
    };
    const front = tlsFrontCertificates(renderNginxConf(model, c.ext, c.options))!;
    expect([...front.hosts.keys()].sort()).toEqual(['*.shop.example.com', 'default', 'www.example.*']);
  });

  it('single hop has no map: the agent starts no front', () => {
    const c = loadCase('tls');
    expect(tlsFrontCertificates(renderNginxConf(c.model, c.ext, c.options))).toBeUndefined();
  });
});
