// Thin wrappers around the nginx binary and /proc; everything nginx-specific that is not
// process supervision lives here.
import { readFile, readdir } from 'node:fs/promises';
import { execa } from 'execa';

/** Same -g the supervisor starts nginx with, so a config that sets `daemon` fails the test too. */
export const FOREGROUND_ARGS = ['-g', 'daemon off;'] as const;

export interface TestResult {
  ok: boolean;
  /** nginx's own words (stderr), trimmed; the failure reason shown in status. */
  output: string;
  /** The test could not finish (timeout, binary missing): says nothing about the config. */
  transient?: boolean;
}

const MAX_REASON = 4000;

export function trimReason(text: string): string {
  const t = text.trim();
  return t.length > MAX_REASON ? `${t.slice(0, MAX_REASON)}…` : t;
}

export async function nginxTest(bin: string, configPath: string, timeoutMs: number): Promise<TestResult> {
  const r = await execa(bin, ['-t', ...FOREGROUND_ARGS, '-c', configPath], {
    reject: false,
    timeout: timeoutMs,
    stdin: 'ignore',
    // access_log /dev/stdout must be openable during the test: give nginx the agent's own stdout
    // (the container's), not a Node pipe, which is a socket that /dev/stdout cannot be opened on.
    stdout: 'inherit',
    forceKillAfterDelay: 1000,
  });
  if (r.timedOut) {
    return { ok: false, transient: true, output: `nginx -t did not finish within ${timeoutMs} ms` };
  }
  if (r.exitCode === undefined) {
    // Spawn failure (e.g. ENOENT) or killed by a signal.
    return { ok: false, transient: true, output: trimReason(r.shortMessage || String(r.stderr)) };
  }
  return { ok: r.exitCode === 0, output: trimReason(String(r.stderr || r.stdout)) };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: exists but not ours; still alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface ProcInfo {
  pid: number;
  cmdline: string;
}

export async function readCmdline(pid: number): Promise<string | undefined> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0/g, ' ').trim();
  } catch {
    return undefined;
  }
}

/**
 * Children of `pid` with their title ("nginx: worker process", "... is shutting down").
 * undefined when /proc cannot tell (not Linux), so callers fall back to weaker checks.
 */
export async function listChildren(pid: number): Promise<ProcInfo[] | undefined> {
  let pids: number[];
  try {
    const raw = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8');
    pids = raw.split(/\s+/).filter(Boolean).map(Number);
  } catch {
    pids = await scanChildren(pid);
    if (pids.length === 0 && !(await procUsable())) return undefined;
  }
  const out: ProcInfo[] = [];
  for (const p of pids) {
    const c = await readCmdline(p);
    if (c !== undefined) out.push({ pid: p, cmdline: c });
  }
  return out;
}

async function procUsable(): Promise<boolean> {
  try {
    await readFile('/proc/self/stat', 'utf8');
    return true;
  } catch {
    return false;
  }
}

// Kernels without CONFIG_PROC_CHILDREN: find children by the ppid field of /proc/*/stat.
async function scanChildren(ppid: number): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = await readFile(`/proc/${e}/stat`, 'utf8');
      // Field 4 follows the parenthesised comm, which may itself contain spaces.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[1]) === ppid) found.push(Number(e));
    } catch {
      // Raced with process exit.
    }
  }
  return found;
}

export function isDraining(p: ProcInfo): boolean {
  return p.cmdline.includes('shutting down');
}
