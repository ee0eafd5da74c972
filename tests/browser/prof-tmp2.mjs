import { chromium } from 'playwright-core';
import { execSync } from 'node:child_process';
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox','--disable-dev-shm-usage'] });
const p = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
await p.goto(`http://127.0.0.1:8124/bench.html?backend=cpu&batch=256&runs=${process.env.RUNS ?? 16}`);
await p.waitForFunction(() => document.querySelector('color-bottleneck')?.ready, null, { timeout: 180_000 });
await p.evaluate(() => document.querySelector('color-bottleneck').play());
await p.waitForTimeout(3000);
const snap = () => execSync("ps -eo pid,cputimes,args | grep -i chrom | grep -v grep | awk '{t=$3; for(i=4;i<=NF;i++) if ($i ~ /--type=/) t=$i; print $1, $2, t}'").toString();
const a = snap();
const s0 = await p.evaluate(() => document.querySelector('color-bottleneck').step);
await p.waitForTimeout(10000);
const s1 = await p.evaluate(() => document.querySelector('color-bottleneck').step);
const b = snap();
const m = Object.fromEntries(a.trim().split('\n').map(l => { const [pid, t, ty] = l.split(' '); return [pid, +t]; }));
for (const l of b.trim().split('\n')) { const [pid, t, ty] = l.split(' '); if (m[pid] !== undefined) console.log(pid, ty, ((t - m[pid]) / 10 * 100).toFixed(0) + '%'); }
console.log('steps/s', (s1 - s0) / 10, 'fps', await p.evaluate(() => document.querySelector('color-bottleneck').dataset.fps));
await browser.close();
