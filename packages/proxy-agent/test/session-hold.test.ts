import pino from 'pino';
import { holdSessions } from '../src/session-hold.js';

const log = pino({ level: 'silent' });

function nginx() {
  let exit!: () => void;
  const exited = new Promise<void>((r) => (exit = r));
  return { exited, exit };
}

describe('holdSessions: a stopping routing task keeps its sessions only while another routing task serves', () => {
  it('ends them past afterMs once no other routing task serves, not before', async () => {
    const n = nginx();
    let ended = 0;
    let others = true;
    const t0 = Date.now();
    const endedAt: number[] = [];
    const hold = holdSessions({
      afterMs: 150,
      othersServe: async () => others,
      exited: n.exited,
      end: () => {
        ended++;
        endedAt.push(Date.now() - t0);
        n.exit();
      },
      connectionsLeft: async () => 2,
      log,
      pollMs: 20,
    });
    await new Promise((r) => setTimeout(r, 300));
    // Past afterMs, but another task serves: still held.
    expect(ended).toBe(0);
    others = false;
    await expect(hold).resolves.toBe(true);
    expect(ended).toBe(1);
    expect(endedAt[0]).toBeGreaterThanOrEqual(300);
  });

  it('never ends them before afterMs, even with nobody else serving', async () => {
    const n = nginx();
    let endedAt = -1;
    const t0 = Date.now();
    await holdSessions({
      afterMs: 200,
      othersServe: async () => false,
      exited: n.exited,
      end: () => {
        endedAt = Date.now() - t0;
        n.exit();
      },
      connectionsLeft: async () => 1,
      log,
      pollMs: 20,
    });
    expect(endedAt).toBeGreaterThanOrEqual(195);
  });

  it('does nothing when nginx exits on its own (the sessions ended)', async () => {
    const n = nginx();
    let ended = false;
    const hold = holdSessions({
      afterMs: 50,
      othersServe: async () => true,
      exited: n.exited,
      end: () => (ended = true),
      connectionsLeft: async () => 0,
      log,
      pollMs: 20,
    });
    setTimeout(() => n.exit(), 120);
    await expect(hold).resolves.toBe(false);
    expect(ended).toBe(false);
  });
});
