#!/usr/bin/env node
// Draws the panels of deploy/grafana/signalbox-dashboard.json from scrapes recorded by record.mjs,
// for a screenshot where no Grafana (nor Prometheus) is available. It is NOT Grafana: a small PromQL
// evaluator for the expression shapes that dashboard uses (selectors with matchers; rate/increase over
// a range, as (reset-aware increase) / (time between first and last sample), without Prometheus'
// extrapolation; sum/min/max by; histogram_quantile; time(); arithmetic and `> 0` with a scalar),
// line charts in SVG, and Debian's chromium (playwright-core) for the PNG.
//   node scripts/grafana-preview/render.mjs SAMPLES.jsonl OUT.png
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const [samplesFile, outPng] = process.argv.slice(2);
if (!samplesFile || !outPng) throw new Error('usage: render.mjs SAMPLES.jsonl OUT.png');

// ---- data ----------------------------------------------------------------------------------------
const scrapes = readFileSync(samplesFile, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l));
/** key → {name, labels, points: [[t, v]]} */
const store = new Map();
for (const s of scrapes) {
  for (const x of s.series) {
    const key = `${x.name}${JSON.stringify(Object.entries(x.labels).sort())}`;
    let e = store.get(key);
    if (!e) store.set(key, (e = { name: x.name, labels: x.labels, points: [] }));
    e.points.push([s.t, x.value === null ? Infinity : x.value]);
  }
}
const times = scrapes.map((s) => s.t);

// ---- PromQL subset -------------------------------------------------------------------------------
function tokenize(src) {
  const re = /\s*(?:(\d+(?:\.\d+)?[smhd](?![a-z_]))|(\d+(?:\.\d+)?)|([a-zA-Z_:][a-zA-Z0-9_:]*)|("(?:[^"\\]|\\.)*")|(=~|!=|!~|[(){}\[\],*\-+/>=]))/y;
  const out = [];
  let m;
  while (re.lastIndex < src.length && (m = re.exec(src))) {
    if (m[1]) out.push({ t: 'dur', v: m[1] });
    else if (m[2]) out.push({ t: 'num', v: Number(m[2]) });
    else if (m[3]) out.push({ t: 'id', v: m[3] });
    else if (m[4]) out.push({ t: 'str', v: JSON.parse(m[4]) });
    else out.push({ t: 'op', v: m[5] });
  }
  if (re.lastIndex < src.trimEnd().length) throw new Error(`cannot parse ${src} at ${re.lastIndex}`);
  return out;
}

function parse(src) {
  const toks = tokenize(src);
  let i = 0;
  const peek = () => toks[i];
  const take = (v) => {
    const t = toks[i++];
    if (v !== undefined && t?.v !== v) throw new Error(`expected ${v} in ${src}, got ${t?.v}`);
    return t;
  };
  const seconds = (d) => Number(d.slice(0, -1)) * { s: 1, m: 60, h: 3600, d: 86400 }[d.slice(-1)];
  function expr() {
    let l = add();
    while (peek()?.v === '>') {
      take();
      l = { k: 'bin', op: '>', l, r: add() };
    }
    return l;
  }
  function add() {
    let l = mul();
    while (peek()?.v === '-' || peek()?.v === '+') l = { k: 'bin', op: take().v, l, r: mul() };
    return l;
  }
  function mul() {
    let l = primary();
    while (peek()?.v === '*' || peek()?.v === '/') l = { k: 'bin', op: take().v, l, r: primary() };
    return l;
  }
  function primary() {
    const t = take();
    if (t.t === 'num') return { k: 'num', v: t.v };
    if (t.v === '(') {
      const e = expr();
      take(')');
      return e;
    }
    if (['sum', 'min', 'max'].includes(t.v)) {
      take('by');
      take('(');
      const by = [];
      while (peek().v !== ')') {
        by.push(take().v);
        if (peek().v === ',') take();
      }
      take(')');
      take('(');
      const e = expr();
      take(')');
      return { k: 'agg', op: t.v, by, e };
    }
    if (t.v === 'rate' || t.v === 'increase') {
      take('(');
      const sel = selector(take());
      take('[');
      const d = take();
      take(']');
      take(')');
      return { k: 'range', fn: t.v, sel, range: d.t === 'dur' ? seconds(d.v) : 60 };
    }
    if (t.v === 'histogram_quantile') {
      take('(');
      const q = take().v;
      take(',');
      const e = expr();
      take(')');
      return { k: 'hq', q, e };
    }
    if (t.v === 'time') {
      take('(');
      take(')');
      return { k: 'time' };
    }
    return selector(t);
  }
  function selector(t) {
    const matchers = [];
    if (peek()?.v === '{') {
      take();
      while (peek().v !== '}') {
        const name = take().v;
        const op = take().v;
        const val = take().v;
        matchers.push({ name, op, val });
        if (peek().v === ',') take();
      }
      take('}');
    }
    return { k: 'sel', name: t.v, matchers };
  }
  const e = expr();
  if (i !== toks.length) throw new Error(`trailing tokens in ${src}`);
  return e;
}

const matches = (labels, ms) =>
  ms.every(({ name, op, val }) => {
    const v = labels[name] ?? '';
    if (op === '=') return v === val;
    if (op === '!=') return v !== val;
    const re = new RegExp(`^(?:${val})$`);
    return op === '=~' ? re.test(v) : !re.test(v);
  });
const selected = (sel) => [...store.values()].filter((s) => s.name === sel.name && matches(s.labels, sel.matchers));
const keyOf = (labels) => JSON.stringify(Object.entries(labels).sort());

function evaluate(n, t) {
  switch (n.k) {
    case 'num':
      return n.v;
    case 'time':
      return t;
    case 'sel':
      return selected(n).flatMap((s) => {
        const p = s.points.filter(([pt]) => pt <= t && pt > t - 300).at(-1);
        return p ? [{ labels: s.labels, value: p[1] }] : [];
      });
    case 'range':
      return selected(n.sel).flatMap((s) => {
        const pts = s.points.filter(([pt]) => pt <= t && pt > t - n.range);
        if (pts.length < 2) return [];
        let inc = 0;
        for (let k = 1; k < pts.length; k++) inc += pts[k][1] >= pts[k - 1][1] ? pts[k][1] - pts[k - 1][1] : pts[k][1];
        const value = n.fn === 'rate' ? inc / (pts.at(-1)[0] - pts[0][0]) : inc;
        const { __name__, ...labels } = s.labels;
        return [{ labels, value }];
      });
    case 'agg': {
      const groups = new Map();
      for (const x of evaluate(n.e, t)) {
        const labels = Object.fromEntries(n.by.filter((b) => b in x.labels).map((b) => [b, x.labels[b]]));
        const k = keyOf(labels);
        const g = groups.get(k);
        if (!g) groups.set(k, { labels, value: x.value });
        else g.value = n.op === 'sum' ? g.value + x.value : n.op === 'min' ? Math.min(g.value, x.value) : Math.max(g.value, x.value);
      }
      return [...groups.values()];
    }
    case 'hq': {
      const groups = new Map();
      for (const x of evaluate(n.e, t)) {
        const { le, ...rest } = x.labels;
        const k = keyOf(rest);
        if (!groups.has(k)) groups.set(k, { labels: rest, buckets: [] });
        groups.get(k).buckets.push([le === '+Inf' ? Infinity : Number(le), x.value]);
      }
      return [...groups.values()].flatMap(({ labels, buckets }) => {
        buckets.sort((a, b) => a[0] - b[0]);
        const total = buckets.at(-1)?.[1] ?? 0;
        if (!(total > 0)) return [];
        const rank = n.q * total;
        let prevLe = 0;
        let prevCount = 0;
        for (const [le, c] of buckets) {
          if (c >= rank) {
            if (le === Infinity) return [{ labels, value: prevLe }];
            return [{ labels, value: prevLe + ((le - prevLe) * (rank - prevCount)) / Math.max(c - prevCount, 1e-12) }];
          }
          prevLe = le;
          prevCount = c;
        }
        return [];
      });
    }
    case 'bin': {
      const l = evaluate(n.l, t);
      const r = evaluate(n.r, t);
      const f = (a, b) => ({ '*': a * b, '/': a / b, '+': a + b, '-': a - b, '>': a > b ? a : undefined })[n.op];
      if (typeof l === 'number' && typeof r === 'number') return f(l, r);
      if (typeof r === 'number') return l.flatMap((x) => (f(x.value, r) === undefined ? [] : [{ labels: x.labels, value: f(x.value, r) }]));
      if (typeof l === 'number') return r.flatMap((x) => (f(l, x.value) === undefined ? [] : [{ labels: x.labels, value: f(l, x.value) }]));
      throw new Error('vector-vector binary operations are not supported');
    }
  }
  throw new Error(`unknown node ${n.k}`);
}

// ---- drawing -------------------------------------------------------------------------------------
const dash = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/signalbox-dashboard.json'), 'utf8'));
const COLORS = ['#73bf69', '#f2cc0c', '#8ab8ff', '#ff780a', '#f2495c', '#5794f2', '#b877d9', '#fade2a'];
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const fmt = (v, unit) => {
  if (!Number.isFinite(v)) return String(v);
  if (unit === 'bytes') return v >= 1024 * 1024 ? `${(v / 1024 / 1024).toFixed(1)} MiB` : v >= 1024 ? `${(v / 1024).toFixed(1)} KiB` : `${Math.round(v)} B`;
  const s = Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3);
  return unit === 's' ? `${s} s` : s;
};

function panelSeries(p) {
  const out = new Map();
  for (const target of p.targets) {
    const ast = parse(target.expr.replaceAll('$__rate_interval', '1m').replaceAll('$__range', '1h'));
    for (const t of times) {
      const v = evaluate(ast, t);
      for (const x of typeof v === 'number' ? [{ labels: {}, value: v }] : v) {
        const legend = (target.legendFormat || target.expr).replace(/\{\{(\w+)\}\}/g, (_, k) => x.labels[k] ?? '');
        if (!out.has(legend)) out.set(legend, []);
        out.get(legend).push([t, x.value]);
      }
    }
  }
  return out;
}

function drawPanel(p) {
  const unit = p.fieldConfig?.defaults?.unit;
  const series = panelSeries(p);
  const W = 560;
  const H = 210;
  const pad = { l: 64, r: 10, t: 10, b: 22 };
  if (p.type === 'stat') {
    const items = [...series].map(([name, pts]) => [name, pts.at(-1)?.[1]]);
    const body = items.length
      ? items
          .map(([name, v]) => `<div class="stat ${v === 1 ? 'green' : 'orange'}"><div class="big">${v === 1 ? 'converged' : v === 0 ? 'converging' : fmt(v, unit)}</div><div>${esc(name)}</div></div>`)
          .join('')
      : '<div class="nodata">No data</div>';
    return `<section class="panel"><h2>${esc(p.title)}</h2><div class="stats">${body}</div></section>`;
  }
  const all = [...series.values()].flat().filter(([, v]) => Number.isFinite(v));
  if (all.length === 0) return `<section class="panel"><h2>${esc(p.title)}</h2><div class="nodata">No data</div></section>`;
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const vmax = Math.max(0, ...all.map(([, v]) => v)) || 1;
  const vmin = Math.min(0, ...all.map(([, v]) => v));
  const x = (t) => pad.l + ((t - t0) / Math.max(t1 - t0, 1)) * (W - pad.l - pad.r);
  const y = (v) => H - pad.b - ((v - vmin) / (vmax - vmin)) * (H - pad.t - pad.b);
  const grid = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const v = vmin + f * (vmax - vmin);
    return `<line x1="${pad.l}" x2="${W - pad.r}" y1="${y(v)}" y2="${y(v)}" class="grid"/><text x="${pad.l - 6}" y="${y(v) + 4}" class="axis" text-anchor="end">${esc(fmt(v, unit))}</text>`;
  });
  const ticks = [0, 0.5, 1].map((f) => {
    const t = t0 + f * (t1 - t0);
    return `<text x="${x(t)}" y="${H - 6}" class="axis" text-anchor="${f === 0 ? 'start' : f === 1 ? 'end' : 'middle'}">${new Date(t * 1000).toISOString().slice(11, 19)}</text>`;
  });
  const lines = [...series].map(([, pts], k) => {
    const d = pts
      .filter(([, v]) => Number.isFinite(v))
      .map(([t, v], j) => `${j ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`)
      .join('');
    return `<path d="${d}" fill="none" stroke="${COLORS[k % COLORS.length]}" stroke-width="1.6"/>`;
  });
  const legend = [...series].map(([name, pts], k) => `<span><i style="background:${COLORS[k % COLORS.length]}"></i>${esc(name)} <b>${esc(fmt(pts.at(-1)?.[1], unit))}</b></span>`);
  return `<section class="panel"><h2>${esc(p.title)}</h2><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">${grid.join('')}${ticks.join('')}${lines.join('')}</svg><div class="legend">${legend.join('')}</div></section>`;
}

const span = `${new Date(Math.min(...times) * 1000).toISOString().slice(0, 19)}Z – ${new Date(Math.max(...times) * 1000).toISOString().slice(11, 19)}Z`;
const html = `<!doctype html><meta charset="utf-8"><style>
body{margin:0;background:#111217;color:#ccccdc;font:13px system-ui,sans-serif;padding:12px}
header{margin:0 4px 10px}header h1{font-size:17px;margin:0 0 4px;color:#fff}header p{margin:0;color:#8e8e9e}
.grid-panels{display:grid;grid-template-columns:repeat(2,584px);gap:10px}
.panel{background:#181b1f;border:1px solid #2c3235;border-radius:3px;padding:8px 12px}
.panel h2{font-size:13px;margin:0 0 6px;color:#d8d9da}
.grid{stroke:#2c3235}.axis{fill:#8e8e9e;font-size:10px}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:11px}.legend i{display:inline-block;width:12px;height:3px;margin-right:5px;vertical-align:middle}
.stats{display:flex;gap:10px;height:220px;align-items:stretch}.stat{flex:1;border-radius:3px;padding:16px;color:#fff;display:flex;flex-direction:column;justify-content:center;align-items:center}
.stat.green{background:#37872d}.stat.orange{background:#c4580e}.big{font-size:30px;font-weight:600}
.nodata{height:220px;display:flex;align-items:center;justify-content:center;color:#8e8e9e}
</style><header><h1>${esc(dash.title)} — panels of deploy/grafana/signalbox-dashboard.json</h1>
<p>Rendered by scripts/grafana-preview/render.mjs (not Grafana) from ${scrapes.length} scrapes of the running stack, ${esc(span)}; rate() over the samples in each window, without extrapolation.</p></header>
<div class="grid-panels">${dash.panels.map(drawPanel).join('')}</div>`;

const require = createRequire(join(ROOT, 'packages/e2e/package.json'));
const { chromium } = require('playwright-core');
const profile = mkdtempSync(join(tmpdir(), 'sbx-grafana-preview-'));
const htmlFile = join(profile, 'panels.html');
writeFileSync(htmlFile, html);
const context = await chromium.launchPersistentContext(join(profile, 'profile'), {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  viewport: { width: 1210, height: 900 },
});
const page = await context.newPage();
await page.goto(`file://${htmlFile}`);
await page.screenshot({ path: outPng, fullPage: true });
await context.close();
rmSync(profile, { recursive: true, force: true });
console.log(`${outPng}: ${dash.panels.length} panels from ${scrapes.length} scrapes`);
