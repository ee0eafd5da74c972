// <color-bottleneck>: a live curriculum-training experiment. This module only wires the DOM
// and runs the frame loop; training, validation and drawing live in Rust (../src/web.rs).
//
// Attributes: dopesheet (inline CSV) | src (URL of a CSV), seed, latent-dims, batch-size,
//   backend (auto | webgpu | cpu), autoplay, compact (no editor).
// Properties: step, running, phase, backend, lastError.
// Methods: play(), pause(), reset(), setDopesheet(csv, {live}), latents().
// Events: step (throttled), phaseend, error.

const here = new URL('.', import.meta.url);
let wasmReady = null;

function loadWasm() {
  wasmReady ??= import(new URL('pkg/color_bottleneck.js', here)).then(async (mod) => {
    await mod.default({ module_or_path: new URL('pkg/color_bottleneck_bg.wasm', here) });
    return mod;
  });
  return wasmReady;
}

const SPEEDS = [['1', 1], ['10', 10], ['100', 100], ['max', Infinity]];
// A 60 Hz frame is 16.7 ms; training gets what reading back and drawing leave of it, so
// frames do not spill into the next vsync (which would halve the frame rate).
const FRAME_MS = 16.7;
const MIN_TRAIN_MS = 2;
const MAX_TRAIN_MS = 12;

const TEMPLATE = `
<style>
  :host { display: block; color: #e6e6e6; background: #2b2b2b; font: 14px system-ui, sans-serif;
          border-radius: 8px; padding: 10px; box-sizing: border-box; }
  .bar { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin-bottom: 8px; }
  button, select, input { background: #3a3a3a; color: #eee; border: 1px solid #555; border-radius: 4px;
          padding: 4px 8px; font: inherit; }
  button:hover { background: #474747; }
  input[type=number] { width: 6em; }
  canvas { display: block; width: 100%; }
  .latents { aspect-ratio: 3 / 1.08; }
  .strip { height: 104px; margin-top: 4px; }
  .charts { display: grid; grid-template-columns: 3fr 2fr; gap: 6px; margin-top: 6px; }
  .schedule-box { position: relative; }
  .schedule { height: 220px; cursor: ew-resize; touch-action: none; }
  .playhead { position: absolute; top: 8%; bottom: 10%; width: 2px; left: 0; background: #fff; opacity: .85;
              pointer-events: none; }
  .losses { height: 220px; }
  .readout { font: 12px ui-monospace, monospace; color: #bbb; display: flex; flex-wrap: wrap; gap: 4px 14px;
             margin: 6px 0; }
  .readout b { color: #eee; font-weight: 600; }
  .editor { display: grid; grid-template-columns: 1fr; gap: 6px; margin-top: 8px; }
  textarea { width: 100%; box-sizing: border-box; min-height: 14em; background: #1f1f1f; color: #ddd;
             border: 1px solid #555; border-radius: 4px; font: 12px ui-monospace, monospace; padding: 6px; }
  .error { color: #ff8a80; font: 12px ui-monospace, monospace; min-height: 1.2em; white-space: pre-wrap; }
  .notice { color: #ffd54f; font-size: 12px; min-height: 1.2em; }
  :host([compact]) .editor { display: none; }
  .loading { padding: 2em; text-align: center; color: #aaa; }
</style>
<div class="bar">
  <button part="play" data-action="toggle">Play</button>
  <button data-action="step" title="one training step">Step</button>
  <button data-action="reset" title="start again with this seed">Reset</button>
  <label>seed <input type="number" min="0" step="1" data-field="seed"></label>
  <label>speed <select data-field="speed"></select></label>
  <span class="readout" data-field="backend-label"></span>
</div>
<div class="notice" data-field="notice"></div>
<canvas class="latents" data-canvas="latents"></canvas>
<canvas class="strip" data-canvas="strip"></canvas>
<div class="readout" data-field="readout"></div>
<div class="charts">
  <div class="schedule-box">
    <canvas class="schedule" data-canvas="schedule" title="drag to scrub back through the latent history"></canvas>
    <div class="playhead"></div>
  </div>
  <canvas class="losses" data-canvas="losses"></canvas>
</div>
<div class="editor">
  <div class="bar">
    <label>dopesheet <select data-field="picker"></select></label>
    <button data-action="apply">Apply &amp; restart</button>
    <button data-action="apply-live" title="swap the schedule under the running model">Apply live</button>
  </div>
  <textarea data-field="sheet" spellcheck="false" aria-label="dopesheet CSV"></textarea>
  <div class="error" data-field="error" role="status"></div>
</div>`;

class ColorBottleneck extends HTMLElement {
  #exp = null;
  #mod = null;
  #running = false;
  #speed = Infinity;
  #frames = [];
  #stepRate = [];
  #lastStepEvent = 0;
  #snapshots = 0;
  #scrubbing = false;
  #error = null;
  #looping = false;
  #trainMs = 8;

  constructor() {
    super();
    this.attachShadow({ mode: 'open' }).innerHTML = TEMPLATE;
  }

  $(sel) { return this.shadowRoot.querySelector(sel); }
  field(name) { return this.$(`[data-field="${name}"]`); }
  canvas(name) { return this.$(`[data-canvas="${name}"]`); }

  get step() { return this.#exp ? this.#exp.step() : 0; }
  get running() { return this.#running; }
  get phase() { return this.#exp ? this.#exp.phase() : null; }
  get backend() { return this.#exp ? this.#exp.backend() : null; }
  get lastError() { return this.#error; }
  get ready() { return this.#exp !== null; }
  get losses() { return this.#exp ? this.#exp.losses() : null; }

  async connectedCallback() {
    if (this.#mod) return;
    const speed = this.field('speed');
    for (const [label, value] of SPEEDS) speed.add(new Option(`${label} step${label === '1' ? '' : 's'}/frame`, String(value)));
    speed.value = 'Infinity';
    speed.onchange = () => { this.#speed = Number(speed.value); };
    this.field('seed').value = this.getAttribute('seed') ?? '1';
    this.$('[data-action=toggle]').onclick = () => (this.#running ? this.pause() : this.play());
    this.$('[data-action=step]').onclick = () => { this.pause(); this.#exp?.train(MAX_TRAIN_MS, 1); };
    this.$('[data-action=reset]').onclick = () => this.reset();
    this.$('[data-action=apply]').onclick = () => this.#apply(false);
    this.$('[data-action=apply-live]').onclick = () => this.#apply(true);
    const sheet = this.field('sheet');
    sheet.oninput = () => this.#validate();
    this.#wireScrubbing();
    document.addEventListener('visibilitychange', () => { if (document.hidden) this.pause(); });

    try {
      this.#mod = await loadWasm();
      const csv = await this.#initialSheet();
      sheet.value = csv;
      await this.#loadPicker();
      await this.#create(csv);
      if (this.hasAttribute('autoplay')) this.play();
      this.#loop();
    } catch (e) {
      this.#fail(e);
    }
  }

  async #initialSheet() {
    if (this.hasAttribute('dopesheet')) return this.getAttribute('dopesheet');
    const src = this.getAttribute('src') ?? new URL('dopesheets/ex-1.5.csv', here).href;
    const res = await fetch(src);
    if (!res.ok) throw new Error(`could not load dopesheet ${src}: HTTP ${res.status}`);
    return res.text();
  }

  async #loadPicker() {
    const picker = this.field('picker');
    try {
      const res = await fetch(new URL('dopesheets/index.json', here));
      const names = res.ok ? await res.json() : [];
      picker.add(new Option('(current)', ''));
      for (const n of names) picker.add(new Option(n, n));
      picker.onchange = async () => {
        if (!picker.value) return;
        const text = await (await fetch(new URL(`dopesheets/${picker.value}`, here))).text();
        this.field('sheet').value = text;
        const dims = /-(\d)d\.csv$/.exec(picker.value);
        this.setAttribute('latent-dims', dims ? dims[1] : '4');
        this.#validate();
      };
    } catch { /* the picker is optional (embeds may not ship index.json) */ }
  }

  async #create(csv) {
    const seed = Number(this.field('seed').value) || 0;
    const dims = Number(this.getAttribute('latent-dims') ?? 4);
    const batch = Number(this.getAttribute('batch-size') ?? 256);
    const backend = new URLSearchParams(location.search).get('backend') ?? this.getAttribute('backend') ?? 'auto';
    this.#exp?.free();
    this.#exp = null;
    this.#exp = await this.#mod.Experiment.create(csv, seed, dims, batch, backend);
    this.#snapshots = 0;
    this.#error = null;
    this.field('backend-label').innerHTML = `backend <b>${this.#exp.backend()}</b>`;
    this.#showNotice();
  }

  play() {
    if (!this.#exp || this.#exp.finished()) return;
    this.#running = true;
    this.$('[data-action=toggle]').textContent = 'Pause';
  }

  pause() {
    this.#running = false;
    this.$('[data-action=toggle]').textContent = 'Play';
  }

  async reset() {
    if (!this.#exp) return;
    this.#exp.reset(Number(this.field('seed').value) || 0);
    this.#snapshots = 0;
    this.#error = null;
    this.field('error').textContent = '';
  }

  latents() { return this.#exp ? this.#exp.latents() : new Float32Array(); }

  /** Replaces the schedule; `live` keeps the model and step. Throws on a broken sheet. */
  async setDopesheet(csv, { live = false } = {}) {
    if (!this.#exp) throw new Error('not ready');
    const dims = Number(this.getAttribute('latent-dims') ?? 4);
    try {
      if (!live && dims !== this.#exp.latent_dims()) {
        const problem = this.#mod.Experiment.validate(csv);
        if (problem) throw problem;
        await this.#create(csv);
      } else {
        this.#exp.set_dopesheet(csv, live);
      }
      this.field('sheet').value = csv;
      this.field('error').textContent = '';
      if (!live) this.#snapshots = 0;
      this.#showNotice();
    } catch (problem) {
      this.#showProblem(problem);
      throw new Error(problem.message ?? String(problem));
    }
  }

  #apply(live) {
    this.setDopesheet(this.field('sheet').value, { live }).catch(() => {});
  }

  #validate() {
    if (!this.#mod) return;
    const problem = this.#mod.Experiment.validate(this.field('sheet').value);
    if (problem) this.#showProblem(problem);
    else this.field('error').textContent = '';
  }

  #showProblem(problem) {
    const where = problem.line ? `line ${problem.line}${problem.column ? `, column ${problem.column}` : ''}: ` : '';
    this.field('error').textContent = `${where}${problem.message ?? problem}`;
    this.field('error').dataset.line = problem.line ?? '';
    this.field('error').dataset.column = problem.column ?? '';
  }

  #showNotice() {
    const n = this.#exp?.take_notice();
    if (n) this.field('notice').textContent = n;
  }

  #fail(e) {
    this.#error = String(e?.message ?? e);
    this.pause();
    this.field('notice').textContent = `error: ${this.#error}`;
    this.dispatchEvent(new CustomEvent('error', { detail: { message: this.#error } }));
  }

  #wireScrubbing() {
    const c = this.canvas('schedule');
    const at = (e) => this.#exp?.step_at(e.clientX - c.getBoundingClientRect().left) ?? 0;
    c.addEventListener('pointerdown', (e) => { this.#scrubbing = true; c.setPointerCapture(e.pointerId); this.#exp?.scrub(at(e)); });
    c.addEventListener('pointermove', (e) => { if (this.#scrubbing) this.#exp?.scrub(at(e)); });
    const stop = () => { this.#scrubbing = false; this.#exp?.scrub(-1); };
    c.addEventListener('pointerup', stop);
    c.addEventListener('pointercancel', stop);
  }

  async #loop() {
    if (this.#looping) return;
    this.#looping = true;
    while (this.isConnected) {
      const t = await new Promise(requestAnimationFrame);
      const exp = this.#exp;
      if (!exp) continue;
      try {
        let ran = 0;
        const t0 = performance.now();
        if (this.#running) {
          ran = exp.train(this.#trainMs, this.#speed === Infinity ? 1e9 : this.#speed);
          const err = exp.last_error();
          if (err) this.#fail(err);
          if (exp.finished()) this.pause();
        }
        const t1 = performance.now();
        await exp.sync();
        const t2 = performance.now();
        this.#showNotice();
        exp.draw(this.canvas('latents'), this.canvas('strip'), this.canvas('schedule'), this.canvas('losses'));
        // Where each frame's time goes, for the benchmark page.
        const other = performance.now() - t1;
        this.#trainMs = Math.min(MAX_TRAIN_MS, Math.max(MIN_TRAIN_MS, 0.8 * this.#trainMs + 0.2 * (FRAME_MS - 2.5 - other)));
        this.dataset.frameMs = `train ${(t1 - t0).toFixed(1)} sync ${(t2 - t1).toFixed(1)} draw ${(performance.now() - t2).toFixed(1)}`;
        this.$('.playhead').style.left = `${exp.playhead_x() - 1}px`;
        this.#tick(t, ran);
      } catch (e) {
        this.#fail(e);
      }
    }
    this.#looping = false;
  }

  #tick(t, ran) {
    const exp = this.#exp;
    this.#frames.push(t);
    this.#stepRate.push([t, ran]);
    while (this.#frames.length && t - this.#frames[0] > 1000) this.#frames.shift();
    while (this.#stepRate.length && t - this.#stepRate[0][0] > 1000) this.#stepRate.shift();
    const span = Math.max(1, t - (this.#frames[0] ?? t));
    const fps = this.#frames.length > 1 ? ((this.#frames.length - 1) * 1000) / span : 0;
    const steps = this.#stepRate.slice(1).reduce((a, [, n]) => a + n, 0);
    const sps = this.#stepRate.length > 1 ? (steps * 1000) / span : 0;
    const losses = exp.losses();
    const sched = exp.schedule();
    const f = (v) => (v === undefined ? '–' : Math.abs(v) >= 0.01 || v === 0 ? v.toFixed(4) : v.toExponential(2));
    const terms = losses ? Object.entries(losses.terms).map(([k, v]) => `${k} <b>${f(v)}</b>`).join(' ') : '';
    this.field('readout').innerHTML =
      `step <b>${exp.step()}</b> / ${exp.total_steps()} · phase <b>${exp.phase()}</b> · lr <b>${f(sched.lr)}</b>` +
      ` · loss <b>${losses ? f(losses.total) : '–'}</b> ${terms}` +
      ` · <b>${Math.round(sps)}</b> steps/s · <b>${Math.round(fps)}</b> fps · ${exp.backend()}`;
    this.dataset.fps = fps.toFixed(1);
    this.dataset.stepsPerSecond = sps.toFixed(0);
    if (t - this.#lastStepEvent > 250) {
      this.#lastStepEvent = t;
      this.dispatchEvent(new CustomEvent('step', { detail: { step: exp.step(), phase: exp.phase(), losses } }));
    }
    const count = exp.snapshot_count();
    for (; this.#snapshots < count; this.#snapshots++) {
      this.dispatchEvent(new CustomEvent('phaseend', { detail: exp.snapshot_label(this.#snapshots) }));
    }
  }
}

customElements.define('color-bottleneck', ColorBottleneck);
export { ColorBottleneck };
