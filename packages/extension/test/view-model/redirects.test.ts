import { locationTable } from '../../src/render/locations.js';
import { addRedirectLocations, groupRedirects, wholeHostReturn } from '../../src/render/redirects.js';

describe('groupRedirects', () => {
  it('groups by source host into a whole-host redirect (first by target wins) and per-path ones', () => {
    const grouped = groupRedirects([
      { sourceHost: 'old.test', source: 'http://old.test/', target: 'https://b.test/' },
      { sourceHost: 'old.test', source: 'http://old.test', target: 'https://a.test' },
      { sourceHost: 'old.test', source: 'http://old.test/docs/', target: 'https://docs.test' },
    ]);
    expect([...grouped]).toEqual([['old.test', { whole: '"https://a.test$request_uri"', paths: [{ path: '/docs', target: '"https://docs.test$request_uri"' }] }]]);
    expect(wholeHostReturn(grouped.get('old.test'))).toEqual({ status: 302, body: '"https://a.test$request_uri"' });
    expect(wholeHostReturn(undefined)).toBeNull();
  });

  it('rejects a target that is not an http(s) URL and an invalid source', () => {
    expect(() => groupRedirects([{ sourceHost: 'a.test', source: 'http://a.test', target: 'ftp://b.test' }])).toThrow('invalid redirect target');
    expect(() => groupRedirects([{ sourceHost: 'a.test', source: 'not a url', target: 'http://b.test' }])).toThrow('invalid redirect source');
  });
});

describe('addRedirectLocations', () => {
  it('redirects a path and everything under it with a 302', () => {
    const table = locationTable();
    addRedirectLocations(table, { whole: null, paths: [{ path: '/old', target: '"https://n.test$request_uri"' }] });
    expect(table.sorted().map((l) => [l.modifier, l.path, l.kind === 'return' ? l.status : 0])).toEqual([
      ['=', '"/old"', 302],
      ['', '"/old/"', 302],
    ]);
  });
});
