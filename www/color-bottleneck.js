// <color-bottleneck>: a live curriculum-training experiment. This module is the platform's side
// of the element: what each control does, the flows, the checks and the drawing are Rust
// (`ElementCore`, ../src/web/core.rs), and training runs in Web Workers (./trainer.js).
//
// Attributes: dopesheet (inline CSV) | src (URL of a CSV), seed, latent-dims, batch-size,
//   backend (auto | webgpu | cpu; changing it mid-run moves the live run to that engine),
//   runs (seeds trained at once), workers (most workers a
//   sweep on the CPU is shared among; the browser's core count, at most 8, by default), autoplay,
//   compact (no editor), linkable (open the run a `#run=` link in the page's address carries,
//   and keep the address on the run shown),
//   controls (none | play | full), locked (a read-only sheet), from / to (train to `to`, then
//   play steps from..to in a loop), run (a `#run=` link's hash to open, branches included).
// Properties: step, running, phase, backend, lastError, losses.
// Methods: play(), pause(), reset(), setDopesheet(csv, {live, versus}), latents(), decoded(x, y).
// Events: step (throttled), phaseend, error.

const here = new URL('.', import.meta.url);

// Two builds of the engine: pkg/ runs on the CPU only (small, built for speed); pkg-webgpu/
// adds burn-wgpu. A visitor downloads one, compiled once and shared with the worker.
const modules = {};
function loadWasm(kind) {
  modules[kind] ??= (async () => {
    const dir = kind === 'webgpu' ? 'pkg-webgpu' : 'pkg';
    const glue = new URL(`${dir}/color_bottleneck.js`, here).href;
    const [mod, module] = await Promise.all([
      import(glue),
      WebAssembly.compileStreaming(fetch(new URL(`${dir}/color_bottleneck_bg.wasm`, here))),
    ]);
    const { memory } = await mod.default({ module_or_path: module });
    return { kind, glue, mod, module, memory };
  })();
  return modules[kind];
}

/** The WebGPU adapter, as `vendor|architecture|device|description` (what a remembered choice
 * is tied to); `null` where there is none, `'late'` where the request never answers (a wedged
 * GPU process): after a few seconds the page stays on the CPU. Asked once per page. */
let adapterAsked = null;
function gpuAdapter() {
  adapterAsked ??= (async () => {
    if (!navigator.gpu) return null;
    let timer;
    const late = new Promise((resolve) => { timer = setTimeout(() => resolve('late'), ADAPTER_WAIT_MS); });
    try {
      const adapter = await Promise.race([navigator.gpu.requestAdapter(), late]);
      if (!adapter || adapter === 'late') return adapter ?? null;
      const info = adapter.info ?? {};
      return [info.vendor, info.architecture, info.device, info.description].map((v) => v ?? '').join('|');
    } catch {
      return null;
    } finally {
      clearTimeout(timer);
    }
  })();
  return adapterAsked;
}

const ADAPTER_WAIT_MS = 3000;

/** The GPU engine's steps/s per run shape (the choice key), timed once per page. */
const gpuTimings = new Map();

function startWorker() {
  const url = new URL('trainer.js', here);
  if (url.origin === location.origin) return new Worker(url, { type: 'module' });
  // Embedded from another origin: a worker script must be same-origin, an import need not.
  const shim = new Blob([`import ${JSON.stringify(url.href)};`], { type: 'text/javascript' });
  return new Worker(URL.createObjectURL(shim), { type: 'module' });
}

/** A remembered engine choice, where the page may use localStorage (not in some sandboxes
 * and private modes): `{backend, race, adapter, at}`, or null. */
function readStored(key) {
  try {
    const value = JSON.parse(localStorage.getItem(key) ?? 'null');
    const fields = { backend: 'string', race: 'string', adapter: 'string', at: 'number' };
    return Object.entries(fields).every(([k, t]) => typeof value?.[k] === t) ? value : null;
  } catch {
    return null;
  }
}

function writeStored(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch { /* not remembered: the next visit races again */ }
}

/** Records a canvas `size` pixels square as WebM at `fps` (the video's frames are drawn by
 * the engine in the worker and played in by `record` in src/web/core/video.rs). */
function recorder(size, fps) {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = size;
  const ctx = canvas.getContext('2d');
  const type = ['video/webm;codecs=vp9', 'video/webm'].find((t) => MediaRecorder.isTypeSupported(t));
  const recording = new MediaRecorder(canvas.captureStream(fps), type ? { mimeType: type } : {});
  const chunks = [];
  recording.ondataavailable = (e) => e.data.size && chunks.push(e.data);
  const stopped = new Promise((resolve) => { recording.onstop = resolve; });
  const stop = () => recording.state !== 'inactive' && recording.stop();
  return {
    start: () => recording.start(),
    put: (pixels) => ctx.putImageData(new ImageData(new Uint8ClampedArray(pixels.buffer, pixels.byteOffset, pixels.byteLength), size, size), 0, 0),
    done: async () => { stop(); await stopped; return new Blob(chunks, { type: 'video/webm' }); },
    stop,
  };
}

/** What a call to a worker that was stopped (a newer start, the element removed) rejects
 * with: not an error to show. */
const STOPPED = new Error('the training worker was stopped');

/** Whether the reader asked for reduced motion: no autoplay, no looping range. */
const reducedMotion = matchMedia('(prefers-reduced-motion: reduce)');

/** The events the element's controls take (`ElementCore::handle`). */
const EVENTS = ['click', 'change', 'input', 'keydown', 'toggle', 'mousemove', 'pointerdown', 'pointermove',
  'pointerup', 'pointercancel', 'pointerout', 'blur', 'dblclick'];

// The element's styles (element/styles.css) and markup (element/markup.html), put in these two
// strings by `cargo xtask build-web`. The styles are one constructed sheet shared by every
// instance: it needs no inline <style>, so a host page with a strict style-src still styles us.
const STYLES = '@element/styles.css@';
let styleSheet = null;
function elementStyles() {
  if (!styleSheet) {
    styleSheet = new CSSStyleSheet();
    styleSheet.replaceSync(STYLES);
  }
  return styleSheet;
}

// The only markup this module ever parses: a constant. Everything that comes from a sheet, a
// URL, an attribute or an error reaches the DOM as text (textContent, text nodes).
const TEMPLATE = document.createElement('template');
TEMPLATE.innerHTML = '@element/markup.html@';

class ColorBottleneck extends HTMLElement {
  /** The engine module the page draws with (the workers may run the other one). */
  #wasm = null;
  #pageEngine = null;
  /** Stops what `#listen` started. */
  #unlisten = () => {};
  /** The opening under way or done (`#open`); null where it gave up. */
  #opening = null;
  /** Training workers: the first trains the run shown (and the first part of a sweep on the
   * CPU); any others, the other parts of that sweep. */
  #workers = [];
  /** The runs started, by number, the frames that arrived for them and the calls to the
   * workers that wait for a reply (a wasm PageRuns, src/web/element.rs): the workers stamp
   * each frame with their run's number. */
  #runs = null;
  /** The run shown as it started: its sheet (the editor may hold unapplied edits), settings,
   * lineage and comparison, and how the workers run it (a wasm TrainedRun,
   * src/element/trained.rs). */
  #trained = null;
  /** What the element shows and decides while it is in the page: the board, the editor,
   * whether it trains, and its engines (a wasm ElementCore, src/web/core.rs). */
  #core = null;
  /** What the core kept while the element was out of the page (`#release`). */
  #kept = null;
  /** The start under way (`#create`), or a settled promise. */
  #starting = Promise.resolve();
  /** Play asked for by the `autoplay` attribute, before the core was there. */
  #autoplay = false;
  #inView = false;
  /** A failure before the engine loaded. */
  #error = null;
  #looping = false;
  #wired = false;
  /** The WebGPU engine could not be loaded: the CPU's is used, without asking again. */
  #cpuOnly = false;
  /** Workers started and not yet training the run (or a timing): ended with the element. */
  #spawning = new Set();

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.adoptedStyleSheets = [elementStyles()];
    root.append(TEMPLATE.content.cloneNode(true));
  }

  $(sel) { return this.shadowRoot.querySelector(sel); }
  field(name) { return this.$(`[data-field="${name}"]`); }
  canvas(name) { return this.$(`[data-canvas="${name}"]`); }
  /** An attribute's value, `undefined` (not null) where it is absent, as the engine reads it. */
  #attr(name) { return this.getAttribute(name) ?? undefined; }

  get step() { return this.#core?.step() ?? 0; }
  /** The shown run's verdict as last judged and the step it has held from: `{shape, step}`. */
  get onset() { return this.#core?.onset() ?? null; }
  get running() { return this.#core?.running() ?? false; }
  /** Whether it trains when on screen (it may be waiting to be scrolled to). */
  get playing() { return this.#core?.playing() ?? this.#autoplay; }
  get phase() { return this.#core?.phase() ?? null; }
  get backend() { return this.#core?.backend() ?? null; }
  get lastError() { return this.#core ? (this.#core.error() ?? null) : this.#error; }
  get ready() { return this.#core?.ready() ?? false; }
  get losses() { return this.#core?.losses() ?? null; }

  connectedCallback() {
    this.#listen();
    this.#loop();
    if (this.#wired) {
      // Moved in the document, or put back: its run starts again (from step 0 where its
      // workers were stopped), or its opening does where it was taken out while opening.
      if (this.#workers.length) return;
      // A run that had paused at its end plays again from the start, as after a Reset.
      if (this.#wasm) this.#create(this.#trainedSheet()).then(() => this.#playIfPausedByRun()).catch((e) => this.#fail(e));
      else this.#opening ??= this.#open();
      return;
    }
    this.#wired = true;
    // Every event in the shadow root goes to the core, which decides what each control does
    // (`Command` in src/element/controls.rs); captured, so that those that do not bubble come
    // too.
    for (const type of EVENTS) {
      this.shadowRoot.addEventListener(type, (e) => {
        // Before the engine is there, Pause still takes back autoplay.
        if (!this.#core && e.type === 'click' && e.target.dataset?.action === 'toggle') this.pause();
        this.#core?.handle(e);
      }, true);
    }
    this.field('seed').value = this.getAttribute('seed') ?? '1';
    this.field('sheet').readOnly = this.hasAttribute('locked');
    // An embed stays short: its 3-D view and geometry open on request.
    const inside = this.$('.inside-box');
    if (this.hasAttribute('compact')) inside.open = false;
    // Reduced motion: no autoplay; the first frame stays up with a Play button. The wish is
    // set before the start: workers started by any later start (the element moved in the
    // document while starting) are told to run as they come up.
    this.#autoplay = this.hasAttribute('autoplay') && !reducedMotion.matches;
    if (this.#autoplay) this.$('[data-action=toggle]').textContent = 'Pause';
    this.#opening = this.#open();
  }

  /** Reads the sheet to start with and starts it. Taken out of the page before its engine
   * was there, it gives up, to open again when put back. */
  async #open() {
    try {
      const csv = await this.#startingSheet();
      // Moved in the document while starting: a start made there plays instead.
      await this.#create(csv).catch((e) => { if (e !== STOPPED) throw e; });
    } catch (e) {
      this.#fail(e);
    }
    if (!this.#wasm) this.#opening = null;
  }

  /** The sheet to start with. A link, attribute or URL that gives no usable sheet is named
   * in the notice and the default sheet runs; a broken sheet stays in the editor with its
   * located problem, to be fixed. */
  async #startingSheet() {
    const address = this.hasAttribute('linkable') ? location.hash : undefined;
    await this.#engine();
    const opening = await this.#core.open(this.#attr('run'), address, this.#attr('dopesheet'), this.#attr('src'));
    await this.#engine(); // its core made again if the element was put back meanwhile
    this.#core.open_editor(opening.editor, opening.problem);
    return opening.train;
  }

  /** Adds a line to the notice (several things may go wrong at once: an attribute and a URL). */
  #notify(text) {
    const notice = this.field('notice');
    if (this.#core) this.#core.notify(text);
    else if (!notice.textContent.includes(text)) notice.textContent = notice.textContent ? `${notice.textContent} · ${text}` : text;
  }

  /** What the element hears from outside its shadow root while it is in the document. The
   * document, the window and the observers would otherwise keep a removed element alive. */
  #listen() {
    const abort = new AbortController();
    const { signal } = abort;
    document.addEventListener('visibilitychange', () => this.#followVisibility(), { signal });
    // A `#run=` link pasted into a linkable page's address opens as a new run.
    const pasted = () => this.#core?.open_pasted_link(location.hash).catch((e) => this.#fail(e));
    if (this.hasAttribute('linkable')) addEventListener('hashchange', pasted, { signal });
    const resized = new ResizeObserver(() => this.#core?.redraw());
    const seen = new IntersectionObserver((entries) => {
      this.#inView = entries[entries.length - 1].isIntersecting;
      this.#followVisibility();
    });
    resized.observe(this);
    seen.observe(this);
    this.#unlisten = () => { abort.abort(); resized.disconnect(); seen.disconnect(); };
  }

  disconnectedCallback() {
    this.#unlisten();
    for (const w of [...this.#workers.splice(0), ...this.#spawning]) this.#stop(w);
    // Moved in the document, it is back before this task ends; removed, it lets go of what
    // would keep it alive.
    setTimeout(() => { if (!this.isConnected) this.#release(); });
  }

  /** Frees the engine's objects that hold this element's parts: the module's memory holds
   * them from outside the JS heap, so they would keep a removed element, its canvases and
   * their pixels alive for good. Put back, it makes them again (`#engine`, `#start`); the
   * run's sheet, settings and lineage stay, and so does the editor's undo history. */
  #release() {
    if (!this.#core) return;
    this.#kept = this.#core.release();
    this.#core = null;
  }

  static get observedAttributes() { return ['backend', 'locked', 'seed']; }

  /** A new `backend` mid-run moves the live run to that engine, with its checkpoint, or times
   * the GPU (`Engines::backend_changed` in src/element/engines.rs). */
  attributeChangedCallback(name, before, after) {
    if (name === 'locked') {
      this.field('sheet').readOnly = after !== null;
      return;
    }
    // The seed field is the seed a Reset trains: a seed set later goes there.
    if (name === 'seed') {
      if (after !== null) this.field('seed').value = after;
      return;
    }
    if (name !== 'backend' || before === after || !this.#workers.length) return;
    if (after === 'webgpu') this.#cpuOnly = false;
    this.#core?.backend_changed(after ?? undefined, Boolean(navigator.gpu));
  }

  /** The backend asked for: the page's `?backend=`, or else the attribute. */
  #askedBackend() {
    return new URLSearchParams(location.search).get('backend') ?? this.getAttribute('backend') ?? undefined;
  }

  /** `cpu`, `webgpu` or `auto`. Read before either module loads: anything else counts as
   * `auto`, as `BackendAsk::read` in src/settings.rs reads it, and it names the value. */
  #requestedBackend() {
    if (this.#cpuOnly) return 'cpu';
    const asked = this.#askedBackend()?.trim();
    return asked === 'cpu' || asked === 'webgpu' ? asked : 'auto';
  }

  /** What a start reads: the seed field, the attributes and the core count (`Asked` in
   * src/element/trained.rs). */
  #asked() {
    return { seed: this.field('seed').value, latent_dims: this.#attr('latent-dims'), batch_size: this.#attr('batch-size'),
      runs: this.#attr('runs'), workers: this.#attr('workers'), cores: navigator.hardwareConcurrency ?? 1,
      controls: this.#attr('controls'), backend: this.#askedBackend(), from: this.#attr('from'), to: this.#attr('to') };
  }

  /** The sheet that trains, not the editor's unapplied text (the editor's before any start). */
  #trainedSheet() { return this.#trained?.sheet() || this.field('sheet').value; }

  /** Whether the run shown is a comparison (A against B). */
  #comparing() { return this.#trained?.versus() !== undefined; }

  /** Downloads `content` (text, or a Blob) as `name`. */
  #download(name, content, type) {
    const blob = content instanceof Blob ? content : new Blob([content], { type });
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  /** Runs `job` after any start still under way: two interleaved would mix their workers. */
  #queue(job) {
    const done = this.#starting.then(job);
    this.#starting = done.catch(() => {});
    return done;
  }

  /** A fresh run of `csv`, or (`parts`: the workers' kept states) a branch from them. */
  #create(csv, parts = null) {
    // The run shown is replaced from now on: a move or a GPU timing for it gives way, as it
    // would have queued behind this start.
    this.#runs?.begin();
    return this.#queue(() => this.#start(csv, parts));
  }

  /** Where this origin remembers the engine chosen for the run's shape, as the attributes
   * spell it. It is read before any engine is loaded, so that a visitor downloads only the
   * one that will train: this rule cannot live in either module. */
  #choiceKey() {
    const attr = (name) => this.getAttribute(name) ?? '';
    return `color-bottleneck:auto:${attr('latent-dims')}:${attr('batch-size')}:${attr('runs')}`;
  }

  /** Which engine a start trains on at first: `{kind, stored, adapter, time}`; `time`: the
   * GPU is to be timed in the background while the CPU trains. */
  async #plan() {
    // A comparison trains its second sheet on the CPU engine beside the first.
    if (this.#comparing()) return { kind: 'cpu' };
    const requested = this.#requestedBackend();
    if (requested === 'cpu' || !navigator.gpu) {
      if (requested === 'webgpu') this.#notify('no WebGPU here; running on the CPU');
      return { kind: 'cpu' };
    }
    const stored = requested === 'auto' ? readStored(this.#choiceKey()) : null;
    // Every visitor starts on the CPU engine at once, unless the GPU won here before.
    if (requested === 'auto' && stored?.backend !== 'webgpu') return { kind: 'cpu', stored, time: true };
    const adapter = await this.#adapter();
    if (!adapter) {
      if (requested === 'webgpu' && !this.#cpuOnly) this.#notify('this browser offers WebGPU but no adapter; running on the CPU');
      return { kind: 'cpu' };
    }
    const gpu = await loadWasm('webgpu').catch(() => null);
    if (!gpu) {
      this.#notify('the WebGPU engine could not be loaded; running on the CPU');
      this.#cpuOnly = true;
      return { kind: 'cpu' };
    }
    if (stored && !gpu.mod.choice_is_current(stored.at, Date.now(), stored.adapter, adapter)) {
      return { kind: 'cpu', time: true };
    }
    return { kind: 'webgpu', stored };
  }

  /** The WebGPU adapter (`gpuAdapter`), or null. One that never answers is named in the
   * notice, and the page stays on the CPU. */
  async #adapter() {
    const adapter = await gpuAdapter();
    if (adapter !== 'late') return adapter;
    this.#notify(`WebGPU did not answer within ${ADAPTER_WAIT_MS / 1000} s; running on the CPU`);
    this.#cpuOnly = true;
    return null;
  }

  /** The module the page itself draws and checks sheets with: the first one a start needs
   * (`cargo xtask serve` serves the page before the WebGPU module is built). */
  #engine() {
    this.#pageEngine ??= this.#plan().then(({ kind }) => loadWasm(kind)).then((page) => {
      this.#trained = new page.mod.TrainedRun();
      this.#runs = new page.mod.PageRuns();
      return page;
    });
    // Made again when put back after a removal (`#release`); never for a removed element.
    return this.#pageEngine.then((page) => {
      if (!this.isConnected) throw STOPPED;
      if (!this.#core) {
        const first = !this.#kept;
        this.#core = new page.mod.ElementCore(this.#host(), this, this.shadowRoot, this.#trained, this.#runs, this.#kept);
        this.#kept = null;
        if (first && this.#autoplay) this.#core.autoplay();
        this.#followVisibility();
      }
      return page;
    });
  }

  async #start(csv, parts = null) {
    // Removed from the document: no workers for it (it starts again if put back).
    if (!this.isConnected) return;
    const plan = await this.#plan();
    // Last: the core, made again if the element was put back meanwhile.
    const page = await this.#engine();
    this.#wasm = page;
    const remembered = plan.kind === 'webgpu' ? plan.stored?.race : undefined;
    await this.#core.start(csv, parts, this.#asked(), plan.kind, remembered, Boolean(plan.time), plan.stored ?? null);
  }

  /** What the element's engines ask of the page (`JsHost` in src/web/element.rs). */
  #host() {
    return {
      spawn: (kind) => this.#spawn(kind),
      stop: (w) => this.#stop(w),
      workers: () => this.#workers,
      adopt: (workers) => this.#adopt(workers),
      post: (type, value) => this.#post({ type, value }),
      sleep: (ms) => new Promise((resolve) => { setTimeout(resolve, ms); }),
      emit: (type, detail) => this.dispatchEvent(new CustomEvent(type, { detail })),
      adapter: () => this.#adapter(),
      time_gpu: (request) => this.#gpuRate(request),
      remember: (shape, backend, race, adapter, at) => writeStored(shape, { backend, race, adapter, at }),
      asked: () => this.#asked(),
      create: (csv, parts) => this.#create(csv, parts),
      frame: () => new Promise(requestAnimationFrame),
      fetch: async (url, ms) => {
        const res = await fetch(url, { signal: AbortSignal.timeout(ms) });
        return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
      },
      base: here.href,
      recorder: (size, fps) => typeof MediaRecorder === 'undefined' ? undefined : recorder(size, fps),
      download: (name, content, type) => this.#download(name, content, type),
      copy: (text) => navigator.clipboard?.writeText(text).catch(() => {}),
      stopped: STOPPED,
    };
  }

  /** `workers` train the run from now on, and the others stop; none does where the element
   * left the document meanwhile. */
  #adopt(workers) {
    for (const w of this.#workers) if (!workers.includes(w)) this.#stop(w);
    for (const w of workers) this.#spawning.delete(w);
    this.#workers = workers;
    if (!this.isConnected) {
      for (const w of this.#workers.splice(0)) this.#stop(w);
      throw STOPPED;
    }
    // New workers start paused and at full speed: tell them the speed chosen (the core tells
    // them whether to run).
    this.#post({ type: 'speed', value: Number(this.field('speed').value) });
  }

  /** The GPU engine's steps/s at the run's shape, timed by `request` in a worker of its own:
   * `{rate, probe, shape}` (`shape`: where a choice for that shape is remembered). Elements of
   * one shape on a page share one timing; the element that timed keeps its worker (`probe`),
   * to move into, and a failed timing stops it. */
  #gpuRate(request) {
    const key = this.#choiceKey();
    let probe = null;
    let timing = gpuTimings.get(key);
    if (!timing) {
      timing = (async () => {
        probe = await this.#spawn('webgpu');
        return (await this.#runs.ask(probe, request)).rate;
      })();
      gpuTimings.set(key, timing);
      timing.catch(() => gpuTimings.delete(key));
    }
    return timing.then((rate) => ({ rate, probe, shape: key }), (e) => {
      if (probe) this.#stop(probe);
      throw e;
    });
  }

  /** A worker with the `kind` engine loaded. */
  async #spawn(kind) {
    const wasm = await loadWasm(kind);
    const w = startWorker();
    this.#spawning.add(w);
    w.onmessage = ({ data }) => {
      const failure = this.#runs.receive(w, data);
      if (failure) this.#fail(failure);
    };
    w.onerror = (e) => {
      const why = e.message ?? 'a training worker failed';
      this.#runs.reject(w, new Error(why));
      this.#fail(why);
    };
    try {
      await this.#runs.ask(w, { type: 'init', glue: wasm.glue, module: wasm.module });
    } catch (e) {
      this.#stop(w);
      throw e;
    }
    return w;
  }

  /** Ends a worker; its unanswered calls never will be: a start waiting on one gives way. */
  #stop(w) {
    w.terminate();
    this.#spawning.delete(w);
    this.#runs.reject(w, STOPPED);
  }

  /** Tells every worker. */
  #post(msg) { for (const w of this.#workers) w.postMessage(msg); }


  /** Trains (when the element is in view and the tab visible; otherwise as soon as it is). A
   * run at its end, or stopped at a bad step, goes on once a sheet is applied. */
  play() { this.#core?.play(); }

  pause() {
    if (this.#core) this.#core.pause();
    else this.#autoplay = false;
    this.$('[data-action=toggle]').textContent = this.playing ? 'Pause' : 'Play';
  }

  /** Plays again a run that paused itself, once it has something new to train. */
  #playIfPausedByRun() { this.#core?.play_if_paused_by_run(); }

  /** Runs the worker only while wanted, in view and in a visible tab: a post with several
   * experiments trains only those on screen. */
  #followVisibility() { this.#core?.seen(this.#inView, document.hidden); }

  /** Trains the run again from the seed field's seed. */
  async reset() { await this.#core?.reset(); }

  latents() { return this.#core ? this.#core.latents() : new Float32Array(); }

  /** The decoder's output `[r, g, b]` at a point of the latent panels (CSS pixels from the
   * canvas's corner), as the decoder map paints it; `[]` outside the panels' plots. */
  decoded(x, y) { return this.#core ? Array.from(this.#core.decoded(x, y)) : []; }

  /** Memory in bytes: the worker's wasm (the engine), the page's wasm (the history and
   * drawing) and the worker's JS heap where the browser tells. */
  async memory() {
    if (!this.#workers.length) throw new Error('not ready');
    const { wasm, heap } = await this.#runs.ask(this.#workers[0], { type: 'memory' });
    return { wasm, heap, pageWasm: this.#wasm?.memory?.buffer.byteLength ?? null };
  }

  /** Trains `csv` from the start, or (`live`) from the run's step on; `versus`: a second
   * sheet (B) to train on the same seeds beside it, a comparison (null: none). Rejects on a
   * broken sheet. */
  async setDopesheet(csv, { live = false, versus = null } = {}) {
    if (!this.#core) throw new Error('not ready');
    await this.#core.set_dopesheet(csv, Boolean(live), versus ?? undefined);
  }

  #fail(e) {
    if (e === STOPPED) return;
    const message = String(e?.message ?? e);
    if (this.#core) return this.#core.fail(message);
    // Before the engine loaded (or where it cannot load).
    this.#error = message;
    this.field('notice').textContent = `error: ${message}`;
    this.dispatchEvent(new CustomEvent('error', { detail: { message } }));
  }

  /** Each animation frame, the core takes in the workers' frames, plays a range's loop, draws
   * what changed and ticks. */
  async #loop() {
    if (this.#looping) return;
    this.#looping = true;
    while (this.isConnected) {
      const t = await new Promise(requestAnimationFrame);
      try {
        this.#core?.frame(t, reducedMotion.matches);
      } catch (e) {
        this.#fail(e);
      }
    }
    this.#looping = false;
  }
}

customElements.define('color-bottleneck', ColorBottleneck);
export { ColorBottleneck };
