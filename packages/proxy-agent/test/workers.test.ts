// Draining workers are counted from a /proc-shaped directory: children of the master whose title
// nginx changed to "worker process is shutting down".
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countDrainingWorkers } from '../src/workers.js';

let proc: string;
function task(pid: number, ppid: number, title: string, comm = 'nginx'): void {
  mkdirSync(join(proc, String(pid)));
  writeFileSync(join(proc, String(pid), 'stat'), `${pid} (${comm}) S ${ppid} ${pid} ${pid} 0 -1 4194624`);
  writeFileSync(join(proc, String(pid), 'cmdline'), `${title}\0\0\0`);
}

beforeAll(() => {
  proc = mkdtempSync(join(tmpdir(), 'sbx-proc-'));
  task(10, 1, 'nginx: master process nginx -c /etc/nginx/nginx.conf');
  task(11, 10, 'nginx: worker process is shutting down');
  task(12, 10, 'nginx: worker process is shutting down');
  task(13, 10, 'nginx: worker process');
  task(14, 10, 'nginx: cache manager process');
  task(21, 20, 'nginx: worker process is shutting down'); // another master's
  task(30, 10, 'odd) name', 'we (ird) na)me');
  writeFileSync(join(proc, 'self'), '');
});
afterAll(() => rmSync(proc, { recursive: true, force: true }));

test('counts only the shutting-down children of this master', () => {
  expect(countDrainingWorkers(10, proc)).toBe(2);
  expect(countDrainingWorkers(20, proc)).toBe(1);
  expect(countDrainingWorkers(13, proc)).toBe(0);
});

test('no master or no /proc: none', () => {
  expect(countDrainingWorkers(undefined, proc)).toBe(0);
  expect(countDrainingWorkers(10, join(proc, 'missing'))).toBe(0);
});
