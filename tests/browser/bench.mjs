// `cargo xtask bench-web`: the page in headless Chromium, timed. Prints a table of steps/s per
// backend and batch size, run-steps/s for 1, 16, 64 and 1,024 seeds on each backend present,
// and the wall time of the whole ex-1.5 curriculum with the page drawing every frame. Ratios
// within one run are what to compare: this machine is noisy.
// BENCH_64=1 adds a 64-seed sweep on the CPU; BENCH_GPU_1024=1, on a machine with a GPU, the
// whole curriculum for 1,024 seeds on WebGPU (the target: 60 s); BENCH_ONLY (below) picks parts.

import { chromium } from 'playwright-core';

const BASE = process.env.BASE_URL;
const QUIET = ['--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-quic', '--disable-dev-shm-usage', '--enable-unsafe-webgpu'];
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: QUIET });

async function page(params) {
  const p = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await p.goto(`${BASE}/bench.html?${new URLSearchParams(params)}`);
  await p.waitForFunction(() => document.querySelector('color-bottleneck')?.ready, null, { timeout: 180_000 });
  return p;
}

const rows = [];

/** The page's phase diagram of ex-1.5's first phase: a 3 × 3 grid of reg-separate at step
 * 1200 and reg-planar at step 1800, 16 seeds a cell, judged at step 3000. */
async function phaseDiagram() {
  const p = await page({ backend: 'cpu', batch: 256 });
  const t0 = Date.now();
  await p.evaluate(() => {
    const e = document.querySelector('color-bottleneck');
    const root = e.shadowRoot;
    root.querySelector('.grid-box').open = true;
    const set = (field, value) => { root.querySelector(`[data-field=${field}]`).value = value; };
    root.querySelector('.grid-box').dispatchEvent(new Event('toggle'));
    set('grid-x', 'reg-separate@1200');
    set('grid-x-range', '0.1..0.5/3');
    set('grid-y', 'reg-planar@1800');
    set('grid-y-range', '0.2..0.6/3');
    set('grid-runs', '16');
    set('grid-until', '3000');
    root.querySelector('[data-action=grid-run]').click();
  });
  const samples = [];
  let status = '';
  while (!/^9 cells/.test(status)) {
    if (Date.now() - t0 > 600_000) throw new Error(`the grid did not finish: ${status}`);
    await p.waitForTimeout(250);
    let fps;
    [status, fps] = await p.evaluate(() => { const e = document.querySelector('color-bottleneck'); return [e.shadowRoot.querySelector('[data-field=grid-status]').textContent, Number(e.dataset.fps)]; });
    if (fps > 0) samples.push(fps);
  }
  const mean = samples.reduce((a, b) => a + b, 0) / Math.max(1, samples.length);
  rows.push(['cpu: page phase diagram, 3 × 3 cells × 16 seeds of ex-1.5 to step 3000', status.match(/in ([\d.]+ s)/)[1],
    `${mean.toFixed(0)} fps mean, ${Math.min(...samples).toFixed(0)} min`]);
  await p.close();
}
async function rate(backend, batch, seconds) {
  const p = await page({ backend, batch, sheet: 'cube' });
  const actual = await p.evaluate(() => document.querySelector('color-bottleneck').backend);
  await p.evaluate(() => document.querySelector('color-bottleneck').play());
  await p.waitForTimeout(1000);
  const s0 = await p.evaluate(() => document.querySelector('color-bottleneck').step);
  await p.waitForTimeout(seconds * 1000);
  const [s1, fps] = await p.evaluate(() => { const e = document.querySelector('color-bottleneck'); return [e.step, Number(e.dataset.fps)]; });
  rows.push([`${actual} steps/s, batch ${batch}`, ((s1 - s0) / seconds).toFixed(0), `${fps.toFixed(0)} fps`]);
  await p.close();
}

/** The whole ex-1.5 curriculum for `runs` seeds at once (a sweep, shared among up to
 * `workers` workers on the CPU: by default as many as the browser reports cores). */
async function curriculum(runs = 1, backend = 'cpu', minutes = 10, workers = undefined, inside = 'default', versus = null) {
  const p = await page({ backend, batch: 256, runs, ...(workers ? { workers } : {}) });
  await showInside(p, inside);
  // A comparison: ex-1.5 against `versus` (a sheet's path) on the same seeds.
  if (versus) {
    await p.evaluate(async (path) => {
      const e = document.querySelector('color-bottleneck');
      const b = await (await fetch(path)).text();
      await e.setDopesheet(e.field('sheet').value, { versus: b });
    }, versus);
  }
  const actual = await p.evaluate(() => document.querySelector('color-bottleneck').backend);
  if (actual !== backend) {
    rows.push([`${backend}: ${runs}-seed sweep of ex-1.5`, 'absent', `(the page runs on ${actual} here)`]);
    await p.close();
    return;
  }
  const t0 = Date.now();
  const samples = []; // [seconds since play, fps over the last second]
  await p.evaluate(() => document.querySelector('color-bottleneck').play());
  while (true) {
    const [done, fps] = await p.evaluate(() => { const e = document.querySelector('color-bottleneck'); return [!e.playing && e.step > 20000, Number(e.dataset.fps)]; });
    samples.push([(Date.now() - t0) / 1000, fps]);
    if (done) break;
    if (Date.now() - t0 > minutes * 60_000) throw new Error(`curriculum did not finish in ${minutes} minutes`);
    await p.waitForTimeout(250);
  }
  const wall = (Date.now() - t0) / 1000;
  const trainers = p.workers().length;
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const all = samples.map(([, f]) => f).filter((f) => f > 0);
  // The first seconds are V8 compiling the wasm (it tiers up while it runs): shown apart.
  const warm = samples.filter(([t, f]) => t > 2 && f > 0).map(([, f]) => f);
  const sides = versus ? 2 : 1;
  const what = (runs === 1 ? 'whole ex-1.5 curriculum'
    : `${runs}-seed sweep of ex-1.5 in ${trainers} worker${trainers === 1 ? '' : 's'} (${(sides * runs * 20001 / wall).toFixed(0)} run-steps/s)`)
    + (versus ? `, compared with ${versus.split('/').pop()}` : '');
  const extras = { default: ', 3-D view and geometry', bare: ', latent panels and charts only', all: ', 3-D view, geometry, decoder map and a probe' }[inside];
  rows.push([`${actual}: ${what}, drawing every frame${extras}`, `${wall.toFixed(1)} s`,
    `${mean(all).toFixed(0)} fps mean, ${Math.min(...all).toFixed(0)} min; after 2 s: ${mean(warm).toFixed(0)} mean, ${Math.min(...warm).toFixed(0)} min`]);
  await p.close();
}

/** Sets up the views: 'default', the page as it opens (the 3-D view and geometry drawn);
 * 'bare', those closed; 'all', and the decoder map on and a colour probed. */
async function showInside(p, inside) {
  await p.evaluate((mode) => {
    const root = document.querySelector('color-bottleneck').shadowRoot;
    if (mode === 'bare') root.querySelector('.inside-box').open = false;
    if (mode !== 'all') return;
    const map = root.querySelector('[data-field=decoder-map]');
    map.checked = true;
    map.dispatchEvent(new Event('change'));
    const color = root.querySelector('[data-field=probe-color]');
    color.value = '#20c0a0';
    color.dispatchEvent(new Event('input'));
  }, inside);
}

/** Frames per second and steps/s while training the cube sheet for `seconds`, after 3 s of
 * warm-up, with the views `inside` sets up. */
async function insideRate(inside, seconds = 6) {
  const p = await page({ backend: 'cpu', batch: 256, sheet: 'cube' });
  await showInside(p, inside);
  await p.evaluate(() => document.querySelector('color-bottleneck').play());
  await p.waitForTimeout(3000);
  const s0 = await p.evaluate(() => document.querySelector('color-bottleneck').step);
  const fps = [];
  for (let i = 0; i < seconds * 4; i++) {
    await p.waitForTimeout(250);
    fps.push(await p.evaluate(() => Number(document.querySelector('color-bottleneck').dataset.fps)));
  }
  const s1 = await p.evaluate(() => document.querySelector('color-bottleneck').step);
  const mean = fps.reduce((a, b) => a + b, 0) / fps.length;
  rows.push([`cpu, cube sheet after warm-up, ${inside} views`, `${((s1 - s0) / seconds).toFixed(0)} steps/s`, `${mean.toFixed(0)} fps mean, ${Math.min(...fps).toFixed(0)} min`]);
  await p.close();
}

/** Run-steps/s of `runs` seeds at once on `backend`, batch 256, on the cube sheet. */
async function runsRate(backend, runs, seconds) {
  const p = await page({ backend, batch: 256, sheet: 'cube', runs });
  const actual = await p.evaluate(() => document.querySelector('color-bottleneck').backend);
  if (actual !== backend) {
    rows.push([`${backend}, ${runs} run(s), batch 256`, 'absent', `(the page runs on ${actual} here)`]);
    await p.close();
    return;
  }
  await p.evaluate(() => document.querySelector('color-bottleneck').play());
  await p.waitForTimeout(1000);
  const step = () => p.evaluate(() => document.querySelector('color-bottleneck').step);
  const s0 = await step();
  const t0 = Date.now();
  // At least `seconds`, and at least a few steps (1,024 runs on an emulated GPU take seconds
  // a step), within two minutes.
  // The page's drawing time: every frame's `data-frame-ms`, summed over the window.
  const drawn = await p.evaluate((ms) => new Promise((resolve) => {
    const e = document.querySelector('color-bottleneck');
    let total = 0;
    const o = new MutationObserver(() => { total += Number(e.dataset.frameMs.split(' ')[1]); });
    o.observe(e, { attributes: true, attributeFilter: ['data-frame-ms'] });
    setTimeout(() => { o.disconnect(); resolve(total); }, ms);
  }), seconds * 1000);
  while (await step() < s0 + 3 && Date.now() - t0 < 120_000) await p.waitForTimeout(500);
  const [s1, fps] = await p.evaluate(() => { const e = document.querySelector('color-bottleneck'); return [e.step, Number(e.dataset.fps)]; });
  const elapsed = (Date.now() - t0) / 1000;
  const drawing = `drawing ${(drawn / seconds).toFixed(0)} ms/s`;
  rows.push([`${actual}, ${runs} run(s), batch 256: run-steps/s`, ((s1 - s0) * runs / elapsed).toFixed(0), `${fps.toFixed(0)} fps, ${drawing}, ${s1 - s0} steps in ${elapsed.toFixed(0)} s`]);
  await p.close();
}

/** One visit to the default page (index.html, autoplay) in `context`, from the request to the
 * last step of ex-1.5: the wall time, when the first step was drawn, the engine and readout at
 * the end, and whether pkg-webgpu/ was requested. */
async function visit(context, query = '') {
  const p = await context.newPage({ viewport: { width: 1280, height: 1000 } });
  const requests = [];
  p.on('request', (r) => requests.push(new URL(r.url()).pathname));
  const t0 = Date.now();
  await p.goto(`${BASE}/index.html${query}`);
  await p.waitForFunction(() => document.querySelector('color-bottleneck')?.step > 0, null, { timeout: 120_000, polling: 10 });
  const first = (Date.now() - t0) / 1000;
  await p.waitForFunction(() => { const e = document.querySelector('color-bottleneck'); return !e.playing && e.step > 20000; }, null, { timeout: 600_000, polling: 20 });
  const wall = (Date.now() - t0) / 1000;
  // A run too short for a move to pay is timed after its end: wait for the choice, so that the
  // next visit has it to remember (a reader's tab stays open that long).
  if (!query.includes('backend=cpu')) {
    await p.waitForFunction(() => /→/.test(document.querySelector('color-bottleneck').shadowRoot.querySelector('[data-field=backend-label]').textContent), null, { timeout: 120_000 });
  }
  const [backend, label] = await p.evaluate(() => { const e = document.querySelector('color-bottleneck'); return [e.backend, e.shadowRoot.querySelector('[data-field=backend-label]').textContent]; });
  await p.close();
  return { wall, first, backend, label, webgpu: requests.some((u) => u.includes('/pkg-webgpu/')) };
}

/** The default page against `?backend=cpu`, alternating, each in a fresh profile (a first
 * visit) and then again in the same profile (a remembered visit), `rounds` times. */
async function visits(rounds = 3) {
  const ratios = { first: [], remembered: [], start: [] };
  for (let i = 0; i < rounds; i++) {
    const fresh = await browser.newContext();
    const cpu = await visit(fresh, '?backend=cpu');
    await fresh.close();
    const context = await browser.newContext();
    const firstVisit = await visit(context);
    const remembered = await visit(context);
    await context.close();
    ratios.first.push(firstVisit.wall / cpu.wall);
    ratios.remembered.push(remembered.wall / cpu.wall);
    ratios.start.push(firstVisit.first - cpu.first);
    const row = (what, v, ratio) => rows.push([`${what} (round ${i + 1})`, `${v.wall.toFixed(1)} s`,
      `${ratio ?? ''}first step at ${v.first.toFixed(2)} s · ${v.label} · pkg-webgpu/ ${v.webgpu ? 'requested' : 'not requested'}`]);
    row('?backend=cpu: ex-1.5 from load to the last step', cpu);
    row('default page, first visit', firstVisit, `${(firstVisit.wall / cpu.wall).toFixed(2)}× cpu · `);
    row('default page, remembered visit', remembered, `${(remembered.wall / cpu.wall).toFixed(2)}× cpu · `);
  }
  const span = (xs, unit = '×') => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}${unit}`;
  rows.push(['default page / ?backend=cpu, first visits', span(ratios.first), 'target ≤ 1.25×']);
  rows.push(['default page / ?backend=cpu, remembered visits', span(ratios.remembered), 'target ≤ 1.1×, no pkg-webgpu/']);
  rows.push(['first step, default page minus ?backend=cpu', span(ratios.start, ' s'), 'target ≤ 0.3 s']);
}

/** A 64-seed sweep of ex-1.5 on the default `auto`: where the GPU may win, the engines'
 * figures and the step the run moved at, as the readout says. */
async function handover64() {
  const p = await page({ backend: 'auto', batch: 256, runs: 64 });
  const t0 = Date.now();
  await p.evaluate(() => document.querySelector('color-bottleneck').play());
  await p.waitForFunction(() => /→|remembered/.test(document.querySelector('color-bottleneck').shadowRoot.querySelector('[data-field=backend-label]').textContent), null, { timeout: 300_000 });
  const label = await p.evaluate(() => document.querySelector('color-bottleneck').shadowRoot.querySelector('[data-field=backend-label]').textContent);
  rows.push(['auto, 64-seed sweep of ex-1.5: the choice', `${((Date.now() - t0) / 1000).toFixed(1)} s`, label]);
  await p.close();
}

// BENCH_ONLY=visits,rates,runs,one,inside,sixteen,compare,grid,handover (any of them) times only
// those parts; `inside` times the curriculum without, with and with every inside view on,
// alternating; `compare`, a 16-seed comparison of ex-1.5 and ex-1.5-robust against a 16-seed
// sweep of ex-1.5, alternating.
const only = process.env.BENCH_ONLY?.split(',');
const part = (name) => !only || only.includes(name);
if (part('visits')) await visits(Number(process.env.BENCH_ROUNDS ?? 3));
if (part('handover')) await handover64();
if (part('rates')) {
  await rate('cpu', 256, 5);
  await rate('cpu', 4096, 5);
}
if (part('runs')) {
  for (const backend of ['cpu', 'webgpu']) {
    for (const runs of [1, 16, 64, 1024]) await runsRate(backend, runs, 5);
  }
}
if (part('one')) await curriculum(1);
if (part('inside')) {
  // Alternating, in one sitting: the machine is noisy.
  for (let i = 0; i < Number(process.env.BENCH_ROUNDS ?? 2); i++) {
    for (const mode of ['bare', 'default', 'all']) await curriculum(1, 'cpu', 10, undefined, mode);
    for (const mode of ['bare', 'default', 'all']) await insideRate(mode);
  }
}
if (part('sixteen')) {
  await curriculum(16);
  // The same sweep in one worker, for the ratio on this machine.
  await curriculum(16, 'cpu', 10, 1);
}
if (part('grid')) await phaseDiagram();
if (part('compare')) {
  for (let i = 0; i < Number(process.env.BENCH_ROUNDS ?? 1); i++) {
    await curriculum(16, 'cpu', 10, undefined, 'default', 'dopesheets/ex-1.5-robust.csv');
    await curriculum(16);
  }
}
if (process.env.BENCH_64) await curriculum(64);
if (process.env.BENCH_GPU_1024) await curriculum(1024, 'webgpu', 30);
await browser.close();
const w = Math.max(...rows.map((r) => r[0].length));
console.log(`${'measure'.padEnd(w)}  ${'value'.padStart(10)}  frames`);
for (const [a, b, c] of rows) console.log(`${a.padEnd(w)}  ${b.padStart(10)}  ${c}`);
