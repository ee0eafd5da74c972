// The training worker of <color-bottleneck>: owns the wasm Experiment and trains as fast as
// its speed setting allows, posting a frame (latents, losses, progress) to the page about
// once per display frame. Commands from the page queue up and run between training chunks,
// so a reset or a new sheet never lands in the middle of a read-back.

// Training time between frames: the page redraws at most once per vsync anyway.
const CHUNK_MS = 16;

let wasm = null;
let memory = null; // the wasm instance's linear memory, for the soak's measurements
let exp = null;
// The page's number for the run now training (it changes with every fresh start), so the
// page can tell a new run's frames from an old one's.
let run = 0;
let running = false;
// Held for a hand-over: nothing trains, not even a branch's replay, until the page says.
let held = false;
let speed = Infinity; // steps per frame
// One of a sweep's workers that use every core: it rests REST_MS after each chunk, so the
// page finds a core free to draw on (4 ms is the least a worker's repeated timer waits).
let rests = false;
const REST_MS = 4;
const inbox = [];
let wake = null;
// The GPU stopped working: the engine waits, as of its last read-back, to be handed over.
let lost = false;

self.onmessage = ({ data }) => {
  inbox.push(data);
  wake?.();
};

const reply = (msg, result, transfer = []) =>
  self.postMessage({ type: 'reply', id: msg.id, ...result }, transfer);

async function publish() {
  const frame = await exp.sync();
  frame.type = 'frame';
  frame.run = run;
  const transfer = [frame.latents.buffer, ...frame.snapshots.map((s) => s.latents.buffer)];
  if (frame.sweep) transfer.push(frame.sweep.thumbnails.buffer);
  self.postMessage(frame, transfer);
  if (frame.finished || frame.error || frame.gpu_lost) running = false;
  lost = Boolean(frame.gpu_lost);
}

async function handle(msg) {
  switch (msg.type) {
    case 'init': {
      wasm = await import(msg.glue);
      ({ memory } = await wasm.default({ module_or_path: msg.module }));
      return reply(msg, {});
    }
    case 'create':
    case 'resume': {
      exp?.free();
      exp = null;
      lost = false;
      held = false;
      exp = msg.type === 'resume'
        ? await wasm.Experiment.resume(msg.sheet, msg, msg.parts)
        : await wasm.Experiment.create(msg.sheet, msg);
      rests = Boolean(msg.rests);
      run = msg.run;
      await publish();
      return reply(msg, { run, backend: exp.backend() });
    }
    // A hand-over: every worker stops, then each trains on to the latest one's step and hands
    // over its runs there.
    case 'hold':
      running = false;
      held = true;
      return reply(msg, { step: exp ? exp.step_index() : 0 });
    case 'checkpoint': {
      running = false;
      held = true;
      if (exp.backend() === 'cpu') {
        while (exp.step_index() < msg.at && !exp.finished() && !exp.last_error()) exp.train(1e9, msg.at - exp.step_index());
      } else if (!lost) {
        await publish();
      }
      const bytes = exp.checkpoint();
      return reply(msg, { bytes }, [bytes.buffer]);
    }
    // Where a branch at `at` can start: the latest state this worker kept at or before it,
    // and its step, or none.
    case 'state-at': {
      const step = exp?.kept_step_at(msg.at, msg) ?? null;
      const bytes = step === null ? null : exp.state_at(step) ?? null;
      return reply(msg, { bytes, step }, bytes ? [bytes.buffer] : []);
    }
    case 'cpu-rate':
      return reply(msg, { rate: wasm.Experiment.cpu_rate(msg) });
    case 'gpu-rate':
      return reply(msg, { rate: await wasm.Experiment.gpu_rate(msg) });
    case 'play': running = !exp.finished() && !lost; held = false; return;
    case 'pause': running = false; return;
    case 'speed': speed = msg.value; return;
    case 'step':
      running = false;
      exp.train(1e9, 1);
      return publish();
    case 'reset':
      exp.reset(msg.seed);
      run = msg.run;
      await publish();
      return reply(msg, { run });
    case 'latents-csv':
      return reply(msg, { csv: await exp.latents_csv() });
    case 'memory':
      return reply(msg, { wasm: memory?.buffer.byteLength ?? null, heap: performance.memory?.usedJSHeapSize ?? null });
    case 'video-frames':
      return reply(msg, { frames: exp.video_frames() });
    case 'video-frame': {
      const pixels = exp.video_frame(msg.index);
      return reply(msg, { pixels }, [pixels.buffer]);
    }
    case 'sheet': {
      const at = exp.set_dopesheet(msg.sheet, msg.live);
      run = msg.run;
      await publish();
      return reply(msg, { run, at });
    }
  }
}

// Yields to the event loop without setTimeout's 4 ms clamp.
const channel = new MessageChannel();
const yieldNow = () => new Promise((resolve) => { channel.port1.onmessage = resolve; channel.port2.postMessage(0); });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function pump() {
  for (;;) {
    while (inbox.length) {
      const msg = inbox.shift();
      try {
        await handle(msg);
      } catch (e) {
        // A refused sheet carries {line, column, message}; anything else is an Error.
        const problem = e instanceof Error ? { message: e.message } : e;
        if (msg.id !== undefined) reply(msg, { problem });
        else self.postMessage({ type: 'failure', message: problem?.message ?? String(problem) });
      }
    }
    // A branch's replay trains on whether or not the page plays, at full speed.
    const replaying = !held && (exp?.replaying() ?? false);
    if ((running || replaying) && exp) {
      const started = performance.now();
      const fast = speed === Infinity || replaying;
      try {
        exp.train(fast ? CHUNK_MS : 1e9, fast ? 1e9 : speed);
        await publish();
      } catch (e) {
        running = false;
        self.postMessage({ type: 'failure', message: String(e?.message ?? e) });
      }
      // A finite speed is steps per display frame: wait out the rest of the frame.
      const rest = fast ? (rests ? REST_MS : 0) : 16.7 - (performance.now() - started);
      await (rest > 1 ? sleep(rest) : yieldNow());
    } else {
      await new Promise((resolve) => { wake = resolve; });
      wake = null;
    }
  }
}

pump();
