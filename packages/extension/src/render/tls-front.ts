// Behind the edge, TLS ends in each routing task's TLS front (a second nginx that never reloads for
// routes), not in the routing nginx: the HTTPS servers listen in plain HTTP on the front's request socket,
// and the certificates also go into one map the agent hands to the front (TLS_CERTIFICATE_MAP, picked by
// SNI). The servers keep their ssl_certificate lines: nginx loads them without an ssl listener too, so
// `nginx -t` (the extension's, and each proxy's) still refuses a pair that does not load or a secret the
// task does not mount, and blames its service. A handshake for a name the map lacks is rejected by the
// front, as ssl_reject_handshake did here.
import { TLS_CERTIFICATE_MAP } from '@signalbox/protocol';
import { RenderError, mapKey, quote } from './quote.js';
import { cmp } from './ordering.js';
import { unknownHost } from './locations.js';
import type { MapView, ServerView } from './view-types.js';

/** The routing proxy's answer to a held host reached with another host's certificate (SNI and Host differ). */
const HELD_HTTPS = { status: 503, body: '"signalbox: the service of this host is not routed\\n"' };

/** A path quoted by quote(): validated, so it holds no quote or backslash to unescape. */
function unquoted(value: string): string {
  if (!/^"[^"\\\s]+"$/.test(value)) throw new RenderError(`internal error: unexpected certificate path ${value}`);
  return value.slice(1, -1);
}

export interface TlsFrontServers {
  /** The servers; rejected handshakes become answers (the front rejects them first). */
  servers: ServerView[];
  /** TLS_CERTIFICATE_MAP: server name → "certificate key", default = the default backend's certificate or "". */
  certificates: MapView;
}

/** Copies the certificates of the (not yet merged) HTTPS servers into the front's map. */
export function withTlsFront(servers: readonly ServerView[]): TlsFrontServers {
  const entries = new Map<string, string>();
  let fallback = '""';
  const out = servers.map((s): ServerView => {
    if (s.tls) {
      const value = quote(`${unquoted(s.tls.certificate)} ${unquoted(s.tls.certificateKey)}`);
      if (s.serverName === null) fallback = value;
      else entries.set(unquoted(s.serverName), value);
      return s;
    }
    if (!s.rejectHandshake) return s;
    // Reached only with another host's certificate (SNI and Host differ): the front rejects the rest.
    const comment = s.comment.replace('TLS handshake rejected', 'answered here when the TLS front accepted another name');
    if (s.serverName === null) return { ...s, comment, rejectHandshake: false, locations: [unknownHost(false)] };
    return { ...s, comment, rejectHandshake: false, returnAll: HELD_HTTPS };
  });
  return {
    servers: out,
    certificates: {
      source: '$ssl_server_name',
      variable: TLS_CERTIFICATE_MAP,
      hostnames: true,
      entries: [...entries.keys()].sort(cmp).map((host) => ({ key: mapKey(host), value: entries.get(host)! })),
      default: fallback,
    },
  };
}
