// `cargo xtask soak`, the page half: 1,000,000 training steps in headless Chromium (ex-1.5
// again and again, each run given an edited sheet with Apply live halfway), measuring the
// worker's and the page's wasm memory and the page's JS heap (after a collection; the worker's
// where the browser reports it, which headless Chromium does not) every 50,000 steps. It
// fails if any of them grows by more than a quarter after warm-up (the first 100,000 steps).

import { chromium } from 'playwright-core';

const BASE = process.env.BASE_URL;
const TOTAL = Number(process.env.SOAK_STEPS ?? 1_000_000);
const QUIET = ['--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-quic', '--disable-dev-shm-usage', '--enable-precise-memory-info'];
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: QUIET });
const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
const failures = [];
page.on('pageerror', (e) => failures.push(`page error: ${e}`));
await page.goto(`${BASE}/index.html?backend=cpu`);
await page.waitForFunction(() => document.querySelector('color-bottleneck')?.ready, null, { timeout: 180_000 });
const cdp = await page.context().newCDPSession(page);

const el = (fn, arg) => page.locator('color-bottleneck').evaluate(fn, arg);
const sheet = await el((e) => e.field('sheet').value);
const length = Number(/\/ (\d+)/.exec(await el((e) => e.shadowRoot.querySelector('[data-field=readout]').textContent))[1]);
// The same curriculum with a gentler end: what a researcher's live edit looks like.
const edited = sheet.replace(/^20000,,,0\.001,/m, '20000,,,0.002,');
if (edited === sheet) throw new Error('the soak expects ex-1.5 as the default sheet');

async function measure(done) {
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  const worker = await el((e) => e.memory());
  return { steps: done, wasm: worker.wasm, pageWasm: worker.pageWasm, workerHeap: worker.heap, pageHeap: usedSize };
}

const series = [];
const started = Date.now();
let done = 0;
let nextMeasure = 0;
while (done < TOTAL) {
  await el((e) => e.reset());
  await el((e) => e.play());
  await page.waitForFunction((half) => document.querySelector('color-bottleneck').step >= half, length / 2, { timeout: 300_000, polling: 250 });
  await el((e, csv) => e.setDopesheet(csv, { live: true }), edited);
  await el((e) => e.play());
  await page.waitForFunction((n) => {
    const e = document.querySelector('color-bottleneck');
    return !e.playing && e.step >= n;
  }, length, { timeout: 300_000, polling: 250 });
  const error = await el((e) => e.shadowRoot.querySelector('[data-field=notice]').textContent);
  if (/error|failed/i.test(error)) failures.push(`run ending at ${done + length}: ${error}`);
  done += length;
  if (done >= nextMeasure) {
    series.push(await measure(done));
    nextMeasure = (Math.floor(done / 50_000) + 1) * 50_000;
  }
  // Back to the original sheet for the next run (a restart, not live).
  await el((e, csv) => e.setDopesheet(csv), sheet);
}
const seconds = (Date.now() - started) / 1000;
await browser.close();

const mb = (b) => (b === null || b === undefined ? '   n/a' : (b / 1e6).toFixed(1).padStart(6));
console.log(`page soak: ${done.toLocaleString('en')} steps in ${seconds.toFixed(0)} s (${(done / seconds).toFixed(0)} steps/s), Apply live in every run`);
console.log('| steps | worker wasm MB | page wasm MB | page JS heap MB | worker JS heap MB |');
console.log('|---|---|---|---|---|');
for (const s of series) console.log(`| ${s.steps.toLocaleString('en')} | ${mb(s.wasm)} | ${mb(s.pageWasm)} | ${mb(s.pageHeap)} | ${mb(s.workerHeap)} |`);

const warm = series.find((s) => s.steps >= 100_000) ?? series[0];
const last = series[series.length - 1];
for (const key of ['wasm', 'pageWasm', 'pageHeap', 'workerHeap']) {
  if (warm[key] && last[key] > warm[key] * 1.25) {
    failures.push(`${key} grew from ${mb(warm[key])} MB after warm-up to ${mb(last[key])} MB`);
  }
}
if (failures.length) {
  console.error(failures.join('\n'));
  process.exit(1);
}
console.log('page soak: memory flat after warm-up');
