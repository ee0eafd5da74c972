import { chromium } from 'playwright-core';
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox','--disable-dev-shm-usage'] });
const [w, h, url, out] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4], process.argv[5]];
const p = await browser.newPage({ viewport: { width: w, height: h } });
p.on('pageerror', (e) => console.log('err', e.message));
await p.goto(url);
await p.waitForFunction(() => document.querySelector("color-bottleneck")?.ready, null, { timeout: 60000 }); await p.evaluate(() => document.querySelector("color-bottleneck").play()); await p.waitForTimeout(Number(process.argv[6] ?? 6000));
await p.screenshot({ path: out, fullPage: true });
await browser.close();
