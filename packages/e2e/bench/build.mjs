// Model build time for mixed swarms: N labelled services, half routed over HTTP (the scale benchmark's
// feature mix), half TLS passthrough, spread over owners (stacks) of 10 services each. Pure: no Docker,
// no nginx; compiled JS (@signalbox/model's entry, packages/model/dist). Prints one row per size: median of 5 builds.
// Usage: node packages/e2e/bench/build.mjs [SIZES]   e.g. 1000,10000
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { buildClusterModels } from '@signalbox/model';
import { NET_ID, NET_NAME, service, snapshot, tasksOf } from './synthetic.mjs';

const TARGETS = [{ name: 'default', serviceCluster: '', networks: [] }];

function mixed(n) {
  const http = Math.ceil(n / 2);
  const snap = snapshot(http);
  for (let i = 0; i < n - http; i++) {
    const s = service(http + i, tasksOf(i));
    s.labels = {
      'com.docker.lb.hosts': `pt${i}.scale.test`,
      'com.docker.lb.port': '443',
      'com.docker.lb.network': NET_NAME,
      'com.docker.lb.ssl_passthrough': 'true',
    };
    snap.services.push(s);
  }
  snap.services.forEach((s, i) => (s.labels['com.docker.stack.namespace'] = `team${Math.floor(i / 10)}`));
  if (snap.networks[0].id !== NET_ID) throw new Error('unexpected synthetic network');
  return snap;
}

const sizes = (process.argv[2] ?? '1000,5000,10000').split(',').map(Number);
console.log(
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
// CPU time (user + system) of the build as well as wall time: the machine is shared, and wall time
// under load mostly measures the other processes.
console.log('services  http  passthrough  build median (ms)  min (ms)  CPU median (ms)  routed  rejected');
for (const n of sizes) {
  const snap = mixed(n);
  const times = [];
  const cpu = [];
  let model;
  for (let r = 0; r < 5; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    model = buildClusterModels(snap, TARGETS).get('default');
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  times.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const rejected = model.services.filter((s) => s.status !== 'enabled').length;
  console.log(
    `${String(n).padStart(8)}  ${String(Math.ceil(n / 2)).padStart(4)}  ${String(Math.floor(n / 2)).padStart(11)}  ${times[2].toFixed(0).padStart(17)}  ${times[0].toFixed(0).padStart(8)}  ${cpu[2].toFixed(0).padStart(15)}  ${String(model.services.length - rejected).padStart(6)}  ${String(rejected).padStart(8)}`,
  );
}

// The review's shape (issue 9 case 8): few services with long host lists, half passed through, so
// every passthrough host used to be compared with every HTTP location. 40 + 40 services x 100 hosts.
{
  const snap = mixed(80);
  snap.services.forEach((s, i) => {
    s.labels['com.docker.lb.hosts'] = Array.from({ length: 100 }, (_, h) => `h${h}.s${i}.scale.test`).join(',');
  });
  const times = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    buildClusterModels(snap, TARGETS);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  console.log(`40 HTTP + 40 passthrough services x 100 hosts: build median ${times[2].toFixed(0)} ms, min ${times[0].toFixed(0)} ms`);
}
