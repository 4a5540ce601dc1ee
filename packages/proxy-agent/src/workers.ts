// Old nginx workers still finishing requests after a reload: nginx renames them to
// "nginx: worker process is shutting down", children of the master. Read from /proc, as `ps` would.
import { readFileSync, readdirSync } from 'node:fs';

const SHUTTING_DOWN = 'nginx: worker process is shutting down';

/** Children of masterPid whose process title says they are draining; 0 without a master or /proc. */
export function countDrainingWorkers(masterPid: number | undefined, procDir = '/proc'): number {
  if (masterPid === undefined) return 0;
  let entries: string[];
  try {
    entries = readdirSync(procDir);
  } catch {
    return 0;
  }
  let n = 0;
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      // Field 4 of stat is the parent pid; the name in field 2 may hold spaces, so count from its ')'.
      const stat = readFileSync(`${procDir}/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== masterPid) continue;
      const title = readFileSync(`${procDir}/${e}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (title.startsWith(SHUTTING_DOWN)) n++;
    } catch {
      // The process ended while we looked.
    }
  }
  return n;
}
