import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Installer, commit, metaPath, sha256Hex, writeAtomic, writeTemp, type Candidate } from '../src/installer.js';
import { FakeRunner, gate, makeTempDir, readOrNull, silentLogger } from './helpers.js';

const A = 'events {}\nhttp { server { return 200 "A"; } }\n';
const B = 'events {}\nhttp { server { return 200 "B"; } }\n';
const C = 'events {}\nhttp { server { return 200 "C"; } }\n';
const BAD = 'events {}\nbogus_directive;\n';

const cand = (text: string, source: Candidate['source'] = 'extension', configName = 'cfg'): Candidate => ({
  bytes: Buffer.from(text),
  configName,
  source,
});

let dir: string;
let cleanup: () => Promise<void>;
let configPath: string;
let bootstrapPath: string;
let runner: FakeRunner;
let installer: Installer;

function newInstaller(): Installer {
  return new Installer({ configPath, runner, logger: silentLogger });
}

/** An installer that has A installed (via the built-in route) and a clean event log. */
async function withInstalledA(): Promise<void> {
  await installer.initialize({ bootstrapPath, bootstrapConfigName: '', builtin: { bytes: Buffer.from(A), configName: 'builtin' } });
  expect(installer.installed?.sha256).toBe(sha256Hex(Buffer.from(A)));
  runner.events = [];
}

/** Files in the config dir other than the config and our metadata: leftovers. */
function strayFiles(): string[] {
  return readdirSync(dir).filter((f) => f !== 'nginx.conf' && f !== '.nginx.conf.signalbox.json' && f !== 'boot');
}

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
  configPath = join(dir, 'nginx.conf');
  bootstrapPath = join(dir, 'boot', 'bootstrap.conf');
  runner = new FakeRunner(configPath);
  installer = newInstaller();
});
afterEach(() => cleanup());

describe('steps', () => {
  it('writeTemp writes beside the target and commit renames it over', async () => {
    writeFileSync(configPath, A);
    const tmp = await writeTemp(configPath, Buffer.from(B));
    expect(tmp.startsWith(dir + '/')).toBe(true);
    expect(tmp).not.toBe(configPath);
    expect(readFileSync(tmp, 'utf8')).toBe(B);
    expect(readFileSync(configPath, 'utf8')).toBe(A);
    await commit(tmp, configPath);
    expect(readFileSync(configPath, 'utf8')).toBe(B);
    expect(existsSync(tmp)).toBe(false);
  });

  it('writeAtomic leaves no temp file behind', async () => {
    await writeAtomic(configPath, Buffer.from(C));
    expect(readFileSync(configPath, 'utf8')).toBe(C);
    expect(readdirSync(dir)).toEqual(['nginx.conf']);
  });
});

describe('install', () => {
  it('writes a temp file, tests it, renames it over configPath, then reloads — in that order', async () => {
    await withInstalledA();
    const out = await installer.submit(cand(B, 'extension', 'signalbox-nginx-abc'));
    expect(out).toEqual({ status: 'installed', sha256: sha256Hex(Buffer.from(B)) });

    expect(runner.events.map((e) => e.op)).toEqual(['test', 'reload']);
    const [test, reload] = runner.events;
    if (test?.op !== 'test' || reload?.op !== 'reload') throw new Error('unexpected events');
    expect(test.path).not.toBe(configPath);
    expect(test.path.startsWith(dir + '/')).toBe(true);
    expect(test.bytes).toBe(B);
    expect(test.configAtTest).toBe(A); // not renamed before the test passed
    expect(reload.configAtReload).toBe(B); // renamed before the reload
    expect(existsSync(test.path)).toBe(false);
    expect(strayFiles()).toEqual([]);

    expect(installer.installed).toMatchObject({ sha256: sha256Hex(Buffer.from(B)), configName: 'signalbox-nginx-abc', source: 'extension' });
    expect(installer.reloads).toBe(2); // A's install reloaded too
    expect(installer.lastReloadAt).toBeInstanceOf(Date);
    expect(JSON.parse(readFileSync(metaPath(configPath), 'utf8'))).toMatchObject({ sha256: sha256Hex(Buffer.from(B)), configName: 'signalbox-nginx-abc' });
  });

  it("keeps the old file and records nginx's stderr when validation fails", async () => {
    await withInstalledA();
    const out = await installer.submit(cand(BAD, 'extension', 'signalbox-nginx-bad'));
    expect(out.status).toBe('failed');
    expect(readFileSync(configPath, 'utf8')).toBe(A);
    expect(runner.events.map((e) => e.op)).toEqual(['test']); // no reload
    expect(strayFiles()).toEqual([]);
    expect(installer.installed?.sha256).toBe(sha256Hex(Buffer.from(A)));
    expect(installer.failures).toBe(1);
    expect(installer.lastFailure).toMatchObject({
      sha256: sha256Hex(Buffer.from(BAD)),
      configName: 'signalbox-nginx-bad',
      source: 'extension',
      reason: 'nginx: [emerg] unknown directive "bogus_directive" in /x.conf:1\nnginx: configuration file /x.conf test failed',
    });
  });

  it('does not re-validate bytes that already failed', async () => {
    await withInstalledA();
    await installer.submit(cand(BAD));
    const again = await installer.submit(cand(BAD));
    expect(again).toMatchObject({ status: 'failed', repeated: true });
    expect(runner.tests).toEqual([BAD]);
    expect(installer.failures).toBe(1);
  });

  it('remembers at most 32 failed configs, forgetting the oldest first', async () => {
    await withInstalledA();
    const bads = Array.from({ length: 33 }, (_, i) => `${BAD}# ${i}\n`);
    for (const bad of bads) expect((await installer.submit(cand(bad))).repeated).toBeUndefined();
    // The 33rd pushed the first out: it is tested again; the second is still known.
    expect(await installer.submit(cand(bads[1]!))).toMatchObject({ status: 'failed', repeated: true });
    expect(await installer.submit(cand(bads[0]!))).toMatchObject({ status: 'failed' });
    expect(runner.tests).toEqual([...bads, bads[0]]);
  });

  it('re-tests bytes whose test only timed out', async () => {
    await withInstalledA();
    runner.verdict = () => ({ ok: false, transient: true, output: 'nginx -t did not finish within 10000 ms' });
    expect((await installer.submit(cand(B))).status).toBe('failed');
    runner.verdict = () => ({ ok: true, output: '' });
    expect((await installer.submit(cand(B))).status).toBe('installed');
    expect(runner.tests).toEqual([B, B]);
  });

  it('skips a candidate identical to the installed config without touching the file', async () => {
    await withInstalledA();
    const out = await installer.submit(cand(A));
    expect(out.status).toBe('unchanged');
    expect(runner.events).toEqual([]);
    expect(installer.reloads).toBe(1);
  });

  it('puts the old bytes back when the reload is not confirmed', async () => {
    await withInstalledA();
    runner.reloadResult = { ok: false, reason: 'nginx started no new workers' };
    const out = await installer.submit(cand(B));
    expect(out).toMatchObject({ status: 'failed', reason: 'nginx started no new workers' });
    expect(readFileSync(configPath, 'utf8')).toBe(A);
    expect(installer.installed?.sha256).toBe(sha256Hex(Buffer.from(A)));
    expect(installer.lastFailure?.reason).toBe('nginx started no new workers');
  });

  it('does not count a deferred reload (nginx not running) as a reload', async () => {
    runner.reloadResult = { ok: true, deferred: true };
    await withInstalledA();
    expect(installer.reloads).toBe(0);
    expect(installer.lastReloadAt).toBeUndefined();
  });

  it('serializes installs; a newer candidate supersedes a queued one from the same source', async () => {
    await withInstalledA();
    const hold = gate();
    runner.holdTest = hold.promise;
    const p1 = installer.submit(cand(B));
    await new Promise((r) => setTimeout(r, 20)); // p1 is now inside nginx -t
    const p2 = installer.submit(cand(C));
    const p3 = installer.submit(cand(A.replace('A', 'D')));
    const pFile = installer.checkFile(); // another lane: not superseded by extension candidates
    expect(await p2).toEqual({ status: 'superseded' });
    runner.holdTest = undefined;
    hold.open();
    expect((await p1).status).toBe('installed');
    expect((await p3).status).toBe('installed');
    expect((await pFile).status).toBe('unchanged'); // the file holds what we installed
    // Never two tests at once, and C was never tested.
    expect(runner.events.map((e) => (e.op === 'test' ? `test:${e.bytes.match(/"(.)"/)?.[1]}` : 'reload'))).toEqual(['test:B', 'reload', 'test:D', 'reload']);
    expect(readFileSync(configPath, 'utf8')).toBe(A.replace('A', 'D'));
    await installer.idle();
  });
});

describe('file route (checkFile)', () => {
  it('ignores its own writes', async () => {
    await withInstalledA();
    expect(await installer.checkFile()).toEqual({ status: 'unchanged', sha256: sha256Hex(Buffer.from(A)) });
    expect(runner.events).toEqual([]);
  });

  it('adopts a valid file placed at configPath', async () => {
    await withInstalledA();
    writeFileSync(configPath, B);
    expect((await installer.checkFile()).status).toBe('installed');
    expect(installer.installed).toMatchObject({ sha256: sha256Hex(Buffer.from(B)), source: 'file' });
    expect(readFileSync(configPath, 'utf8')).toBe(B);
  });

  it('writes the last good bytes back over an invalid file', async () => {
    await withInstalledA();
    writeFileSync(configPath, BAD);
    const out = await installer.checkFile();
    expect(out.status).toBe('failed');
    expect(readFileSync(configPath, 'utf8')).toBe(A);
    expect(installer.lastFailure).toMatchObject({ source: 'file', sha256: sha256Hex(Buffer.from(BAD)) });
    expect(runner.events.map((e) => e.op)).toEqual(['test']);
    // The same bad bytes again: restored without another nginx -t.
    writeFileSync(configPath, BAD);
    await installer.checkFile();
    expect(readFileSync(configPath, 'utf8')).toBe(A);
    expect(runner.tests).toEqual([BAD]);
  });

  it('restores a deleted config', async () => {
    await withInstalledA();
    unlinkSync(configPath);
    expect((await installer.checkFile()).status).toBe('restored');
    expect(readFileSync(configPath, 'utf8')).toBe(A);
  });

  it('ensureOnDisk rewrites configPath only when it differs from the last good bytes', async () => {
    await withInstalledA();
    expect((await installer.ensureOnDisk()).status).toBe('unchanged');
    writeFileSync(configPath, 'garbage');
    expect((await installer.ensureOnDisk()).status).toBe('restored');
    expect(readFileSync(configPath, 'utf8')).toBe(A);
  });
});

describe('initialize', () => {
  const builtin = { bytes: Buffer.from(C), configName: 'signalbox-builtin' };
  const init = () => installer.initialize({ bootstrapPath, bootstrapConfigName: 'signalbox-nginx-1', builtin });
  const writeBootstrap = (text: string) => {
    writeAtomicSync(bootstrapPath, text);
  };

  it('installs the bootstrap when configPath is missing', async () => {
    writeBootstrap(B);
    expect((await init()).status).toBe('installed');
    expect(installer.installed).toMatchObject({ source: 'bootstrap', configName: 'signalbox-nginx-1' });
    expect(readFileSync(configPath, 'utf8')).toBe(B);
  });

  it('falls back to the built-in config when the bootstrap is invalid', async () => {
    writeBootstrap(BAD);
    expect((await init()).status).toBe('installed');
    expect(installer.installed).toMatchObject({ source: 'builtin', configName: 'signalbox-builtin' });
    expect(readFileSync(configPath, 'utf8')).toBe(C);
    expect(installer.lastFailure?.source).toBe('bootstrap');
  });

  it('a bootstrap refused at start is tested again when the same bytes come from the extension (its ACME files may be missing only at start)', async () => {
    const ACME = 'events {}\nhttp { server { ssl_certificate /dev/shm/signalbox-acme/acme-1.crt; } }\n';
    writeBootstrap(ACME);
    let filesThere = false;
    runner.verdict = (bytes) =>
      bytes.includes('acme-1.crt') && !filesThere ? { ok: false, output: 'nginx: [emerg] cannot load certificate "/dev/shm/signalbox-acme/acme-1.crt"' } : { ok: true, output: '' };
    await init();
    expect(installer.installed?.source).toBe('builtin');
    filesThere = true; // the agent fetched them once the extension answered
    const out = await installer.submit(cand(ACME));
    expect(out.status).toBe('installed');
    expect(readFileSync(configPath, 'utf8')).toBe(ACME);
  });

  it('falls back to the built-in config when configPath is invalid and there is no bootstrap', async () => {
    writeFileSync(configPath, BAD);
    await init();
    expect(installer.installed?.source).toBe('builtin');
    expect(readFileSync(configPath, 'utf8')).toBe(C);
  });

  it('keeps a config it installed itself before a restart, without rewriting it', async () => {
    await withInstalledA();
    await installer.submit(cand(B, 'extension', 'signalbox-nginx-7'));
    writeBootstrap(C);
    runner = new FakeRunner(configPath);
    installer = newInstaller();
    await init();
    expect(installer.installed).toMatchObject({ sha256: sha256Hex(Buffer.from(B)), source: 'extension', configName: 'signalbox-nginx-7' });
    expect(runner.events.map((e) => e.op)).toEqual(['test']); // tested in place, not reloaded
    expect(readOrNull(configPath)).toBe(B);
  });

  it('falls back to the bootstrap when its own config no longer passes nginx -t after a restart', async () => {
    // E.g. a config naming ACME files on tmpfs, which a container restart empties.
    await withInstalledA();
    await installer.submit(cand(B, 'extension', 'signalbox-nginx-7'));
    writeBootstrap(C);
    runner = new FakeRunner(configPath);
    runner.verdict = (bytes) => (bytes === B ? { ok: false, output: 'nginx: [emerg] cannot load certificate' } : { ok: true, output: '' });
    installer = newInstaller();
    expect(await init()).toMatchObject({ status: 'installed', sha256: sha256Hex(Buffer.from(C)) });
    expect(installer.installed).toMatchObject({ source: 'bootstrap', configName: 'signalbox-nginx-1' });
    expect(readOrNull(configPath)).toBe(C);
  });

  it('prefers the bootstrap over a foreign config (the image default) at configPath', async () => {
    writeFileSync(configPath, A);
    writeBootstrap(B);
    await init();
    expect(installer.installed?.source).toBe('bootstrap');
    expect(readFileSync(configPath, 'utf8')).toBe(B);
  });

  it('uses a valid foreign config when there is no bootstrap', async () => {
    writeFileSync(configPath, A);
    await init();
    expect(installer.installed).toMatchObject({ source: 'file', sha256: sha256Hex(Buffer.from(A)) });
    expect(runner.events.map((e) => e.op)).toEqual(['test']);
  });

  it("boots into the extension's config fetched at start, before the node's saved one: one nginx -t, no other tried", async () => {
    writeBootstrap(B);
    const persisted = { bytes: Buffer.from(A), configName: 'signalbox-nginx-6', source: 'extension' as const, preferred: true };
    const out = await installer.initialize({ bootstrapPath, bootstrapConfigName: 'signalbox-nginx-1', builtin, persisted, fresh: cand(C, 'extension', 'signalbox-nginx-8') });
    expect(out).toMatchObject({ status: 'installed', sha256: sha256Hex(Buffer.from(C)) });
    expect(installer.installed).toMatchObject({ source: 'extension', configName: 'signalbox-nginx-8' });
    expect(runner.events.map((e) => e.op)).toEqual(['test', 'reload']);
    expect(readFileSync(configPath, 'utf8')).toBe(C);
  });

  it("checks the certificates of the extension's config at start (unlike the saved one), and boots from the saved one when it is refused", async () => {
    const refusing = new Installer({
      configPath,
      runner,
      logger: silentLogger,
      checkCandidate: async (c) => (c.bytes.toString() === C ? { reason: 'certificate web.crt has expired', certificates: [] } : undefined),
    });
    const persisted = { bytes: Buffer.from(A), configName: 'signalbox-nginx-6', source: 'extension' as const, preferred: true };
    const out = await refusing.initialize({ bootstrapPath, bootstrapConfigName: 'signalbox-nginx-1', builtin, persisted, fresh: cand(C) });
    expect(out).toMatchObject({ status: 'installed', sha256: sha256Hex(Buffer.from(A)) });
    expect(refusing.lastFailure).toMatchObject({ source: 'extension', reason: 'certificate web.crt has expired' });
    // Not remembered as known bad: the long-poll brings it again, and it is refused (and reported) then.
    expect(await refusing.submit(cand(C))).toMatchObject({ status: 'failed', reason: 'certificate web.crt has expired' });
    expect((await refusing.submit(cand(C))).repeated).toBe(true);
  });

  it("falls back to the saved config when the extension's config fails nginx -t at start", async () => {
    runner.verdict = (bytes) => (bytes === C ? { ok: false, output: 'nginx: [emerg] unknown directive' } : { ok: true, output: '' });
    const persisted = { bytes: Buffer.from(A), configName: 'signalbox-nginx-6', source: 'extension' as const, preferred: true };
    await installer.initialize({ bootstrapPath, bootstrapConfigName: 'signalbox-nginx-1', builtin, persisted, fresh: cand(C) });
    expect(installer.installed).toMatchObject({ sha256: sha256Hex(Buffer.from(A)), configName: 'signalbox-nginx-6' });
    expect(readFileSync(configPath, 'utf8')).toBe(A);
  });

  it('installs nothing, without throwing, when even the built-in config fails', async () => {
    runner.verdict = () => ({ ok: false, output: 'nginx: [emerg] open() "/run/x.pid" failed' });
    const out = await init();
    expect(out.status).toBe('failed');
    expect(installer.installed).toBeUndefined();
    expect(installer.lastFailure?.source).toBe('builtin');
  });
});

describe('checkBootstrap', () => {
  it('replaces the built-in config but never a config from the extension', async () => {
    await withInstalledA(); // installed as 'builtin'
    writeAtomicSync(bootstrapPath, B);
    expect((await installer.checkBootstrap(bootstrapPath, 'n')).status).toBe('installed');
    await installer.submit(cand(C));
    writeAtomicSync(bootstrapPath, A);
    expect((await installer.checkBootstrap(bootstrapPath, 'n')).status).toBe('ignored');
    expect(readFileSync(configPath, 'utf8')).toBe(C);
  });
});

function writeAtomicSync(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}
