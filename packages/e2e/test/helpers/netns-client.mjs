// An HTTP client that runs inside a network namespace (started by helpers/multinode.ts with
// `nsenter --net=… node netns-client.mjs`), so test traffic comes from a client of its own and not
// from the host. One JSON request per stdin line, one JSON answer per stdout line:
//   {"id":1,"op":"get","addr":"10.213.0.21","port":8080,"host":"a.test","path":"/","timeoutMs":3000}
//     → {"id":1,"status":200,"task":"3f87fde1448e","upstream":"10.214.1.5:80","ms":4}
//       (task: X-Demo-Task, upstream: the proxy's X-Upstream-Addr; status 0 and "error" when it failed)
//   {"id":2,"op":"load","targets":[{"addr":…,"port":…}],"host":"a.test","intervalMs":20,"timeoutMs":5000}
//     → {"id":2}  then requests run, round robin over the targets, until
//   {"id":3,"op":"stop","load":2}
//     → {"id":3,"ok":N,"failed":[{"at":epochMs,"target":"addr:port","status":502,"error":…}],"tasks":{"addr:port":{"task":count}},"first":epochMs,"last":epochMs}
// "tls":true in a get or a load: HTTPS with SNI = host, any certificate accepted (a new connection each time).
import http from 'node:http';
import https from 'node:https';
import readline from 'node:readline';

function get({ addr, port, host, path = '/', timeoutMs = 3000, tls = false }) {
  const start = Date.now();
  return new Promise((resolve) => {
    const mod = tls ? https : http;
    const opts = { host: addr, port, path, method: 'GET', headers: { host }, agent: false, timeout: timeoutMs, ...(tls ? { servername: host, rejectUnauthorized: false } : {}) };
    const req = mod.request(opts, (res) => {
      res.resume();
      res.on('end', () => {
        const task = res.headers['x-demo-task'];
        const upstream = res.headers['x-upstream-addr'];
        resolve({
          status: res.statusCode ?? 0,
          task: typeof task === 'string' ? task : undefined,
          upstream: typeof upstream === 'string' ? upstream : undefined,
          ms: Date.now() - start,
        });
      });
      res.on('error', (e) => resolve({ status: 0, error: e.message, ms: Date.now() - start }));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', (e) => resolve({ status: 0, error: e.message, ms: Date.now() - start }));
    req.end();
  });
}

const loads = new Map();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function startLoad(id, { targets, host, path = '/', intervalMs = 20, timeoutMs = 5000, tls = false }) {
  const state = { stop: false, ok: 0, failed: [], tasks: {}, first: Date.now(), last: 0 };
  state.done = (async () => {
    for (let i = 0; !state.stop; i++) {
      const t = targets[i % targets.length];
      const key = `${t.addr}:${t.port}`;
      const at = Date.now();
      const r = await get({ addr: t.addr, port: t.port, host, path, timeoutMs, tls });
      if (r.status === 200) {
        state.ok++;
        const byTask = (state.tasks[key] ??= {});
        if (r.task) byTask[r.task] = (byTask[r.task] ?? 0) + 1;
      } else {
        state.failed.push({ at, target: key, status: r.status, ...(r.error ? { error: r.error } : {}) });
      }
      state.last = Date.now();
      await sleep(intervalMs);
    }
  })();
  loads.set(id, state);
}

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  const msg = JSON.parse(line);
  try {
    if (msg.op === 'get') out({ id: msg.id, ...(await get(msg)) });
    else if (msg.op === 'load') {
      startLoad(msg.id, msg);
      out({ id: msg.id });
    } else if (msg.op === 'stop') {
      const s = loads.get(msg.load);
      if (!s) throw new Error(`no load ${msg.load}`);
      s.stop = true;
      await s.done;
      loads.delete(msg.load);
      out({ id: msg.id, ok: s.ok, failed: s.failed, tasks: s.tasks, first: s.first, last: s.last });
    } else throw new Error(`unknown op ${msg.op}`);
  } catch (e) {
    out({ id: msg.id, error: String(e?.message ?? e) });
  }
});
rl.on('close', () => process.exit(0));
