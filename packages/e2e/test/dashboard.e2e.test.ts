// The dashboard in a real browser (Debian's chromium, driven by playwright-core) against the running
// stack: the URL `signalbox dashboard` prints opens it; a routed service appears; a service with a bad
// label shows its code and message; a scale change updates the server count without a page reload;
// the page works at phone width; with core unreachable or without a token it says so. Screenshots of
// the run go to docs/img/.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jest } from '@jest/globals';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { PROXY_SERVICE, createDemoService, docker, ensureNetwork, get, removeNetwork, removeService, run, scaleService, waitFor } from './helpers/swarm.js';

jest.setTimeout(300_000);

const IMG = fileURLToPath(new URL('../../../docs/img/', import.meta.url));
const NET = 'sbx-dash-net';
const GOOD = 'sbx-dash-web';
const GOOD_HOST = 'web.dash.test';
const BAD = 'sbx-dash-bad';
const BROKEN = 'sbx-dash-broken';
const BROKEN_HOST = 'broken.dash.test';
const P = 'com.docker.lb.';

let profile: string;
let context: BrowserContext;
let url: string;

/** GET a dashboard API path with the token from the printed URL. */
async function api<T>(path: string): Promise<T> {
  const res = await fetch(new URL(path, url), {
    headers: { authorization: `Bearer ${new URL(url).hash.replace('#token=', '')}` },
  });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

type Proxies = {
  proxies: { task: string; state: string; config: string | null; sha256: string | null }[];
  extensions: { serving: string | null; servingSha256: string | null }[];
};

/**
 * Every proxy task answers and runs the config the extension serves (a network change rolls the proxy),
 * by content: a new task keeps the name it installed the held routes under (`+new-tasks`) once they are
 * published, with the same bytes (this wait timed out on the name, 2 Dec).
 */
async function proxiesSettled(): Promise<void> {
  await waitFor(
    'every proxy task ok on the served config',
    async () => {
      const p = await api<Proxies>('/v1/dashboard/proxies');
      const served = p.extensions[0];
      if (p.proxies.length > 0 && p.proxies.every((x) => x.state === 'ok' && x.sha256 !== null && x.sha256 === served?.servingSha256)) return true;
      // What the dashboard shows, in the timeout's message.
      throw new Error(`extension serves ${served?.serving} (${served?.servingSha256}); proxies: ${p.proxies.map((x) => `${x.task} ${x.state} ${x.config} (${x.sha256})`).join(', ') || 'none'}`);
    },
    90_000,
    500,
  );
}

async function openPage(viewport = { width: 1280, height: 860 }): Promise<Page> {
  const page = await context.newPage();
  await page.setViewportSize(viewport);
  return page;
}

beforeAll(async () => {
  await ensureNetwork(NET);
  // The command an operator runs: it prints the URL with the token for this machine.
  const cli = await run('node', ['packages/cli/dist/main.js', 'dashboard']);
  expect(cli.stderr).toBe('');
  expect(cli.code).toBe(0);
  url = cli.stdout.trim();
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#token=[^&\s]+$/);
  await waitFor('the dashboard to answer', async () => (await fetch(new URL('/v1/health', url))).ok, 60_000, 500);
  mkdirSync(IMG, { recursive: true });
  profile = mkdtempSync(join(tmpdir(), 'sbx-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

afterAll(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await removeService(GOOD);
  await removeService(BAD);
  await removeService(BROKEN);
  // The proxy lets go of the network once no routed service needs it; a network left behind fails the file.
  await waitFor(`network ${NET} removed`, () => removeNetwork(NET), 120_000, 1000);
});

test('the printed URL opens the dashboard; a routed service appears with its servers', async () => {
  await createDemoService({
    name: GOOD,
    replicas: 2,
    networks: [NET],
    labels: { [`${P}hosts`]: GOOD_HOST, [`${P}port`]: '80', [`${P}network`]: NET },
  });
  await waitFor(`${GOOD_HOST} answers through the proxy`, async () => (await get(GOOD_HOST)).status === 200, 90_000, 250);
  await proxiesSettled();
  const page = await openPage();
  await page.goto(url);
  const route = page.locator(`[data-testid=route][data-host="${GOOD_HOST}"]`);
  await route.waitFor({ timeout: 30_000 });
  await expectText(route.locator('[data-testid=server-count]'), '2');
  await expectContains(route, GOOD);
  // The token left the address bar once stored for the tab.
  expect(page.url()).not.toContain('token=');
  await expectContains(page.locator('[data-testid=connection]'), 'live');
  await page.screenshot({ path: join(IMG, 'dashboard-routes.png'), fullPage: true });
  await page.close();
});

test('a service with a bad label shows its error code, label, value and message; the search finds it', async () => {
  await createDemoService({
    name: BAD,
    networks: [NET],
    labels: { [`${P}hosts`]: 'bad.dash.test', [`${P}port`]: '99999', [`${P}network`]: NET },
  });
  const page = await openPage();
  await page.goto(url);
  await page.locator('[data-testid=tab-services]').click();
  await page.locator('[data-testid=search]').fill('sbx-dash');
  const card = page.locator(`[data-testid=service][data-name="${BAD}"]`);
  await card.waitFor({ timeout: 30_000 });
  expect(await card.getAttribute('data-status')).toBe('disabled');
  const problem = card.locator('[data-testid=problem]').first();
  await expectContains(problem, 'ERR_LABEL_PORT_INVALID');
  await expectContains(problem, 'com.docker.lb.port');
  await expectContains(problem, '99999');
  // The message is core's own, word for word.
  const status = await run('node', ['packages/cli/dist/main.js', 'status', '--json']);
  const bad = (JSON.parse(status.stdout) as { services: { name: string; errors: { code: string; message: string }[] }[] }).services.find((s) => s.name === BAD)!;
  await expectContains(problem, bad.errors[0]!.message);
  // The search narrows to what matches: the good service is not a rejected one, and 'nothing' matches nothing.
  expect(await page.locator(`[data-testid=service][data-name="${GOOD}"]`).count()).toBe(1);
  await page.screenshot({ path: join(IMG, 'dashboard-rejected.png'), fullPage: true });
  await page.locator('[data-testid=search]').fill('ERR_LABEL_PORT_INVALID');
  await waitFor('search by error code', async () => (await page.locator('[data-testid=service]').count()) >= 1 && (await page.locator(`[data-testid=service][data-name="${GOOD}"]`).count()) === 0);
  await page.locator('[data-testid=search]').fill('no-such-service-anywhere');
  await page.locator('[data-testid=no-match]').waitFor();
  await page.close();
});

test('a scale change updates the server count live, without reloading the page', async () => {
  const page = await openPage();
  await page.goto(url);
  const count = page.locator(`[data-testid=route][data-host="${GOOD_HOST}"] [data-testid=server-count]`);
  await expectText(count, '2');
  let loads = 0;
  page.on('load', () => loads++);
  await page.evaluate("window.marker = 'same-document'");
  const started = Date.now();
  await scaleService(GOOD, 3);
  await expectText(count, '3', 60_000);
  const seconds = (Date.now() - started) / 1000;
  expect(await page.evaluate('window.marker')).toBe('same-document');
  expect(loads).toBe(0);
  console.log(`dashboard: scale 2 → 3 shown after ${seconds.toFixed(1)} s without a reload`);
  // History names the change; proxies show their reloads.
  await page.locator('[data-testid=tab-history]').click();
  await expectContains(page.locator('main'), `${GOOD}: servers 2 → 3`);
  await proxiesSettled();
  await expectContains(page.locator('[data-testid=config]').first(), 'reloads: signalbox-proxy');
  await page.screenshot({ path: join(IMG, 'dashboard-history.png'), fullPage: true });
  await page.locator('[data-testid=tab-proxies]').click();
  const proxy = page.locator('[data-testid=proxy]').first();
  await proxy.waitFor();
  expect(await proxy.getAttribute('data-state')).toBe('ok');
  await page.screenshot({ path: join(IMG, 'dashboard-proxies.png'), fullPage: true });
  await page.close();
});

test('a server nginx cannot reach shows its failures, as nginx logged them (passive health)', async () => {
  // Labelled with a port the demo app does not listen on: every request fails to connect.
  await createDemoService({
    name: BROKEN,
    networks: [NET],
    labels: { [`${P}hosts`]: BROKEN_HOST, [`${P}port`]: '81', [`${P}network`]: NET },
  });
  const page = await openPage();
  await page.goto(url);
  const route = page.locator(`[data-testid=route][data-host="${BROKEN_HOST}"]`);
  await route.waitFor({ timeout: 30_000 });
  await expectText(route.locator('[data-testid=server-count]'), '1');
  await waitFor(`${BROKEN_HOST} answers 502`, async () => (await get(BROKEN_HOST)).status === 502, 60_000, 250);
  for (let i = 0; i < 3; i++) await get(BROKEN_HOST);
  await route.locator('[data-testid=failing]').waitFor({ timeout: 15_000 });
  await route.locator('summary').click();
  const server = route.locator('[data-testid=server]').first();
  expect(Number(await server.getAttribute('data-failures'))).toBeGreaterThanOrEqual(1);
  await expectContains(server, 'connect() failed (111: Connection refused)');
  // The healthy route has no failing server.
  expect(await page.locator(`[data-testid=route][data-host="${GOOD_HOST}"] [data-testid=failing]`).count()).toBe(0);
  await page.screenshot({ path: join(IMG, 'dashboard-server-failing.png'), fullPage: true });
  await page.close();
  await removeService(BROKEN);
});

test('a proxy task whose agent does not answer is shown as unreachable with the reason, and recovers', async () => {
  const [container] = (await docker.listContainers({
    filters: { label: [`com.docker.swarm.service.name=${PROXY_SERVICE}`], status: ['running'] },
  })) as { Id: string }[];
  expect(container).toBeDefined();
  const page = await openPage();
  await page.goto(url);
  await page.locator('[data-testid=tab-proxies]').click();
  await page.locator('[data-testid=proxy][data-state=ok]').first().waitFor({ timeout: 30_000 });
  // Freeze the proxy task (nginx and its agent) for a few seconds: short of the health check's 15 s.
  const paused = docker.getContainer(container!.Id);
  await paused.pause();
  try {
    const down = page.locator('[data-testid=proxy][data-state=unreachable]');
    await down.waitFor({ timeout: 10_000 });
    await expectContains(down, 'does not answer');
    await expectContains(page.locator('[data-testid=banner]').first(), 'is unreachable');
    await page.screenshot({ path: join(IMG, 'dashboard-proxy-unreachable.png'), fullPage: true });
  } finally {
    await paused.unpause();
  }
  await page.locator('[data-testid=proxy][data-state=ok]').first().waitFor({ timeout: 30_000 });
  await page.close();
});

test('the page works at phone width: nothing wider than the screen, search and routes usable', async () => {
  const page = await openPage({ width: 390, height: 844 });
  await page.goto(url);
  const route = page.locator(`[data-testid=route][data-host="${GOOD_HOST}"]`);
  await route.waitFor({ timeout: 30_000 });
  expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
  const search = page.locator('[data-testid=search]');
  const box = await search.boundingBox();
  expect(box).not.toBeNull();
  expect(box!.x).toBeGreaterThanOrEqual(0);
  expect(box!.x + box!.width).toBeLessThanOrEqual(390);
  await search.fill(GOOD_HOST);
  await route.waitFor();
  await page.screenshot({ path: join(IMG, 'dashboard-phone.png'), fullPage: true });
  await page.locator('[data-testid=tab-services]').click();
  await page.locator('[data-testid=search]').fill(BAD);
  await page.locator(`[data-testid=service][data-name="${BAD}"]`).waitFor();
  expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
  await page.screenshot({ path: join(IMG, 'dashboard-phone-rejected.png'), fullPage: true });
  await page.close();
});

test('no blank screens: without a token, with a wrong one, and with core unreachable, the page says what is missing', async () => {
  const origin = new URL(url).origin;
  // A new tab has no token in its session storage: a labelled page, not an empty one.
  const bare = await openPage();
  await bare.goto(`${origin}/`);
  await expectState(bare, 'no-token', 'No access token');
  await bare.goto(`${origin}/#token=wrong`);
  await bare.reload();
  await expectState(bare, 'denied', 'ERR_DASHBOARD_TOKEN_INVALID');
  await bare.close();

  // Core stops answering while the page is open: a banner keeps the last data and says so...
  const page = await openPage();
  await page.goto(url);
  await page.locator(`[data-testid=route][data-host="${GOOD_HOST}"]`).waitFor();
  const api = (u: URL) => u.pathname.startsWith('/v1/dashboard');
  await page.route(api, (r) => r.abort('connectionrefused'));
  const banner = page.locator('[data-testid=banner]', { hasText: 'Control plane unreachable' });
  await banner.waitFor({ timeout: 45_000 });
  await expectContains(page.locator('[data-testid=connection]'), 'control plane unreachable');
  await page.screenshot({ path: join(IMG, 'dashboard-core-down-banner.png'), fullPage: true });
  // ...and a page opened while it is down gets the labelled page.
  await page.reload();
  await expectState(page, 'control-plane-down', 'Control plane unreachable');
  await page.screenshot({ path: join(IMG, 'dashboard-core-down.png'), fullPage: true });
  await page.unroute(api);
  await page.locator(`[data-testid=route][data-host="${GOOD_HOST}"]`).waitFor({ timeout: 30_000 });
  await page.close();
});

async function expectState(page: Page, state: string, text: string): Promise<void> {
  const el = page.locator(`[data-testid=state-page][data-state="${state}"]`);
  await el.waitFor({ timeout: 30_000 });
  await expectContains(el, text);
}

async function expectText(loc: ReturnType<Page['locator']>, want: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(`text ${JSON.stringify(want)}`, async () => ((await loc.textContent())?.trim() === want ? true : undefined), timeoutMs, 100);
}

async function expectContains(loc: ReturnType<Page['locator']>, want: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(`text containing ${JSON.stringify(want)}`, async () => ((await loc.textContent())?.includes(want) ? true : undefined), timeoutMs, 100);
}
