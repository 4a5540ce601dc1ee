import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Installer, sha256Hex } from '../src/installer.js';
import { ConfigPersistence } from '../src/persist.js';
import { FakeRunner, makeTempDir, silentLogger } from './helpers.js';

const B = 'events {}\nhttp { server { return 200 "B"; } }\n';
const C = 'events {}\nhttp { server { return 200 "C"; } }\n';
const D = 'events {}\nhttp { server { return 200 "D"; } }\n';
const BUILTIN = { bytes: Buffer.from('events {}\n'), configName: 'builtin' };

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await makeTempDir('sb-persist-')));
afterEach(() => cleanup());

/** One proxy task on this node: a fresh container dir, the node's state volume, a mounted bootstrap. */
async function startTask(n: number, bootstrap: string | undefined) {
  const cdir = join(dir, `container-${n}`);
  mkdirSync(join(cdir, 'run'), { recursive: true });
  const bootstrapPath = join(cdir, 'run', 'bootstrap.conf');
  if (bootstrap !== undefined) writeFileSync(bootstrapPath, bootstrap);
  const configPath = join(cdir, 'nginx.conf');
  const persistence = new ConfigPersistence(join(dir, 'volume'), silentLogger);
  const installer = new Installer({ configPath, runner: new FakeRunner(configPath), logger: silentLogger, onInstalled: (b, i) => persistence.save(b, i) });
  const saved = await persistence.load(sha256Hex);
  const bootSha = bootstrap === undefined ? undefined : sha256Hex(Buffer.from(bootstrap));
  const preferred = saved !== undefined && persistence.persistedFirst(bootSha);
  if (bootSha) persistence.noteSeen(bootSha);
  await installer.initialize({
    bootstrapPath,
    bootstrapConfigName: 'boot',
    builtin: BUILTIN,
    ...(saved ? { persisted: { bytes: saved.bytes, configName: saved.configName, source: saved.source, preferred } } : {}),
  });
  return { installer, persistence };
}
const sha = (t: string) => sha256Hex(Buffer.from(t));

test('a restarted task starts from the newest config the node installed, not from the older bootstrap of its spec', async () => {
  const first = await startTask(1, B);
  expect(first.installer.installed?.sha256).toBe(sha(B));
  await first.installer.submit({ bytes: Buffer.from(C), configName: 'cfg-c', source: 'extension' });
  expect(first.installer.installed?.sha256).toBe(sha(C));
  // Killed; swarm starts the same spec again (bootstrap B), core and extension down.
  const second = await startTask(2, B);
  expect(second.installer.installed).toMatchObject({ sha256: sha(C), configName: 'cfg-c', source: 'extension' });
});

test('a bootstrap the node never ran (a roll after its last install) goes first', async () => {
  const first = await startTask(1, B);
  await first.installer.submit({ bytes: Buffer.from(C), configName: 'cfg-c', source: 'extension' });
  const rolled = await startTask(2, D);
  expect(rolled.installer.installed?.sha256).toBe(sha(D));
  // ... and once it ran, a later restart with that same bootstrap keeps anything newer.
  await rolled.installer.submit({ bytes: Buffer.from(B), configName: 'cfg-b2', source: 'extension' });
  expect((await startTask(3, D)).installer.installed?.sha256).toBe(sha(B));
});

test('no bootstrap mounted: the persisted config, not the built-in one', async () => {
  const first = await startTask(1, undefined);
  expect(first.installer.installed?.configName).toBe('builtin');
  await first.installer.submit({ bytes: Buffer.from(C), configName: 'cfg-c', source: 'extension' });
  expect((await startTask(2, undefined)).installer.installed?.sha256).toBe(sha(C));
});

test('a persisted config whose bytes do not match its state is not used', async () => {
  const first = await startTask(1, B);
  await first.installer.submit({ bytes: Buffer.from(C), configName: 'cfg-c', source: 'extension' });
  writeFileSync(join(dir, 'volume', 'nginx.conf'), 'events {}\n# torn write\n');
  expect(await new ConfigPersistence(join(dir, 'volume'), silentLogger).load(sha256Hex)).toBeUndefined();
  expect((await startTask(2, B)).installer.installed?.sha256).toBe(sha(B));
});
