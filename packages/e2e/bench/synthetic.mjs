// Synthetic swarm snapshots for the scale benchmark: N labelled services with several tasks each and
// a mix of features (context roots, sticky cookies, ip_hash, TLS with ssl_only, websockets, redirects).
// Deterministic: the same N gives the same snapshot, so figures are comparable between runs.

export const NET_ID = 'net-sbx-perf-scale';
export const NET_NAME = 'sbx-perf-scale';

/** Feature of service i (one in ten of each; the rest plain). */
export function featureOf(i) {
  return ['context-root', 'sticky', 'tls', 'websocket', 'redirect', 'ip-hash', 'plain', 'plain', 'tls-plain', 'plain'][i % 10];
}

function labelsFor(i) {
  const host = `svc${i}.scale.test`;
  const l = { 'com.docker.lb.hosts': host, 'com.docker.lb.port': '8080', 'com.docker.lb.network': NET_NAME };
  switch (featureOf(i)) {
    case 'context-root':
      l['com.docker.lb.context_root'] = '/api';
      l['com.docker.lb.context_root_rewrite'] = 'true';
      break;
    case 'sticky':
      l['com.docker.lb.sticky_session_cookie'] = 'session';
      break;
    case 'tls':
      l['com.docker.lb.ssl_cert'] = `svc${i}.cert`;
      l['com.docker.lb.ssl_key'] = `svc${i}.key`;
      l['com.docker.lb.ssl_only'] = 'true';
      break;
    case 'tls-plain':
      l['com.docker.lb.ssl_cert'] = `svc${i}.cert`;
      l['com.docker.lb.ssl_key'] = `svc${i}.key`;
      break;
    case 'websocket':
      l['com.docker.lb.websocket_endpoints'] = '/ws,/live';
      break;
    case 'redirect':
      l['com.docker.lb.redirects'] = `http://old${i}.scale.test,http://${host}`;
      break;
    case 'ip-hash':
      l['com.docker.lb.ip_hash'] = 'true';
      break;
    default:
      l['com.docker.lb.hosts'] = `${host},www.svc${i}.scale.test`;
  }
  return l;
}

/** Task i.t gets 10.<hi>.<lo>.<t+1>: unique and valid for up to 65 536 services. */
function taskAddr(i, t) {
  return `10.${(i >> 8) & 255}.${i & 255}.${t + 1}`;
}

export function service(i, tasks) {
  return {
    id: `svc-id-${i}`,
    name: `sbx-perf-scale-${i}`,
    labels: labelsFor(i),
    createdAt: new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString(),
    networkIds: [NET_ID],
    endpointMode: 'dnsrr',
    vips: [],
    ports: [],
    tasks: Array.from({ length: tasks }, (_, t) => ({ id: `task-${i}-${t}`, nodeId: 'node-1', slot: t + 1, addresses: [{ networkId: NET_ID, addr: taskAddr(i, t) }] })),
  };
}

/** Tasks per service: 2, 3 or 4 (3 on average). */
export const tasksOf = (i) => 2 + (i % 3);

export function snapshot(n) {
  const services = Array.from({ length: n }, (_, i) => service(i, tasksOf(i)));
  const secrets = [];
  for (let i = 0; i < n; i++) {
    const f = featureOf(i);
    if (f === 'tls' || f === 'tls-plain') secrets.push({ id: `sec-${i}-c`, name: `svc${i}.cert` }, { id: `sec-${i}-k`, name: `svc${i}.key` });
  }
  return {
    services,
    networks: [{ id: NET_ID, name: NET_NAME, driver: 'overlay', scope: 'swarm', attachable: true, ingress: false, labels: {} }],
    secrets,
    nodes: [{ id: 'node-1', hostname: 'node-1', addr: '10.255.0.1', role: 'manager', ready: true }],
  };
}
