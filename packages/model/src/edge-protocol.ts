// What the edge and the routing proxies agree on (ProxyEdge): the edge's L7 HTTP port sends each
// request's client address in this header; the routing proxies trust it only from the edge network
// (realip) and never pass it on to apps.
export const EDGE_CLIENT_ADDRESS_HEADER = 'X-Signalbox-Client-Address';
