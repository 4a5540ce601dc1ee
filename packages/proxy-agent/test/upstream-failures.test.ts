// nginx's own error lines (as 1.22–1.26 write them) become failures per server.
import { UpstreamFailures } from '../src/upstream-failures.js';

const refused = (addr: string) =>
  `2026/11/30 07:00:00 [error] 31#31: *5 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.2, server: web.test, request: "GET / HTTP/1.1", upstream: "http://${addr}/", host: "web.test"\n`;

test('counts failures per server, recent within the window, from lines split across chunks', () => {
  let now = 1_000_000;
  const f = new UpstreamFailures(60_000, 1000, () => now);
  const line = refused('10.0.1.5:80');
  f.feed(line.slice(0, 50));
  f.feed(line.slice(50) + refused('10.0.1.6:80'));
  f.feed(
    '2026/11/30 07:00:01 [error] 31#31: *7 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 10.0.0.2, server: web.test, request: "GET /a HTTP/1.1", upstream: "http://10.0.1.5:80/a", host: "web.test"\n',
  );
  // Not a server: the upstream block's name; and an unrelated line.
  f.feed(
    '2026/11/30 07:00:02 [error] 31#31: *9 no live upstreams while connecting to upstream, client: 10.0.0.2, server: web.test, request: "GET / HTTP/1.1", upstream: "http://u_ab12_web.test/", host: "web.test"\n',
  );
  f.feed('2026/11/30 07:00:03 [notice] 1#1: signal process started\n');
  let list = f.list();
  expect(list.map((x) => [x.server, x.recent, x.total])).toEqual([
    ['10.0.1.5:80', 2, 2],
    ['10.0.1.6:80', 1, 1],
  ]);
  expect(list[0]!.lastError).toBe('upstream timed out (110: Connection timed out) while reading response header from upstream');
  now += 61_000;
  list = f.list();
  expect(list.map((x) => x.recent)).toEqual([0, 0]);
  expect(list[0]!.total).toBe(2);
});

test('keeps a bounded number of servers', () => {
  const f = new UpstreamFailures(60_000, 2);
  f.feed(refused('10.0.0.1:80') + refused('10.0.0.2:80') + refused('10.0.0.3:80'));
  expect(
    f
      .list()
      .map((x) => x.server)
      .sort(),
  ).toEqual(['10.0.0.2:80', '10.0.0.3:80']);
});
