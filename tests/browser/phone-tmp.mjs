import { chromium } from 'playwright-core';
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox','--disable-dev-shm-usage'] });
const p = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
const errors = [];
p.on('pageerror', (e) => errors.push(e.message));
p.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
await p.goto('http://127.0.0.1:8125/index.html');
await p.waitForFunction(() => document.querySelector('color-bottleneck')?.ready, null, { timeout: 60000 });
const el = await p.$('color-bottleneck');
const sel = await p.evaluateHandle(() => [...document.querySelector('color-bottleneck').shadowRoot.querySelectorAll('select')].find(s => [...s.options].some(o => o.value === '16')));
await sel.selectOption('16');
await p.waitForTimeout(6000);
await p.screenshot({ path: '/tmp/nb/phone16.png', fullPage: false });
// tap a thumbnail
const grid = await p.evaluateHandle(() => document.querySelector('color-bottleneck').shadowRoot.querySelector('canvas.sweep, [part=sweep] canvas, canvas[data-role=sweep]'));
console.log('grid', await grid.evaluate(g => g && g.outerHTML.slice(0, 80)));
console.log('errors', errors);
await browser.close();
